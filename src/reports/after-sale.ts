// After the sale (README "After the sale"): per campaign, supplier, source, buyer or channel, the
// sales of the leads received in a range, how many of them converted (by the buyers' postbacks) and
// for how much, how many were returned, and the revenue and payout net of the returns.
//
// It reads the sales and the postbacks and returns themselves, not the hourly rollups: a postback or
// a return comes days after its lead's hour was rolled up, and the rollups are sums that are never
// rolled again. Postbacks and returns are few (a lead has one or two at most) and found by their
// lead; the sales are the sold leads of the range (and a shared lead's accepted posts).
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";

export const AFTER_SALE_DIMENSIONS = ["campaign", "supplier", "source", "buyer", "channel"] as const;
export type AfterSaleDimension = (typeof AFTER_SALE_DIMENSIONS)[number];

const KEY: Record<AfterSaleDimension, SQL> = {
  campaign: sql`l.campaign_id`,
  supplier: sql`l.supplier_id`,
  source: sql`l.source`,
  buyer: sql`coalesce(ch.buyer_id, '')`,
  channel: sql`s.channel_id`,
};

/** A shared lead's posts are looked for this far after the range (a held lead is auctioned up to a week after it arrived). */
const POSTS_AFTER_MS = 169 * 3_600_000;
const SLACK_MS = 3_600_000;

export interface AfterSaleFigures {
  sold: number;
  revenueCents: number;
  payoutCents: number;
  conversions: number;
  conversionValueCents: number;
  returns: number;
  pendingReturns: number;
  returnedCents: number;
  clawbackCents: number;
}

export interface AfterSaleRow extends AfterSaleFigures {
  key: string;
}

export async function afterSaleReport(
  database: Database,
  q: { by: AfterSaleDimension; from: Date; to: Date; test: boolean },
): Promise<{ rows: AfterSaleRow[]; totals: AfterSaleFigures }> {
  const from = q.from.toISOString();
  const to = q.to.toISOString();
  const postsFrom = new Date(q.from.getTime() - SLACK_MS).toISOString();
  const postsTo = new Date(q.to.getTime() + POSTS_AFTER_MS).toISOString();
  const rows = await database.rows<Record<string, string | number>>(sql`
    with l as (
      select id, campaign_id, supplier_id, coalesce(source, '') as source, sold_channel_id, sold_to, revenue_cents, price_cents
      from leads
      where received_at >= ${from}::timestamptz and received_at < ${to}::timestamptz
        and status in ('sold', 'returned') and test = ${q.test}
    ), s as (
      select l.id as lead_id, l.sold_channel_id as channel_id, l.revenue_cents::bigint as sale_cents, l.price_cents::bigint as payout_cents
      from l where l.sold_to <= 1 and l.sold_channel_id is not null
      union all
      -- A shared lead: a sale per accepted post; the payout split by price as the reports split it (facts.ts).
      select lead_id, channel_id, sale_cents, case when main then lead_payout - (sum(share) over (partition by lead_id) - share) else share end
      from (
        select t.lead_id, t.channel_id, t.price_cents::bigint as sale_cents, l.price_cents::bigint as lead_payout,
               t.channel_id = l.sold_channel_id as main,
               coalesce(l.price_cents::bigint * t.price_cents / nullif(l.revenue_cents, 0), 0) as share
        from l join attempts t on t.lead_id = l.id
        where l.sold_to > 1 and t.kind = 'post' and t.outcome = 'accepted'
          and t.started_at >= ${postsFrom}::timestamptz and t.started_at < ${postsTo}::timestamptz
      ) shared_sale
    ), c as (
      select p.buyer_id, p.lead_id, coalesce(sum(p.value_cents), 0)::bigint as value_cents
      from buyer_postbacks p join l on l.id = p.lead_id
      where p.event = 'converted'
      group by p.buyer_id, p.lead_id
    )
    select ${KEY[q.by]} as key,
           count(*)::int as sold,
           coalesce(sum(s.sale_cents), 0)::bigint as revenue_cents,
           coalesce(sum(s.payout_cents), 0)::bigint as payout_cents,
           count(c.lead_id)::int as conversions,
           coalesce(sum(c.value_cents), 0)::bigint as conversion_value_cents,
           count(r.id) filter (where r.state = 'accepted')::int as returns,
           count(r.id) filter (where r.state = 'pending')::int as pending_returns,
           coalesce(sum(r.revenue_cents) filter (where r.state = 'accepted'), 0)::bigint as returned_cents,
           coalesce(sum(r.clawback_cents) filter (where r.state = 'accepted'), 0)::bigint as clawback_cents
    from s
    join l on l.id = s.lead_id
    left join channels ch on ch.id = s.channel_id
    left join c on c.lead_id = s.lead_id and c.buyer_id = ch.buyer_id
    left join lead_returns r on r.lead_id = s.lead_id and r.buyer_id = ch.buyer_id
    group by 1
    order by 1`);
  const out: AfterSaleRow[] = rows.map((r) => ({
    key: String(r.key),
    sold: Number(r.sold),
    revenueCents: Number(r.revenue_cents),
    payoutCents: Number(r.payout_cents),
    conversions: Number(r.conversions),
    conversionValueCents: Number(r.conversion_value_cents),
    returns: Number(r.returns),
    pendingReturns: Number(r.pending_returns),
    returnedCents: Number(r.returned_cents),
    clawbackCents: Number(r.clawback_cents),
  }));
  const totals: AfterSaleFigures = { sold: 0, revenueCents: 0, payoutCents: 0, conversions: 0, conversionValueCents: 0, returns: 0, pendingReturns: 0, returnedCents: 0, clawbackCents: 0 };
  for (const row of out) for (const k of Object.keys(totals) as (keyof AfterSaleFigures)[]) totals[k] += row[k];
  return { rows: out, totals };
}
