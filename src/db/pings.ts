// Pings from suppliers that ping first (src/auction/inbound.ts): a ping's non-PII data, its quote,
// its ranked bids and its buyers' pings, kept in `inbound_pings` until the post, which any Gavel
// process sharing the database may take. Each function is one statement.
import { sql } from "drizzle-orm";
import type { Database } from "./client";
import type { AttemptRow, LeadEvent } from "./leads";
import type { LeadCode, ReasonText } from "../reasons";

const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;
const json = (v: unknown) => sql`${JSON.stringify(v)}::jsonb`;

/** A bid kept for the post: enough to rebuild it against its channel, as ranked. */
export interface KeptBid {
  channel_id: string;
  price_cents: number;
  charge_cents: number;
  ping_id: string | null;
  ping_ref: string | null;
  /** Wall-clock epoch ms past which the buyer no longer honours the bid; null: none. */
  expires_at: number | null;
  /** The sale the bid is for (absent in pings kept before shared pings: exclusive). */
  sale?: "exclusive" | "shared";
  /** The offer the ping's answer made of it, if it made one: what a post's `offer_ids` choose. */
  offer_id?: string | null;
  /**
   * A bid of several in one buyer answer (response.ping.bids): its id, and the answer's named
   * captures, for its post. The captures are kept once per answer, on the first of its bids kept
   * (the others' post takes them from the bid of the same ping_id that has them).
   */
  bid_id?: string | null;
  captures?: Record<string, string | null>;
}

export interface StoredEvent {
  status: string;
  at: string;
  reason: ReasonText<LeadCode> | null;
}

export interface NewPing {
  id: string;
  campaignId: string;
  supplierId: string;
  test: boolean;
  source: string | null;
  subId: string | null;
  data: Record<string, unknown>;
  contactHashes: Record<string, string> | null;
  receivedAt: Date;
  expiresAt: Date;
  status: "bid" | "no_bid";
  reason: ReasonText<LeadCode> | null;
  quoteCents: number;
  bids: KeptBid[];
  attempts: AttemptRow[];
  excluded: unknown[];
  ranking: unknown;
  events: StoredEvent[];
}

export interface PingRow extends Omit<NewPing, "attempts"> {
  attempts: AttemptRow[];
  state: "open" | "posting" | "posted";
  postedAt: Date | null;
  answerStatus: number | null;
  answer: unknown;
  /** When what only a post needs was cleared (prunePings); null while kept. */
  prunedAt: Date | null;
  /** The status of the lead recorded by the post, if one was. */
  leadStatus: string | null;
  leadPriceCents: number | null;
  leadSoldTo: number | null;
}

/** Records a ping and its ranked bids, and with it (in the same statement) the Idempotency-Key's answer. */
export async function insertPing(
  database: Database,
  ping: NewPing,
  idempotent?: { supplierId: string; key: string; status: number; body: unknown },
): Promise<void> {
  const idem = idempotent
    ? sql`, idem as (
        update idempotency_keys set state = 'done', lead_id = ${ping.id}, response_status = ${idempotent.status}, response = ${json(idempotent.body)}
        where supplier_id = ${idempotent.supplierId} and key = ${idempotent.key}
      )`
    : sql``;
  await database.rows(sql`
    with ping as (
      insert into inbound_pings (id, campaign_id, supplier_id, test, source, sub_id, data, contact_hashes, received_at, expires_at,
                                 status, reason, quote_cents, bids, attempts, excluded, ranking, events)
      values (${ping.id}, ${ping.campaignId}, ${ping.supplierId}, ${ping.test}, ${ping.source}, ${ping.subId}, ${json(ping.data)},
              ${ping.contactHashes === null ? null : json(ping.contactHashes)}, ${ts(ping.receivedAt)}, ${ts(ping.expiresAt)},
              ${ping.status}, ${ping.reason}, ${ping.quoteCents}, ${json(ping.bids)}, ${json(ping.attempts)}, ${json(ping.excluded)},
              ${ping.ranking === null || ping.ranking === undefined ? null : json(ping.ranking)}, ${json(ping.events)})
    )${idem}
    select 1`);
}

interface RawPing {
  id: string;
  campaign_id: string;
  supplier_id: string;
  test: boolean;
  source: string | null;
  sub_id: string | null;
  data: Record<string, unknown>;
  contact_hashes: Record<string, string> | null;
  received_at: string | Date;
  expires_at: string | Date;
  status: "bid" | "no_bid";
  reason: ReasonText<LeadCode> | null;
  quote_cents: number;
  bids: KeptBid[];
  attempts: (Omit<AttemptRow, "startedAt"> & { startedAt: string })[];
  excluded: unknown[];
  ranking: unknown;
  events: StoredEvent[];
  state: "open" | "posting" | "posted";
  posted_at: string | Date | null;
  answer_status: number | null;
  answer: unknown;
  pruned_at: string | Date | null;
  lead_status: string | null;
  lead_price_cents: number | null;
  lead_sold_to: number | null;
}

const asDate = (v: string | Date) => (v instanceof Date ? v : new Date(v));

function pingOf(r: RawPing): PingRow {
  return {
    id: r.id,
    campaignId: r.campaign_id,
    supplierId: r.supplier_id,
    test: r.test,
    source: r.source,
    subId: r.sub_id,
    data: r.data,
    contactHashes: r.contact_hashes,
    receivedAt: asDate(r.received_at),
    expiresAt: asDate(r.expires_at),
    status: r.status,
    reason: r.reason,
    quoteCents: r.quote_cents,
    bids: r.bids,
    attempts: r.attempts.map((a) => ({ ...a, startedAt: new Date(a.startedAt) })),
    excluded: r.excluded,
    ranking: r.ranking,
    events: r.events,
    state: r.state,
    postedAt: r.posted_at === null ? null : asDate(r.posted_at),
    answerStatus: r.answer_status,
    answer: r.answer,
    prunedAt: r.pruned_at === null ? null : asDate(r.pruned_at),
    leadStatus: r.lead_status,
    leadPriceCents: r.lead_price_cents,
    leadSoldTo: r.lead_sold_to,
  };
}

const PING_COLUMNS = sql`p.id, p.campaign_id, p.supplier_id, p.test, p.source, p.sub_id, p.data, p.contact_hashes, p.received_at, p.expires_at,
  p.status, p.reason, p.quote_cents, p.bids, p.attempts, p.excluded, p.ranking, p.events, p.state, p.posted_at, p.answer_status, p.answer, p.pruned_at,
  l.status as lead_status, l.price_cents as lead_price_cents, l.sold_to as lead_sold_to`;

/** A supplier's ping, with the status of the lead its post recorded (if any). */
export async function findPing(database: Database, id: string, supplierId: string): Promise<PingRow | undefined> {
  const [row] = await database.rows<RawPing>(sql`
    select ${PING_COLUMNS} from inbound_pings p left join leads l on l.id = p.id
    where p.id = ${id} and p.supplier_id = ${supplierId}`);
  return row && pingOf(row);
}

/** Any supplier's ping (an operator's read). */
export async function findAnyPing(database: Database, id: string): Promise<PingRow | undefined> {
  const [row] = await database.rows<RawPing>(sql`
    select ${PING_COLUMNS} from inbound_pings p left join leads l on l.id = p.id where p.id = ${id}`);
  return row && pingOf(row);
}

/**
 * Takes the ping for its post, once across every process: the one conditional update that moves it
 * from `open` (unexpired at `now`) to `posting` wins; every other post finds it taken. A ping left
 * `posting` by a process that died before recording a lead under it is taken again once `staleBefore`
 * has passed its claim (no intake statement of the dead process can still commit by then).
 */
export async function claimPing(database: Database, id: string, supplierId: string, now: Date, staleBefore: Date): Promise<boolean> {
  const rows = await database.rows(sql`
    update inbound_pings p set state = 'posting', posted_at = ${ts(now)}
    where p.id = ${id} and p.supplier_id = ${supplierId} and p.expires_at > ${ts(now)}
      and (p.state = 'open'
           or (p.state = 'posting' and p.posted_at < ${ts(staleBefore)} and not exists (select 1 from leads l where l.id = p.id)))
    returning p.id`);
  return rows.length === 1;
}

/** The post's answer, replayed to every later post of the ping. */
export async function finishPing(database: Database, id: string, status: number, answer: unknown): Promise<void> {
  await database.rows(sql`update inbound_pings set state = 'posted', answer_status = ${status}, answer = ${json(answer)} where id = ${id}`);
}

/** Gives a claimed ping back (its post recorded nothing: the data failed validation, or a supplier cap was full). */
export async function reopenPing(database: Database, id: string): Promise<void> {
  await database.rows(sql`update inbound_pings set state = 'open', posted_at = null where id = ${id} and state = 'posting'`);
}

/** A refused post's event on the ping's history, and on its lead's once the lead exists. */
export async function recordPingEvent(database: Database, id: string, event: LeadEvent): Promise<void> {
  const stored: StoredEvent = { status: event.status, at: event.at.toISOString(), reason: event.reason ?? null };
  await database.rows(sql`
    with ping as (
      update inbound_pings set events = events || ${json([stored])} where id = ${id} returning id
    )
    insert into lead_events (lead_id, status, at, reason)
    select l.id, ${event.status}, ${ts(event.at)}, ${event.reason ?? null} from leads l join ping on ping.id = l.id`);
}

/** The supplier side of a posted ping's history (its ping, its quote, refused posts, the post), on its lead. */
export async function insertLeadEvents(database: Database, leadId: string, events: readonly LeadEvent[]): Promise<void> {
  if (events.length === 0) return;
  await database.rows(sql`
    insert into lead_events (lead_id, status, at, reason) values ${sql.join(
      events.map((e) => sql`(${leadId}, ${e.status}, ${ts(e.at)}, ${e.reason ?? null})`),
      sql`, `,
    )}`);
}

/** Pings and posts per supplier and source over [from, to) by the pings' arrival (src/reports/pings.ts). */
export interface PingCounts {
  supplier_id: string;
  source: string | null;
  pings: number;
  bids: number;
  posts: number;
  sold: number;
  quoted_cents: number;
  payout_cents: number;
}

export async function countPings(
  database: Database,
  range: { from: Date; to: Date },
  filter: { campaign?: string; supplier?: string; test: boolean },
): Promise<PingCounts[]> {
  return database.rows<PingCounts>(sql`
    select p.supplier_id, p.source,
      count(*)::int as pings,
      count(*) filter (where p.status = 'bid')::int as bids,
      count(l.id)::int as posts,
      count(*) filter (where l.status = 'sold')::int as sold,
      coalesce(sum(p.quote_cents) filter (where p.status = 'bid'), 0)::bigint as quoted_cents,
      coalesce(sum(l.price_cents) filter (where l.status = 'sold'), 0)::bigint as payout_cents
    from inbound_pings p left join leads l on l.id = p.id
    where p.received_at >= ${ts(range.from)} and p.received_at < ${ts(range.to)} and p.test = ${filter.test}
      ${filter.campaign === undefined ? sql`` : sql`and p.campaign_id = ${filter.campaign}`}
      ${filter.supplier === undefined ? sql`` : sql`and p.supplier_id = ${filter.supplier}`}
    group by p.supplier_id, p.source
    order by p.supplier_id, p.source nulls first`);
}

/** Whether any of these hashed contacts is on the do-not-sell list. */
export async function suppressedAny(database: Database, entries: readonly { kind: string; hash: string }[]): Promise<boolean> {
  if (entries.length === 0) return false;
  const rows = await database.rows(sql`
    select 1 from suppressions where (kind, value_hash) in (${sql.join(
      entries.map((e) => sql`(${e.kind}, ${e.hash})`),
      sql`, `,
    )}) limit 1`);
  return rows.length > 0;
}

/**
 * How long a ping's post and its replays are kept past the ping's expiry: a post in flight at the
 * expiry, and a supplier replaying its post after a timeout or a restart, still find the ping and its
 * answer. Past it a post is `410 ping_expired`.
 */
export const PING_REPLAY_MARGIN_MS = 86_400_000;

/**
 * The sweeper's upkeep of pings, at most `limit` rows of each kind: a ping past its expiry and
 * PING_REPLAY_MARGIN_MS keeps only what the pings report reads (who, when, its quote, whether its
 * post recorded a lead); a ping older than the retention is deleted, as its attempts' partitions are.
 * A posted ping's lead keeps its own copy of the ping's fields, bids' attempts and history.
 */
export async function prunePings(database: Database, now: number, retentionDays: number, limit: number): Promise<{ pruned: number; deleted: number }> {
  const pruned = await database.rows(sql`
    update inbound_pings p set pruned_at = ${ts(new Date(now))}, data = '{}'::jsonb, contact_hashes = null, bids = '[]'::jsonb,
      attempts = '[]'::jsonb, excluded = '[]'::jsonb, ranking = null, events = '[]'::jsonb, answer = null
    where p.id in (
      select id from inbound_pings where pruned_at is null and expires_at < ${ts(new Date(now - PING_REPLAY_MARGIN_MS))} limit ${limit}
    )
    returning p.id`);
  const deleted =
    retentionDays > 0
      ? await database.rows(sql`
          delete from inbound_pings where id in (
            select id from inbound_pings where received_at < ${ts(new Date(now - retentionDays * 86_400_000))} limit ${limit}
          ) returning id`)
      : [];
  return { pruned: pruned.length, deleted: deleted.length };
}
