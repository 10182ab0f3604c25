// Do-not-sell lists: emails and phones a lead must never be sold with. Values are normalised the
// way lead fields are (email lower-cased, phone to E.164) and stored only as SHA-256 hashes.
import { createHash } from "node:crypto";
import { normaliseEmail, normalisePhone } from "./validate";

export type ContactKind = "email" | "phone";

export interface SuppressionEntry {
  kind: ContactKind;
  hash: string;
}

export const contactHash = (normalised: string): string => createHash("sha256").update(normalised).digest("hex");

/** An email or phone as written by a person → its entry, or undefined when it is neither. */
export function suppressionEntry(raw: string, kind?: ContactKind): SuppressionEntry | undefined {
  const guess = kind ?? (raw.includes("@") ? "email" : "phone");
  const normalised = guess === "email" ? normaliseEmail(raw) : normalisePhone(raw);
  return normalised ? { kind: guess, hash: contactHash(normalised) } : undefined;
}

/** The entries a validated lead is checked against: its declared email and phone fields. */
export function leadContacts(fields: readonly { name: string; kind: ContactKind }[], data: Record<string, unknown>): SuppressionEntry[] {
  const out: SuppressionEntry[] = [];
  for (const { name, kind } of fields) {
    const value = data[name];
    if (typeof value === "string" && value !== "") out.push({ kind, hash: contactHash(value) });
  }
  return out;
}

export interface CsvProblem {
  path: string;
  message: string;
}

/**
 * A suppression CSV: one value per line, or columns under a header naming `email` and/or `phone`.
 * Without a header, a value with an @ is an email and anything else a phone. Blank lines are
 * skipped; every bad value is reported with its line number.
 */
export function parseSuppressionCsv(text: string): { entries: SuppressionEntry[]; problems: CsvProblem[] } {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const entries: SuppressionEntry[] = [];
  const problems: CsvProblem[] = [];
  const split = (line: string) => line.split(",").map((cell) => cell.trim().replace(/^"(.*)"$/, "$1").trim());
  const first = split(lines[0] ?? "").map((c) => c.toLowerCase());
  const header = first.some((c) => c === "email" || c === "phone") ? first : null;
  lines.forEach((line, index) => {
    if ((header && index === 0) || line.trim() === "") return;
    const cells = split(line);
    const columns: [string, ContactKind | undefined][] = header
      ? header.flatMap((name, i) => (name === "email" || name === "phone" ? [[cells[i] ?? "", name] as [string, ContactKind]] : []))
      : cells.map((cell) => [cell, undefined]);
    for (const [value, kind] of columns) {
      if (value === "") continue;
      const entry = suppressionEntry(value, kind);
      if (entry) entries.push(entry);
      else problems.push({ path: `line ${index + 1}`, message: `'${value.slice(0, 40)}' is not ${kind === "email" ? "an email address" : kind === "phone" ? "a phone number" : "an email address or phone number"}` });
    }
  });
  return { entries, problems };
}
