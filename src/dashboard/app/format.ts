// How numbers read on screen. These only format what the API answered (money already in dollars,
// rates already 0..1); none computes a figure.
const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

export type Kind = "count" | "money" | "rate" | "ms" | "text";

export const dash = "–";

export function formatValue(kind: Kind, value: unknown): string {
  if (value === null || value === undefined) return dash;
  if (kind === "text") return String(value);
  if (typeof value !== "number") return String(value);
  switch (kind) {
    case "count":
      return count.format(value);
    case "money":
      return money.format(value);
    case "rate":
      return percent.format(value);
    case "ms":
      return `${count.format(value)} ms`;
  }
}

/** An instant as a reader in `tz` sees it: 2026-11-28 14:05:09 (to the minute, second or millisecond). */
export function formatInstant(iso: string | null | undefined, tz: string, precision: boolean | "ms" = true): string {
  if (!iso) return dash;
  const seconds = precision !== false;
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: seconds ? "2-digit" : undefined,
    fractionalSecondDigits: precision === "ms" ? 3 : undefined,
    hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const time = `${get("hour")}:${get("minute")}${seconds ? `:${get("second")}` : ""}${precision === "ms" ? `.${get("fractionalSecond")}` : ""}`;
  return `${get("year")}-${get("month")}-${get("day")} ${time}`;
}

/** A report period (bucket start with its offset) as the bucket's name. */
export function formatPeriod(iso: string | undefined, interval: string | null): string {
  if (!iso) return dash;
  // The period carries the report's own offset: its local date and time are its first characters.
  const date = iso.slice(0, 10);
  if (interval === "hour") return `${date} ${iso.slice(11, 16)}`;
  if (interval === "month") return iso.slice(0, 7);
  if (interval === "week") return `week of ${date}`;
  return date;
}
