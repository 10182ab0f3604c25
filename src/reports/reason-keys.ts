// The reasons report's keys, read back from what facts.ts groups by (rollup rows written before the
// codes included, which spelled them `error:http_503`, `rejected:not_today`, `cap:day:leads`): a
// stage, an outcome (an attempt's, or a lead's status; none for an exclusion) and a reason code,
// with its detail only when the code's detail is drawn from a small set. Keys that read the same
// are one row.
import { KEYED_CODES, knownReason, outcomeCode, type ReasonCode } from "../reasons";

export type ReasonReportStage = "excluded" | "ping" | "post" | "lead";

export interface ReasonKey {
  channel: string | null;
  stage: ReasonReportStage;
  outcome: string | null;
  reason: ReasonCode | null;
  detail: string | null;
}

const KEYED: ReadonlySet<string> = new Set(KEYED_CODES);

/** A stored key of a stage: `key` for an exclusion, `outcome` or `outcome:key` for the others. */
export function readReasonKey(stage: ReasonReportStage, text: string): Omit<ReasonKey, "channel" | "stage"> {
  const colon = stage === "excluded" ? -1 : text.indexOf(":");
  const outcome = stage === "excluded" ? null : colon < 0 ? text : text.slice(0, colon);
  const rest = stage === "excluded" ? text : colon < 0 ? "" : text.slice(colon + 1);
  const known = rest === "" ? null : knownReason(rest, stage);
  if (known) return { outcome, reason: known.reason, detail: KEYED.has(known.reason) ? known.detail : null };
  // A buyer's own words (never kept), or nothing: the outcome's own code says it.
  const fallback = outcome !== null && (stage === "ping" || stage === "post") ? outcomeCode(stage, outcome) : undefined;
  return { outcome, reason: fallback ?? null, detail: null };
}

const order = (v: string | null) => v ?? "";

/** The report's rows: each stored key read, the rows whose keys read the same summed, by count then key. */
export function reasonRows(
  rows: readonly { channel_id: string; stage: string; reason: string; count: number; orphans: number }[],
): { key: ReasonKey; count: number; orphans: number }[] {
  const byKey = new Map<string, { key: ReasonKey; count: number; orphans: number }>();
  for (const r of rows) {
    const stage = r.stage as ReasonReportStage;
    const key: ReasonKey = { channel: r.channel_id === "" ? null : r.channel_id, stage, ...readReasonKey(stage, r.reason) };
    const id = JSON.stringify([key.channel, key.stage, key.outcome, key.reason, key.detail]);
    const row = byKey.get(id);
    if (row) {
      row.count += Number(r.count);
      row.orphans += Number(r.orphans);
    } else byKey.set(id, { key, count: Number(r.count), orphans: Number(r.orphans) });
  }
  const fields = ["channel", "stage", "outcome", "reason", "detail"] as const;
  return [...byKey.values()].sort((a, b) => {
    if (a.count !== b.count) return b.count - a.count;
    for (const f of fields) {
      const x = order(a.key[f]);
      const y = order(b.key[f]);
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  });
}
