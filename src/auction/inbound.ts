// Suppliers that ping first (issue #16, README "Suppliers that ping first"). A supplier pings with
// the lead's non-PII fields (`pingFirst`): Gavel checks what it can without the consumer's contact
// details, runs the ping phase of SPEC.md step 4 on its buyers under the campaign deadline, ranks the
// bids (step 5) and keeps them in the database for `inbound.ping_ttl_seconds`, answering the price the
// supplier would be paid. The supplier then posts the whole lead (`postPinged`), on any Gavel process:
// the lead goes through steps 1–3 as any lead does, then down the kept ranking (step 6) without
// pinging again, and its outcome is recorded (step 7). The auction's own steps are composed here,
// never copied: collectBids, rankBids, postWithFallback, selectChannels, recordOutcome.
import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { settleHealth } from "../channels/health";
import { findDedupHolders, claimIdempotencyKey, releaseIdempotencyKey } from "../db/leads";
import {
  claimPing,
  findPing,
  finishPing,
  insertLeadEvents,
  insertPing,
  recordPingEvent,
  reopenPing,
  suppressedAny,
  type KeptBid,
  type PingRow,
  type StoredEvent,
} from "../db/pings";
import { GavelError, invalid, type FieldError } from "../errors";
import { dedupKeys } from "../leads/dedup";
import { contactHash } from "../leads/suppression";
import { fromCents } from "../money";
import { reasonText, STAGE_CODES, type LeadCode, type ReasonText } from "../reasons";
import { InboundPings, type Supplier } from "../resources/schemas";
import { DAY_MS } from "../time/clock";
import { leadAnswer, LeadAnswer, replayedAnswer, type LeadFate } from "./answer";
import { Bid } from "./bid";
import type { CampaignPlan } from "./catalog";
import { byScore, clearRanking, countPosts, rankingRecord, scoreBids, type PricedTrail } from "./clearing";
import { Deadline, monotonic } from "./deadline";
import { processWorld, rulesKnowing, selectChannels, type Exclusion } from "./eligibility";
import { floorCents } from "./floors";
import { leadOrigin, recordForAuction, trackingString, type SellProgress } from "./intake";
import { collectBids, pingContactHashes, type AuctionTrail } from "./ping";
import { letGo, postWithFallback } from "./post";
import { rankBids } from "./rank";
import { recordOutcome } from "./outcome";
import { payoutCents, payoutFloorCents, payoutRuleFor } from "./payout";
import { sharedResult, type AuctionResult } from "./run";
import { chooseSale, clearChoice, postShared } from "./shared";
import type { SellDeps } from "./sell";

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const PingSubmission = z
  .object({
    campaign: z.string().min(1),
    data: z.record(z.string(), z.unknown()).meta({ description: "The lead's non-PII fields only: a pii or undeclared field is refused, field by field" }),
    test: z.boolean().default(false),
    source: trackingString.optional(),
    sub_id: trackingString.optional(),
    contact_hashes: z
      .record(z.string(), z.string().regex(SHA256_HEX, "must be a SHA-256 digest: 64 lower-case hex digits"))
      .optional()
      .meta({
        description:
          "By field name, the SHA-256 hex of the consumer's normalised email (trimmed, lower case) or phone (E.164, `+15125550100`), when the campaign's `inbound.contact_hashes` takes them: checked against the do-not-sell list now, and against the post's values",
      }),
  })
  .strict()
  .meta({ id: "PingSubmission" });
export type PingSubmission = z.infer<typeof PingSubmission>;

/** Why a ping brought no bid: the lead codes a ping can end with. */
const PING_END_CODES = ["suppressed", "dedup", "no_eligible_channels", "no_bids"] as const satisfies readonly LeadCode[];
type PingEndCode = (typeof PING_END_CODES)[number];

const Offer = z.object({
  offer_id: z.string().meta({ description: "Post the lead with it in `offer_ids` to sell to this buyer (user choice)" }),
  price: z.number().meta({ description: "What this sale pays the supplier: its payout rule and the margin on this buyer's price" }),
});

export const PingAnswer = z
  .object({
    ping_id: z.string().meta({ description: "The ping's id: post the lead with it. It becomes the lead's id (`/v1/leads/{ping_id}`)" }),
    status: z.enum(["bid", "no_bid"]),
    price: z.number().meta({ description: "What the supplier is paid if the quoted bid buys the lead: its payout rule and the campaign's margin applied, never more (0 for no_bid)" }),
    expires_at: z.string().meta({ description: "A post after this instant is 410 `ping_expired`" }),
    reason: z.enum(PING_END_CODES).optional().meta({ description: "Why there is no bid" }),
    detail: z.string().nullable().optional().meta({ description: "What the reason's code leaves open; null when there is none" }),
    offers: z
      .array(Offer)
      .optional()
      .meta({ description: "A shared sale (a `shared` campaign, or a `best` one that chose shared): each buyer the lead would be posted to, with what its sale pays the supplier; `price` is the payout over all of them" }),
  })
  .meta({ id: "PingAnswer" });
export type PingAnswer = z.infer<typeof PingAnswer>;

export const PostSubmission = z
  .object({
    ping_id: z.string().min(1),
    offer_ids: z
      .array(z.string())
      .min(1)
      .max(10)
      .optional()
      .meta({ description: "User choice: the offers (of the ping's answer, or POST /v1/offers) to sell to, exactly those buyers and no others: one offer, or up to the campaign's max_sells when the offers are shared sales (more is a 422); absent: the ping's ranking" }),
    data: z.record(z.string(), z.unknown()).meta({ description: "All the lead's fields: its non-PII ones must equal the ping's" }),
  })
  .strict()
  .meta({ id: "PostSubmission" });

export const OffersSubmission = PingSubmission.extend({
  n: z.number().int().min(1).max(10).default(3).meta({ description: "How many offers to answer at most: the best n bids, one per buyer" }),
})
  .strict()
  .meta({ id: "OffersSubmission" });
export type OffersSubmission = z.infer<typeof OffersSubmission>;

export const OffersAnswer = z
  .object({
    ping_id: z.string().meta({ description: "Post the lead with it and the chosen `offer_ids`" }),
    status: z.enum(["bid", "no_bid"]),
    expires_at: z.string(),
    reason: z.enum(PING_END_CODES).optional(),
    detail: z.string().nullable().optional(),
    offers: z.array(
      Offer.extend({
        buyer: z.string().meta({ description: "The buyer's display name (its `name`), for the consumer to choose by" }),
        redirect_url: z
          .string()
          .optional()
          .meta({ description: "Where to send the consumer who picks this offer: the buyer's page, from its channel's `offer.redirect_url` (absent when the channel has none)" }),
      }),
    ),
  })
  .meta({ id: "OffersAnswer" });
export type OffersAnswer = z.infer<typeof OffersAnswer>;

export const PostAnswer = LeadAnswer.extend({ ping_id: z.string() }).meta({ id: "PostAnswer" });
export type PostAnswer = z.infer<typeof PostAnswer>;

/** The campaign's ping settings, its own or the defaults. */
const inboundOf = (plan: CampaignPlan): InboundPings => plan.campaign.inbound ?? InboundPings.parse({});

/** The campaign a supplier pings or posts to: it exists, the supplier may send to it, and it is active. */
async function openCampaign(deps: SellDeps, supplier: Supplier, id: string): Promise<CampaignPlan> {
  const plan = await deps.catalog.campaign(id);
  if (!plan || plan.campaign.status === "archived") throw new GavelError("not_found", `No campaign '${id}'`);
  if (supplier.campaigns !== null && !supplier.campaigns.includes(plan.campaign.id))
    throw new GavelError("forbidden", `This supplier may not send leads to campaign '${plan.campaign.id}'`);
  if (plan.campaign.status !== "active") throw new GavelError("campaign_inactive", `Campaign '${plan.campaign.id}' is ${plan.campaign.status}`);
  return plan;
}

/**
 * A ping's fields: only declared non-PII ones, each valid. PII (and undeclared fields, which are
 * treated as PII) goes with the post; a required PII field is not asked for yet.
 */
function checkPing(plan: CampaignPlan, ping: PingSubmission): { data: Record<string, unknown>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const open = new Set(plan.fields.publicFields);
  const declared = new Map(plan.campaign.fields.map((f) => [f.name, f]));
  const data: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(ping.data)) {
    if (open.has(name)) data[name] = value;
    else if (declared.has(name)) errors.push({ path: `data.${name}`, message: "is pii: send it with the post, never in a ping" });
    else errors.push({ path: `data.${name}`, message: "is not a field of the campaign (undeclared fields are treated as pii): send it with the post" });
    // A list's items carry only their fields that are not pii, as the lead does.
    const items = declared.get(name)?.fields;
    if (open.has(name) && items && Array.isArray(value)) {
      const openItem = new Set(items.filter((f) => !f.pii).map((f) => f.name));
      value.forEach((item, i) => {
        if (item && typeof item === "object" && !Array.isArray(item))
          for (const key of Object.keys(item))
            if (!openItem.has(key))
              errors.push({
                path: `data.${name}[${i}].${key}`,
                message: items.some((f) => f.name === key) ? "is pii: send it with the post, never in a ping" : `is not a field of the ${name} items (undeclared fields are treated as pii): send it with the post`,
              });
      });
    }
  }
  // Only the fields a ping carries are checked (a required pii field is not asked for yet).
  const checked = plan.fields.validate(data, { publicOnly: true });
  if (!checked.ok) errors.push(...checked.errors);

  const setting = inboundOf(plan).contact_hashes;
  const hashes = ping.contact_hashes ?? {};
  const contacts = new Set(plan.fields.contactFields.map((f) => f.name));
  if (setting === "none" && ping.contact_hashes !== undefined)
    errors.push({ path: "contact_hashes", message: "the campaign takes no contact hashes (its inbound.contact_hashes is none)" });
  else {
    for (const name of Object.keys(hashes))
      if (!contacts.has(name)) errors.push({ path: `contact_hashes.${name}`, message: "is not an email or phone field of the campaign" });
    if (setting === "required")
      for (const name of contacts)
        if (declared.get(name)?.required && hashes[name] === undefined)
          errors.push({ path: `contact_hashes.${name}`, message: "is required: the campaign's inbound.contact_hashes is required" });
  }
  return { data: checked.data, errors };
}

/** The lead's non-PII fields, and its contacts' hashes where the ping sent them, that differ from the ping's. */
function mismatchedFields(plan: CampaignPlan, ping: PingRow, data: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  // A list field is compared by its items' public fields (the post adds their pii), whatever the
  // order of their keys (the stored ping's jsonb has its own).
  const open = plan.fields.publicData(data);
  for (const name of plan.fields.publicFields)
    if (!isDeepStrictEqual(ping.data[name] ?? null, open[name] ?? null))
      errors.push({ path: `data.${name}`, message: `differs from the ping's (${JSON.stringify(ping.data[name] ?? null)})` });
  for (const [name, hash] of Object.entries(ping.contactHashes ?? {})) {
    const value = data[name];
    if (typeof value !== "string" || contactHash(value) !== hash) errors.push({ path: `data.${name}`, message: "does not hash to the ping's contact_hashes value" });
  }
  return errors;
}

export type PingFate = { kind: "answered"; answer: PingAnswer | OffersAnswer } | { kind: "replay"; status: number; body: unknown };

/**
 * A supplier's ping: validated (a problem, nothing recorded, when it is not), checked against the
 * do-not-sell list and the campaign's dedup where its fields allow, then pinged to the buyers and
 * quoted. Its Idempotency-Key is handled as a lead's.
 */
export async function pingFirst(
  deps: SellDeps,
  supplier: Supplier,
  body: unknown,
  received: { at: number; mono: number },
  idempotencyKey: string | undefined,
  /** `offers`: user choice (POST /v1/offers), answering the best `n` offers with their buyers' names. */
  kind: "ping" | "offers" = "ping",
): Promise<PingFate> {
  const parsed = (kind === "offers" ? OffersSubmission : PingSubmission).safeParse(body);
  if (!parsed.success) throw invalid(parsed.error, kind === "offers" ? "The offers request is malformed" : "The ping is malformed");
  const submission = parsed.data;
  const choice = "n" in submission ? (submission.n as number) : undefined;
  const plan = await openCampaign(deps, supplier, submission.campaign);
  const checked = checkPing(plan, submission);
  if (checked.errors.length) throw new GavelError("validation", "The ping has invalid fields", { errors: checked.errors });

  const bound = new AnswerBound(deps, "ping", () => new GavelError("database_unavailable", "The ping could not be recorded by its deadline: ping again", { retryAfter: 2 }));
  bound.until(new Deadline(received.at, received.mono, plan.campaign.auction, deps.answerGraceMs ?? 1000).answerByMono);
  return bound.race(pingRecorded(deps, plan, supplier, submission, checked.data, body, received, idempotencyKey, choice));
}

async function pingRecorded(
  deps: SellDeps,
  plan: CampaignPlan,
  supplier: Supplier,
  submission: PingSubmission,
  data: Record<string, unknown>,
  body: unknown,
  received: { at: number; mono: number },
  idempotencyKey: string | undefined,
  choice: number | undefined,
): Promise<PingFate> {
  let idempotent: { supplierId: string; key: string; status: number; body: unknown } | undefined;
  if (idempotencyKey !== undefined) {
    const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
    const claim = await claimIdempotencyKey(deps.database, supplier.id, idempotencyKey, requestHash);
    if (claim.kind === "mismatch") throw new GavelError("idempotency_mismatch", "This Idempotency-Key was used with a different request body");
    if (claim.kind === "running") throw new GavelError("idempotency_in_progress", "A request with this Idempotency-Key is still running");
    if (claim.kind === "replay") return { kind: "replay", status: claim.status, body: claim.body };
    idempotent = { supplierId: supplier.id, key: idempotencyKey, status: 200, body: null };
  }
  let recorded = false;
  try {
    const answer = await quote(deps, plan, supplier, submission, data, received, choice, async (ping, answer) => {
      await insertPing(deps.database, ping, idempotent && { ...idempotent, body: answer });
      recorded = true;
    });
    return { kind: "answered", answer };
  } finally {
    // As for a lead: the key is given back only while nothing was recorded under it.
    if (idempotent && !recorded) await releaseIdempotencyKey(deps.database, supplier.id, idempotent.key).catch(() => {});
  }
}

/** Steps 2–5 for a ping: what can be checked without PII, the ping phase, the ranking and the quote. */
async function quote(
  deps: SellDeps,
  plan: CampaignPlan,
  supplier: Supplier,
  submission: PingSubmission,
  data: Record<string, unknown>,
  received: { at: number; mono: number },
  choice: number | undefined,
  record: (ping: Parameters<typeof insertPing>[1], answer: PingAnswer | OffersAnswer) => Promise<void>,
): Promise<PingAnswer | OffersAnswer> {
  const campaign = plan.campaign;
  const settings = inboundOf(plan);
  const deadline = new Deadline(received.at, received.mono, campaign.auction, deps.answerGraceMs ?? 1000);
  const id = deps.newId();
  const lead = { id, supplierId: supplier.id, test: submission.test, data, receivedAt: received.at, contactHashes: submission.contact_hashes };
  const trail: AuctionTrail & PricedTrail = { attempts: [], excluded: [], buyerWaitMs: 0 };
  const events: StoredEvent[] = [];
  const payoutRule = payoutRuleFor(supplier, campaign);

  let end: PingEndCode | null = await refusedWithoutBuyers(deps, plan, submission, data, received.at);
  let quoteCents = 0;
  let kept: KeptBid[] = [];
  let offered: Bid[] = [];
  let shared = false;
  let pinged = 0;
  if (end === null) {
    if (plan.hasCaps) await deps.caps.view.fresh();
    // A filter on a PII field is judged at the post, when the field is there.
    const eligibility = selectChannels(plan.channels, lead, processWorld(deps.caps, deps.limiter), rulesKnowing(new Set(plan.fields.publicFields)));
    trail.excluded = eligibility.excluded;
    pinged = eligibility.eligible.filter((c) => c.config.type === "ping_post").length;
    const bids: Bid[] = [];
    try {
      const floor = floorCents(plan, payoutFloorCents(payoutRule, campaign.margin));
      await collectBids(deps, plan, lead, eligibility.eligible, eligibility.slots, floor, deadline, trail, bids);
      const pricing = plan.pricing;
      if (pricing) await scoreBids(pricing, campaign.id, plan.channels, bids, deadline.wallNow());
      const ranking = rankBids(bids, deps.random, pricing ? byScore : undefined);
      if (pricing && ranking.length) clearRanking(pricing, ranking, floor);
      // The sale the post would make (shared.ts): a `best` campaign chooses now, from the bids in hand,
      // and second price charges each kind within its kind, as a lead's auction does (run.ts).
      const k = campaign.auction.max_sells;
      let sale: readonly Bid[] = ranking;
      shared = campaign.auction.mode === "shared";
      if (campaign.auction.mode === "best" && ranking.length) {
        const chosen = chooseSale(ranking, k);
        if (pricing) clearChoice(pricing, chosen, k, floor);
        shared = chosen.sale === "shared";
        sale = shared ? chosen.shared : chosen.exclusive;
        events.push({ status: "pinged", at: new Date(deadline.wallNow()).toISOString(), reason: chosen.reason });
      }
      if (pricing && ranking.length) trail.ranking = rankingRecord(pricing, ranking, floor);
      // What is offered: user choice's best n (one per buyer), a shared sale's best max_sells, else the top bid.
      offered = choice !== undefined ? oneEach(sale, choice) : shared ? oneEach(sale, k) : sale.slice(0, 1);
      // An answer's captures are kept once, with the first of its bids (not once per bid of several).
      const captured = new Set<string | null>();
      kept = sale.map((b) => ({
        channel_id: b.channelId,
        price_cents: b.priceCents,
        charge_cents: b.chargeCents,
        ping_id: b.pingId,
        ping_ref: b.pingRef,
        expires_at: b.expiresAt,
        sale: b.sale,
        offer_id: offered.includes(b) ? `o${offered.indexOf(b) + 1}` : null,
        ...(b.bidId !== null && { bid_id: b.bidId }),
        ...(b.captures && !captured.has(b.pingId) && captured.add(b.pingId) && { captures: b.captures }),
      }));
      // The quote is what the sale would pay the supplier: its payout rule on what the buyers are
      // charged (the top bid's, or a shared sale's together), after the margin.
      const revenue = shared && choice === undefined ? offered.reduce((total, b) => total + b.chargeCents, 0) : (offered[0]?.chargeCents ?? 0);
      if (offered.length) quoteCents = payoutCents(payoutRule, revenue, campaign.margin);
      else end = eligibility.eligible.length === 0 ? "no_eligible_channels" : "no_bids";
    } finally {
      // No channel is held for the post: its slot is taken again when the post comes.
      for (const bid of bids) letGo(eligibility.slots, bid);
      // The circuit breakers hear how the buyers answered, as after any auction.
      settleHealth(eligibility.eligible, trail.attempts, lead, id, deps.clock.now(), deps.gate.overloaded());
    }
  }
  const quotedAt = new Date(deadline.wallNow());
  // User choice: the page of each offer's buyer, for the consumer who picks it (channel `offer.redirect_url`).
  const contactHashes = pingContactHashes(plan, lead);
  const redirectOf = (bid: Bid): { redirect_url?: string } => {
    const redirect = bid.channel.offerRedirect;
    if (!redirect) return {};
    const input = { leadId: id, pingId: bid.pingId, campaign: campaign.id, test: submission.test, publicData: data, contactHashes };
    return { redirect_url: redirect({ ...input, receivedAt: received.at, now: quotedAt.getTime(), pingRef: bid.pingRef, chargeCents: bid.chargeCents, sale: bid.sale }) };
  };
  const expiresAt = new Date(received.at + settings.ping_ttl_seconds * 1000);
  events.push({ status: "pinged", at: new Date(received.at).toISOString(), reason: reasonText("pinged", `${pinged} channels`) });
  // The offers made: the price quoted, and each offer's when there are several (a shared sale, user choice).
  const each = offered.length > 1 ? ` (offers ${offered.map((b) => fromCents(payoutCents(payoutRule, b.chargeCents, campaign.margin)).toFixed(2)).join(", ")})` : "";
  const quotedText = choice !== undefined ? `${offered.length} offers${each}` : `${fromCents(quoteCents).toFixed(2)}${each}`;
  events.push({ status: "pinged", at: quotedAt.toISOString(), reason: reasonText("quoted", end === null ? quotedText : "no_bid") });
  const offers = offered.map((b, i) => ({ offer_id: `o${i + 1}`, price: fromCents(payoutCents(payoutRule, b.chargeCents, campaign.margin)) }));
  const status = end === null ? ("bid" as const) : ("no_bid" as const);
  const why = end !== null && { reason: end, detail: null };
  const answer: PingAnswer | OffersAnswer =
    choice !== undefined
      ? { ping_id: id, status, expires_at: expiresAt.toISOString(), ...why, offers: offers.map((o, i) => ({ ...o, buyer: offered[i].channel.buyer.name, ...redirectOf(offered[i]) })) }
      : { ping_id: id, status, price: fromCents(quoteCents), expires_at: expiresAt.toISOString(), ...why, ...(shared && end === null && { offers }) };
  await record(
    {
      id,
      campaignId: campaign.id,
      supplierId: supplier.id,
      test: submission.test,
      source: submission.source ?? null,
      subId: submission.sub_id ?? null,
      data,
      contactHashes: submission.contact_hashes ?? null,
      receivedAt: new Date(received.at),
      expiresAt,
      status: answer.status,
      reason: end,
      quoteCents,
      bids: kept,
      attempts: trail.attempts,
      excluded: trail.excluded,
      ranking: trail.ranking ?? null,
      events,
    },
    answer,
  );
  deps.logger.info(
    { ping_id: id, campaign: campaign.id, supplier: supplier.id, status: answer.status, reason: end, price: fromCents(quoteCents), offers: offered.length, bids: kept.length, ms: Math.round(deadline.now() - received.mono) },
    "ping",
  );
  return answer;
}

/** The first `n` bids of distinct buyers, best first: a buyer buys a lead once. */
function oneEach(bids: readonly Bid[], n: number): Bid[] {
  const out: Bid[] = [];
  const buyers = new Set<string>();
  for (const bid of bids) {
    if (out.length === n) break;
    if (buyers.has(bid.channel.buyerId)) continue;
    buyers.add(bid.channel.buyerId);
    out.push(bid);
  }
  return out;
}

/** Before any buyer: a consumer on the do-not-sell list (by its hashes), or a duplicate by the campaign's non-PII dedup fields. */
async function refusedWithoutBuyers(
  deps: SellDeps,
  plan: CampaignPlan,
  submission: PingSubmission,
  data: Record<string, unknown>,
  at: number,
): Promise<PingEndCode | null> {
  const kinds = new Map(plan.fields.contactFields.map((f) => [f.name, f.kind]));
  const entries = Object.entries(submission.contact_hashes ?? {}).map(([name, hash]) => ({ kind: kinds.get(name) ?? "email", hash }));
  if (entries.length && (await suppressedAny(deps.database, entries))) return "suppressed";
  if (submission.test) return null;
  // A dedup rule can be checked only on fields the ping carries: each of them under `any`, all of them under `all`.
  const rule = plan.campaign.dedup;
  const open = new Set(plan.fields.publicFields);
  const fields = rule.fields.filter((f) => open.has(f));
  if (fields.length === 0 || (rule.match === "all" && fields.length !== rule.fields.length)) return null;
  const keys = dedupKeys({ fields, match: rule.match }, data);
  const holders = await findDedupHolders(deps.database, plan.campaign.id, keys, new Date(at - rule.lookback_days * DAY_MS));
  return holders.length ? "dedup" : null;
}

export type PostFate = { kind: "answered"; status: number; answer: PostAnswer; replayed: boolean } | { kind: "replay"; status: number; body: unknown };

/** How long a ping may stay claimed by a post that recorded no lead before another post may take it. */
const STALE_CLAIM_MS = 120_000;

/**
 * A supplier's post of a pinged lead: the whole lead, whose non-PII fields must be the ping's. The
 * first post takes the ping (once across processes) and sells the lead down the kept ranking; every
 * later post of the ping replays its answer.
 */
export async function postPinged(deps: SellDeps, supplier: Supplier, body: unknown, received: { at: number; mono: number }): Promise<PostFate> {
  const parsed = PostSubmission.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error, "The post is malformed");
  const submission = parsed.data;
  const claimed = { yes: false };
  const bound = new AnswerBound(deps, "post", () =>
    claimed.yes
      ? new GavelError("database_unavailable", "The lead could not be settled by its deadline; it was recorded: post the same ping again to read its outcome once it is settled", {
          lead_id: submission.ping_id,
          retryAfter: 2,
        })
      : new GavelError("database_unavailable", "The ping could not be read by the deadline: post it again", { retryAfter: 2 }),
  );
  // Reading the ping is one row by its key: a database that cannot answer it within the grace is failing.
  bound.until(received.mono + (deps.answerGraceMs ?? 1000));
  return bound.race(postRead(deps, supplier, submission, received, bound, claimed));
}

async function postRead(
  deps: SellDeps,
  supplier: Supplier,
  submission: z.infer<typeof PostSubmission>,
  received: { at: number; mono: number },
  bound: AnswerBound,
  claimed: { yes: boolean },
): Promise<PostFate> {
  const ping = await findPing(deps.database, submission.ping_id, supplier.id);
  if (!ping) throw new GavelError("not_found", `No ping '${submission.ping_id}' of this supplier`);
  // Past its expiry and the replay margin, a ping keeps none of what a post needs (db/pings.ts prunePings).
  if (ping.prunedAt) throw new GavelError("ping_expired", `The ping expired at ${ping.expiresAt.toISOString()}: ping again`);
  const chosen = submission.offer_ids;
  if (chosen) {
    const offers = new Set(ping.bids.flatMap((b) => (b.offer_id ? [b.offer_id] : [])));
    const errors = chosen.flatMap((id, i) => (offers.has(id) ? [] : [{ path: `offer_ids[${i}]`, message: `is not an offer of ping '${ping.id}'` }]));
    chosen.forEach((id, i) => chosen.indexOf(id) < i && errors.push({ path: `offer_ids[${i}]`, message: "is chosen twice" }));
    if (errors.length) throw new GavelError("validation", "Unknown offers", { errors });
  }
  const plan = await openCampaign(deps, supplier, ping.campaignId);
  bound.until(new Deadline(received.at, received.mono, plan.campaign.auction, deps.answerGraceMs ?? 1000).answerByMono);
  if (chosen) checkChoice(plan, ping, chosen);

  const checked = plan.fields.validate(submission.data);
  if (!checked.ok) throw new GavelError("validation", "The lead has invalid fields", { errors: checked.errors });
  const mismatched = mismatchedFields(plan, ping, checked.data);
  if (mismatched.length) {
    const fields = mismatched.map((e) => e.path.slice("data.".length)).join(",");
    await recordPingEvent(deps.database, ping.id, { status: "pinged", at: new Date(received.at), reason: reasonText("ping_mismatch", fields) });
    throw new GavelError("ping_mismatch", "The post's non-PII fields differ from its ping's", { errors: mismatched });
  }

  const replay = replayOf(ping);
  if (replay) return replay;
  const now = new Date(deps.clock.now());
  const staleBefore = new Date(now.getTime() - STALE_CLAIM_MS);
  if (!(await claimPing(deps.database, ping.id, supplier.id, now, staleBefore))) {
    const again = await findPing(deps.database, ping.id, supplier.id);
    const replayed = again && replayOf(again);
    if (replayed) return replayed;
    // A claim whose post died before recording its lead, on a ping that expired before the claim went
    // stale (the default TTL is shorter than STALE_CLAIM_MS): the ping is over, not still running.
    const abandoned = again?.state === "posting" && again.leadStatus === null && again.expiresAt <= now && again.postedAt !== null && again.postedAt < staleBefore;
    if (again && again.state !== "open" && !abandoned) throw new GavelError("idempotency_in_progress", "Another post of this ping is still running: send it again shortly to read its answer");
    throw new GavelError("ping_expired", `The ping expired at ${ping.expiresAt.toISOString()}: ping again`);
  }
  claimed.yes = true;
  return sellPinged(deps, plan, supplier, ping, checked.data, received, chosen);
}

/**
 * A ping or a post is answered as a lead is (sell.ts's answerBy): by the deadline plus the answer
 * grace (GAVEL_ANSWER_GRACE_MS) at the latest, whatever the database does. Past it the supplier hears
 * 503 with Retry-After, and the work goes on behind the answer and settles itself: a ping's quote is
 * recorded (its Idempotency-Key then replays it), a post's lead is settled and its ping keeps the
 * answer for the next post of it. The bound moves once the campaign, and so the deadline, is known.
 */
class AnswerBound {
  private timer: NodeJS.Timeout | undefined;
  private fire!: () => void;
  private readonly late: Promise<never>;

  constructor(
    private readonly deps: SellDeps,
    private readonly what: "ping" | "post",
    lateError: () => GavelError,
  ) {
    this.late = new Promise<never>((_, reject) => {
      this.fire = () => {
        deps.logger.warn({ kind: this.what }, `${this.what} not answered by its deadline: answered 503, settling it in the background`);
        reject(lateError());
      };
    });
    this.late.catch(() => {});
  }

  /** Answer by this monotonic instant at the latest. */
  until(answerByMono: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.fire, Math.max(0, answerByMono - monotonic()));
  }

  race<T>(work: Promise<T>): Promise<T> {
    work.catch(() => {}); // answered by `late` if it fails after that
    return Promise.race([work, this.late]).finally(() => clearTimeout(this.timer));
  }
}

/**
 * How many offers a consumer may choose: one unless the offers are shared sales (a `shared`
 * campaign, or a `best` one whose bids chose shared), then up to the campaign's max_sells. Two
 * exclusive offers chosen would sell a lead sold as exclusive to two buyers.
 */
function checkChoice(plan: CampaignPlan, ping: PingRow, chosen: readonly string[]): void {
  if (chosen.length < 2) return;
  const shared = ping.bids.some((b) => b.offer_id && chosen.includes(b.offer_id) && b.sale === "shared");
  const most = shared ? plan.campaign.auction.max_sells : 1;
  if (chosen.length <= most) return;
  const message = shared
    ? `chooses ${chosen.length} offers: a lead is sold to at most max_sells (${most}) buyers`
    : `chooses ${chosen.length} offers: these are exclusive sales, sold to one buyer (choose one offer, or sell shared)`;
  throw new GavelError("validation", "Too many offers chosen", { errors: [{ path: "offer_ids", message }] });
}

/** The answer a ping's post gave, for a later post: stored, or read from its lead once settled (a post that died before storing it). */
function replayOf(ping: PingRow): PostFate | null {
  if (ping.state === "posted" && ping.answerStatus !== null) return { kind: "replay", status: ping.answerStatus, body: replayedAnswer(ping.answer) };
  const status = ping.leadStatus;
  if (ping.state === "posting" && status && status !== "auctioning") {
    const answer = { ...leadAnswer(ping.id, status as LeadAnswer["status"], ping.leadPriceCents ?? 0, ping.leadSoldTo ?? 0), ping_id: ping.id };
    return { kind: "answered", status: 200, answer, replayed: true };
  }
  return null;
}

/** Steps 1–3 and 6–7 for a posted ping, holding its claim: the lead is recorded, then posted down the kept ranking. */
async function sellPinged(
  deps: SellDeps,
  plan: CampaignPlan,
  supplier: Supplier,
  ping: PingRow,
  data: Record<string, unknown>,
  received: { at: number; mono: number },
  offerIds: readonly string[] | undefined,
): Promise<PostFate> {
  const campaign = plan.campaign;
  const metrics = ping.test ? undefined : deps.metrics;
  const deadline = new Deadline(received.at, received.mono, campaign.auction, deps.answerGraceMs ?? 1000);
  const origin = leadOrigin(ping.id, campaign.id, supplier.id, { campaign: campaign.id, data, test: ping.test, source: ping.source ?? undefined, sub_id: ping.subId ?? undefined });
  const progress: SellProgress = { leadId: undefined };
  let intake;
  try {
    intake = await recordForAuction(deps, plan, supplier, origin, data, deadline, undefined, progress, metrics);
  } catch (error) {
    // Nothing recorded: the ping may be posted again.
    if (progress.leadId === undefined) await reopenPing(deps.database, ping.id).catch(() => {});
    throw error;
  }
  if (intake.kind !== "auctioning") return finish(deps, ping, fateAnswer(intake, ping.id));

  // The supplier side of the lead's history: its ping, its quote, refused posts, and this post.
  const history = [...ping.events.map((e) => ({ status: e.status, at: new Date(e.at), reason: e.reason })), { status: "received", at: new Date(received.at), reason: "posted" as const }];
  await insertLeadEvents(deps.database, ping.id, history);

  // The kept ranking, against the channels as they are now; each bid's channel must still take the lead.
  const trail: AuctionTrail & PricedTrail = { attempts: [...ping.attempts], excluded: [...(ping.excluded as Exclusion[])], buyerWaitMs: 0 };
  if (ping.ranking) trail.ranking = ping.ranking as PricedTrail["ranking"];
  const byId = new Map(plan.channels.map((c) => [c.id, c]));
  const lead = { id: ping.id, supplierId: supplier.id, test: ping.test, data, receivedAt: deadline.receivedAt, seenBuyers: new Set(intake.seenBuyers) };
  // User choice sells to exactly the chosen offers' buyers; a shared sale to the ping's best max_sells, refilled down its ranking.
  const chosen = offerIds && new Set(offerIds);
  const keptBids = chosen ? ping.bids.filter((b) => chosen.has(b.offer_id ?? "")) : ping.bids;
  // Each channel still to be offered the lead takes its concurrency slot again (none was held since the ping).
  const bidChannels = [...new Set(keptBids.map((b) => b.channel_id))].flatMap((id) => {
    const channel = byId.get(id);
    if (!channel) trail.excluded.push({ channel_id: id, reason: "archived" });
    return channel ? [channel] : [];
  });
  if (plan.hasCaps) await deps.caps.view.fresh();
  const eligibility = selectChannels(bidChannels, lead, processWorld(deps.caps, deps.limiter));
  trail.excluded.push(...eligibility.excluded);
  const eligible = new Set(eligibility.eligible.map((c) => c.id));
  const payoutRule = payoutRuleFor(supplier, campaign);
  const ranking: Bid[] = [];
  const sharedSale = ping.bids.some((b) => b.sale === "shared");
  const slotted = new Set<string>();
  const channelBids = new Map<string, Bid[]>();
  // Each answer's captures, kept with the first of its bids (ping.bids, not necessarily one chosen).
  const capturesOf = new Map(ping.bids.flatMap((b) => (b.captures ? [[b.ping_id, b.captures] as const] : [])));
  for (const kept of keptBids) {
    const channel = byId.get(kept.channel_id);
    if (!channel || !eligible.has(channel.id)) continue;
    const bid = new Bid(channel, kept.price_cents, kept.ping_id, kept.ping_ref, kept.expires_at);
    if (kept.charge_cents !== kept.price_cents) bid.chargeCents = kept.charge_cents;
    bid.sale = kept.sale ?? "exclusive";
    bid.bidId = kept.bid_id ?? null;
    bid.captures = kept.captures ?? capturesOf.get(kept.ping_id);
    // selectChannels took one slot per channel: its first bid holds it, and hands it on to the channel's next (post.ts letGo).
    bid.holdsSlot = !slotted.has(channel.id);
    slotted.add(channel.id);
    const siblings = (channelBids.get(channel.id) ?? channelBids.set(channel.id, []).get(channel.id))!;
    siblings.push(bid);
    bid.siblings = siblings;
    // `no_sale`: a bid that would pay the supplier less than its quote is not offered the lead (an exclusive sale's fallback).
    if (!chosen && !sharedSale && inboundOf(plan).below_quote === "no_sale" && payoutCents(payoutRule, bid.chargeCents, campaign.margin) < ping.quoteCents) {
      trail.excluded.push({ channel_id: channel.id, reason: "below_quote" });
      letGo(eligibility.slots, bid);
      continue;
    }
    ranking.push(bid);
  }

  let result: AuctionResult;
  try {
    const none = { status: "unsold", reason: ping.bids.length ? "all_rejected" : ping.reason === "no_eligible_channels" ? "no_eligible_channels" : "no_bids" } as const;
    if (ranking.length === 0) result = { ...trail, ...none };
    else if (sharedSale) {
      const k = Math.min(chosen ? ranking.length : campaign.auction.max_sells, campaign.auction.max_sells);
      result = { ...trail, ...sharedResult(await postShared(deps, campaign, lead, ranking, k, eligibility.slots, deadline, trail)) };
    } else {
      const end = await postWithFallback(deps, campaign, lead, ranking, eligibility.slots, deadline, trail);
      result =
        end.status === "sold"
          ? { ...trail, status: "sold", channel: end.bid.channel, revenueCents: end.priceCents, redirectUrl: end.redirectUrl, sales: [{ channel: end.bid.channel, priceCents: end.priceCents }] }
          : { ...trail, ...end };
    }
  } finally {
    for (const bid of ranking) letGo(eligibility.slots, bid);
    // rank_by expected: a pinged lead's posts count for their channels' acceptance rates, as any lead's (run.ts).
    if (plan.pricing) countPosts(plan.pricing, campaign.id, trail.attempts);
  }
  // The quote's payout when the quoted bid buys at its price; a lower sale pays by its own revenue (never more than the quote).
  const fate = await recordOutcome(deps, plan, lead, eligibility, result, payoutRule, deadline, undefined, metrics);
  return finish(deps, ping, fateAnswer(fate, ping.id));
}

/** A lead's fate as the post's answer. */
function fateAnswer(fate: LeadFate, pingId: string): { status: number; answer: PostAnswer } {
  switch (fate.kind) {
    case "sold":
    case "pending":
    case "unsold":
    case "error":
    case "duplicate":
    case "rejected":
      return { status: 200, answer: { ...fate.answer, ping_id: pingId } };
    case "over_cap":
      return { status: 200, answer: { ...leadAnswer(fate.leadId, "rejected", 0, 0, splitCap(fate.reason)), ping_id: pingId } };
    default:
      throw new Error(`a post cannot end as ${fate.kind}`);
  }
}

function splitCap(reason: ReasonText<"cap_leads" | "cap_spend">): { reason: LeadCode; detail: string | null } {
  const [code, detail] = reason.split(": ");
  return { reason: STAGE_CODES.lead.includes(code as LeadCode) ? (code as LeadCode) : "cap_leads", detail: detail ?? null };
}

async function finish(deps: SellDeps, ping: PingRow, end: { status: number; answer: PostAnswer }): Promise<PostFate> {
  await finishPing(deps.database, ping.id, end.status, end.answer);
  return { kind: "answered", status: end.status, answer: end.answer, replayed: false };
}
