// Lead intake (suppliers) and lead reads (operators).
import { z } from "zod";
import { leadReturnsOf } from "../db/after-sale";
import { ReturnSchema, returnJson } from "./after-sale";
import type { Catalog } from "../auction/catalog";
import type { SupplierRateLimiter } from "../auction/rate-limit";
import { LeadAnswer, LeadSubmission, sellLead, trackingString, type SellDeps } from "../auction/sell";
import { findSupplierLead } from "../db/held";
import { findLead, listLeads } from "../db/trace";
import { GavelError, type FieldError } from "../errors";
import { maskPii } from "../leads/pii";
import { fromCents } from "../money";
import { attemptReason, stageReason } from "../reasons";
import { RoutingDecision } from "./routing";
import { RankingTrace, rankingTrace } from "./ranking";
import { slug } from "../shapes";
import { admission, arrivalOf } from "./admission";
import { operatorOf, supplierOf } from "./auth";
import { formBody, jsonBody, type BodyLimit, mediaType, pageLimit, queryFlag, rangeZone, storableOrThrow, timeBound, timeRange } from "./body";
import type { AppContext, AppMiddleware } from "./env";
import { attemptReasonCode, reasonDetail, reasonOf, shown } from "./reasons";
import { route, type AnyRoute } from "./route";

export interface LeadRouteDeps extends SellDeps {
  maxLeadBytes: number;
  rateLimiter: SupplierRateLimiter;
  /** How long a lead may wait for an auction slot (GAVEL_ADMISSION_WAIT_MS). */
  admissionWaitMs: number;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const leadStatus = z.enum(["received", "rejected", "duplicate", "auctioning", "held", "expired", "pending", "sold", "unsold", "error", "returned"]);

/** How a form spells `test` (read trimmed and in any case). */
const FORM_TRUE = ["true", "1", "yes", "on"] as const;
const FORM_FALSE = ["false", "0", "no", "off", ""] as const;
const formTest = z.enum([...FORM_TRUE, ...FORM_FALSE]);
const FORM_TEST = new Map<string, boolean>([...FORM_TRUE.map((v) => [v, true] as const), ...FORM_FALSE.map((v) => [v, false] as const)]);

const LeadForm = z
  .object({
    campaign: z.string().min(1),
    test: formTest.optional().meta({ description: "`true`, `1`, `yes` or `on` for a test lead (as `\"test\": true`); `false`, `0`, `no`, `off` or empty for a real one" }),
    source: z.string().optional().meta({ description: "As `source` in JSON (empty: none)" }),
    sub_id: z.string().optional().meta({ description: "As `sub_id` in JSON (empty: none)" }),
    idempotency_key: z.string().optional().meta({ description: "For senders that cannot set the `Idempotency-Key` header; both, if sent, must be the same" }),
  })
  .catchall(z.string())
  .meta({
    id: "LeadForm",
    description:
      "A lead as a form: every field other than the ones named here is a data field, by its plain name (`email=jo%40example.com`) or as `data[email]=…` (the way to send a data field named `campaign`, `test`, `source`, `sub_id` or `idempotency_key`). A list field's items as `drivers[0][first_name]=…` (or `data[drivers][0][first_name]=…`), numbered from 0 without gaps. Each name at most once.",
  });


const Exclusion = z.object({ channel_id: z.string(), reason: reasonOf("excluded"), detail: reasonDetail });

const LeadSummary = z
  .object({
    id: z.string(),
    campaign: z.string(),
    supplier: z.string(),
    status: leadStatus,
    reason: reasonOf("lead").nullable().meta({
      description:
        "Why the lead ended as it did (null for a sale or a lead still in its auction; a sold lead with a post whose outcome is still unknown keeps `post_outcome_unknown` until that post is settled, README \"Reconciliation\")",
    }),
    detail: reasonDetail,
    test: z.boolean(),
    received_at: z.string(),
    decided_at: z.string().nullable(),
    price: z.number().meta({ description: "Paid to the supplier" }),
    revenue: z.number().meta({ description: "Paid by the buyer" }),
    sold_to: z
      .number()
      .int()
      .meta({ description: "Number of sales: 1 for an exclusive sale, up to `max_sells` for a shared one, else 0 (a count, not who bought: that is `sold_channel` and `sold_buyer`, and the trace's `sales`)" }),
    sold_channel: z
      .string()
      .nullable()
      .meta({ description: "Who bought: the id of the channel whose post accepted the lead (of a shared lead, the highest sale's); of a `pending` lead, the channel whose buyer's postback is to confirm the sale; null unless sold or pending" }),
    sold_buyer: z.string().nullable().meta({ description: "Who bought: the id of the buyer of `sold_channel` when it bought (of a `pending` lead, the buyer to confirm it); null unless sold or pending" }),
    source: z.string().nullable().meta({ description: "The supplier's `source` tracking string, as submitted" }),
    sub_id: z.string().nullable().meta({ description: "The supplier's `sub_id` tracking string, as submitted" }),
    data: z.record(z.string(), z.unknown()).meta({ description: "Normalised lead data; pii fields read \"***\" for analysts" }),
  })
  .meta({ id: "LeadSummary" });

const LeadTrace = LeadSummary.extend({
  overhead_ms: z.number().nullable(),
  deadline_at: z
    .string()
    .nullable()
    .meta({ description: "When the auction had to be over (received_at plus the campaign's timeout_ms); null for a lead never auctioned" }),
  history: z.array(z.object({ status: z.string(), at: z.string(), reason: reasonOf("lead").nullable(), detail: reasonDetail })),
  excluded: z.array(Exclusion),
  routing: RoutingDecision.nullable(),
  ranking: RankingTrace.nullable().meta({
    description: "Bids as made and as ranked, acceptance rates and charges (README \"Pricing and ranking\"); null for a plain first-price auction",
  }),
  returns: z.array(ReturnSchema).meta({ description: "Returns of the lead's sales (README \"After the sale\"): pending, accepted (revenue reversed) or rejected" }),
  sales: z
    .array(
      z.object({
        channel_id: z.string(),
        buyer_id: z.string().nullable().meta({ description: "The channel's buyer (as the channel is configured now)" }),
        price: z.number().meta({ description: "What the buyer paid for this sale" }),
      }),
    )
    .meta({
      description:
        "Every sale of the lead, highest price first: its accepted posts. One for an exclusive sale; up to `max_sells` for a shared one (`sold_channel` is the first, and `revenue` their sum)",
    }),
  attempts: z.array(
    z.object({
      kind: z.enum(["ping", "post"]),
      channel_id: z.string(),
      buyer_id: z.string().nullable().meta({ description: "The buyer the attempt's channel belongs to (as the channel is configured now)" }),
      started_at: z.string(),
      duration_ms: z.number(),
      http_status: z.number().int().nullable(),
      outcome: z.string(),
      price: z.number().nullable(),
      reason: attemptReasonCode
        .nullable()
        .meta({ description: "A ping's reason (null for a bid), or a post's: each outcome's codes are in the README's tables" }),
      detail: reasonDetail,
      ping_ref: z.string().nullable(),
    }),
  ),
}).meta({ id: "LeadTrace" });

/** What a supplier reads of its own lead: how it ended and what it is paid, never who bought it. */
const SupplierLead = z
  .object({
    id: z.string(),
    status: leadStatus,
    reason: reasonOf("lead").nullable(),
    detail: reasonDetail,
    price: z.number().meta({ description: "What the supplier is paid (0 unless sold)" }),
    received_at: z.string(),
    decided_at: z.string().nullable(),
  })
  .meta({ id: "SupplierLead" });

const LeadPage = z.object({ items: z.array(LeadSummary.extend({ trace_url: z.string() })), next_cursor: z.string().nullable() });

const LeadQuery = z
  .object({
    campaign: z.string().optional(),
    status: leadStatus.optional(),
    supplier: z.string().optional(),
    test: queryFlag
      .optional()
      .meta({ description: "`true`: only test leads; `false`: only real ones" }),
    buyer: slug.optional().meta({ description: "Only leads sold to this buyer (by any of a shared lead's sales, not only its highest)" }),
    channel: slug.optional().meta({ description: "Only leads sold through this channel (by any of a shared lead's sales, not only its highest)" }),
    source: trackingString.optional().meta({ description: "Only leads submitted with this `source`" }),
    sub_id: trackingString.optional().meta({ description: "Only leads submitted with this `sub_id`" }),
    reason: reasonOf("lead")
      .optional()
      .meta({ description: "Only leads with this reason code, whatever its detail (`no_bids`, `dedup`, `cap_leads`)" }),
    from: timeBound.optional().meta({ description: "Received at or after: an ISO 8601 date or date and time, read in `tz` unless it has an offset" }),
    to: timeBound.optional().meta({ description: "Received before (the range is half-open): an ISO 8601 date or date and time, read in `tz` unless it has an offset" }),
    tz: rangeZone.optional(),
    cursor: z.string().optional(),
    limit: pageLimit,
  })
  .strict();

/** Per-supplier token bucket (in this process): 429 + Retry-After before the body is even read. */
export function rateLimit(limiter: SupplierRateLimiter): AppMiddleware {
  return async (c, next) => {
    const supplier = supplierOf(c);
    const admission = limiter.take(supplier.id, supplier.rate_limit);
    if (!admission.ok)
      throw new GavelError("rate_limited", `Supplier '${supplier.id}' is over its rate limit of ${supplier.rate_limit?.per_second}/s`, {
        retryAfter: admission.retryAfterSeconds,
      });
    await next();
  };
}

export function leadRoutes(deps: LeadRouteDeps): AnyRoute[] {
  return [
    route({
      method: "post",
      path: "/v1/leads",
      access: "supplier",
      operationId: "sellLead",
      summary: "Sell a lead",
      description:
        "Runs the whole auction and answers within the campaign's `auction.timeout_ms`. Optional `Idempotency-Key` header (scoped to the supplier): the same key and body replays the stored answer. `\"test\": true` runs a test auction: buyers see `\"test\": true` and `X-Gavel-Test: 1`, and the lead counts toward no caps or revenue figures. Suppliers with a `rate_limit` get 429 + Retry-After past it (enforced per Gavel process). A lead may also be posted as a form (`application/x-www-form-urlencoded`): `campaign`, `test`, `source`, `sub_id` and `idempotency_key` are the submission's fields, every other field is a data field by its plain name (`email=…`) or as `data[email]=…`; it is validated like a JSON lead. Data fields the campaign does not declare are kept as strings (an object or array as its JSON text) and treated as pii.",
      tags: ["Leads"],
      documentedBody: { content: { "application/json": LeadSubmission, "application/x-www-form-urlencoded": LeadForm } },
      responses: {
        200: { description: "The auction's outcome (sold, unsold, duplicate or error)", schema: LeadAnswer },
        202: {
          description: "`held`: every channel that could take the lead is closed by its schedule, and the campaign holds leads (`hold`): it is auctioned when the first opens (README \"Held leads\")",
          schema: LeadAnswer,
        },
        403: {
          description: "Supplier not allowed on the campaign, a paused supplier or campaign, or an operator token (lead intake needs a supplier API key)",
          schema: undefined,
          contentType: "application/problem+json",
        },
        409: {
          description:
            "Same Idempotency-Key while the first request still runs, or while the lead recorded under it is not settled yet (its outcome could not be written, or its process died): send it again later to get the lead's answer replayed",
          contentType: "application/problem+json",
        },
        413: { description: "Body over GAVEL_MAX_LEAD_BYTES", contentType: "application/problem+json" },
        429: {
          description: "Over the supplier's rate limit (a token bucket per Gavel process)",
          contentType: "application/problem+json",
          headers: { "Retry-After": { description: "Seconds until a lead is admitted again", schema: { type: "integer" } } },
        },
        503: {
          description:
            "`overloaded`: the process is at its bound of concurrent auctions and no slot freed within GAVEL_ADMISSION_WAIT_MS (answered before the body or key is read, before any ping). `database_unavailable`: the database could not be reached, or the lead could not be settled by its deadline plus GAVEL_ANSWER_GRACE_MS; when a lead was recorded the problem carries its `lead_id`, the lead settles on its own, and the same request with the same Idempotency-Key replays its outcome",
          contentType: "application/problem+json",
          headers: { "Retry-After": { description: "Seconds", schema: { type: "integer" } } },
        },
      },
      before: [admission({ gate: deps.gate, waitMs: deps.admissionWaitMs, clock: deps.clock, metrics: deps.metrics })],
      use: [rateLimit(deps.rateLimiter)],
      async handler(c) {
        // The deadline counts from the lead's arrival: everything Gavel does, including waiting
        // for an auction slot, spends it.
        const received = arrivalOf(c);
        const header = c.req.header("idempotency-key");
        if (header !== undefined) checkIdempotencyKey(header, "headers.idempotency-key", "Bad Idempotency-Key header");
        const limit = { maxBytes: deps.maxLeadBytes, tooLarge: `The lead body is over the limit of ${deps.maxLeadBytes} bytes` };
        const { body, idempotencyKey } = await leadBody(c, limit, header);
        // The request's logger, so the lead's lines carry its request_id.
        const fate = await sellLead({ ...deps, logger: c.var.logger }, supplierOf(c), body, received, idempotencyKey);
        switch (fate.kind) {
          case "sold":
          case "pending":
          case "unsold":
          case "error":
          case "duplicate":
          case "rejected":
            return answered(c, 200, fate.answer);
          case "held":
            return answered(c, 202, fate.answer);
          case "invalid":
            throw new GavelError("validation", "The lead has invalid fields", { errors: fate.answer.errors, lead_id: fate.answer.lead_id });
          case "over_cap":
            throw new GavelError("supplier_cap", `This supplier is over its cap (${fate.reason})`, {
              lead_id: fate.leadId,
              retryAfter: fate.retryAfter,
              reason: fate.reason,
            });
          case "replay":
            c.header("Idempotent-Replayed", "true");
            // As first answered: a stored problem (an invalid lead's fields, status and lead id) as a problem again.
            if (fate.status >= 400)
              return answered(c, fate.status, { type: "urn:gavel:problem:validation", title: "Validation failed", detail: "The lead has invalid fields", ...(fate.body as object) });
            return answered(c, fate.status, fate.body);
          default:
            return unreachable(fate);
        }
      },
    }),

    route({
      method: "get",
      path: "/v1/leads/{id}",
      access: "analyst",
      operationId: "getLead",
      summary: "A lead's trace: history, exclusions and every ping and post",
      description:
        "With an operator token, the lead's whole trace. With a supplier API key, one of the supplier's own leads as `SupplierLead`: its status and price only (a held lead's outcome, README \"Held leads\"), never who bought it.",
      tags: ["Leads"],
      suppliersToo: true,
      responses: { 200: { description: "The lead", schema: z.union([LeadTrace, SupplierLead]) } },
      async handler(c, { params }) {
        const supplier = c.var.supplier;
        if (supplier) {
          const own = await findSupplierLead(deps.database, params.id, supplier.id);
          if (!own) throw new GavelError("not_found", `No lead '${params.id}' of this supplier`);
          return c.json({
            id: own.id,
            status: own.status,
            ...shown(stageReason("lead", own.reason)),
            price: fromCents(own.price_cents),
            received_at: new Date(own.received_at).toISOString(),
            decided_at: own.decided_at === null ? null : new Date(own.decided_at).toISOString(),
          });
        }
        const found = await findLead(deps.database.db, params.id);
        if (!found) throw new GavelError("not_found", `No lead '${params.id}'`);
        const { role } = operatorOf(c);
        const { lead, history, attempts } = found;
        return c.json({
          ...(await leadSummary(deps.catalog, lead, role)),
          overhead_ms: lead.overheadMs,
          deadline_at: lead.deadlineAt?.toISOString() ?? null,
          history: history.map((e) => ({ status: e.status, at: e.at.toISOString(), ...shown(stageReason("lead", e.reason)) })),
          excluded: (lead.excluded as { channel_id: string; reason: string }[]).map((e) => ({ channel_id: e.channel_id, ...shown(stageReason("excluded", e.reason)) })),
          routing: lead.routing ?? null,
          ranking: rankingTrace(
            lead.ranking,
            lead.soldChannelId,
            attempts.find((a) => a.kind === "post" && a.outcome === "accepted" && a.channelId === lead.soldChannelId)?.pingRef ?? null,
          ),
          returns: (await leadReturnsOf(deps.database.db, lead.id)).map(returnJson),
          sales: attempts
            .filter((a) => a.kind === "post" && a.outcome === "accepted")
            .sort((a, b) => (b.priceCents ?? 0) - (a.priceCents ?? 0))
            .map((a) => ({ channel_id: a.channelId, buyer_id: a.buyerId, price: fromCents(a.priceCents ?? 0) })),
          attempts: attempts.map((a) => ({
            kind: a.kind,
            channel_id: a.channelId,
            buyer_id: a.buyerId,
            started_at: a.startedAt.toISOString(),
            duration_ms: a.durationMs,
            http_status: a.httpStatus,
            outcome: a.outcome,
            price: a.priceCents === null ? null : fromCents(a.priceCents),
            ...shown(attemptReason(a.kind as "ping" | "post", a.outcome, a.reason)),
            ping_ref: a.pingRef,
          })),
        });
      },
    }),

    route({
      method: "get",
      path: "/v1/leads",
      access: "analyst",
      operationId: "listLeads",
      summary: "Leads, newest first, paged",
      description:
        "Filters combine. `buyer` and `channel` find the leads sold to them; `source` and `sub_id` the leads submitted with them; `reason` is a reason code of the lead's own (any detail: `cap_leads` finds every period's); an unknown code is a 422 listing the known ones. `from` and `to` bound when leads were received, half-open [from, to), as in the reports; a bare date is midnight in `tz`, and a time without an offset is read in `tz`.",
      tags: ["Leads"],
      query: LeadQuery,
      responses: { 200: { description: "A page of leads", schema: LeadPage } },
      async handler(c, { query }) {
        const { role } = operatorOf(c);
        const { sub_id: subId, from: _from, to: _to, tz: _tz, limit, ...filters } = query;
        const page = await listLeads(deps.database.db, { ...filters, subId, ...timeRange(query), limit });
        const items = await Promise.all(
          page.rows.map(async (lead) => ({ ...(await leadSummary(deps.catalog, lead, role)), trace_url: `/v1/leads/${lead.id}` })),
        );
        return c.json({ items, next_cursor: page.nextCursor });
      },
    }),
  ];
}

/** A lead's answer as JSON (a problem as application/problem+json). */
function answered(c: AppContext, status: number, body: unknown): Response {
  const contentType = status >= 400 ? "application/problem+json" : "application/json";
  return c.body(JSON.stringify(body), status as 200, { "content-type": contentType });
}

function unreachable(fate: never): never {
  throw new Error(`unknown lead fate ${JSON.stringify(fate)}`);
}

function checkIdempotencyKey(key: string, path: string, title: string): void {
  if (!IDEMPOTENCY_KEY.test(key)) throw new GavelError("validation", title, { errors: [{ path, message: "must be 1 to 255 visible ASCII characters" }] });
}

/**
 * A lead's body, as JSON or as a form, and its idempotency key: the header's, or a form's
 * `idempotency_key` field (the two, if both are sent, must be the same).
 */
async function leadBody(c: AppContext, limit: BodyLimit, header: string | undefined): Promise<{ body: unknown; idempotencyKey?: string }> {
  const type = mediaType(c);
  if (type === "multipart/form-data")
    throw new GavelError("bad_request", "multipart/form-data is not taken: send the lead as application/x-www-form-urlencoded or as JSON");
  if (type !== "application/x-www-form-urlencoded") return { body: await jsonBody(c, limit), idempotencyKey: header };
  const { submission, idempotencyKey: field } = formSubmission(await formBody(c, limit));
  if (field === undefined) return { body: submission, idempotencyKey: header };
  if (header !== undefined && header !== field)
    throw new GavelError("validation", "Two different idempotency keys", {
      errors: [{ path: "idempotency_key", message: "differs from the Idempotency-Key header: send one of them" }],
    });
  checkIdempotencyKey(field, "idempotency_key", "Bad idempotency_key field");
  return { body: submission, idempotencyKey: field };
}

/** Form fields that are the submission's own, not the lead's data (spelled `data[name]` to send a data field so named). */
const FORM_ENVELOPE = new Set(["campaign", "test", "source", "sub_id", "idempotency_key"]);
const FORM_DATA_NAME = /^data\[([^[\]]+)\]$/;
/** An item field of a list field: `drivers[0][first_name]` or `data[drivers][0][first_name]`, items numbered from 0. */
const FORM_ITEM_NAME = /^(?:data\[([^[\]]+)\]|([^[\]]+))\[(0|[1-9][0-9]{0,3})\]\[([^[\]]+)\]$/;

/**
 * The list fields of a form (`drivers[0][first_name]=…`) as the lists of objects a JSON lead sends,
 * into `data`. Items are numbered from 0 without gaps; a list also sent as a plain field, or an item
 * field sent twice, is an error naming it.
 */
function formLists(lists: Map<string, Map<number, Map<string, string>>>, data: Map<string, unknown>, errors: FieldError[]): void {
  for (const [name, items] of lists) {
    if (data.has(name)) {
      errors.push({ path: `data.${name}`, message: `is sent both as one value and as items (${name}[0][…]): send one of them` });
      continue;
    }
    const numbers = [...items.keys()].sort((a, b) => a - b);
    const gap = numbers.findIndex((n, i) => n !== i);
    if (gap >= 0) {
      errors.push({ path: `data.${name}[${numbers[gap]}]`, message: `follows ${gap === 0 ? "nothing" : `${name}[${numbers[gap - 1]}]`}: number a list's items from 0 without gaps` });
      continue;
    }
    data.set(name, numbers.map((n) => Object.fromEntries(items.get(n)!)));
  }
}

/**
 * A lead posted as a form, read as the JSON submission it stands for: `campaign`, `test`, `source`,
 * `sub_id` (and `idempotency_key`, for senders that cannot set the header) are the submission's;
 * every other field is a data field, by its plain name (`email=…`, as supplier platforms post) or
 * as `data[email]=…` (as PHP and Rails forms nest it, and the way to send a data field named like
 * one of the submission's). A name sent twice, or nested any other way, is a 422 naming it. The
 * result goes through the same validation as a JSON lead.
 */
export function formSubmission(pairs: [string, string][]): { submission: Record<string, unknown>; idempotencyKey?: string } {
  const envelope = new Map<string, string>();
  const data = new Map<string, unknown>();
  const lists = new Map<string, Map<number, Map<string, string>>>();
  const errors: FieldError[] = [];
  for (const [name, value] of pairs) {
    if (name === "") continue;
    const item = FORM_ITEM_NAME.exec(name);
    if (item) {
      const [list, index, field] = [item[1] ?? item[2], Number(item[3]), item[4]];
      const items = lists.get(list) ?? lists.set(list, new Map()).get(list)!;
      const fields = items.get(index) ?? items.set(index, new Map()).get(index)!;
      if (fields.has(field)) errors.push({ path: `data.${list}[${index}].${field}`, message: "is sent more than once" });
      else fields.set(field, value);
      continue;
    }
    const nested = FORM_DATA_NAME.exec(name);
    const [into, key] = nested ? [data, nested[1]] : FORM_ENVELOPE.has(name) ? [envelope, name] : [data, name];
    if (!nested && /[[\]]/.test(name))
      errors.push({ path: name, message: "is nested: send plain field names (email=…), data[email]=…, or a list's items as drivers[0][first_name]=…" });
    else if (into.has(key)) errors.push({ path: into === data ? `data.${key}` : key, message: "is sent more than once" });
    else into.set(key, value);
  }
  formLists(lists, data, errors);
  const testText = envelope.get("test");
  const test = testText === undefined ? undefined : FORM_TEST.get(testText.trim().toLowerCase());
  if (testText !== undefined && test === undefined) errors.push({ path: "test", message: "must be true or false (or 1 or 0)" });
  if (errors.length) throw new GavelError("validation", "The lead form is malformed", { errors });
  const submission: Record<string, unknown> = {};
  const campaign = envelope.get("campaign");
  if (campaign !== undefined) submission.campaign = campaign;
  // Built as own properties (a `__proto__` field is then refused as in JSON, never a prototype).
  submission.data = Object.fromEntries(data);
  if (test !== undefined) submission.test = test;
  for (const name of ["source", "sub_id"]) {
    const value = envelope.get(name);
    // An empty field is an unfilled one, as a form sends it.
    if (value !== undefined && value !== "") submission[name] = value;
  }
  return { submission: storableOrThrow(submission), idempotencyKey: envelope.get("idempotency_key") || undefined };
}

type LeadRow = NonNullable<Awaited<ReturnType<typeof findLead>>>["lead"];

/** What a trace and a listing both say of a lead; analysts see its data with pii masked. */
async function leadSummary(catalog: Catalog, lead: LeadRow, role: string) {
  return {
    id: lead.id,
    campaign: lead.campaignId,
    supplier: lead.supplierId,
    status: lead.status,
    ...shown(stageReason("lead", lead.reason)),
    test: lead.test,
    received_at: lead.receivedAt.toISOString(),
    decided_at: lead.decidedAt?.toISOString() ?? null,
    price: fromCents(lead.priceCents),
    revenue: fromCents(lead.revenueCents),
    sold_to: lead.soldTo,
    sold_channel: lead.soldChannelId,
    sold_buyer: lead.soldBuyerId,
    source: lead.source,
    sub_id: lead.subId,
    data: role === "admin" ? lead.data : maskPii(lead.data as Record<string, unknown>, (await catalog.campaign(lead.campaignId))?.fields),
  };
}
