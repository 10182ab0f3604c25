// What an analyst sees of a lead's data (SPEC.md roles): the campaign's declared fields that are not
// pii, as they are; pii fields and fields the campaign does not declare (kept as text, treated as
// pii) read "***". An admin sees everything.
import type { CompiledFields } from "./validate";

export const PII_MASK = "***";

/**
 * The data with every field but the campaign's public ones masked, and in a list field's items every
 * item field but the public ones; with no campaign (`fields` undefined), every field.
 */
export function maskPii(data: Record<string, unknown>, fields: Pick<CompiledFields, "publicData"> | undefined): Record<string, unknown> {
  if (!fields) return Object.fromEntries(Object.keys(data).map((k) => [k, PII_MASK]));
  return fields.publicData(data, PII_MASK);
}
