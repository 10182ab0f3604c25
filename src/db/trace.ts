// Reads of leads for operators and analysts: the full trace of one lead, and paged listings.
import { and, asc, desc, eq, gte, inArray, like, lt, or, type SQL } from "drizzle-orm";
import type { LeadCode } from "../reasons";
import type { Db } from "./client";
import { attempts, channels, leadEvents, leads } from "./schema";

/** Attempts are looked for this far either side of a lead's arrival (an auction lasts at most a minute). */
const ATTEMPT_SLACK_MS = 3_600_000;

export async function findLead(db: Db, id: string) {
  const [lead] = await db.select().from(leads).where(eq(leads.id, id));
  if (!lead) return undefined;
  const [history, tried] = await Promise.all([
    db.select().from(leadEvents).where(eq(leadEvents.leadId, id)).orderBy(asc(leadEvents.id)),
    leadAttempts(db, id, lead.receivedAt),
  ]);
  const buyers = await channelBuyers(db, [...new Set(tried.map((a) => a.channelId))]);
  return { lead, history, attempts: tried.map((a) => ({ ...a, buyerId: buyers.get(a.channelId) ?? null })) };
}

/**
 * The buyer each channel belongs to, as configured now: an attempt row names only its channel, and
 * reports attribute a channel's attempts to its buyer the same way.
 */
async function channelBuyers(db: Db, ids: string[]): Promise<Map<string, string>> {
  if (!ids.length) return new Map();
  const rows = await db.select({ id: channels.id, buyerId: channels.buyerId }).from(channels).where(inArray(channels.id, ids));
  return new Map(rows.map((r) => [r.id, r.buyerId]));
}

/**
 * A lead's attempts, in order. They start after it arrived and within its auction: naming when lets
 * the read visit only that day's partition of attempts, not every day kept.
 */
export function leadAttempts(db: Db, id: string, receivedAt: Date) {
  return db
    .select()
    .from(attempts)
    .where(
      and(
        eq(attempts.leadId, id),
        gte(attempts.startedAt, new Date(receivedAt.getTime() - ATTEMPT_SLACK_MS)),
        lt(attempts.startedAt, new Date(receivedAt.getTime() + ATTEMPT_SLACK_MS)),
      ),
    )
    .orderBy(asc(attempts.startedAt), asc(attempts.id));
}

export interface LeadQuery {
  campaign?: string;
  status?: string;
  supplier?: string;
  test?: boolean;
  /** Sold to this buyer, or through this channel. */
  buyer?: string;
  channel?: string;
  source?: string;
  subId?: string;
  /** The lead's own reason code, whatever its detail (`no_bids`, `dedup`, `cap_leads`). */
  reason?: LeadCode;
  /** Received in [from, to). */
  from?: Date;
  to?: Date;
  cursor?: string;
  limit: number;
}

/** How a lead's reason was spelled before the codes (src/reasons.ts reads these as the code), as LIKE patterns. */
const LEGACY_LEAD_REASONS: Partial<Record<LeadCode, string[]>> = {
  cap_leads: ["cap:%:leads"],
  cap_spend: ["cap:%:spend"],
  invalid: ["invalid:%"],
};

/** A lead's reason is this code: `code`, or `code: detail` with any detail, or a spelling of it from before the codes. */
function reasonIs(code: LeadCode): SQL {
  const escaped = code.replace(/[\\%_]/g, (c) => `\\${c}`);
  return or(eq(leads.reason, code), like(leads.reason, `${escaped}: %`), ...(LEGACY_LEAD_REASONS[code] ?? []).map((p) => like(leads.reason, p)))!;
}

/**
 * Newest first; the cursor is the last lead id of the previous page (ids are time-ordered). Each
 * filter on who bought or where a lead came from has an index on (it, id), so a page is a short
 * walk down one index however many leads there are.
 */
export async function listLeads(db: Db, q: LeadQuery) {
  const where: SQL[] = [];
  if (q.campaign) where.push(eq(leads.campaignId, q.campaign));
  if (q.status) where.push(eq(leads.status, q.status));
  if (q.supplier) where.push(eq(leads.supplierId, q.supplier));
  if (q.test !== undefined) where.push(eq(leads.test, q.test));
  if (q.buyer !== undefined) where.push(eq(leads.soldBuyerId, q.buyer));
  if (q.channel !== undefined) where.push(eq(leads.soldChannelId, q.channel));
  if (q.source !== undefined) where.push(eq(leads.source, q.source));
  if (q.subId !== undefined) where.push(eq(leads.subId, q.subId));
  if (q.reason !== undefined) where.push(reasonIs(q.reason));
  if (q.from) where.push(gte(leads.receivedAt, q.from));
  if (q.to) where.push(lt(leads.receivedAt, q.to));
  if (q.cursor) where.push(lt(leads.id, q.cursor));
  const rows = await db
    .select()
    .from(leads)
    .where(and(...where))
    .orderBy(desc(leads.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { rows: page, nextCursor: rows.length > q.limit ? page[page.length - 1].id : null };
}
