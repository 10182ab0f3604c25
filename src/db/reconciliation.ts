// Queries of reconciliation (src/reconciliation/): settling a lead whose post's outcome was unknown.
// Each takes a transaction first, so the lead, its posts, the caps and its history and audit entries
// change together or not at all.
import { sql } from "drizzle-orm";
import { lockOrder, type CapClaim, type UsageKey } from "./caps";
import { txRows, type Db } from "./client";

/** Raw posts of a lead are looked for this far either side of its auction (as db/after-sale.ts). */
const SLACK_MS = 3_600_000;

export interface UnsettledLead {
  id: string;
  campaignId: string;
  supplierId: string;
  status: string;
  reason: string | null;
  test: boolean;
  data: Record<string, unknown>;
  receivedAt: Date;
  decidedAt: Date | null;
}

/** The lead, locked until the transaction ends: one settlement at a time. */
export async function lockLead(tx: Db, id: string): Promise<UnsettledLead | undefined> {
  const [row] = await txRows<{
    id: string;
    campaign_id: string;
    supplier_id: string;
    status: string;
    reason: string | null;
    test: boolean;
    data: Record<string, unknown> | string;
    received_at: string | Date;
    decided_at: string | Date | null;
  }>(tx, sql`select id, campaign_id, supplier_id, status, reason, test, data, received_at, decided_at from leads where id = ${id} for update`);
  if (!row) return undefined;
  return {
    id: row.id,
    campaignId: row.campaign_id,
    supplierId: row.supplier_id,
    status: row.status,
    reason: row.reason,
    test: row.test,
    data: typeof row.data === "string" ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
    receivedAt: new Date(row.received_at),
    decidedAt: row.decided_at === null ? null : new Date(row.decided_at),
  };
}

export interface LeadPost {
  id: number;
  channelId: string;
  /** The channel's buyer, as the channel is configured now (null: the channel is gone). */
  buyerId: string | null;
  startedAt: Date;
  outcome: string;
  /** What the post offered the lead at (the bid's charge). */
  priceCents: number | null;
  reason: string | null;
}

/** Every post of a lead, in the order they were sent. */
export async function leadPosts(tx: Db, lead: Pick<UnsettledLead, "id" | "receivedAt" | "decidedAt">): Promise<LeadPost[]> {
  const from = new Date(lead.receivedAt.getTime() - SLACK_MS).toISOString();
  const to = new Date((lead.decidedAt ?? lead.receivedAt).getTime() + SLACK_MS).toISOString();
  const rows = await txRows<{
    id: number | string;
    channel_id: string;
    buyer_id: string | null;
    started_at: string | Date;
    outcome: string;
    price_cents: number | null;
    reason: string | null;
  }>(
    tx,
    sql`select t.id, t.channel_id, ch.buyer_id, t.started_at, t.outcome, t.price_cents, t.reason
        from attempts t left join channels ch on ch.id = t.channel_id
        where t.lead_id = ${lead.id} and t.kind = 'post'
          and t.started_at >= ${from}::timestamptz and t.started_at < ${to}::timestamptz
        order by t.started_at, t.id`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    channelId: r.channel_id,
    buyerId: r.buyer_id,
    startedAt: new Date(r.started_at),
    outcome: r.outcome,
    priceCents: r.price_cents === null ? null : Number(r.price_cents),
    reason: r.reason,
  }));
}

/** A channel's buyer, if the channel belongs to the campaign. */
export async function campaignChannelBuyer(tx: Db, campaignId: string, channelId: string): Promise<string | undefined> {
  const [row] = await txRows<{ buyer_id: string }>(tx, sql`select buyer_id from channels where id = ${channelId} and campaign_id = ${campaignId}`);
  return row?.buyer_id;
}

/**
 * A post whose outcome was unknown, now known: only while it is still unknown (`unknown` or
 * `invalid_response`), false when it is not (settled meanwhile: nothing changed).
 */
export async function settleOpenPost(tx: Db, post: Pick<LeadPost, "id" | "startedAt">, settled: { outcome: "accepted" | "rejected"; priceCents: number | null; reason: string }): Promise<boolean> {
  const rows = await txRows(
    tx,
    sql`update attempts set outcome = ${settled.outcome}, price_cents = ${settled.priceCents}, reason = ${settled.reason}
        where id = ${post.id} and started_at = ${post.startedAt.toISOString()}::timestamptz and outcome in ('unknown', 'invalid_response')
        returning id`,
  );
  return rows.length === 1;
}

/** A post's outcome, now known. */
export async function settlePost(tx: Db, post: Pick<LeadPost, "id" | "startedAt">, settled: { outcome: "accepted" | "rejected"; priceCents: number | null; reason: string }): Promise<void> {
  await tx.execute(sql`
    update attempts set outcome = ${settled.outcome}, price_cents = ${settled.priceCents}, reason = ${settled.reason}
    where id = ${post.id} and started_at = ${post.startedAt.toISOString()}::timestamptz`);
}

export interface SettledLead {
  /** `error` while no post is settled sold and some are still open. */
  status: "sold" | "unsold" | "error";
  reason: string | null;
  priceCents: number;
  revenueCents: number;
  soldTo: number;
  soldChannelId: string | null;
  soldBuyerId: string | null;
}

/**
 * Settles the lead (in part, while posts of it are still open), only while it still waits for a
 * post's outcome: reason `post_outcome_unknown`, status `error` (or `sold`, once one of its posts
 * was settled sold). False when it does not (then nothing changed): the condition is the update's
 * own, so of two settlements only the first changes it, whatever locks their callers took.
 */
export async function settleLeadRow(tx: Db, id: string, settled: SettledLead): Promise<boolean> {
  const rows = await txRows(
    tx,
    sql`update leads set status = ${settled.status}, reason = ${settled.reason}, price_cents = ${settled.priceCents},
               revenue_cents = ${settled.revenueCents}, sold_to = ${settled.soldTo},
               sold_channel_id = ${settled.soldChannelId}, sold_buyer_id = ${settled.soldBuyerId}
        where id = ${id} and status in ('error', 'sold') and (reason = 'post_outcome_unknown' or reason like 'post_outcome_unknown:%')
        returning id`,
  );
  return rows.length === 1;
}

/**
 * Counts a sale Gavel has no reservation for (a lead whose process died before recording its
 * posts, settled sold): its caps as a sale reserves them, forced, since the sale was made — a cap
 * it passes is over (a row's limit is left off until the next reservation writes it again, which
 * the cap then refuses) — and the consumer's claim for the buyer's dedup window.
 */
export async function forceReservation(tx: Db, claims: readonly CapClaim[], buyer?: { buyerId: string; leadId: string; keys: readonly string[]; seenAt: number }): Promise<void> {
  for (const c of lockOrder(claims)) {
    const limit = (n: number, max: number | null) => (max !== null && n <= max ? max : null);
    await tx.execute(sql`
      insert into cap_usage (scope, owner_id, period, period_start, resets_at, leads, spend_cents, leads_limit, spend_limit_cents)
      values (${c.scope}, ${c.ownerId}, ${c.period}, ${new Date(c.periodStart).toISOString()}::timestamptz,
              ${c.resetsAt === null ? null : new Date(c.resetsAt).toISOString()}::timestamptz, ${c.leads}, ${c.spendCents},
              ${limit(c.leads, c.leadsLimit)}, ${limit(c.spendCents, c.spendLimitCents)})
      on conflict (scope, owner_id, period, period_start) do update
        set leads = cap_usage.leads + excluded.leads, spend_cents = cap_usage.spend_cents + excluded.spend_cents,
            leads_limit = case when cap_usage.leads + excluded.leads <= cap_usage.leads_limit then cap_usage.leads_limit end,
            spend_limit_cents = case when cap_usage.spend_cents + excluded.spend_cents <= cap_usage.spend_limit_cents then cap_usage.spend_limit_cents end`);
  }
  if (!buyer?.keys.length) return;
  const seenAt = new Date(buyer.seenAt).toISOString();
  for (const key of [...buyer.keys].sort())
    await tx.execute(sql`
      insert into buyer_dedup_keys (buyer_id, key_hash, lead_id, seen_at) values (${buyer.buyerId}, ${key}, ${buyer.leadId}, ${seenAt}::timestamptz)
      on conflict (buyer_id, key_hash) do update set lead_id = excluded.lead_id, seen_at = excluded.seen_at
        where buyer_dedup_keys.seen_at <= excluded.seen_at`);
}

/**
 * Takes `leads` and `spendCents` off cap period instances (never below zero): a reservation kept
 * for a post whose outcome was unknown, given back in whole (the buyer did not take the lead) or in
 * part (it took it for less than the post offered). Rows in lock order, as every reservation.
 */
export async function giveBackReservation(tx: Db, keys: readonly UsageKey[], leads: number, spendCents: number): Promise<number> {
  let changed = 0;
  for (const k of lockOrder(keys)) {
    const rows = await txRows(
      tx,
      sql`update cap_usage set leads = greatest(0, leads - ${leads}), spend_cents = greatest(0, spend_cents - ${spendCents})
          where scope = ${k.scope} and owner_id = ${k.ownerId} and period = ${k.period}
            and period_start = ${new Date(k.periodStart).toISOString()}::timestamptz
          returning 1`,
    );
    changed += rows.length;
  }
  return changed;
}

/** Gives back the consumer's claim a lead took for a buyer (per-buyer dedup) before a post the buyer did not take. */
export async function giveBackBuyerClaim(tx: Db, buyerId: string, leadId: string, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await tx.execute(sql`
    delete from buyer_dedup_keys
    where buyer_id = ${buyerId} and lead_id = ${leadId}
      and key_hash in (${sql.join(keys.map((k) => sql`${k}`), sql`, `)})`);
}

/**
 * The notices of a settled lead (src/notifications/), in the transaction that settles it, as FINISH
 * (db/leads.ts) writes them for a lead its auction settles: its supplier's `lead.sold` or
 * `lead.unsold` with its payout (never who bought), and for a sale the buyer's `lead.delivered`.
 * Only for receivers that asked for them; an event's id names the lead, so it is written once.
 */
export async function enqueueSettlementNotices(tx: Db, leadId: string, channelId: string | null, atMs: number): Promise<void> {
  await enqueueSupplierNotice(tx, leadId, atMs);
  if (channelId !== null) await enqueueDeliveredNotice(tx, leadId, channelId, null, atMs);
}

/** The supplier's `lead.sold` or `lead.unsold` of a settled lead, with its payout (once: its event id names the lead). */
export async function enqueueSupplierNotice(tx: Db, leadId: string, atMs: number): Promise<void> {
  const at = new Date(atMs).toISOString();
  await tx.execute(sql`
    insert into deliveries (event_id, event, lead_id, receiver_kind, receiver_id, via, target, payload, next_attempt_at, created_at, updated_at)
    select 'lead.' || l.status || ':' || l.id, 'lead.' || l.status, l.id, 'supplier', l.supplier_id, r.via, r.target,
           jsonb_build_object('event_id', 'lead.' || l.status || ':' || l.id, 'event', 'lead.' || l.status, 'lead_id', l.id,
             'campaign_id', l.campaign_id, 'status', l.status, 'reason', l.reason, 'price', round(l.price_cents / 100.0, 2),
             'source', l.source, 'sub_id', l.sub_id, 'test', l.test, 'occurred_at', ${at}::text,
             'was_held', exists (select 1 from lead_events e where e.lead_id = l.id and e.status = 'held')),
           ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
    from leads l join suppliers s on s.id = l.supplier_id
      cross join lateral (values ('webhook', s.config->>'postback_url'), ('email', s.config->>'notify_email')) r(via, target)
    where l.id = ${leadId} and l.status in ('sold', 'unsold') and r.target is not null
    on conflict do nothing`);
}

/**
 * A sale's buyer hears `lead.delivered` (once per sale: its event id names the lead and channel), at
 * the sale's price (null: the lead's revenue, for its only sale), and whether the sale is shared as
 * FINISH says it: sold to several buyers, by a shared campaign, or by a routing tier of strategy `all`.
 */
export async function enqueueDeliveredNotice(tx: Db, leadId: string, channelId: string, priceCents: number | null, atMs: number): Promise<void> {
  const at = new Date(atMs).toISOString();
  await tx.execute(sql`
    insert into deliveries (event_id, event, lead_id, receiver_kind, receiver_id, via, target, payload, next_attempt_at, created_at, updated_at)
    select 'lead.delivered:' || l.id || ':' || ch.id, 'lead.delivered', l.id, 'buyer', ch.buyer_id, r.via, r.target,
           jsonb_build_object('event_id', 'lead.delivered:' || l.id || ':' || ch.id, 'event', 'lead.delivered', 'lead_id', l.id,
             'campaign_id', l.campaign_id, 'channel_id', ch.id, 'buyer_id', ch.buyer_id,
             'price', round(coalesce(${priceCents}::bigint, l.revenue_cents) / 100.0, 2),
             'sale', case when l.sold_to > 1 or c.config->'auction'->>'mode' = 'shared'
                            or exists (select 1 from jsonb_array_elements(coalesce(l.routing->'tiers', '[]'::jsonb)) t
                                       where t->>'strategy' = 'all' and t->'order' ? ch.id)
                          then 'shared' else 'exclusive' end,
             'test', l.test, 'occurred_at', ${at}::text),
           ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
    from leads l join channels ch on ch.id = ${channelId} join buyers b on b.id = ch.buyer_id join campaigns c on c.id = l.campaign_id
      cross join lateral (values ('webhook', b.config->'notify'->>'url'), ('email', b.config->'notify'->>'email')) r(via, target)
    where l.id = ${leadId} and l.status = 'sold' and r.target is not null
    on conflict do nothing`);
}
