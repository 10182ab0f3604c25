// What routing (src/auction/routing.ts) keeps in the database, so that it holds across every Gavel
// process sharing it: each round-robin rotation's turn counter, and which buyer last bought each
// returning consumer (sticky routing).
import { sql } from "drizzle-orm";
import { txRows, type Database, type Db } from "./client";

/**
 * Takes the next turn of a rotation: 0 for the first lead, then 1, 2, … The upsert is one atomic
 * statement, so two processes taking turns at once each get their own (the row lock orders them).
 */
const TAKE_TURN = `
    insert into routing_turns (campaign_id, tier, turn) values ($1::text, $2::int, 1)
    on conflict (campaign_id, tier) do update set turn = routing_turns.turn + 1
    returning turn - 1 as turn`;

export async function takeTurn(database: Database, campaignId: string, tier: number): Promise<number> {
  const rows = await database.query<{ turn: string | number }>(TAKE_TURN, [campaignId, tier]);
  return Number(rows[0].turn);
}

/** The turn the next lead of a rotation would take, without taking it (explain). */
export async function peekTurn(database: Database, campaignId: string, tier: number): Promise<number> {
  const rows = await database.query<{ turn: string | number }>(`select turn from routing_turns where campaign_id = $1::text and tier = $2::int`, [
    campaignId,
    tier,
  ]);
  return rows.length ? Number(rows[0].turn) : 0;
}

/** A consumer's last buyer in a campaign: the buyer and channel that bought them, and when. */
export interface StickyBuyer {
  buyerId: string;
  channelId: string;
  leadId: string;
  soldAt: Date;
}

/** The buyer that bought one of these consumer keys most recently, after `since`; null if none. */
export async function findStickyBuyer(database: Database, campaignId: string, keys: readonly string[], since: Date): Promise<StickyBuyer | null> {
  if (keys.length === 0) return null;
  const rows = await database.query<{ buyer_id: string; channel_id: string; lead_id: string; sold_at: string | Date }>(
    `select buyer_id, channel_id, lead_id, sold_at from routing_sticky
     where campaign_id = $1::text and key_hash = any(array(select jsonb_array_elements_text($2::text::jsonb))) and sold_at > $3::timestamptz
     order by sold_at desc limit 1`,
    [campaignId, JSON.stringify(keys), since.toISOString()],
  );
  const row = rows[0];
  return row ? { buyerId: row.buyer_id, channelId: row.channel_id, leadId: row.lead_id, soldAt: new Date(row.sold_at) } : null;
}

/** Records who bought a consumer (each of its keys), for its next visit; a later sale replaces an earlier one. */
export async function rememberStickyBuyer(
  database: Database,
  campaignId: string,
  keys: readonly string[],
  buyer: StickyBuyer,
): Promise<void> {
  if (keys.length === 0) return;
  await database.query(
    `insert into routing_sticky (campaign_id, key_hash, buyer_id, channel_id, lead_id, sold_at)
     select $1::text, k, $3::text, $4::text, $5::text, $6::timestamptz
     from jsonb_array_elements_text($2::text::jsonb) with ordinality as t(k, n) order by n
     on conflict (campaign_id, key_hash) do update
       set buyer_id = excluded.buyer_id, channel_id = excluded.channel_id, lead_id = excluded.lead_id, sold_at = excluded.sold_at
       where routing_sticky.sold_at <= excluded.sold_at`,
    [campaignId, JSON.stringify(keys), buyer.buyerId, buyer.channelId, buyer.leadId, buyer.soldAt.toISOString()],
  );
}

/**
 * The same, inside a transaction `tx`: a sale confirmed later by its buyer's postback
 * (src/reconciliation/confirm.ts) is remembered with its confirmation, and only then.
 */
export async function rememberStickyBuyerIn(tx: Db, campaignId: string, keys: readonly string[], buyer: StickyBuyer): Promise<void> {
  if (keys.length === 0) return;
  await txRows(
    tx,
    sql`insert into routing_sticky (campaign_id, key_hash, buyer_id, channel_id, lead_id, sold_at)
        select ${campaignId}::text, k, ${buyer.buyerId}::text, ${buyer.channelId}::text, ${buyer.leadId}::text, ${buyer.soldAt.toISOString()}::timestamptz
        from jsonb_array_elements_text(${JSON.stringify(keys)}::text::jsonb) with ordinality as t(k, n) order by n
        on conflict (campaign_id, key_hash) do update
          set buyer_id = excluded.buyer_id, channel_id = excluded.channel_id, lead_id = excluded.lead_id, sold_at = excluded.sold_at
          where routing_sticky.sold_at <= excluded.sold_at`,
  );
}

/**
 * Forgets returning consumers no campaign can route by any more: rows sold more than `keepDays`
 * before `now`, where `keepDays` is the longest `sticky_days` of any campaign or `retentionDays`
 * (GAVEL_RETENTION_DAYS), whichever is longer — so a campaign whose window is raised up to either
 * still finds its consumers. With no campaign sticky and a retention of 0 (keep everything),
 * nothing is forgotten. At most `batch` rows go per call (the sweep calls again next time), so a
 * backlog never holds one long delete. Returns how many were forgotten.
 */
export async function pruneStickyBuyers(database: Database, now: number, retentionDays: number, batch = 10_000): Promise<number> {
  const rows = await database.query<{ n: number }>(
    `with keep as (
       select greatest(coalesce(max((config->'routing'->>'sticky_days')::int), 0), $2::int) as days
       from campaigns where jsonb_typeof(config->'routing'->'sticky_days') = 'number'
     ), gone as (
       delete from routing_sticky where ctid = any(array(
         select s.ctid from routing_sticky s, keep
         where keep.days > 0 and s.sold_at < $1::timestamptz - make_interval(days => keep.days)
         limit $3::int))
       returning 1
     )
     select count(*)::int as n from gone`,
    [new Date(now).toISOString(), retentionDays, batch],
  );
  return Number(rows[0]?.n ?? 0);
}
