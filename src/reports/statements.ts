// Statements (README "Statements"): what Gavel owes a supplier and what a buyer owes Gavel for the
// leads received in a period, lead by lead, net of accepted returns. The figures are the reports'
// own, from the same rows: a supplier's leads and payout are the suppliers report's (its sold leads,
// each paid its payout once, a shared lead too), a buyer's sales and revenue the buyers report's
// (one sale per accepted post, at its price), and the returns and clawbacks the after-sale
// report's (src/reports/after-sale.ts). Test leads are never on a statement.
//
// Like the reports, a lead belongs to the period it was received in, and a return accepted later
// shows on that period's statement (as it does in the after-sale report): a statement read again
// after a late return has it, with when it was decided.
import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { buyers, suppliers } from "../db/schema";

/** A shared lead's posts are looked for this far after the period (a held lead is auctioned up to a week after it arrived). */
const POSTS_AFTER_MS = 169 * 3_600_000;
const SLACK_MS = 3_600_000;

export interface StatementPeriod {
  from: Date;
  to: Date;
}

/** A statement's totals, in cents; `returned` is the revenue reversed (a buyer's) or the payout clawed back (a supplier's). */
export interface StatementTotals {
  leads: number;
  grossCents: number;
  returns: number;
  pendingReturns: number;
  returnedCents: number;
  netCents: number;
}

export interface SupplierStatementLine {
  leadId: string;
  receivedAt: Date;
  soldAt: Date | null;
  campaignId: string;
  source: string | null;
  subId: string | null;
  /** The channel that bought it (of a shared lead, its highest sale). */
  channelId: string | null;
  /** How many buyers bought it: 1, or more for a shared lead (paid once all the same). */
  sales: number;
  payoutCents: number;
  /** Accepted returns of its sales (one per buyer that returned it), and those still pending. */
  returns: number;
  pendingReturns: number;
  clawedBackCents: number;
}

export interface BuyerStatementLine {
  leadId: string;
  receivedAt: Date;
  soldAt: Date | null;
  campaignId: string;
  channelId: string;
  sale: "exclusive" | "shared";
  priceCents: number;
  returnState: "pending" | "accepted" | "rejected" | null;
  returnReason: string | null;
  returnDecidedAt: Date | null;
  returnedCents: number;
}

export interface Owner {
  id: string;
  name: string;
  timezone: string;
}

/** A supplier or a buyer by id (archived ones too: they are still paid and invoiced), or undefined. */
export async function statementOwner(database: Database, kind: "supplier" | "buyer", id: string): Promise<Owner | undefined> {
  const table = kind === "supplier" ? suppliers : buyers;
  const [row] = await database.db.select({ config: table.config }).from(table).where(eq(table.id, id));
  if (!row) return undefined;
  const config = row.config as { name?: string; timezone?: string };
  return { id, name: config.name ?? id, timezone: config.timezone ?? "UTC" };
}

const iso = (d: Date) => d.toISOString();
const at = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)));
const epochMs = (column: string) => sql.raw(`(extract(epoch from ${column}) * 1000)::float8`);

/** A supplier's sold leads received in the period, oldest first, with what was clawed back of each. */
export async function supplierStatement(database: Database, supplierId: string, period: StatementPeriod): Promise<{ lines: SupplierStatementLine[]; totals: StatementTotals }> {
  const rows = await database.rows<Record<string, unknown>>(sql`
    select l.id, ${epochMs("l.received_at")} as received_ms, ${epochMs("l.decided_at")} as sold_ms,
           l.campaign_id, l.source, l.sub_id, l.sold_channel_id, greatest(l.sold_to, 1)::int as sales,
           l.price_cents::bigint as payout_cents,
           coalesce(r.returns, 0)::int as returns, coalesce(r.pending, 0)::int as pending,
           coalesce(r.clawback_cents, 0)::bigint as clawback_cents
    from leads l
    left join (
      select lead_id, count(*) filter (where state = 'accepted') as returns, count(*) filter (where state = 'pending') as pending,
             sum(clawback_cents) filter (where state = 'accepted') as clawback_cents
      from lead_returns where supplier_id = ${supplierId} group by lead_id
    ) r on r.lead_id = l.id
    where l.supplier_id = ${supplierId}
      and l.received_at >= ${iso(period.from)}::timestamptz and l.received_at < ${iso(period.to)}::timestamptz
      and l.status in ('sold', 'returned') and not l.test
    order by l.received_at, l.id`);
  const lines = rows.map(
    (r): SupplierStatementLine => ({
      leadId: String(r.id),
      receivedAt: at(r.received_ms)!,
      soldAt: at(r.sold_ms),
      campaignId: String(r.campaign_id),
      source: (r.source as string | null) ?? null,
      subId: (r.sub_id as string | null) ?? null,
      channelId: (r.sold_channel_id as string | null) ?? null,
      sales: Number(r.sales),
      payoutCents: Number(r.payout_cents),
      returns: Number(r.returns),
      pendingReturns: Number(r.pending),
      clawedBackCents: Number(r.clawback_cents),
    }),
  );
  return { lines, totals: totalsOf(lines.map((l) => ({ gross: l.payoutCents, returns: l.returns, pending: l.pendingReturns, returned: l.clawedBackCents }))) };
}

/**
 * A buyer's sales of the leads received in the period, oldest lead first: a lead sold to it alone
 * at the lead's revenue, and each accepted post of a shared lead to one of its channels at that
 * post's price (as the buyers report counts them).
 */
export async function buyerStatement(database: Database, buyerId: string, period: StatementPeriod): Promise<{ lines: BuyerStatementLine[]; totals: StatementTotals }> {
  const from = iso(period.from);
  const to = iso(period.to);
  const postsFrom = iso(new Date(period.from.getTime() - SLACK_MS));
  const postsTo = iso(new Date(period.to.getTime() + POSTS_AFTER_MS));
  const rows = await database.rows<Record<string, unknown>>(sql`
    with own as (select id from channels where buyer_id = ${buyerId}), s as (
      select l.id as lead_id, l.received_at, l.decided_at as sold_at, l.campaign_id, l.sold_channel_id as channel_id,
             false as shared, l.revenue_cents::bigint as price_cents
      from leads l
      where l.sold_channel_id in (select id from own) and l.sold_to <= 1
        and l.received_at >= ${from}::timestamptz and l.received_at < ${to}::timestamptz
        and l.status in ('sold', 'returned') and not l.test
      union all
      select l.id, l.received_at, t.started_at, l.campaign_id, t.channel_id, true, t.price_cents::bigint
      from attempts t join leads l on l.id = t.lead_id
      where t.channel_id in (select id from own) and t.kind = 'post' and t.outcome = 'accepted'
        and t.started_at >= ${postsFrom}::timestamptz and t.started_at < ${postsTo}::timestamptz
        and l.sold_to > 1
        and l.received_at >= ${from}::timestamptz and l.received_at < ${to}::timestamptz
        and l.status in ('sold', 'returned') and not l.test
    )
    select s.lead_id, ${epochMs("s.received_at")} as received_ms, ${epochMs("s.sold_at")} as sold_ms, s.campaign_id, s.channel_id,
           s.shared, coalesce(s.price_cents, 0)::bigint as price_cents,
           r.state as return_state, r.reason as return_reason, ${epochMs("r.decided_at")} as return_decided_ms,
           case when r.state = 'accepted' then r.revenue_cents else 0 end::bigint as returned_cents
    from s left join lead_returns r on r.lead_id = s.lead_id and r.buyer_id = ${buyerId}
    order by s.received_at, s.lead_id, s.channel_id`);
  const lines = rows.map(
    (r): BuyerStatementLine => ({
      leadId: String(r.lead_id),
      receivedAt: at(r.received_ms)!,
      soldAt: at(r.sold_ms),
      campaignId: String(r.campaign_id),
      channelId: String(r.channel_id),
      sale: r.shared === true || r.shared === "t" ? "shared" : "exclusive",
      priceCents: Number(r.price_cents),
      returnState: (r.return_state as BuyerStatementLine["returnState"]) ?? null,
      returnReason: (r.return_reason as string | null) ?? null,
      returnDecidedAt: at(r.return_decided_ms),
      returnedCents: Number(r.returned_cents),
    }),
  );
  return {
    lines,
    totals: totalsOf(
      lines.map((l) => ({ gross: l.priceCents, returns: l.returnState === "accepted" ? 1 : 0, pending: l.returnState === "pending" ? 1 : 0, returned: l.returnedCents })),
    ),
  };
}

function totalsOf(lines: readonly { gross: number; returns: number; pending: number; returned: number }[]): StatementTotals {
  const totals: StatementTotals = { leads: lines.length, grossCents: 0, returns: 0, pendingReturns: 0, returnedCents: 0, netCents: 0 };
  for (const line of lines) {
    totals.grossCents += line.gross;
    totals.returns += line.returns;
    totals.pendingReturns += line.pending;
    totals.returnedCents += line.returned;
  }
  totals.netCents = totals.grossCents - totals.returnedCents;
  return totals;
}
