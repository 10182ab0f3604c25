// Lead persistence on the hot path. Each function is ONE statement (data-modifying CTEs), so a lead
// costs one round trip before its first ping and one after its auction, and each statement is
// atomic on its own: no explicit transaction, no half-written lead.
import { sql, type SQL } from "drizzle-orm";
import { reserveCte, type CapClaim } from "./caps";
import type { Database } from "./client";

export interface LeadEvent {
  status: string;
  at: Date;
  reason?: string | null;
}

export interface NewLead {
  id: string;
  campaignId: string;
  supplierId: string;
  test: boolean;
  data: Record<string, unknown>;
  receivedAt: Date;
  deadlineAt: Date;
}

export interface DedupClaim {
  keys: string[];
  /** Keys last claimed at or before this instant have left the lookback window. */
  cutoff: Date;
}

/** Everything decided about a lead in the statement that records it. */
export interface IntakeChecks {
  /** The campaign's dedup keys. */
  dedup: DedupClaim;
  /** The supplier's resubmission window: keys scoped to the supplier, with their own cutoff. */
  resubmit?: DedupClaim;
  /** Hashed contacts of the lead; any on the suppression list rejects it. */
  suppression?: { kind: string; hash: string }[];
  /** The supplier's caps, reserved only when the lead goes to auction. */
  supplierCaps?: CapClaim[];
  /** Buyers with a dedup window: the consumer's keys for each, to learn who already has it. */
  buyerLookups?: { buyerId: string; keys: string[]; cutoff: Date }[];
}

export interface IntakeVerdict {
  status: "auctioning" | "duplicate" | "rejected";
  /** `dedup`, `resubmitted`, `suppressed`, or null for an auction. */
  reason: string | null;
  /** Buyers that already received this consumer within their dedup window. */
  seenBuyers: string[];
}

const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;
const json = (v: unknown) => sql`${JSON.stringify(v)}::jsonb`;

function claimCte(name: string, campaignId: string, leadId: string, seenAt: Date, claim: DedupClaim): SQL {
  return sql`${sql.raw(name)} as (
      insert into dedup_keys (campaign_id, key_hash, lead_id, seen_at)
      select v.campaign_id, v.key_hash, v.lead_id, v.seen_at
      from (values ${sql.join(
        claim.keys.map((key) => sql`(${campaignId}, ${key}, ${leadId}, ${ts(seenAt)})`),
        sql`, `,
      )}) as v(campaign_id, key_hash, lead_id, seen_at)
      where not (select hit from suppressed)
      on conflict (campaign_id, key_hash) do update
        set lead_id = excluded.lead_id, seen_at = excluded.seen_at
        where dedup_keys.seen_at <= ${ts(claim.cutoff)}
      returning 1
    )`;
}

/**
 * Records the lead before the first ping, in ONE statement that also decides its fate:
 * - a lead whose email or phone is on the suppression list is `rejected` (reason `suppressed`);
 * - it claims its dedup keys (and its supplier-scoped resubmission keys): a key is claimed when it is
 *   new or its last claim has left the window; the unique key makes two identical leads arriving at
 *   once take turns, and a lead that fails to claim every key is a `duplicate`;
 * - a lead going to auction reserves its supplier's caps; a cap without room fails the whole
 *   statement (a CHECK constraint), so nothing is recorded and the caller records the refusal;
 * - it reads which buyers already received this consumer within their own dedup windows.
 */
export async function insertLeadForAuction(
  database: Database,
  lead: NewLead,
  checks: IntakeChecks,
  idempotency?: { supplierId: string; key: string },
): Promise<IntakeVerdict> {
  const ctes: SQL[] = [];
  const suppression = checks.suppression ?? [];
  ctes.push(
    suppression.length
      ? sql`suppressed as (
      select count(*) > 0 as hit from suppressions
      where (kind, value_hash) in (${sql.join(
        suppression.map((e) => sql`(${e.kind}, ${e.hash})`),
        sql`, `,
      )}))`
      : sql`suppressed as (select false as hit)`,
  );
  const dedupCount = checks.dedup.keys.length;
  const resubmitCount = checks.resubmit?.keys.length ?? 0;
  if (dedupCount) ctes.push(claimCte("claim", lead.campaignId, lead.id, lead.receivedAt, checks.dedup));
  if (resubmitCount) ctes.push(claimCte("resubmit", lead.campaignId, lead.id, lead.receivedAt, checks.resubmit!));
  ctes.push(sql`verdict as (
      select case when (select hit from suppressed) then 'suppressed'
                  ${dedupCount ? sql`when (select count(*) from claim) < ${dedupCount} then 'dedup'` : sql``}
                  ${resubmitCount ? sql`when (select count(*) from resubmit) < ${resubmitCount} then 'resubmitted'` : sql``}
             end as reason
    )`);
  if (checks.supplierCaps?.length) ctes.push(sql`supplier_cap as (${reserveCte(checks.supplierCaps, sql`(select reason from verdict) is null`)})`);
  ctes.push(sql`lead as (
      insert into leads (id, campaign_id, supplier_id, status, reason, test, data, received_at, deadline_at, decided_at)
      select ${lead.id}, ${lead.campaignId}, ${lead.supplierId},
             case when reason is null then 'auctioning' when reason = 'suppressed' then 'rejected' else 'duplicate' end,
             reason, ${lead.test}, ${json(lead.data)}, ${ts(lead.receivedAt)}, ${ts(lead.deadlineAt)},
             case when reason is null then null else ${ts(lead.receivedAt)} end
      from verdict
      returning id, status, reason
    )`);
  ctes.push(sql`events as (
      insert into lead_events (lead_id, status, at, reason)
      select lead.id, e.status, ${ts(lead.receivedAt)}, e.reason
      from lead, lateral (values (1, 'received', null::text), (2, lead.status, lead.reason)) e(n, status, reason)
      order by e.n
    )`);
  // The running idempotency key is bound to its lead at once, so an interrupted auction can be settled.
  if (idempotency)
    ctes.push(sql`idem as (update idempotency_keys set lead_id = ${lead.id} where supplier_id = ${idempotency.supplierId} and key = ${idempotency.key})`);
  const lookups = (checks.buyerLookups ?? []).flatMap((b) => b.keys.map((key) => sql`(${b.buyerId}, ${key}, ${ts(b.cutoff)})`));
  const seen = lookups.length
    ? sql`(select coalesce(json_agg(distinct s.buyer_id), '[]'::json)
         from buyer_dedup_keys b
         join (values ${sql.join(lookups, sql`, `)}) as s(buyer_id, key_hash, cutoff)
           on b.buyer_id = s.buyer_id and b.key_hash = s.key_hash and b.seen_at > s.cutoff)`
    : sql`'[]'::json`;
  const [row] = await database.rows<{ status: IntakeVerdict["status"]; reason: string | null; seen_buyers: string[] | string }>(sql`
    with ${sql.join(ctes, sql`, `)}
    select lead.status, lead.reason, ${seen} as seen_buyers from lead`);
  const seenBuyers = typeof row.seen_buyers === "string" ? (JSON.parse(row.seen_buyers) as string[]) : row.seen_buyers;
  return { status: row.status, reason: row.reason, seenBuyers };
}

export interface IdempotentResponse {
  supplierId: string;
  key: string;
  status: number;
  body: unknown;
}

/** A lead that failed validation: recorded as `rejected` with its errors, in one statement. */
export async function insertRejectedLead(
  database: Database,
  lead: Omit<NewLead, "deadlineAt">,
  reason: string,
  idempotent?: IdempotentResponse,
): Promise<void> {
  await database.rows(sql`
    with lead as (
      insert into leads (id, campaign_id, supplier_id, status, reason, test, data, received_at, decided_at)
      values (${lead.id}, ${lead.campaignId}, ${lead.supplierId}, 'rejected', ${reason}, ${lead.test}, ${json(lead.data)},
              ${ts(lead.receivedAt)}, ${ts(lead.receivedAt)})
      returning id
    ), events as (
      insert into lead_events (lead_id, status, at, reason)
      select lead.id, e.status, ${ts(lead.receivedAt)}, e.reason
      from lead, (values (1, 'received', null), (2, 'rejected', ${reason})) e(n, status, reason) order by e.n
    )${idempotencyDone(idempotent, lead.id)}
    select 1`);
}

function idempotencyDone(idempotent: IdempotentResponse | undefined, leadId: string): SQL {
  if (!idempotent) return sql``;
  return sql`, idem as (
      update idempotency_keys set state = 'done', lead_id = ${leadId}, response_status = ${idempotent.status},
             response = ${json(idempotent.body)}
      where supplier_id = ${idempotent.supplierId} and key = ${idempotent.key}
    )`;
}

export interface AttemptRow {
  kind: "ping" | "post";
  channelId: string;
  startedAt: Date;
  durationMs: number;
  httpStatus: number | null;
  outcome: string;
  priceCents: number | null;
  reason: string | null;
  pingRef: string | null;
}

export interface LeadOutcome {
  leadId: string;
  status: "sold" | "unsold" | "error" | "duplicate";
  reason: string | null;
  decidedAt: Date;
  priceCents: number;
  revenueCents: number;
  soldTo: number;
  excluded: { channel_id: string; reason: string }[];
  overheadMs: number | null;
  attempts: AttemptRow[];
  events: LeadEvent[];
  idempotent?: IdempotentResponse;
}

/**
 * Writes the end of several auctions in ONE statement (one commit): each lead's outcome, its attempts
 * (one multi-row insert for all of them), its status events and its idempotent response. Used by
 * the group commit of `LeadWriter`; every value carries its type, so the rows of many leads share
 * one VALUES list.
 */
export async function finishLeads(database: Database, outcomes: readonly LeadOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const parts: SQL[] = [
    sql`with outcome (id, status, reason, decided_at, price_cents, revenue_cents, sold_to, excluded, overhead_ms) as (values ${sql.join(
      outcomes.map(
        (o) =>
          sql`(${o.leadId}::text, ${o.status}::text, ${o.reason}::text, ${ts(o.decidedAt)}, ${o.priceCents}::int, ${o.revenueCents}::int,
               ${o.soldTo}::int, ${json(o.excluded)}, ${o.overheadMs}::int)`,
      ),
      sql`, `,
    )}), lead_out as (
      update leads set status = outcome.status, reason = outcome.reason, decided_at = outcome.decided_at,
             price_cents = outcome.price_cents, revenue_cents = outcome.revenue_cents, sold_to = outcome.sold_to,
             excluded = outcome.excluded, overhead_ms = outcome.overhead_ms
      from outcome where leads.id = outcome.id
    )`,
  ];
  const attempts = outcomes.flatMap((o) =>
    o.attempts.map(
      (a) =>
        sql`(${o.leadId}, ${a.kind}, ${a.channelId}, ${ts(a.startedAt)}, ${a.durationMs}, ${a.httpStatus}::int,
             ${a.outcome}, ${a.priceCents}::int, ${a.reason}, ${a.pingRef})`,
    ),
  );
  if (attempts.length)
    parts.push(sql`, attempts_in as (
      insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, http_status, outcome, price_cents, reason, ping_ref)
      values ${sql.join(attempts, sql`, `)}
    )`);
  const events = outcomes.flatMap((o) => o.events.map((e) => sql`(${o.leadId}, ${e.status}, ${ts(e.at)}, ${e.reason ?? null})`));
  if (events.length)
    parts.push(sql`, events_in as (
      insert into lead_events (lead_id, status, at, reason)
      values ${sql.join(events, sql`, `)}
    )`);
  const idempotent = outcomes.flatMap((o) =>
    o.idempotent
      ? [sql`(${o.idempotent.supplierId}::text, ${o.idempotent.key}::text, ${o.leadId}::text, ${o.idempotent.status}::int, ${json(o.idempotent.body)})`]
      : [],
  );
  if (idempotent.length)
    parts.push(sql`, idem as (
      update idempotency_keys k set state = 'done', lead_id = i.lead_id, response_status = i.status, response = i.response
      from (values ${sql.join(idempotent, sql`, `)}) as i(supplier_id, key, lead_id, status, response)
      where k.supplier_id = i.supplier_id and k.key = i.key
    )`);
  parts.push(sql` select 1`);
  await database.rows(sql.join(parts));
}

export type IdempotencyClaim =
  | { kind: "claimed" }
  | { kind: "running"; leadId: string | null }
  | { kind: "mismatch" }
  | { kind: "replay"; status: number; body: unknown };

/** Claims an Idempotency-Key for one supplier, or says why the request cannot run again. */
export async function claimIdempotencyKey(
  database: Database,
  supplierId: string,
  key: string,
  requestHash: string,
): Promise<IdempotencyClaim> {
  const [row] = await database.rows<{
    inserted: boolean;
    request_hash: string;
    state: string;
    lead_id: string | null;
    response_status: number | null;
    response: unknown;
  }>(sql`
    with claim as (
      insert into idempotency_keys (supplier_id, key, request_hash, state)
      values (${supplierId}, ${key}, ${requestHash}, 'running')
      on conflict (supplier_id, key) do nothing
      returning true as inserted, request_hash, state, lead_id, response_status, response
    )
    select * from claim
    union all
    select false, request_hash, state, lead_id, response_status, response from idempotency_keys
    where supplier_id = ${supplierId} and key = ${key} and not exists (select 1 from claim)`);
  if (!row) return { kind: "running", leadId: null };
  if (row.inserted) return { kind: "claimed" };
  if (row.request_hash !== requestHash) return { kind: "mismatch" };
  if (row.state === "running") return { kind: "running", leadId: row.lead_id };
  return { kind: "replay", status: row.response_status ?? 200, body: row.response };
}

/** Gives a key back when its request ended before any lead was recorded (e.g. 404, 403, 503). */
export async function releaseIdempotencyKey(database: Database, supplierId: string, key: string): Promise<void> {
  await database.rows(sql`delete from idempotency_keys where supplier_id = ${supplierId} and key = ${key} and state = 'running'`);
}

/** Stores the answer an Idempotency-Key replays, for leads that ended without an auction. */
export async function storeIdempotentResponse(database: Database, idempotent: IdempotentResponse, leadId: string): Promise<void> {
  await database.rows(sql`
    update idempotency_keys set state = 'done', lead_id = ${leadId}, response_status = ${idempotent.status},
           response = ${json(idempotent.body)}
    where supplier_id = ${idempotent.supplierId} and key = ${idempotent.key}`);
}

/**
 * Leads left in `auctioning` by a process that died: settled as `error` (reason `interrupted`) so
 * they are visible, never re-auctioned (a post may already have reached a buyer), and their
 * idempotency keys replay that answer instead of answering 409 forever.
 */
export async function settleInterruptedLeads(database: Database, olderThan: Date): Promise<number> {
  const rows = await database.rows<{ id: string }>(sql`
    with stuck as (
      update leads set status = 'error', reason = 'interrupted', decided_at = now()
      where status = 'auctioning' and deadline_at < ${ts(olderThan)}
      returning id
    ), events as (
      insert into lead_events (lead_id, status, at, reason) select id, 'error', now(), 'interrupted' from stuck
    ), idem as (
      update idempotency_keys k set state = 'done', response_status = 200,
        response = jsonb_build_object('lead_id', stuck.id, 'status', 'error', 'price', 0, 'sold_to', 0,
                                      'trace_url', '/v1/leads/' || stuck.id)
      from stuck where k.lead_id = stuck.id and k.state = 'running'
    )
    select id from stuck`);
  return rows.length;
}

/**
 * Explain's dedup verdict, without claiming anything: the leads holding any of these keys within
 * the lookback window (a key last claimed after `cutoff`). Any hit makes a lead a duplicate.
 */
export async function findDedupHolders(database: Database, campaignId: string, keys: string[], cutoff: Date): Promise<string[]> {
  if (keys.length === 0) return [];
  const rows = await database.rows<{ lead_id: string }>(sql`
    select distinct lead_id from dedup_keys
    where campaign_id = ${campaignId} and seen_at > ${ts(cutoff)}
      and key_hash in (${sql.join(
        keys.map((k) => sql`${k}`),
        sql`, `,
      )})`);
  return rows.map((r) => r.lead_id);
}
