// Queries of a lead's life after its sale: buyers' postbacks and returns (src/postbacks/,
// src/returns/). Each takes a db or a transaction first, so a postback, the return it asks for and
// their history and audit entries are written together or not at all.
import { and, asc, desc, eq, lt, lte, sql } from "drizzle-orm";
import { txRows, type Db } from "./client";
import { buyerPostbacks, leadEvents, leadReturns } from "./schema";

/** Raw pings and posts of a lead are looked for this far either side of its auction. */
const SLACK_MS = 3_600_000;

export interface Sale {
  channelId: string;
  buyerId: string;
  priceCents: number;
  /** When the post that sold it started: the sale's instant for its caps and its return window. */
  atMs: number;
}

type SoldLead = {
  id: string;
  receivedAt: Date;
  decidedAt: Date | null;
  soldTo: number;
  soldChannelId: string | null;
  soldBuyerId: string | null;
  revenueCents: number;
};

/**
 * Every sale of a lead (one per accepted post; several for a shared lead), highest price first.
 * Once its day of attempts is past retention (GAVEL_RETENTION_DAYS), a lead sold once still has
 * its sale on its own row: its channel, buyer, revenue and decision time.
 */
export async function leadSales(db: Db, lead: SoldLead): Promise<Sale[]> {
  const sales = await acceptedPosts(db, lead);
  if (sales.length === 0 && lead.soldTo <= 1 && lead.soldChannelId && lead.soldBuyerId)
    return [{ channelId: lead.soldChannelId, buyerId: lead.soldBuyerId, priceCents: lead.revenueCents, atMs: (lead.decidedAt ?? lead.receivedAt).getTime() }];
  return sales;
}

async function acceptedPosts(db: Db, lead: SoldLead): Promise<Sale[]> {
  const from = new Date(lead.receivedAt.getTime() - SLACK_MS).toISOString();
  // A held lead is auctioned when a channel opens, up to a week after it arrived: its decision bounds its posts.
  const to = new Date((lead.decidedAt ?? lead.receivedAt).getTime() + SLACK_MS).toISOString();
  const rows = await txRows<{ channel_id: string; buyer_id: string; price_cents: number; at_ms: number }>(
    db,
    sql`select t.channel_id, ch.buyer_id, coalesce(t.price_cents, 0)::int as price_cents,
               (extract(epoch from t.started_at) * 1000)::float8 as at_ms
        from attempts t join channels ch on ch.id = t.channel_id
        where t.lead_id = ${lead.id} and t.kind = 'post' and t.outcome = 'accepted'
          and t.started_at >= ${from}::timestamptz and t.started_at < ${to}::timestamptz
        order by t.price_cents desc, t.started_at`,
  );
  return rows.map((r) => ({ channelId: r.channel_id, buyerId: r.buyer_id, priceCents: Number(r.price_cents), atMs: Number(r.at_ms) }));
}

/** Takes the buyer's row lock: a buyer's returns are requested one at a time, so its rate cap holds exactly. */
export async function lockBuyer(db: Db, buyerId: string): Promise<void> {
  await txRows(db, sql`select id from buyers where id = ${buyerId} for update`);
}

/** A buyer's sales (accepted posts) and its returns not rejected, requested in [from, to). */
export async function buyerReturnRate(db: Db, buyerId: string, from: number, to: number): Promise<{ sales: number; returns: number }> {
  const f = new Date(from).toISOString();
  const t = new Date(to).toISOString();
  const [row] = await txRows<{ sales: number; returns: number }>(
    db,
    sql`select (select count(*) from attempts a join channels ch on ch.id = a.channel_id
                where ch.buyer_id = ${buyerId} and a.kind = 'post' and a.outcome = 'accepted'
                  and a.started_at >= ${f}::timestamptz and a.started_at < ${t}::timestamptz)::int as sales,
               (select count(*) from lead_returns r
                where r.buyer_id = ${buyerId} and r.state <> 'rejected'
                  and r.requested_at >= ${f}::timestamptz and r.requested_at < ${t}::timestamptz)::int as returns`,
  );
  return { sales: Number(row.sales), returns: Number(row.returns) };
}

export type PostbackRow = typeof buyerPostbacks.$inferSelect;
export type ReturnRow = typeof leadReturns.$inferSelect;

export async function findPostback(db: Db, buyerId: string, eventId: string): Promise<PostbackRow | undefined> {
  const [row] = await db
    .select()
    .from(buyerPostbacks)
    .where(and(eq(buyerPostbacks.buyerId, buyerId), eq(buyerPostbacks.eventId, eventId)));
  return row;
}

/** Records a postback; false when its (buyer, event id) was taken meanwhile (the caller replays that one). */
export async function insertPostback(db: Db, row: typeof buyerPostbacks.$inferInsert): Promise<boolean> {
  const inserted = await db.insert(buyerPostbacks).values(row).onConflictDoNothing().returning({ eventId: buyerPostbacks.eventId });
  return inserted.length === 1;
}

export async function addLeadEvent(db: Db, event: { leadId: string; status: string; at: Date; reason: string }): Promise<void> {
  await db.insert(leadEvents).values(event);
}

export async function findReturn(db: Db, id: string, options: { lock?: boolean } = {}): Promise<ReturnRow | undefined> {
  const query = db.select().from(leadReturns).where(eq(leadReturns.id, id));
  const [row] = options.lock ? await query.for("update") : await query;
  return row;
}

export async function findReturnOf(db: Db, leadId: string, buyerId: string): Promise<ReturnRow | undefined> {
  const [row] = await db
    .select()
    .from(leadReturns)
    .where(and(eq(leadReturns.leadId, leadId), eq(leadReturns.buyerId, buyerId)));
  return row;
}

export async function insertReturn(db: Db, row: typeof leadReturns.$inferInsert): Promise<ReturnRow> {
  const [inserted] = await db.insert(leadReturns).values(row).returning();
  return inserted;
}

export async function updateReturn(db: Db, id: string, change: Partial<typeof leadReturns.$inferInsert>): Promise<ReturnRow> {
  const [row] = await db.update(leadReturns).set(change).where(eq(leadReturns.id, id)).returning();
  return row;
}

export async function leadReturnsOf(db: Db, leadId: string): Promise<ReturnRow[]> {
  return db.select().from(leadReturns).where(eq(leadReturns.leadId, leadId)).orderBy(asc(leadReturns.requestedAt));
}

export async function leadPostbacksOf(db: Db, leadId: string): Promise<PostbackRow[]> {
  return db.select().from(buyerPostbacks).where(eq(buyerPostbacks.leadId, leadId)).orderBy(asc(buyerPostbacks.receivedAt));
}

/** Pending returns whose auto-accept time has come, oldest first, each locked for one process (SKIP LOCKED). */
export async function dueReturns(db: Db, now: number, limit: number): Promise<ReturnRow[]> {
  return db
    .select()
    .from(leadReturns)
    .where(and(eq(leadReturns.state, "pending"), lte(leadReturns.autoAcceptAt, new Date(now))))
    .orderBy(asc(leadReturns.autoAcceptAt))
    .limit(limit)
    .for("update", { skipLocked: true });
}

export interface ReturnQuery {
  state?: "pending" | "accepted" | "rejected";
  buyer?: string;
  lead?: string;
  cursor?: string;
  limit: number;
}

/** Newest first; the cursor is the last return id of the previous page (ids are time-ordered). */
export async function listReturns(db: Db, q: ReturnQuery): Promise<{ rows: ReturnRow[]; nextCursor: string | null }> {
  const where = [
    q.state ? eq(leadReturns.state, q.state) : undefined,
    q.buyer ? eq(leadReturns.buyerId, q.buyer) : undefined,
    q.lead ? eq(leadReturns.leadId, q.lead) : undefined,
    q.cursor ? lt(leadReturns.id, q.cursor) : undefined,
  ];
  const rows = await db
    .select()
    .from(leadReturns)
    .where(and(...where))
    .orderBy(desc(leadReturns.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { rows: page, nextCursor: rows.length > q.limit ? page[page.length - 1].id : null };
}

/** Gives a returned sale's lead and spend back to cap period instances (never below zero). */
export async function giveBackUsage(
  db: Db,
  keys: readonly { scope: string; ownerId: string; period: string; periodStart: number }[],
  spendCents: number,
): Promise<number> {
  let changed = 0;
  for (const k of keys) {
    const rows = await txRows(
      db,
      sql`update cap_usage set leads = greatest(0, leads - 1), spend_cents = greatest(0, spend_cents - ${spendCents})
          where scope = ${k.scope} and owner_id = ${k.ownerId} and period = ${k.period}
            and period_start = ${new Date(k.periodStart).toISOString()}::timestamptz
          returning 1`,
    );
    changed += rows.length;
  }
  return changed;
}
