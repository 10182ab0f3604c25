// Reads of leads for operators and analysts: the full trace of one lead, and paged listings.
import { and, asc, desc, eq, gt, gte, inArray, like, lt, or, sql, type SQL } from "drizzle-orm";
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
  if (q.source !== undefined) where.push(eq(leads.source, q.source));
  if (q.subId !== undefined) where.push(eq(leads.subId, q.subId));
  if (q.reason !== undefined) where.push(reasonIs(q.reason));
  if (q.from) where.push(gte(leads.receivedAt, q.from));
  if (q.to) where.push(lt(leads.receivedAt, q.to));
  if (q.cursor) where.push(lt(leads.id, q.cursor));
  const sold = soldFilters(q);
  if (sold.length) where.push(soldToAny(db, where, sold, q.limit + 1));
  const rows = await db
    .select()
    .from(leads)
    .where(and(...where))
    .orderBy(desc(leads.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { rows: page, nextCursor: rows.length > q.limit ? page[page.length - 1].id : null };
}

/** A `buyer` or `channel` filter: who bought any of the lead's sales. */
interface SoldFilter {
  /** The lead's highest sale (leads.sold_buyer_id / sold_channel_id), indexed with the id. */
  highest: typeof leads.soldBuyerId | typeof leads.soldChannelId;
  value: string;
  /** An accepted post's channel is this one, or one of this buyer's (as the trace names a sale's buyer: its channel's buyer now). */
  channelMatches(): SQL;
}

function soldFilters(q: LeadQuery): SoldFilter[] {
  const filters: SoldFilter[] = [];
  const { buyer, channel } = q;
  if (buyer !== undefined)
    filters.push({
      highest: leads.soldBuyerId,
      value: buyer,
      channelMatches: () => sql`${attempts.channelId} in (select ${channels.id} from ${channels} where ${channels.buyerId} = ${buyer})`,
    });
  if (channel !== undefined) filters.push({ highest: leads.soldChannelId, value: channel, channelMatches: () => eq(attempts.channelId, channel) });
  return filters;
}

/** Whether any sale of the lead matches: its highest sale (an exclusive lead's only one), or an accepted post of a shared lead. */
function anySale(f: SoldFilter): SQL {
  return or(eq(f.highest, f.value), and(gt(leads.soldTo, 1), acceptedPost(f)))!;
}

/** A shared lead has a post accepted by the filter's channel or buyer (within the window its attempts are read in, as the trace reads them). */
function acceptedPost(f: SoldFilter): SQL {
  return sql`exists (select 1 from ${attempts} where ${attempts.leadId} = ${leads.id} and ${attempts.kind} = 'post' and ${attempts.outcome} = 'accepted'
    and ${attempts.startedAt} >= ${leads.receivedAt} - ${sql.raw(`interval '${ATTEMPT_SLACK_MS} milliseconds'`)}
    and ${attempts.startedAt} < ${leads.receivedAt} + ${sql.raw(`interval '${ATTEMPT_SLACK_MS} milliseconds'`)}
    and ${f.channelMatches()})`;
}

/**
 * The `buyer`/`channel` filters match a lead when any of its sales does: its highest sale, which
 * leads.sold_buyer_id/sold_channel_id name, or another sale of a shared lead (an accepted post of
 * it). A page stays two short walks rather than a scan of every lead: the newest `limit` leads
 * whose highest sale matches, down the (sold_…, id) index as before, and the newest `limit` shared
 * leads with another matching sale, found from the channels' accepted posts down the attempts'
 * (channel_id, started_at) index; the page is the newest `limit` of both. Each walk carries every
 * other filter, so neither stops short on leads the others would drop.
 */
function soldToAny(db: Db, common: readonly SQL[], sold: readonly SoldFilter[], limit: number): SQL {
  const [first, ...others] = sold;
  const rest = [...common, ...others.map(anySale)];
  const highest = db
    .select({ id: leads.id })
    .from(leads)
    .where(and(eq(first.highest, first.value), ...rest))
    .orderBy(desc(leads.id))
    .limit(limit);
  const posted = db
    .selectDistinct({ id: attempts.leadId })
    .from(attempts)
    .where(and(eq(attempts.kind, "post"), eq(attempts.outcome, "accepted"), first.channelMatches()));
  const shared = db
    .select({ id: leads.id })
    .from(leads)
    .where(and(gt(leads.soldTo, 1), sql`${first.highest} is distinct from ${first.value}`, inArray(leads.id, posted), ...rest))
    .orderBy(desc(leads.id))
    .limit(limit);
  return sql`${leads.id} in ((${highest}) union all (${shared}))`;
}
