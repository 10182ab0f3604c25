// Reports as CSV: the same columns as the JSON rows (key fields, then period, then every figure), a
// header line, and a closing `total` line with the totals. Written a few hundred lines at a time as
// the client reads, so a long report starts arriving before it is all formatted.
import { stringify } from "csv-stringify";

/** Money figures, written with 2 decimals; other numbers as they are; null as an empty cell. */
const MONEY = new Set(["revenue", "payout", "margin", "epl", "avg_bid", "max_bid", "min_price", "max_price"]);

export function cell(name: string, value: unknown): string {
  if (value === null || value === undefined) return "";
  return MONEY.has(name) && typeof value === "number" ? value.toFixed(2) : String(value);
}

/** A report's rows as a CSV stream: `header` names the columns, `lines` gives each line's cells. */
export function csvStream(header: readonly string[], lines: readonly (readonly string[])[]): ReadableStream<Uint8Array> {
  const csv = stringify({ header: true, columns: [...header], record_delimiter: "\r\n" });
  let next = 0;
  let ended = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      csv.on("data", (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
      csv.on("end", () => controller.close());
      csv.on("error", (error) => controller.error(error));
      if (lines.length === 0) {
        ended = true;
        csv.end();
      }
    },
    pull() {
      if (ended) return;
      const end = Math.min(next + 500, lines.length);
      for (; next < end; next++) csv.write(lines[next]);
      if (next >= lines.length) {
        ended = true;
        csv.end();
      }
    },
  });
}

/** The lines of a keyed report: key fields, period (with an interval), figures; then the `total` line. */
export function keyedLines(
  report: { rows: ({ key: Record<string, string | null>; period?: string } & Record<string, unknown>)[]; totals: Record<string, unknown> },
  keyNames: readonly string[],
  withPeriod: boolean,
): { header: string[]; lines: string[][] } {
  const figures = Object.keys(report.totals);
  const header = [...keyNames, ...(withPeriod ? ["period"] : []), ...figures];
  const lines = report.rows.map((row) => [
    ...keyNames.map((k) => row.key[k] ?? ""),
    ...(withPeriod ? [row.period ?? ""] : []),
    ...figures.map((f) => cell(f, row[f])),
  ]);
  const blanks = (n: number) => new Array<string>(Math.max(0, n)).fill("");
  lines.push(["total", ...blanks(keyNames.length - 1 + (withPeriod ? 1 : 0)), ...figures.map((f) => cell(f, report.totals[f]))]);
  return { header, lines };
}
