// Statements (README "Statements"): a supplier's payout statement and a buyer's invoice for a
// period, lead by lead and net of returns, as JSON or as CSV (the reports' way: `format=csv` or
// `Accept: text/csv`). Thin handlers: validate the period, read one statement, shape it.
import { z } from "zod";
import { GavelError, type FieldError } from "../errors";
import { fromCents } from "../money";
import {
  buyerStatement,
  statementOwner,
  supplierStatement,
  type BuyerStatementLine,
  type Owner,
  type StatementPeriod,
  type StatementTotals,
  type SupplierStatementLine,
} from "../reports/statements";
import type { Database } from "../db/client";
import { DAY_MS, type Clock } from "../time/clock";
import { boundAt, rangeZone, timeBound } from "./body";
import type { AppContext } from "./env";
import { csvAnswer, wantsCsv } from "./reports";
import { route, type AnyRoute } from "./route";

export interface StatementRouteDeps {
  database: Database;
  clock: Clock;
}

/** The longest period a statement covers: a quarter. Longer ones are read a quarter at a time. */
export const LONGEST_STATEMENT_DAYS = 93;

const StatementQuery = z
  .object({
    from: timeBound.meta({ description: "Start of the period, included: leads received at or after it. An ISO 8601 date (midnight in `tz`), date and time in `tz`, or time with its offset" }),
    to: timeBound
      .optional()
      .meta({ description: `End of the period, not included (at most ${LONGEST_STATEMENT_DAYS} days after \`from\`); the same forms as \`from\`. Default: now (a statement to date)` }),
    tz: rangeZone.optional().meta({ description: "IANA time zone in which `from` and `to` without an offset are read; default the supplier's (buyer's) own `timezone`" }),
    format: z.enum(["json", "csv"]).optional().meta({ description: "`csv` for CSV (or send `Accept: text/csv`)" }),
  })
  .strict();
type StatementQuery = z.infer<typeof StatementQuery>;

const money = z.number().meta({ description: "Dollars, exact to the cent" });
const instant = z.string().meta({ description: "ISO 8601, UTC" });

const Totals = z
  .object({
    leads: z.number().int().meta({ description: "Lines: a supplier's sold leads, a buyer's sales" }),
    gross: money.meta({ description: "The payouts (a supplier's) or the prices (a buyer's) of the lines" }),
    returns: z.number().int().meta({ description: "Accepted returns" }),
    pending_returns: z.number().int().meta({ description: "Returns asked for and not decided yet: not taken off" }),
    returned: money.meta({ description: "The payout clawed back (a supplier's) or the revenue reversed (a buyer's) by the accepted returns" }),
    net: money.meta({ description: "gross − returned" }),
  })
  .meta({ id: "StatementTotals" });

const Period = {
  from: instant.meta({ description: "The period's start, included (ISO 8601, UTC)" }),
  to: instant.meta({ description: "The period's end, not included" }),
  tz: z.string().meta({ description: "The zone `from` and `to` were read in" }),
  generated_at: instant,
};

const SupplierLine = z.object({
  lead_id: z.string(),
  received_at: instant,
  sold_at: instant.nullable().meta({ description: "When its auction was decided" }),
  campaign_id: z.string(),
  source: z.string().nullable(),
  sub_id: z.string().nullable(),
  channel_id: z.string().nullable().meta({ description: "The channel that bought it (a shared lead's highest sale); null on a supplier's own key" }),
  sales: z.number().int().meta({ description: "Buyers that bought it: more than 1 for a shared lead, which is paid once all the same" }),
  payout: money,
  returns: z.number().int().meta({ description: "Accepted returns of its sales" }),
  pending_returns: z.number().int(),
  returned: money.meta({ description: "The payout clawed back: none under the campaign's `returns.charge_supplier: false`; of a shared lead, each returned sale's share" }),
  net: money,
});

const SupplierStatementSchema = z
  .object({
    statement: z.literal("supplier_payout"),
    supplier: z.object({ id: z.string(), name: z.string() }),
    ...Period,
    leads: z.array(SupplierLine),
    totals: Totals,
  })
  .meta({ id: "SupplierStatement" });

const BuyerLine = z.object({
  lead_id: z.string(),
  received_at: instant,
  sold_at: instant.nullable().meta({ description: "When the sale's post was made (an exclusive sale: when its auction was decided)" }),
  campaign_id: z.string(),
  channel_id: z.string(),
  sale: z.enum(["exclusive", "shared"]),
  price: money,
  return_state: z.enum(["pending", "accepted", "rejected"]).nullable().meta({ description: "The sale's return, if one was asked for" }),
  return_reason: z.string().nullable(),
  return_decided_at: instant.nullable(),
  returned: money.meta({ description: "The price reversed by an accepted return" }),
  net: money,
});

const BuyerStatementSchema = z
  .object({
    statement: z.literal("buyer_invoice"),
    buyer: z.object({ id: z.string(), name: z.string() }),
    ...Period,
    leads: z.array(BuyerLine),
    totals: Totals,
  })
  .meta({ id: "BuyerStatement" });

const invalidQuery = (errors: FieldError[]) => new GavelError("validation", "Bad query parameters", { errors });

/** The period of a query, its bounds read in `tz` (the owner's zone by default), up to now unless `to` is given: half-open, a quarter at most. */
function periodOf(query: StatementQuery, owner: Owner, now: number): StatementPeriod & { tz: string } {
  const tz = query.tz ?? owner.timezone;
  const from = boundAt(query.from, tz);
  const to = query.to === undefined ? new Date(now) : boundAt(query.to, tz);
  if (from >= to) throw invalidQuery([{ path: "from", message: "must be before `to` (the period is from `from` up to, not including, `to`)" }]);
  if (to.getTime() - from.getTime() > LONGEST_STATEMENT_DAYS * DAY_MS)
    throw invalidQuery([{ path: "to", message: `the period may span ${LONGEST_STATEMENT_DAYS} days at most: ask for a long one a quarter at a time` }]);
  return { from, to, tz };
}

const text = (d: Date | null) => (d ? d.toISOString() : null);
/** Cents as dollars with two decimals, for CSV: exact, since cents are integers. */
const dollars = (cents: number) => (cents / 100).toFixed(2);

const totalsJson = (t: StatementTotals): z.infer<typeof Totals> => ({
  leads: t.leads,
  gross: fromCents(t.grossCents),
  returns: t.returns,
  pending_returns: t.pendingReturns,
  returned: fromCents(t.returnedCents),
  net: fromCents(t.netCents),
});

const SUPPLIER_COLUMNS = ["lead_id", "received_at", "sold_at", "campaign_id", "source", "sub_id", "channel_id", "sales", "payout", "returns", "pending_returns", "returned", "net"];
const BUYER_COLUMNS = ["lead_id", "received_at", "sold_at", "campaign_id", "channel_id", "sale", "price", "return_state", "return_reason", "return_decided_at", "returned", "net"];

function supplierCsv(c: AppContext, owner: Owner, lines: SupplierStatementLine[], totals: StatementTotals, showChannel: boolean): Response {
  const rows = lines.map((l) => [
    l.leadId,
    l.receivedAt.toISOString(),
    text(l.soldAt) ?? "",
    l.campaignId,
    l.source ?? "",
    l.subId ?? "",
    showChannel ? (l.channelId ?? "") : "",
    String(l.sales),
    dollars(l.payoutCents),
    String(l.returns),
    String(l.pendingReturns),
    dollars(l.clawedBackCents),
    dollars(l.payoutCents - l.clawedBackCents),
  ]);
  rows.push(["total", "", "", "", "", "", "", "", dollars(totals.grossCents), String(totals.returns), String(totals.pendingReturns), dollars(totals.returnedCents), dollars(totals.netCents)]);
  return csvAnswer(c, `statement-supplier-${owner.id}`, SUPPLIER_COLUMNS, rows);
}

function buyerCsv(c: AppContext, owner: Owner, lines: BuyerStatementLine[], totals: StatementTotals): Response {
  const rows = lines.map((l) => [
    l.leadId,
    l.receivedAt.toISOString(),
    text(l.soldAt) ?? "",
    l.campaignId,
    l.channelId,
    l.sale,
    dollars(l.priceCents),
    l.returnState ?? "",
    l.returnReason ?? "",
    text(l.returnDecidedAt) ?? "",
    dollars(l.returnedCents),
    dollars(l.priceCents - l.returnedCents),
  ]);
  rows.push(["total", "", "", "", "", "", dollars(totals.grossCents), "", "", "", dollars(totals.returnedCents), dollars(totals.netCents)]);
  return csvAnswer(c, `statement-buyer-${owner.id}`, BUYER_COLUMNS, rows);
}

const CSV_NOTE =
  "With `format=csv` or `Accept: text/csv`: one line per lead with the same columns, closed by a `total` line of the sums (gross under the payout or price, returned and net; a supplier's also returns and pending returns). The count of leads is the count of lines; money has two decimals.";

export function statementRoutes(deps: StatementRouteDeps): AnyRoute[] {
  const { database } = deps;
  return [
    route({
      method: "get",
      path: "/v1/statements/suppliers/{id}",
      access: "analyst",
      suppliersToo: true,
      operationId: "supplierStatement",
      summary: "A supplier's payout statement for a period: each sold lead and its payout, returns clawed back, and the net owed",
      description: `The supplier's sold leads received in [from, to), test leads left out, each with its payout (a shared lead's paid once), the accepted returns of its sales and the payout they clawed back, per the campaign's \`returns.charge_supplier\`. Its totals are the reports' figures over the same period: \`leads\` and \`gross\` the suppliers report's \`sold\` and \`payout\`, \`returns\`, \`returned\` and \`net\` the after-sale report's \`returns\`, \`payout_clawed_back\` and \`net_payout\`. A supplier's own API key may read its own statement (without the buying channels). ${CSV_NOTE}`,
      tags: ["After the sale"],
      query: StatementQuery,
      responses: {
        200: { description: "The statement", schema: SupplierStatementSchema },
        403: { description: "A supplier API key asking for another supplier's statement, or an analyst route refusing it" },
      },
      async handler(c, { params, query }) {
        const own = c.var.supplier;
        if (own && own.id !== params.id) throw new GavelError("forbidden", `A supplier API key reads its own statement only (supplier '${own.id}')`);
        const owner = await statementOwner(database, "supplier", params.id);
        if (!owner) throw new GavelError("not_found", `No supplier '${params.id}'`);
        const period = periodOf(query, owner, deps.clock.now());
        const { lines, totals } = await supplierStatement(database, owner.id, period);
        const showChannel = own === undefined;
        if (wantsCsv(c, query.format)) return supplierCsv(c, owner, lines, totals, showChannel);
        return c.json({
          statement: "supplier_payout",
          supplier: { id: owner.id, name: owner.name },
          from: period.from.toISOString(),
          to: period.to.toISOString(),
          tz: period.tz,
          generated_at: new Date(deps.clock.now()).toISOString(),
          leads: lines.map((l) => ({
            lead_id: l.leadId,
            received_at: l.receivedAt.toISOString(),
            sold_at: text(l.soldAt),
            campaign_id: l.campaignId,
            source: l.source,
            sub_id: l.subId,
            channel_id: showChannel ? l.channelId : null,
            sales: l.sales,
            payout: fromCents(l.payoutCents),
            returns: l.returns,
            pending_returns: l.pendingReturns,
            returned: fromCents(l.clawedBackCents),
            net: fromCents(l.payoutCents - l.clawedBackCents),
          })),
          totals: totalsJson(totals),
        } satisfies z.infer<typeof SupplierStatementSchema>);
      },
    }),
    route({
      method: "get",
      path: "/v1/statements/buyers/{id}",
      access: "analyst",
      operationId: "buyerStatement",
      summary: "A buyer's invoice for a period: each sale and its price, returns reversed, and the net due",
      description: `The buyer's sales of the leads received in [from, to), test leads left out: a lead it bought alone at its price, and each accepted post of a shared lead to one of its channels at that post's price; with each sale's return (pending, accepted or rejected) and the price an accepted one reversed. Its totals are the reports' figures over the same period: \`leads\` and \`gross\` the buyers report's \`sold\` and \`revenue\`, \`returns\`, \`returned\` and \`net\` the after-sale report's \`returns\`, \`returned_revenue\` and \`net_revenue\`. A shared lead's sales are read from its posts, kept for GAVEL_RETENTION_DAYS. ${CSV_NOTE}`,
      tags: ["After the sale"],
      query: StatementQuery,
      responses: { 200: { description: "The invoice", schema: BuyerStatementSchema } },
      async handler(c, { params, query }) {
        const owner = await statementOwner(database, "buyer", params.id);
        if (!owner) throw new GavelError("not_found", `No buyer '${params.id}'`);
        const period = periodOf(query, owner, deps.clock.now());
        const { lines, totals } = await buyerStatement(database, owner.id, period);
        if (wantsCsv(c, query.format)) return buyerCsv(c, owner, lines, totals);
        return c.json({
          statement: "buyer_invoice",
          buyer: { id: owner.id, name: owner.name },
          from: period.from.toISOString(),
          to: period.to.toISOString(),
          tz: period.tz,
          generated_at: new Date(deps.clock.now()).toISOString(),
          leads: lines.map((l) => ({
            lead_id: l.leadId,
            received_at: l.receivedAt.toISOString(),
            sold_at: text(l.soldAt),
            campaign_id: l.campaignId,
            channel_id: l.channelId,
            sale: l.sale,
            price: fromCents(l.priceCents),
            return_state: l.returnState,
            return_reason: l.returnReason,
            return_decided_at: text(l.returnDecidedAt),
            returned: fromCents(l.returnedCents),
            net: fromCents(l.priceCents - l.returnedCents),
          })),
          totals: totalsJson(totals),
        } satisfies z.infer<typeof BuyerStatementSchema>);
      },
    }),
  ];
}
