// Suppliers that ping first: POST /v1/pings and POST /v1/posts (src/auction/inbound.ts), and the
// pings report.
import { z } from "zod";
import { OffersAnswer, OffersSubmission, PingAnswer, PingSubmission, PostAnswer, PostSubmission, pingFirst, postPinged } from "../auction/inbound";
import { findAnyPing } from "../db/pings";
import { GavelError } from "../errors";
import { fromCents } from "../money";
import { attemptReason, stageReason } from "../reasons";
import { pingReport } from "../reports/pings";
import { admission, arrivalOf } from "./admission";
import { supplierOf } from "./auth";
import { jsonBody, queryFlag, rangeZone, timeBound, timeRange } from "./body";
import type { AppContext } from "./env";
import { reasonDetail, reasonOf, shown } from "./reasons";
import type { LeadRouteDeps } from "./leads";
import { rateLimit } from "./leads";
import { route, type AnyRoute } from "./route";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const PingReportQuery = z
  .object({
    from: timeBound.meta({ description: "Pings received at or after: an ISO 8601 date or date and time, read in `tz` unless it has an offset" }),
    to: timeBound.meta({ description: "Pings received before (half-open)" }),
    tz: rangeZone.optional(),
    campaign: z.string().optional(),
    supplier: z.string().optional(),
    test: queryFlag.optional().meta({ description: "`true`: test pings only; default real ones" }),
  })
  .strict();

const PingReport = z
  .object({
    rows: z.array(
      z.object({
        supplier: z.string(),
        source: z.string().nullable(),
        pings: z.number().int(),
        bids: z.number().int().meta({ description: "Pings quoted a price" }),
        posts: z.number().int().meta({ description: "Pings whose lead was posted (and recorded)" }),
        sold: z.number().int(),
        ping_to_post: z.number().nullable().meta({ description: "posts / pings (null without pings)" }),
        bid_to_post: z.number().nullable().meta({ description: "posts / bids (null without bids)" }),
        quoted: z.number().meta({ description: "Sum of the prices quoted" }),
        payout: z.number().meta({ description: "Sum paid to suppliers for the sold posts" }),
      }),
    ),
  })
  .meta({ id: "PingReport" });

const PingRecord = z
  .object({
    id: z.string(),
    campaign: z.string(),
    supplier: z.string(),
    test: z.boolean(),
    source: z.string().nullable(),
    sub_id: z.string().nullable(),
    received_at: z.string(),
    expires_at: z.string(),
    status: z.enum(["bid", "no_bid"]),
    reason: reasonOf("lead").nullable().meta({ description: "Why there was no bid" }),
    detail: reasonDetail,
    price: z.number().meta({ description: "The quote: what the supplier would be paid by the quoted sale" }),
    state: z.enum(["open", "posting", "posted"]).meta({ description: "`open` until its post takes it (`posting`), then `posted` with the post's answer" }),
    lead_url: z.string().nullable().meta({ description: "The lead its post recorded; null while none" }),
    pruned_at: z
      .string()
      .nullable()
      .meta({ description: "When the sweeper cleared its fields, bids, buyers' pings and history, a day past its expiry (the pings report still counts it; its lead keeps its own copy); null while kept" }),
    history: z.array(z.object({ status: z.string(), at: z.string(), reason: reasonOf("lead").nullable(), detail: reasonDetail })),
    bids: z.array(
      z.object({
        channel_id: z.string(),
        price: z.number(),
        charge: z.number().meta({ description: "What the buyer would be charged (its bid, or less under second price)" }),
        sale: z.enum(["exclusive", "shared"]),
        offer_id: z.string().nullable(),
        ping_ref: z.string().nullable(),
        bid_id: z.string().nullable().meta({ description: "A bid of several in one buyer answer (`response.ping.bids`): its id, which its post names" }),
      }),
    ),
    excluded: z.array(z.object({ channel_id: z.string(), reason: reasonOf("excluded"), detail: reasonDetail })),
    attempts: z.array(
      z.object({
        channel_id: z.string(),
        started_at: z.string(),
        duration_ms: z.number(),
        http_status: z.number().int().nullable(),
        outcome: z.string(),
        price: z.number().nullable(),
        reason: reasonOf("ping").nullable(),
        detail: reasonDetail,
      }),
    ),
  })
  .meta({ id: "PingRecord" });

/** The problems every supplier route here may answer with, besides its own. */
const SUPPLIER_PROBLEMS = {
        413: { description: "Body over GAVEL_MAX_LEAD_BYTES", contentType: "application/problem+json" },
        429: { description: "Over the supplier's rate limit", contentType: "application/problem+json" },
        503: { description: "Overloaded, or the database could not be reached, or it could not settle the request by the deadline plus GAVEL_ANSWER_GRACE_MS (with Retry-After; a post's carries its `lead_id` once the lead was recorded, and it settles on its own)", contentType: "application/problem+json" },
} as const;

function answered(c: AppContext, status: number, body: unknown): Response {
  return c.body(JSON.stringify(body), status as 200, { "content-type": status >= 400 ? "application/problem+json" : "application/json" });
}

export function pingRoutes(deps: LeadRouteDeps, rateLimiter: Parameters<typeof rateLimit>[0]): AnyRoute[] {
  const limits = { maxBytes: deps.maxLeadBytes, tooLarge: `The body is over the limit of ${deps.maxLeadBytes} bytes` };
  // Every supplier route here is admitted as a lead is, then held to the supplier's rate limit.
  const guards = {
    before: [admission({ gate: deps.gate, waitMs: deps.admissionWaitMs, clock: deps.clock, metrics: deps.metrics })],
    use: [rateLimit(rateLimiter)],
  };
  /** A ping's or an offers request's handler: the quote, or its Idempotency-Key's replay. */
  const quote =
    (kind?: "offers") =>
    async (c: AppContext): Promise<Response> => {
      const received = arrivalOf(c);
      const key = c.req.header("idempotency-key");
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
        throw new GavelError("validation", "Bad Idempotency-Key header", { errors: [{ path: "headers.idempotency-key", message: "must be 1 to 255 visible ASCII characters" }] });
      const fate = await pingFirst({ ...deps, logger: c.var.logger }, supplierOf(c), await jsonBody(c, limits), received, key, kind);
      if (fate.kind === "replay") {
        c.header("Idempotent-Replayed", "true");
        return answered(c, fate.status, fate.body);
      }
      return c.json(fate.answer);
    };
  return [
    route({
      method: "post",
      path: "/v1/pings",
      access: "supplier",
      operationId: "pingLead",
      summary: "Ping a lead's non-PII fields for a price",
      description:
        "For suppliers that ping first (README \"Suppliers that ping first\"): the lead's non-PII fields only (a pii or undeclared field is a 422, field by field). Gavel checks the do-not-sell list (by `contact_hashes`, when the campaign takes them) and its dedup where the ping's fields allow, pings its buyers under the campaign's deadline and keeps the ranked bids for `inbound.ping_ttl_seconds`; `price` is what the supplier will be paid if the quoted bid buys (a shared sale: the quoted buyers together, each in `offers`), never more. Optional `Idempotency-Key`, as for leads.",
      tags: ["Leads"],
      documentedBody: { content: { "application/json": PingSubmission } },
      responses: {
        200: { description: "The quote: `bid` with the price, or `no_bid` with why", schema: PingAnswer },
        409: { description: "Same Idempotency-Key while the first request still runs", contentType: "application/problem+json" },
        ...SUPPLIER_PROBLEMS,
      },
      ...guards,
      handler: quote(),
    }),

    route({
      method: "post",
      path: "/v1/offers",
      access: "supplier",
      operationId: "offerLead",
      summary: "Ranked offers for a consumer to choose from (user choice)",
      description:
        "As a ping (the lead's non-PII fields, checked and pinged the same way, with an optional `Idempotency-Key`), answered with up to `n` ranked offers, one per buyer, each with the buyer's display name and what its sale would pay the supplier; kept for `inbound.ping_ttl_seconds`. The consumer picks: `POST /v1/posts` with the chosen `offer_ids` sells the lead to exactly those buyers (README \"Suppliers that ping first\").",
      tags: ["Leads"],
      documentedBody: { content: { "application/json": OffersSubmission } },
      responses: {
        200: { description: "The offers, best first (none, with `no_bid` and why, when no buyer bid)", schema: OffersAnswer },
        409: { description: "Same Idempotency-Key while the first request still runs", contentType: "application/problem+json" },
        ...SUPPLIER_PROBLEMS,
      },
      ...guards,
      handler: quote("offers"),
    }),

    route({
      method: "post",
      path: "/v1/posts",
      access: "supplier",
      operationId: "postPingedLead",
      summary: "Post the whole lead of a ping",
      description:
        "The lead's fields, all of them, for a ping of this supplier: its non-PII fields must equal the ping's (422 `ping_mismatch`, naming each field), and the ping must not have expired (410 `ping_expired`). The lead is recorded (validation, dedup, the do-not-sell list and the supplier's caps, as for any lead) and posted to the ping's winner with its `ping_ref`, then down the kept ranking without pinging again. A second post of the same ping replays the first's answer (`Idempotent-Replayed: true`), on any Gavel process. The supplier is paid its quote when the quoted bid buys; when only a lower one would, the campaign's `inbound.below_quote` decides (`no_sale` or `sell_lower`).",
      tags: ["Leads"],
      documentedBody: { content: { "application/json": PostSubmission } },
      responses: {
        200: { description: "The lead's outcome, as a lead's answer with its `ping_id` (the lead's id is the ping's)", schema: PostAnswer },
        409: { description: "Another post of the ping is still running: send it again shortly to read its answer", contentType: "application/problem+json" },
        410: { description: "`ping_expired`: the ping's bids are no longer kept; ping again", contentType: "application/problem+json" },
        422: { description: "Invalid fields, or `ping_mismatch`: non-PII fields that differ from the ping's, each in `errors`", contentType: "application/problem+json" },
        ...SUPPLIER_PROBLEMS,
      },
      ...guards,
      async handler(c) {
        const received = arrivalOf(c);
        const fate = await postPinged({ ...deps, logger: c.var.logger }, supplierOf(c), await jsonBody(c, limits), received);
        if (fate.kind === "replay" || fate.replayed) c.header("Idempotent-Replayed", "true");
        return fate.kind === "replay" ? answered(c, fate.status, fate.body) : answered(c, fate.status, fate.answer);
      },
    }),

    route({
      method: "get",
      path: "/v1/pings/{id}",
      access: "analyst",
      operationId: "getPing",
      summary: "A ping's record: its quote, its bids, its buyers' pings and the supplier side of its history",
      description:
        "Every ping is here for as long as it is kept, posted or not; a posted ping's lead (`lead_url`, the same id) has the whole trace, this history included.",
      tags: ["Leads"],
      responses: { 200: { description: "The ping", schema: PingRecord } },
      async handler(c, { params }) {
        const ping = await findAnyPing(deps.database, params.id);
        if (!ping) throw new GavelError("not_found", `No ping '${params.id}'`);
        return c.json({
          id: ping.id,
          campaign: ping.campaignId,
          supplier: ping.supplierId,
          test: ping.test,
          source: ping.source,
          sub_id: ping.subId,
          received_at: ping.receivedAt.toISOString(),
          expires_at: ping.expiresAt.toISOString(),
          status: ping.status,
          ...shown(stageReason("lead", ping.reason)),
          price: fromCents(ping.quoteCents),
          state: ping.state,
          lead_url: ping.leadStatus === null ? null : `/v1/leads/${ping.id}`,
          pruned_at: ping.prunedAt?.toISOString() ?? null,
          history: ping.events.map((e) => ({ status: e.status, at: e.at, ...shown(stageReason("lead", e.reason)) })),
          bids: ping.bids.map((b) => ({ channel_id: b.channel_id, price: fromCents(b.price_cents), charge: fromCents(b.charge_cents), sale: b.sale ?? "exclusive", offer_id: b.offer_id ?? null, ping_ref: b.ping_ref, bid_id: b.bid_id ?? null })),
          excluded: (ping.excluded as { channel_id: string; reason: string }[]).map((e) => ({ channel_id: e.channel_id, ...shown(stageReason("excluded", e.reason)) })),
          attempts: ping.attempts.map((a) => ({
            channel_id: a.channelId,
            started_at: a.startedAt.toISOString(),
            duration_ms: a.durationMs,
            http_status: a.httpStatus,
            outcome: a.outcome,
            price: a.priceCents === null ? null : fromCents(a.priceCents),
            ...shown(attemptReason("ping", a.outcome, a.reason)),
          })),
        });
      },
    }),

    route({
      method: "get",
      path: "/v1/reports/pings",
      access: "analyst",
      operationId: "pingReport",
      summary: "Pings and posts per supplier and source, with the ping-to-post rate",
      tags: ["Reports"],
      query: PingReportQuery,
      responses: { 200: { description: "One row per supplier and source", schema: PingReport } },
      async handler(c, { query }) {
        const { from, to } = timeRange(query) as { from: Date; to: Date };
        if (!(from < to)) throw new GavelError("validation", "Bad range", { errors: [{ path: "to", message: "must be after from" }] });
        const rows = await pingReport(deps.database, { from, to }, { campaign: query.campaign, supplier: query.supplier, test: query.test ?? false });
        return c.json({ rows });
      },
    }),
  ];
}
