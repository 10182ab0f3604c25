// Lead persistence on the hot path. Each function is ONE statement (data-modifying CTEs), so a lead
// costs one round trip before its first ping and a share of one group-committed statement after its
// auction, and each statement is atomic on its own: no explicit transaction, no half-written lead.
import { sql, type SQL } from "drizzle-orm";
import { capClaimsJson, capUpsertSql, isCapViolation, type CapClaim } from "./caps";
import type { Database } from "./client";
import type { ExclusionCode, LeadCode, PingCode, PostCode, ReasonText } from "../reasons";

export interface LeadEvent {
  status: string;
  at: Date;
  reason?: ReasonText<LeadCode> | null;
}

export interface NewLead {
  id: string;
  campaignId: string;
  supplierId: string;
  test: boolean;
  /** The supplier's tracking strings, if it sent them. */
  source: string | null;
  subId: string | null;
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

export type IntakeVerdict =
  | {
      status: "auctioning";
      reason: null;
      /** Buyers that already received this consumer within their dedup window. */
      seenBuyers: string[];
    }
  | { status: "duplicate"; reason: "dedup" | "resubmitted" }
  | { status: "rejected"; reason: "suppressed" }
  /** A cap of the supplier has no room: nothing was recorded (the caller records the refusal). */
  | { status: "cap_full" };

const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;
const json = (v: unknown) => sql`${JSON.stringify(v)}::jsonb`;

/**
 * Claims keys into `dedup_keys` (the lead's campaign dedup keys, or its supplier-scoped resubmission
 * keys): a key is claimed when it is new or its last claim is at or before the cutoff.
 */
const claimKeys = (keys: string, cutoff: string) => `
      insert into dedup_keys (campaign_id, key_hash, lead_id, seen_at)
      select $2::text, k, $1::text, $6::timestamptz from jsonb_array_elements_text(${keys}::text::jsonb) k
      where not (select hit from suppressed)
      on conflict (campaign_id, key_hash) do update
        set lead_id = excluded.lead_id, seen_at = excluded.seen_at
        where dedup_keys.seen_at <= ${cutoff}::timestamptz
      returning 1`;

/**
 * The intake statement: ONE text for every lead, whatever its checks (an empty list checks nothing),
 * so it is prepared once per connection. Lists travel as JSON arrays.
 *  $1 lead id, $2 campaign, $3 supplier, $4 test, $5 data, $6 received at, $7 deadline,
 *  $8 suppression [[kind, hash]], $9/$10 dedup keys and cutoff, $11/$12 resubmission keys and cutoff,
 *  $13 supplier cap claims (see capClaimsJson), $14/$15 the idempotency key's supplier and key,
 *  $16 buyer dedup lookups [[buyer, key, cutoff]], $17/$18 the lead's source and sub-id.
 * It is prepared, so it runs on one generic plan made while the tables may still be empty: every
 * lookup into a table that grows (suppressions, buyer dedup keys) is a scalar subquery per element,
 * which can only be planned as a primary-key probe, never a join that a small table would make a
 * full scan of.
 */
export const INTAKE = `
    with suppressed as (
      select coalesce(bool_or((select true from suppressions s where s.kind = e->>0 and s.value_hash = e->>1)), false) as hit
      from jsonb_array_elements($8::text::jsonb) e
    ), claim as (${claimKeys("$9", "$10")}
    ), resubmit as (${claimKeys("$11", "$12")}
    ), verdict as (
      select case when (select hit from suppressed) then 'suppressed'
                  when (select count(*) from claim) < jsonb_array_length($9::text::jsonb) then 'dedup'
                  when (select count(*) from resubmit) < jsonb_array_length($11::text::jsonb) then 'resubmitted'
             end as reason
    ), supplier_cap as (${capUpsertSql("$13", "(select reason from verdict) is null")}
    ), lead as (
      insert into leads (id, campaign_id, supplier_id, status, reason, test, source, sub_id, data, received_at, deadline_at, decided_at)
      select $1::text, $2::text, $3::text,
             case when reason is null then 'auctioning' when reason = 'suppressed' then 'rejected' else 'duplicate' end,
             reason, $4::boolean, $17::text, $18::text, $5::text::jsonb, $6::timestamptz, $7::timestamptz,
             case when reason is null then null else $6::timestamptz end
      from verdict
      returning id, status, reason
    ), events as (
      insert into lead_events (lead_id, status, at, reason)
      select lead.id, e.status, $6::timestamptz, e.reason
      from lead, lateral (values (1, 'received', null::text), (2, lead.status, lead.reason)) e(n, status, reason)
      order by e.n
    ), idem as (
      -- The running idempotency key is bound to its lead at once, so an interrupted auction can be settled.
      update idempotency_keys set lead_id = $1::text where supplier_id = $14::text and key = $15::text
    ), seen as (
      select coalesce(json_agg(distinct buyer) filter (where hit), '[]'::json) as buyers
      from (
        select s->>0 as buyer,
               (select true from buyer_dedup_keys b where b.buyer_id = s->>0 and b.key_hash = s->>1 and b.seen_at > (s->>2)::timestamptz) as hit
        from jsonb_array_elements($16::text::jsonb) s
      ) lookups
    )
    select lead.status, lead.reason, (select buyers from seen) as seen_buyers from lead`;

/**
 * Records the lead before the first ping, in ONE statement that also decides its fate:
 * - a lead whose email or phone is on the suppression list is `rejected` (reason `suppressed`);
 * - it claims its dedup keys (and its supplier-scoped resubmission keys): a key is claimed when it is
 *   new or its last claim has left the window; the unique key makes two identical leads arriving at
 *   once take turns, and a lead that fails to claim every key is a `duplicate`;
 * - a lead going to auction reserves its supplier's caps; a cap without room fails the whole
 *   statement (a CHECK constraint), so nothing is recorded: the verdict is `cap_full`, and the
 *   caller records the refusal;
 * - it reads which buyers already received this consumer within their own dedup windows.
 */
export async function insertLeadForAuction(
  database: Database,
  lead: NewLead,
  checks: IntakeChecks,
  idempotency?: { supplierId: string; key: string },
): Promise<IntakeVerdict> {
  let rows;
  try {
    rows = await database.query<{ status: "auctioning" | "duplicate" | "rejected"; reason: string | null; seen_buyers: string[] | string }>(INTAKE, [
      lead.id,
      lead.campaignId,
      lead.supplierId,
      lead.test,
      JSON.stringify(lead.data),
      lead.receivedAt.toISOString(),
      lead.deadlineAt.toISOString(),
      JSON.stringify((checks.suppression ?? []).map((e) => [e.kind, e.hash])),
      JSON.stringify(checks.dedup.keys),
      checks.dedup.cutoff.toISOString(),
      JSON.stringify(checks.resubmit?.keys ?? []),
      checks.resubmit?.cutoff.toISOString() ?? null,
      capClaimsJson(checks.supplierCaps ?? []),
      idempotency?.supplierId ?? null,
      idempotency?.key ?? null,
      JSON.stringify((checks.buyerLookups ?? []).flatMap((b) => b.keys.map((key) => [b.buyerId, key, b.cutoff.toISOString()]))),
      lead.source,
      lead.subId,
    ]);
  } catch (error) {
    if (isCapViolation(error)) return { status: "cap_full" };
    throw error;
  }
  const row = rows[0];
  if (row.status === "duplicate") return { status: "duplicate", reason: row.reason as "dedup" | "resubmitted" };
  if (row.status === "rejected") return { status: "rejected", reason: "suppressed" };
  const seenBuyers = typeof row.seen_buyers === "string" ? (JSON.parse(row.seen_buyers) as string[]) : row.seen_buyers;
  return { status: "auctioning", reason: null, seenBuyers };
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
  reason: ReasonText<LeadCode>,
  idempotent?: IdempotentResponse,
): Promise<void> {
  await database.rows(sql`
    with lead as (
      insert into leads (id, campaign_id, supplier_id, status, reason, test, source, sub_id, data, received_at, decided_at)
      values (${lead.id}, ${lead.campaignId}, ${lead.supplierId}, 'rejected', ${reason}, ${lead.test}, ${lead.source}, ${lead.subId},
              ${json(lead.data)}, ${ts(lead.receivedAt)}, ${ts(lead.receivedAt)})
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
  /** `code` or `code: detail` (src/reasons.ts); null for a bid, and for an acceptance without a message. */
  reason: ReasonText<PingCode | PostCode> | null;
  pingRef: string | null;
  /**
   * The request never reached the buyer because Gavel's own pool of connections to it was full:
   * a failure of Gavel's, which no circuit breaker counts. Not stored (the reason, `ping_not_sent`
   * or `post_not_sent`, is).
   */
  congested?: boolean;
}

export interface LeadOutcome {
  leadId: string;
  status: "sold" | "unsold" | "error" | "duplicate" | "pending";
  reason: ReasonText<LeadCode> | null;
  decidedAt: Date;
  priceCents: number;
  revenueCents: number;
  soldTo: number;
  /** Who bought: the channel whose post accepted, and its buyer; null unless sold. */
  soldChannelId: string | null;
  soldBuyerId: string | null;
  excluded: { channel_id: string; reason: ReasonText<ExclusionCode> }[];
  /** How routing ordered the posts (src/auction/routing.ts), as the trace shows it; null for a campaign routed by price alone. */
  routing?: unknown;
  /** Bids, adjusted bids, acceptance rates and charges (src/auction/clearing.ts), as the trace shows them; null for a plain first-price auction. */
  ranking?: unknown;
  overheadMs: number | null;
  attempts: AttemptRow[];
  events: LeadEvent[];
  idempotent?: IdempotentResponse;
}

// Notifications (src/notifications/) of the leads a FINISH settles, written by FINISH itself into
// the outbox, so a lead's outcome and its notices commit together or not at all; only for receivers
// that asked for them (a supplier's postback_url, a buyer's notify). Each event's id is made of the
// event and what it is about, so writing it twice (a retried commit) writes one row.
const SUPPLIER_NOTICES = `supplier_notices as (
      -- The supplier learns its own payout, never who bought (a held lead sold says it was held), by
      -- its postback_url and by email to its notify_email: one row each.
      -- was_held is a scalar subquery with limit 1, not exists(): an exists() in a select list may be
      -- planned as a hashed subplan, a full scan of lead_events on every group commit (db-plans.test.ts).
      insert into deliveries (event_id, event, lead_id, receiver_kind, receiver_id, via, target, payload, next_attempt_at, created_at, updated_at)
      select 'lead.' || l.status || ':' || l.id, 'lead.' || l.status, l.id, 'supplier', l.supplier_id, r.via, r.target,
             jsonb_build_object('event_id', 'lead.' || l.status || ':' || l.id, 'event', 'lead.' || l.status, 'lead_id', l.id,
               'campaign_id', l.campaign_id, 'status', l.status, 'reason', l.reason, 'price', round(l.price_cents / 100.0, 2),
               'source', l.source, 'sub_id', l.sub_id, 'test', l.test, 'occurred_at', o.decided_iso,
               'was_held', coalesce((select true from lead_events e where e.lead_id = l.id and e.status = 'held' limit 1), false)),
             o.decided_at, o.decided_at, o.decided_at
      from lead_out l join outcome o on o.id = l.id join suppliers s on s.id = l.supplier_id
        cross join lateral (values ('webhook', s.config->>'postback_url'), ('email', s.config->>'notify_email')) r(via, target)
      -- A lead sold with another post still unknown (reason post_outcome_unknown) is heard of once
      -- that post is settled, its payout final then (src/reconciliation/resolve.ts writes it).
      where l.status in ('sold', 'unsold') and r.target is not null and coalesce(l.reason, '') not like 'post_outcome_unknown%'
      on conflict do nothing
    )`;
const BUYER_NOTICES = `buyer_notices as (
      -- One per sale: each buyer that bought the lead (a shared lead has several) hears of its own, at
      -- its notify.url and by email to its notify.email: one row each.
      insert into deliveries (event_id, event, lead_id, receiver_kind, receiver_id, via, target, payload, next_attempt_at, created_at, updated_at)
      select 'lead.delivered:' || a.lead_id || ':' || a.channel_id, 'lead.delivered', a.lead_id, 'buyer', ch.buyer_id, r.via, r.target,
             jsonb_build_object('event_id', 'lead.delivered:' || a.lead_id || ':' || a.channel_id, 'event', 'lead.delivered', 'lead_id', a.lead_id,
               'campaign_id', l.campaign_id, 'channel_id', a.channel_id, 'buyer_id', ch.buyer_id, 'price', round(coalesce(a.price_cents, 0) / 100.0, 2),
               -- Shared: sold to several buyers, by a shared campaign, or by a routing tier of strategy all (even to one buyer).
               'sale', case when l.sold_to > 1 or c.config->'auction'->>'mode' = 'shared'
                              or exists (select 1 from jsonb_array_elements(coalesce(o.routing->'tiers', '[]'::jsonb)) t
                                         where t->>'strategy' = 'all' and t->'order' ? a.channel_id)
                            then 'shared' else 'exclusive' end,
               'test', l.test, 'occurred_at', o.decided_iso),
             o.decided_at, o.decided_at, o.decided_at
      from attempts_in a join lead_out l on l.id = a.lead_id join outcome o on o.id = a.lead_id
        join channels ch on ch.id = a.channel_id join buyers b on b.id = ch.buyer_id join campaigns c on c.id = l.campaign_id
        cross join lateral (values ('webhook', b.config->'notify'->>'url'), ('email', b.config->'notify'->>'email')) r(via, target)
      where a.kind = 'post' and a.outcome = 'accepted' and l.status = 'sold' and r.target is not null
      on conflict do nothing
    )`;

/**
 * The end of several auctions, in ONE statement of fixed text (see finishLeads). Each list is a
 * JSON array of arrays, in the order its rows are to be inserted:
 *  $1 outcomes [id, status, reason, decided_at, price_cents, revenue_cents, sold_to, excluded, overhead_ms,
 *     sold_channel_id, sold_buyer_id, routing, ranking],
 *  $2 attempts [lead, kind, channel, started_at, duration_ms, http_status, outcome, price_cents, reason, ping_ref],
 *  $3 events [lead, status, at, reason], $4 idempotent answers [supplier, key, lead, status, response].
 * The updates name their rows' keys with `= any(array(…))` too, so the planner, which guesses 100
 * rows for any JSON array, reaches `leads` and `idempotency_keys` through their primary keys
 * rather than by reading them whole for a hash join.
 */
export const FINISH = `
    with outcome as (
      select o->>0 as id, o->>1 as status, o->>2 as reason, (o->>3)::timestamptz as decided_at, (o->>4)::int as price_cents,
             (o->>5)::int as revenue_cents, (o->>6)::int as sold_to, o->7 as excluded, (o->>8)::int as overhead_ms,
             o->>9 as sold_channel_id, o->>10 as sold_buyer_id, nullif(o->11, 'null'::jsonb) as routing,
             nullif(o->12, 'null'::jsonb) as ranking, o->>3 as decided_iso
      from jsonb_array_elements($1::text::jsonb) o
    ), lead_out as (
      -- Only a lead still in auction is settled: a write retried after a lost answer, or one that
      -- comes after another process settled the lead as interrupted, changes nothing.
      update leads set status = outcome.status, reason = outcome.reason, decided_at = outcome.decided_at,
             price_cents = outcome.price_cents, revenue_cents = outcome.revenue_cents, sold_to = outcome.sold_to,
             excluded = outcome.excluded, overhead_ms = outcome.overhead_ms,
             sold_channel_id = outcome.sold_channel_id, sold_buyer_id = outcome.sold_buyer_id, routing = outcome.routing,
             ranking = outcome.ranking
      from outcome where leads.id = outcome.id and leads.id = any(array(select id from outcome)) and leads.status = 'auctioning'
      returning leads.id, leads.status, leads.reason, leads.supplier_id, leads.campaign_id, leads.price_cents, leads.sold_to,
                leads.source, leads.sub_id, leads.test
    ), attempts_in as (
      insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, http_status, outcome, price_cents, reason, ping_ref)
      select a->>0, a->>1, a->>2, (a->>3)::timestamptz, (a->>4)::int, (a->>5)::int, a->>6, (a->>7)::int, a->>8, a->>9
      from jsonb_array_elements($2::text::jsonb) with ordinality as t(a, n)
      where a->>0 in (select id from lead_out)
      order by n
      returning lead_id, kind, channel_id, outcome, price_cents
    ), events_in as (
      insert into lead_events (lead_id, status, at, reason)
      select e->>0, e->>1, (e->>2)::timestamptz, e->>3
      from jsonb_array_elements($3::text::jsonb) with ordinality as t(e, n)
      where e->>0 in (select id from lead_out)
      order by n
    ), idem as (
      update idempotency_keys k set state = 'done', lead_id = i->>2, response_status = (i->>3)::int, response = i->4
      from jsonb_array_elements($4::text::jsonb) i
      where k.supplier_id = i->>0 and k.key = i->>1 and i->>2 in (select id from lead_out)
        and k.supplier_id = any(array(select i->>0 from jsonb_array_elements($4::text::jsonb) i))
        and k.key = any(array(select i->>1 from jsonb_array_elements($4::text::jsonb) i))
    ), ${SUPPLIER_NOTICES}, ${BUYER_NOTICES}
    select id from lead_out`;

/** Leads this process has finished: how far `leads` has grown since the process began, at least. */
let finishedLeads = 0;

/**
 * The end-of-auction statement as prepared now. It joins a batch with `leads`, a table that only
 * grows, and a prepared statement soon runs on one generic plan made from the table's size at that
 * moment: made while `leads` was small, it reads the whole table on every commit for as long as the
 * process lives where autovacuum never analyzes (the load lab measured every group commit reading
 * every lead). So the text carries how many times the leads this process finished have doubled:
 * each doubling prepares it anew, and its plan always comes from a table at least half its size.
 * About 30 texts in a billion leads; a plan per call instead cost a millisecond per commit.
 */
export function finishStatement(finished: number): string {
  return `${FINISH}\n    -- plan epoch ${Math.floor(Math.log2(finished + 1))}`;
}

/**
 * Writes the end of several auctions in ONE statement (one commit): each lead's outcome, its attempts
 * (one multi-row insert for all of them), its status events and its idempotent response, for each
 * lead still in auction; returns the ids of the leads it settled (exactly once: see FINISH). Used by
 * the group commit of `LeadWriter`. The statement's text is the same for any batch, so it is
 * prepared once per connection; the rows travel as four JSON arrays.
 */
export async function finishLeads(database: Database, outcomes: readonly LeadOutcome[], options?: { timeoutMs?: number }): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const leads: unknown[] = [];
  const attempts: unknown[] = [];
  const events: unknown[] = [];
  const idempotent: unknown[] = [];
  for (const o of outcomes) {
    leads.push([
      o.leadId,
      o.status,
      o.reason,
      o.decidedAt.toISOString(),
      o.priceCents,
      o.revenueCents,
      o.soldTo,
      o.excluded,
      o.overheadMs,
      o.soldChannelId,
      o.soldBuyerId,
      o.routing ?? null,
      o.ranking ?? null,
    ]);
    for (const a of o.attempts)
      attempts.push([o.leadId, a.kind, a.channelId, a.startedAt.toISOString(), a.durationMs, a.httpStatus, a.outcome, a.priceCents, a.reason, a.pingRef]);
    for (const e of o.events) events.push([o.leadId, e.status, e.at.toISOString(), e.reason ?? null]);
    if (o.idempotent) idempotent.push([o.idempotent.supplierId, o.idempotent.key, o.leadId, o.idempotent.status, o.idempotent.body]);
  }
  const statement = finishStatement(finishedLeads);
  finishedLeads += outcomes.length;
  const written = await database.query<{ id: string }>(
    statement,
    [JSON.stringify(leads), JSON.stringify(attempts), JSON.stringify(events), JSON.stringify(idempotent)],
    options,
  );
  return new Set(written.map((row) => row.id));
}

export type IdempotencyClaim =
  | { kind: "claimed" }
  | { kind: "running"; leadId: string | null }
  | { kind: "mismatch" }
  | { kind: "replay"; status: number; body: unknown };

/**
 * Claims an Idempotency-Key for one supplier, or says why the request cannot run again. A key still
 * `running` whose lead was decided (its own answer was never stored: the database failed at the
 * end, or its process died and the lead was settled as interrupted) replays the lead as recorded.
 */
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
    lead_status: string | null;
    lead_price_cents: number | null;
    lead_sold_to: number | null;
  }>(sql`
    with claim as (
      insert into idempotency_keys (supplier_id, key, request_hash, state)
      values (${supplierId}, ${key}, ${requestHash}, 'running')
      on conflict (supplier_id, key) do nothing
      returning true as inserted, request_hash, state, lead_id, response_status, response
    )
    select *, null::text as lead_status, null::int as lead_price_cents, null::int as lead_sold_to from claim
    union all
    select false, k.request_hash, k.state, k.lead_id, k.response_status, k.response, l.status, l.price_cents, l.sold_to
    from idempotency_keys k left join leads l on l.id = k.lead_id and k.state = 'running'
    where k.supplier_id = ${supplierId} and k.key = ${key} and not exists (select 1 from claim)`);
  if (!row) return { kind: "running", leadId: null };
  if (row.inserted) return { kind: "claimed" };
  if (row.request_hash !== requestHash) return { kind: "mismatch" };
  if (row.state === "running") {
    if (row.lead_id && row.lead_status && !UNDECIDED.has(row.lead_status))
      return { kind: "replay", status: 200, body: recordedAnswer(row.lead_id, row.lead_status, row.lead_price_cents ?? 0, row.lead_sold_to ?? 0) };
    return { kind: "running", leadId: row.lead_id };
  }
  return { kind: "replay", status: row.response_status ?? 200, body: row.response };
}

/** Lead statuses before a supplier's final answer; every other is one. */
const UNDECIDED = new Set(["received", "auctioning"]);

/** The supplier's answer for a lead, rebuilt from its record (the same shape sellLead answers). */
function recordedAnswer(leadId: string, status: string, priceCents: number, soldTo: number) {
  return { lead_id: leadId, status, price: priceCents / 100, sold_to: soldTo, trace_url: `/v1/leads/${leadId}` };
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
 * Leads left in `auctioning` past `olderThan` (their deadline plus a grace: by then their own process
 * has given up writing them, or is dead) are settled as `error` with reason `post_outcome_unknown`:
 * a post may already have reached a buyer, so they are never re-auctioned and never offered to
 * anyone else. Each such lead is settled once, by whichever process gets there first: the update
 * takes only leads still in auction, and of two processes racing for one, the second finds it
 * settled. Their running Idempotency-Keys then replay that answer instead of answering 409 forever.
 *
 * A key claimed by a request that never recorded its lead (its process died between the claim and
 * the intake, or the database failed there) is given back once `keyAgeMs` old: by then
 * no intake statement under it can still commit (each is bounded by the statement timeout), so the
 * supplier may send the same request again.
 */
export async function settleInterruptedLeads(database: Database, olderThan: Date, keyAgeMs: number): Promise<{ leads: number; keys: number }> {
  const [row] = await database.rows<{ leads: number; keys: number }>(sql`
    with reheld as (
      -- A released held lead whose process died before its first post (its hold's row is still
      -- there: db/held.ts) is held again, due at once, rather than settled: no buyer can have it.
      update held_leads h set release_at = l.deadline_at from leads l
      where h.lead_id = l.id and h.release_at = 'infinity' and l.status = 'auctioning' and l.deadline_at < ${ts(olderThan)}
      returning h.lead_id
    ), held as (
      update leads l set status = 'held', deadline_at = null from reheld where l.id = reheld.lead_id returning l.id
    ), held_events as (
      insert into lead_events (lead_id, status, at, reason) select id, 'held', now(), 'interrupted' from held
    ), forgotten as (
      -- The row of a released lead decided without a post (its process died before forgetting it).
      delete from held_leads h using leads l where h.lead_id = l.id and h.release_at = 'infinity' and l.status not in ('auctioning', 'held')
    ), stuck as (
      update leads set status = 'error', reason = 'post_outcome_unknown', decided_at = now()
      where status = 'auctioning' and deadline_at < ${ts(olderThan)}
        and not exists (select 1 from held_leads h where h.lead_id = leads.id and h.release_at = 'infinity')
      returning id
    ), events as (
      insert into lead_events (lead_id, status, at, reason) select id, 'error', now(), 'interrupted' from stuck
    ), idem as (
      update idempotency_keys k set state = 'done', response_status = 200,
        response = jsonb_build_object('lead_id', stuck.id, 'status', 'error', 'price', 0, 'sold_to', 0,
                                      'trace_url', '/v1/leads/' || stuck.id)
      from stuck where k.lead_id = stuck.id and k.state = 'running'
    ), orphans as (
      -- The database's own clock: a key's created_at is the database's.
      delete from idempotency_keys where state = 'running' and lead_id is null
        and created_at < now() - make_interval(secs => ${keyAgeMs / 1000}::float8)
      returning 1
    )
    select (select count(*)::int from stuck) as leads, (select count(*)::int from orphans) as keys`);
  return row;
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
