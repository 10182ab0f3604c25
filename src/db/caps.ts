// Cap usage in the database. A reservation is ONE statement: an upsert of every row it touches, in
// a fixed order, whose CHECK constraints refuse any row that would pass its limit. A statement is
// atomic, so a reservation that does not fit one cap changes no cap at all, and concurrent
// reservations of a row (from any process) queue on its row lock and are each checked against the
// value the previous one committed: caps hold exactly, not approximately.
import { and, eq, or, sql } from "drizzle-orm";
import type { Database, Db } from "./client";
import { capUsage } from "./schema";

export type CapScope = "channel" | "buyer" | "supplier";

export interface UsageKey {
  scope: CapScope;
  ownerId: string;
  /** A cap period, or `pace` for a pacing window. */
  period: string;
  /** Epoch ms at which the period began. */
  periodStart: number;
}

export interface CapClaim extends UsageKey {
  resetsAt: number | null;
  leads: number;
  spendCents: number;
  leadsLimit: number | null;
  spendLimitCents: number | null;
}

export interface Usage {
  leads: number;
  spendCents: number;
}

export interface UsageRow extends UsageKey, Usage {}

export const usageKey = (k: UsageKey): string => `${k.scope}|${k.ownerId}|${k.period}|${k.periodStart}`;

const ts = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/** Rows always locked in one order, so two reservations can never wait on each other in a circle. */
export function lockOrder<K extends UsageKey>(claims: readonly K[]): K[] {
  return [...claims].sort((a, b) => (usageKey(a) < usageKey(b) ? -1 : usageKey(a) > usageKey(b) ? 1 : 0));
}

/** The SQL state of a failed statement, through any driver's wrapping. */
export function sqlState(error: unknown): string | undefined {
  let e = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/** A CHECK constraint refused the statement: here, a cap that would have been passed. */
export const isCapViolation = (error: unknown) => sqlState(error) === "23514";

/**
 * The conditional upsert of cap claims, as SQL text for use as a CTE. `claims` is an SQL expression
 * of a parameter holding `capClaimsJson`; `when` (SQL boolean) gates it: rows are reserved only if
 * it holds. Rows are written in lock order.
 */
export function capUpsertSql(claims: string, when: string): string {
  return `
      insert into cap_usage (scope, owner_id, period, period_start, resets_at, leads, spend_cents, leads_limit, spend_limit_cents)
      select c->>0, c->>1, c->>2, (c->>3)::timestamptz, (c->>4)::timestamptz, (c->>5)::int, (c->>6)::bigint, (c->>7)::int, (c->>8)::bigint
      from jsonb_array_elements(${claims}::text::jsonb) with ordinality as t(c, n)
      where ${when}
      order by n
      on conflict (scope, owner_id, period, period_start) do update
        set leads = cap_usage.leads + excluded.leads, spend_cents = cap_usage.spend_cents + excluded.spend_cents,
            leads_limit = excluded.leads_limit, spend_limit_cents = excluded.spend_limit_cents
      returning scope, owner_id, period, leads, spend_cents::float8 as spend_cents`;
}

/** Cap claims as the JSON parameter of `capUpsertSql`, in lock order. */
export function capClaimsJson(claims: readonly CapClaim[]): string {
  return JSON.stringify(
    lockOrder(claims).map((c) => [
      c.scope,
      c.ownerId,
      c.period,
      new Date(c.periodStart).toISOString(),
      c.resetsAt === null ? null : new Date(c.resetsAt).toISOString(),
      c.leads,
      c.spendCents,
      c.leadsLimit,
      c.spendLimitCents,
    ]),
  );
}

interface ReturnedRow {
  scope: CapScope;
  owner_id: string;
  period: string;
  leads: number;
  spend_cents: number;
}

/** Matches the rows a statement returned to the keys that were sent (period starts are not read back). */
function backToKeys(keys: readonly UsageKey[], rows: readonly ReturnedRow[]): UsageRow[] {
  const out: UsageRow[] = [];
  for (const row of rows) {
    const key = keys.find((k) => k.scope === row.scope && k.ownerId === row.owner_id && k.period === row.period);
    if (key) out.push({ ...key, leads: Number(row.leads), spendCents: Number(row.spend_cents) });
  }
  return out;
}

export interface BuyerClaim {
  buyerId: string;
  keys: string[];
  leadId: string;
  seenAt: number;
  /** A key last claimed at or before this instant has left the buyer's dedup window. */
  cutoff: number;
}

export type Reservation =
  | { kind: "reserved"; usage: UsageRow[] }
  /** A cap (or pacing window) has no room: nothing was reserved or claimed. */
  | { kind: "cap_full" }
  /** The buyer already has this consumer within its dedup window: nothing was reserved. */
  | { kind: "buyer_duplicate" };

/**
 * Before a post: claims the consumer for the buyer (per-buyer dedup) and reserves every cap of the
 * channel and its buyer, all or nothing, in one statement. Caps are reserved only when the claim
 * succeeded; a cap that does not fit aborts the whole statement, claim included.
 */
export async function reserve(database: Database, claims: readonly CapClaim[], buyer?: BuyerClaim): Promise<Reservation> {
  const keys = buyer?.keys.length ? [...buyer.keys].sort() : [];
  if (keys.length === 0 && claims.length === 0) return { kind: "reserved", usage: [] };
  try {
    const rows = await database.query<ReturnedRow & { claimed: number }>(RESERVE, [
      buyer?.buyerId ?? null,
      buyer?.leadId ?? null,
      buyer ? new Date(buyer.seenAt).toISOString() : null,
      JSON.stringify(keys),
      buyer ? new Date(buyer.cutoff).toISOString() : null,
      capClaimsJson(claims),
    ]);
    if (Number(rows[0]?.claimed ?? 0) < keys.length) return { kind: "buyer_duplicate" };
    return { kind: "reserved", usage: backToKeys(claims, rows.filter((r) => r.scope !== null)) };
  } catch (error) {
    if (isCapViolation(error)) return { kind: "cap_full" };
    throw error;
  }
}

/**
 * The reservation before a post, one text for every channel: $1 buyer, $2 lead, $3 seen at,
 * $4 the consumer's keys for the buyer (sorted: lock order), $5 the buyer's dedup cutoff,
 * $6 cap claims. Caps are reserved only when every key was claimed.
 */
const RESERVE = `
    with claim as (
      insert into buyer_dedup_keys (buyer_id, key_hash, lead_id, seen_at)
      select $1::text, k, $2::text, $3::timestamptz
      from jsonb_array_elements_text($4::text::jsonb) with ordinality as t(k, n)
      order by n
      on conflict (buyer_id, key_hash) do update set lead_id = excluded.lead_id, seen_at = excluded.seen_at
        where buyer_dedup_keys.seen_at <= $5::timestamptz
      returning 1
    ), reserve as (${capUpsertSql("$6", "(select count(*) from claim) = jsonb_array_length($4::text::jsonb)")}
    )
    select c.claimed, r.scope, r.owner_id, r.period, r.leads, r.spend_cents
    from (select (select count(*)::int from claim) as claimed) c left join reserve r on true`;

/**
 * Gives back a reservation, one text for every call: $1 buyer, $2 lead, $3 the consumer's keys the
 * lead claimed for that buyer, $4 claims [scope, owner, period, period_start, leads, spend_cents]
 * in lock order. The claim is found by its keys, not by scanning every key the buyer holds.
 */
const RELEASE = `
    with unclaim as (
      delete from buyer_dedup_keys
      where buyer_id = $1::text and lead_id = $2::text
        and key_hash = any(array(select jsonb_array_elements_text($3::text::jsonb)))
      returning 1
    ), locked as (
      select u.scope, u.owner_id, u.period, u.period_start, (c->>4)::int as leads, (c->>5)::bigint as spend_cents
      from jsonb_array_elements($4::text::jsonb) with ordinality as t(c, n)
      join cap_usage u on u.scope = c->>0 and u.owner_id = c->>1 and u.period = c->>2 and u.period_start = (c->>3)::timestamptz
      where (select count(*) from unclaim) >= 0
      order by n
      for update of u
    )
    update cap_usage u
    set leads = greatest(0, u.leads - l.leads), spend_cents = greatest(0, u.spend_cents - l.spend_cents)
    from locked l
    where u.scope = l.scope and u.owner_id = l.owner_id and u.period = l.period and u.period_start = l.period_start
    returning u.scope, u.owner_id, u.period, u.leads, u.spend_cents::float8 as spend_cents`;

/**
 * Gives back a reservation (the buyer rejected or errored), or the unspent part of one (the buyer
 * accepted at a lower price): subtracts `leads`/`spendCents` of each claim, and with `buyer` also
 * gives back the consumer's claim for that buyer. Rows are locked in the reservation's order.
 */
export async function release(
  database: Database,
  claims: readonly CapClaim[],
  buyer?: { buyerId: string; leadId: string; keys: readonly string[] },
): Promise<UsageRow[]> {
  if (claims.length === 0 && !buyer?.keys.length) return [];
  const released = await database.query<ReturnedRow>(
    RELEASE,
    [
      buyer?.buyerId ?? null,
      buyer?.leadId ?? null,
      JSON.stringify(buyer?.keys ?? []),
      JSON.stringify(lockOrder(claims).map((c) => [c.scope, c.ownerId, c.period, new Date(c.periodStart).toISOString(), c.leads, c.spendCents])),
    ],
    // Planned per call: it joins with cap_usage and buyer_dedup_keys, which grow, and a rejected
    // post is rare enough that planning costs nothing worth keeping a pinned plan for.
    { planEachCall: true },
  );
  return backToKeys(claims, released);
}

/** Current usage of the given period instances (absent rows mean nothing used yet). */
export async function readUsage(db: Db, keys: readonly UsageKey[]): Promise<UsageRow[]> {
  if (keys.length === 0) return [];
  const rows = await db
    .select({ scope: capUsage.scope, owner_id: capUsage.ownerId, period: capUsage.period, leads: capUsage.leads, spend_cents: capUsage.spendCents })
    .from(capUsage)
    .where(
      or(
        ...keys.map((k) =>
          and(
            eq(capUsage.scope, k.scope),
            eq(capUsage.ownerId, k.ownerId),
            eq(capUsage.period, k.period),
            eq(capUsage.periodStart, new Date(k.periodStart)),
          ),
        ),
      ),
    );
  return backToKeys(keys, rows as ReturnedRow[]);
}

/** Every row of a period that has not ended at `now`: what a process's view of usage is refreshed from. */
export async function liveUsage(database: Database, now: number): Promise<UsageRow[]> {
  const rows = await database.rows<ReturnedRow & { start_ms: number }>(sql`
    select scope, owner_id, period, round(extract(epoch from period_start) * 1000)::float8 as start_ms, leads,
           spend_cents::float8 as spend_cents
    from cap_usage where resets_at is null or resets_at > ${ts(now)}`);
  return rows.map((r) => ({
    scope: r.scope,
    ownerId: r.owner_id,
    period: r.period,
    periodStart: Number(r.start_ms),
    leads: Number(r.leads),
    spendCents: Number(r.spend_cents),
  }));
}

/**
 * Rows of periods that ended before `before` are history nobody reads: removed by the sweeper.
 * Pacing windows are minutes long and numerous, so they go an hour after they end.
 */
export async function deleteEndedUsage(database: Database, before: number, now: number): Promise<void> {
  await database.rows(sql`
    delete from cap_usage
    where resets_at < ${ts(before)} or (period = 'pace' and resets_at < ${ts(now - 3_600_000)})`);
}
