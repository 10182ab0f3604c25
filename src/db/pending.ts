// Queries of sales confirmed by postback (src/reconciliation/confirm.ts): a lead a buyer accepted
// that waits, `pending`, for the buyer's postback. Each takes a transaction first.
import { sql } from "drizzle-orm";
import { txRows, type Db } from "./client";

/**
 * Makes a pending lead sold, only while it is still pending: false when it is not (then nothing
 * changed). Its revenue, payout and channel were written when its post was accepted.
 */
export async function confirmPendingRow(tx: Db, id: string): Promise<boolean> {
  const rows = await txRows(tx, sql`update leads set status = 'sold', reason = null, sold_to = 1 where id = ${id} and status = 'pending' returning id`);
  return rows.length === 1;
}

/** Makes a pending lead unsold with `reason`, only while it is still pending (false when it is not). */
export async function unconfirmPendingRow(tx: Db, id: string, reason: string): Promise<boolean> {
  const rows = await txRows(
    tx,
    sql`update leads set status = 'unsold', reason = ${reason}, price_cents = 0, revenue_cents = 0, sold_to = 0,
               sold_channel_id = null, sold_buyer_id = null
        where id = ${id} and status = 'pending' returning id`,
  );
  return rows.length === 1;
}

/**
 * Pending leads whose wait has ended by `nowMs` (the `until` of their `awaiting_confirmation`
 * reason), by id, after the id `after` (a page's last: "" for the first), at most `limit`. Read
 * without locks: each is settled in its own transaction, under its row lock, and only while still
 * pending.
 */
export async function duePendingLeads(db: Db, nowMs: number, limit: number, after = ""): Promise<string[]> {
  const rows = await txRows<{ id: string }>(
    db,
    sql`select id from leads
        where status = 'pending' and id > ${after} and reason like 'awaiting_confirmation: % until %'
          and ${UNTIL} <= ${new Date(nowMs).toISOString()}::timestamptz
        order by id limit ${limit}`,
  );
  return rows.map((r) => r.id);
}

/** When a pending lead's wait ends (its reason's `until`, as the sweep reads it), in ms; null when it says none. */
export async function pendingUntil(tx: Db, id: string): Promise<number | null> {
  const [row] = await txRows<{ until_ms: number | null }>(
    tx,
    sql`select (extract(epoch from ${UNTIL}) * 1000)::float8 as until_ms from leads
        where id = ${id} and reason like 'awaiting_confirmation: % until %'`,
  );
  return row?.until_ms == null ? null : Number(row.until_ms);
}

const UNTIL = sql`substring(reason from ' until ([^ ]+)$')::timestamptz`;
