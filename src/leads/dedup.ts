// Step 2: a lead's dedup keys. Each key is a hash of normalised values, so raw PII never sits in the
// dedup table. With match "any" every configured field is its own key; with "all" the fields form
// one key. An empty field never matches anything.
import { createHash } from "node:crypto";

export interface DedupRule {
  fields: readonly string[];
  match: "any" | "all";
}

const hash = (text: string) => createHash("sha256").update(text).digest("base64url");

export function dedupKeys(rule: DedupRule, data: Record<string, unknown>): string[] {
  // A list (a campaign's `list` field, which a buyer's dedup may name) is no key: its text would be
  // "[object Object]", the same for every lead.
  const present = rule.fields.filter((f) => data[f] !== undefined && data[f] !== null && typeof data[f] !== "object" && String(data[f]) !== "");
  if (rule.match === "all") {
    if (present.length === 0 || present.length !== rule.fields.length) return [];
    return [hash(rule.fields.map((f) => `${f}=${String(data[f]).toLowerCase()}`).join("\u0000"))];
  }
  // Sorted, so concurrent leads claim shared keys in one order and cannot deadlock each other.
  return [...new Set(present.map((f) => hash(`${f}=${String(data[f]).toLowerCase()}`)))].sort();
}

/** Keys for the supplier's resubmission window: the campaign's keys, scoped to one supplier. */
export function supplierDedupKeys(supplierId: string, rule: DedupRule, data: Record<string, unknown>): string[] {
  return dedupKeys(rule, data)
    .map((key) => hash(`supplier=${supplierId}\u0000${key}`))
    .sort();
}
