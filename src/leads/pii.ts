// What an analyst sees of a lead's data (SPEC.md roles): the campaign's declared fields that are not
// pii, as they are; pii fields and fields the campaign does not declare (kept as text, treated as
// pii) read "***". An admin sees everything.
import type { CompiledFields } from "./validate";

export const PII_MASK = "***";

/** The data with every field but the campaign's public ones masked; with no campaign (`fields` undefined), every field. */
export function maskPii(data: Record<string, unknown>, fields: Pick<CompiledFields, "publicFields"> | undefined): Record<string, unknown> {
  const visible = new Set(fields?.publicFields ?? []);
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, visible.has(k) ? v : PII_MASK]));
}
