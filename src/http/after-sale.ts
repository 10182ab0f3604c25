// After the sale (README "After the sale"): buyers' postbacks, returns and their report. Thin
// handlers: validate, call one verb of src/postbacks or src/returns, map the answer.
import { z } from "zod";
import { findReturn, listReturns, type ReturnRow } from "../db/after-sale";
import { GavelError } from "../errors";
import { fromCents } from "../money";
import { Postback, PostbackAnswer, recordPostback } from "../postbacks/postbacks";
import { AFTER_SALE_DIMENSIONS, afterSaleReport, type AfterSaleFigures } from "../reports/after-sale";
import { decideReturn, requestReturn, type ReturnDeps } from "../returns/returns";
import { DAY_MS } from "../time/clock";
import { buyerOf, operatorOf } from "./auth";
import { pageLimit, queryFlag, rangeZone, timeBound, timeRange } from "./body";
import { route, type AnyRoute } from "./route";

const RETURN_STATES = ["pending", "accepted", "rejected"] as const;

export const ReturnSchema = z
  .object({
    id: z.string(),
    lead_id: z.string(),
    buyer_id: z.string(),
    channel_id: z.string(),
    campaign_id: z.string(),
    supplier_id: z.string(),
    reason: z.string(),
    state: z.enum(RETURN_STATES),
    requested_by: z.string().meta({ description: "`postback:<event_id>` or `operator:<actor>`" }),
    requested_at: z.string(),
    auto_accept_at: z.string().nullable().meta({ description: "When the sweeper accepts it if no one decided; null: an operator decides" }),
    decided_by: z.string().nullable().meta({ description: "`token:<id>`, `env:ADMIN_TOKEN` or `system:returns` (auto-accepted)" }),
    decided_at: z.string().nullable(),
    note: z.string().nullable(),
    revenue: z.number().meta({ description: "The sale's price: reversed when accepted" }),
    payout_clawed_back: z.number().meta({ description: "The supplier's share of the payout taken back (0 under the campaign's returns.charge_supplier false, or until accepted)" }),
    caps_released: z.boolean().meta({ description: "The sale's lead and spend were given back to the buyer's and channel's caps (the buyer's returns.release_caps)" }),
  })
  .meta({ id: "Return" });

export function returnJson(r: ReturnRow): z.infer<typeof ReturnSchema> {
  return {
    id: r.id,
    lead_id: r.leadId,
    buyer_id: r.buyerId,
    channel_id: r.channelId,
    campaign_id: r.campaignId,
    supplier_id: r.supplierId,
    reason: r.reason,
    state: r.state as (typeof RETURN_STATES)[number],
    requested_by: r.requestedBy,
    requested_at: r.requestedAt.toISOString(),
    auto_accept_at: r.autoAcceptAt?.toISOString() ?? null,
    decided_by: r.decidedBy,
    decided_at: r.decidedAt?.toISOString() ?? null,
    note: r.note,
    revenue: fromCents(r.revenueCents),
    payout_clawed_back: fromCents(r.clawbackCents),
    caps_released: r.capsReleased,
  };
}

const NewReturn = z
  .object({
    buyer_id: z.string().min(1).max(200).optional().meta({ description: "Whose sale is returned; needed only when the lead was sold to several buyers" }),
    reason: z.string().min(1).max(100).meta({ description: "One of the buyer's returns.reasons" }),
    note: z.string().max(2000).optional(),
  })
  .strict()
  .meta({ id: "NewReturn" });

const Decision = z.object({ note: z.string().max(2000).optional() }).strict();

const ReturnQuery = z
  .object({
    state: z.enum(RETURN_STATES).optional(),
    buyer: z.string().min(1).max(200).optional(),
    lead: z.string().min(1).max(100).optional(),
    cursor: z.string().min(1).max(100).optional().meta({ description: "The next_cursor of the previous page" }),
    limit: pageLimit,
  })
  .strict();

const AfterSaleQuery = z
  .object({
    by: z.enum(AFTER_SALE_DIMENSIONS).meta({ description: "One row per campaign, supplier, source, buyer or channel" }),
    from: timeBound.optional().meta({ description: "Leads received at or after; default 30 days before `to`" }),
    to: timeBound.optional().meta({ description: "Leads received before (half-open); default now" }),
    tz: rangeZone.optional(),
    test: queryFlag.optional().meta({ description: "`true`: test leads only; default `false`: real leads only" }),
  })
  .strict();

const Figures = z.object({
  sold: z.number().int().meta({ description: "Sales (a shared lead counts once per buyer)" }),
  revenue: z.number().meta({ description: "Gross: the sales' prices" }),
  payout: z.number().meta({ description: "Gross: the suppliers' payouts on those sales" }),
  conversions: z.number().int().meta({ description: "Sales whose buyer posted back `converted`" }),
  conversion_rate: z.number().meta({ description: "conversions / sold, 0 to 1" }),
  conversion_value: z.number().meta({ description: "The converted postbacks' values" }),
  returns: z.number().int().meta({ description: "Accepted returns" }),
  pending_returns: z.number().int(),
  return_rate: z.number().meta({ description: "returns / sold, 0 to 1" }),
  returned_revenue: z.number(),
  net_revenue: z.number().meta({ description: "revenue − returned_revenue" }),
  payout_clawed_back: z.number(),
  net_payout: z.number().meta({ description: "payout − payout_clawed_back" }),
});
const AfterSaleRowSchema = Figures.extend({ key: z.string() }).meta({ id: "AfterSaleRow" });

const rate = (n: number, of: number) => (of === 0 ? 0 : Math.round((n / of) * 10_000) / 10_000);
const figures = (f: AfterSaleFigures): z.infer<typeof Figures> => ({
  sold: f.sold,
  revenue: fromCents(f.revenueCents),
  payout: fromCents(f.payoutCents),
  conversions: f.conversions,
  conversion_rate: rate(f.conversions, f.sold),
  conversion_value: fromCents(f.conversionValueCents),
  returns: f.returns,
  pending_returns: f.pendingReturns,
  return_rate: rate(f.returns, f.sold),
  returned_revenue: fromCents(f.returnedCents),
  net_revenue: fromCents(f.revenueCents - f.returnedCents),
  payout_clawed_back: fromCents(f.clawbackCents),
  net_payout: fromCents(f.payoutCents - f.clawbackCents),
});

export function afterSaleRoutes(deps: ReturnDeps): AnyRoute[] {
  const { db } = deps.database;
  return [
    route({
      method: "post",
      path: "/v1/postbacks/{buyer_id}",
      access: "buyer",
      operationId: "postBuyerEvent",
      summary: "A buyer's postback: contacted, converted (with a value) or return_requested (with a reason)",
      description:
        "Signed by the buyer's `postbacks.secret` as Gavel signs its own requests: `X-Gavel-Timestamp` (Unix seconds, within 5 minutes of Gavel's clock) and `X-Gavel-Signature: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">`. Idempotent by `event_id`: the same event_id and body get the same answer again; the same event_id with another body is a 422. A lead the buyer did not buy is a 404. A return is refused (422) outside the buyer's `returns.window_days`, with a reason not in `returns.reasons`, or over `returns.max_rate_percent`; a second return of one sale is a 409. A `contacted` or `converted` postback of a lead still being auctioned (sent from inside the buyer's post handler, before it answered) is a 409 with Retry-After: send it again then, and it confirms the sale if the post was accepted; one of a lead pending its confirmation after its wait ended (`confirm_within_hours`) is a 409 too, and the lead ends not_confirmed.",
      tags: ["After the sale"],
      body: Postback,
      responses: {
        200: { description: "Recorded (or the answer recorded for this event_id before)", schema: PostbackAnswer },
        409: {
          description:
            "The sale has a return already; or the lead is still being auctioned (with Retry-After: send the postback again); or its wait for confirmation ended before this postback",
          headers: { "Retry-After": { description: "Seconds, when the lead is still being auctioned", schema: { type: "integer" } } },
        },
      },
      async handler(c, { body }) {
        return c.json(await recordPostback(deps, buyerOf(c), body));
      },
    }),
    route({
      method: "post",
      path: "/v1/leads/{id}/returns",
      access: "admin",
      operationId: "requestReturn",
      summary: "Ask for a return of a sold lead on a buyer's behalf",
      description: "The buyer's returns settings apply as to its own postbacks: reason, window and rate. The return starts pending.",
      tags: ["After the sale"],
      body: NewReturn,
      responses: { 201: { description: "The return, pending", schema: ReturnSchema }, 409: { description: "The sale has a return already" } },
      async handler(c, { params, body }) {
        const { actor } = operatorOf(c);
        const row = await db.transaction((tx) =>
          requestReturn(tx, deps, { leadId: params.id, buyerId: body.buyer_id, reason: body.reason, note: body.note, requestedBy: `operator:${actor.id}`, actor }),
        );
        return c.json(returnJson(row), 201);
      },
    }),
    route({
      method: "get",
      path: "/v1/returns",
      access: "analyst",
      operationId: "listReturns",
      summary: "Returns, newest first, paged",
      tags: ["After the sale"],
      query: ReturnQuery,
      responses: { 200: { description: "A page of returns", schema: z.object({ items: z.array(ReturnSchema), next_cursor: z.string().nullable() }) } },
      async handler(c, { query }) {
        const page = await listReturns(db, query);
        return c.json({ items: page.rows.map(returnJson), next_cursor: page.nextCursor });
      },
    }),
    route({
      method: "get",
      path: "/v1/returns/{id}",
      access: "analyst",
      operationId: "getReturn",
      summary: "One return",
      tags: ["After the sale"],
      responses: { 200: { description: "The return", schema: ReturnSchema } },
      async handler(c, { params }) {
        const row = await findReturn(db, params.id);
        if (!row) throw new GavelError("not_found", `No return '${params.id}'`);
        return c.json(returnJson(row));
      },
    }),
    ...(["accept", "reject"] as const).map((decision) =>
      route({
        method: "post",
        path: `/v1/returns/{id}/${decision}`,
        access: "admin",
        operationId: `${decision}Return`,
        summary:
          decision === "accept"
            ? "Accept a pending return: the sale's revenue is reversed, the supplier's payout clawed back (per the campaign), caps given back (per the buyer)"
            : "Reject a pending return: the sale stands",
        tags: ["After the sale"],
        body: Decision,
        responses: { 200: { description: "The return, decided", schema: ReturnSchema }, 409: { description: "The return was decided already" } },
        async handler(c, { params, body }) {
          return c.json(returnJson(await decideReturn(deps, params.id, decision, operatorOf(c).actor, body.note)));
        },
      }),
    ),
    route({
      method: "get",
      path: "/v1/reports/after-sale",
      access: "analyst",
      operationId: "afterSaleReport",
      summary: "Conversions, returns and net revenue per campaign, supplier, source, buyer or channel",
      description:
        "The sales of the leads received in [from, to), with their buyers' conversions (postbacks) and accepted returns: conversion and return rates, gross and net revenue and payout. Read from the sales and postbacks themselves, since they come after the hourly rollups of the other reports.",
      tags: ["Reports"],
      query: AfterSaleQuery,
      responses: { 200: { description: "One row per key, and the totals", schema: z.object({ rows: z.array(AfterSaleRowSchema), totals: Figures }) } },
      async handler(c, { query }) {
        const range = timeRange(query);
        const to = range.to ?? new Date(deps.clock.now());
        const from = range.from ?? new Date(to.getTime() - 30 * DAY_MS);
        if (from >= to) throw new GavelError("validation", "Bad query parameters", { errors: [{ path: "from", message: "must be before `to`" }] });
        const report = await afterSaleReport(deps.database, { by: query.by, from, to, test: query.test ?? false });
        return c.json({ rows: report.rows.map((r) => ({ key: r.key, ...figures(r) })), totals: figures(report.totals) });
      },
    }),
  ];
}
