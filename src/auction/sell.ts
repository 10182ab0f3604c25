// One lead from a supplier, start to finish (SPEC.md steps 1–7): validate, deduplicate, record,
// select channels, run the auction, persist the outcome and answer.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { isCapViolation, readUsage } from "../db/caps";
import { unavailable, wroteNothing, type Database } from "../db/client";
import type { LeadWriter } from "../db/lead-writer";
import {
  claimIdempotencyKey,
  insertLeadForAuction,
  insertRejectedLead,
  releaseIdempotencyKey,
  storeIdempotentResponse,
  type IdempotentResponse,
} from "../db/leads";
import { GavelError, invalid } from "../errors";
import { settleHealth } from "../channels/health";
import { dedupKeys, supplierDedupKeys } from "../leads/dedup";
import { leadContacts } from "../leads/suppression";
import { longestPingMs, type Metrics } from "../metrics";
import { fromCents } from "../money";
import type { Supplier } from "../resources/schemas";
import { DAY_MS, type Clock } from "../time/clock";
import { capRules, claimOf, fullCap } from "./caps";
import type { Catalog, CampaignPlan } from "./catalog";
import { processWorld, selectChannels } from "./eligibility";
import type { AuctionGate } from "./gate";
import { payoutCents, payoutFloorCents, payoutRuleFor } from "./payout";
import { runAuction, type AuctionDeps, type AuctionResult } from "./run";

export interface SellDeps extends AuctionDeps {
  database: Database;
  /** Admission control (http/admission.ts takes a lead's slot); while Gavel is overloaded, unsent requests are not the buyers' fault. */
  gate: AuctionGate;
  /** Group commit of the end-of-auction writes. */
  leadWriter: LeadWriter;
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  /**
   * A lead request is answered by its deadline plus this at the latest, whatever the database does
   * (GAVEL_ANSWER_GRACE_MS): past it, 503 + Retry-After, and the lead settles on its own.
   */
  answerGraceMs?: number;
}

/**
 * A supplier's tracking string (`source`, `sub_id`): 1 to 100 printable characters, no space at
 * either end, so the same source always groups as one in reports.
 */
export const trackingString = z
  .string()
  .regex(/^(?!\s)[^\p{C}]{1,100}(?<!\s)$/u, "must be 1 to 100 printable characters, with no space at either end");

export const LeadSubmission = z
  .object({
    campaign: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
    test: z.boolean().default(false),
    source: trackingString
      .optional()
      .meta({ description: "Where the supplier got the lead (a site, a publisher, a traffic source): shown to analysts, never sent to buyers" }),
    sub_id: trackingString.optional().meta({ description: "The supplier's finer tracking code within the source (a sub-id, a placement)" }),
  })
  .strict();

export interface LeadAnswer {
  lead_id: string;
  status: "sold" | "unsold" | "duplicate" | "rejected" | "error";
  price: number;
  sold_to: number;
  trace_url: string;
  /** Why a lead was rejected without an auction (`suppressed`). */
  reason?: string;
  /** The buyer's redirect for the consumer, on a sale, when the campaign hands it on. */
  redirect_url?: string;
}

export interface SellResult {
  httpStatus: number;
  body: unknown;
  replayed: boolean;
}

function answer(leadId: string, status: LeadAnswer["status"], priceCents: number, soldTo: number, reason?: string): LeadAnswer {
  return { lead_id: leadId, status, price: fromCents(priceCents), sold_to: soldTo, trace_url: `/v1/leads/${leadId}`, ...(reason && { reason }) };
}

export async function sellLead(
  deps: SellDeps,
  supplier: Supplier,
  body: unknown,
  received: { at: number; mono: number },
  idempotencyKey: string | undefined,
): Promise<SellResult> {
  const parsed = LeadSubmission.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error, "The lead submission is malformed");
  const submission = parsed.data;
  const plan = await deps.catalog.campaign(submission.campaign);
  if (!plan || plan.campaign.status === "archived") throw new GavelError("not_found", `No campaign '${submission.campaign}'`);
  if (supplier.campaigns !== null && !supplier.campaigns.includes(plan.campaign.id))
    throw new GavelError("forbidden", `This supplier may not send leads to campaign '${plan.campaign.id}'`);
  if (plan.campaign.status !== "active") throw new GavelError("campaign_inactive", `Campaign '${plan.campaign.id}' is ${plan.campaign.status}`);

  const progress: SellProgress = { leadId: undefined };
  const keyed = idempotencyKey !== undefined;
  const selling = (async (): Promise<SellResult> => {
    let idempotent: IdempotentResponse | undefined;
    if (idempotencyKey !== undefined) {
      const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
      const claim = await claimIdempotencyKey(deps.database, supplier.id, idempotencyKey, requestHash);
      if (claim.kind === "mismatch") throw new GavelError("idempotency_mismatch", "This Idempotency-Key was used with a different request body");
      if (claim.kind === "running") throw new GavelError("idempotency_in_progress", "A request with this Idempotency-Key is still running");
      if (claim.kind === "replay") return { httpStatus: claim.status, body: claim.body, replayed: true };
      idempotent = { supplierId: supplier.id, key: idempotencyKey, status: 200, body: null };
    }
    try {
      return await sellValidated(deps, plan, supplier, submission, received, idempotent, progress);
    } catch (error) {
      // The key is given back only while no lead can have been recorded under it (e.g. a supplier
      // cap, or a database that refused the intake): the supplier may then send the same request
      // again. Once a lead may exist, the key is that lead's for good: a retry answers 409 until
      // the lead is settled, then replays its outcome, and never starts a second auction.
      if (idempotent && progress.leadId === undefined) await releaseIdempotencyKey(deps.database, supplier.id, idempotent.key).catch(() => {});
      const absent = unavailable(error);
      if (absent && progress.leadId) throw leadUnsettled(absent.message, progress.leadId, keyed);
      throw error;
    }
  })();
  return answerBy(deps, selling, received.mono + plan.campaign.auction.timeout_ms + (deps.answerGraceMs ?? 1000), progress, keyed);
}

/**
 * How far a lead got: its id once a lead may have been recorded under it (and under its
 * Idempotency-Key, which from then on is never given back).
 */
interface SellProgress {
  leadId: string | undefined;
}

/** A 503 for a lead that could not be settled now: with its id, when one may have been recorded. */
function leadUnsettled(why: string, leadId: string | undefined, keyed: boolean): GavelError {
  const after = leadId
    ? `; the lead was recorded${keyed ? ": send the same request with the same Idempotency-Key to read its outcome once it is settled" : ""}`
    : "";
  return new GavelError("database_unavailable", why + after, { ...(leadId && { lead_id: leadId }), retryAfter: 2 });
}

/**
 * The lead's answer, or a 503 at `latestMono` if it is not ready by then (the database is failing):
 * a supplier is never left waiting on the database. The sale goes on behind the answer and settles
 * itself; its Idempotency-Key replays the outcome.
 */
function answerBy(deps: SellDeps, selling: Promise<SellResult>, latestMono: number, progress: SellProgress, keyed: boolean): Promise<SellResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        deps.logger.warn({ lead_id: progress.leadId }, "lead not settled by its deadline: answered 503, settling it in the background");
        reject(leadUnsettled("The lead could not be settled by its deadline", progress.leadId, keyed));
      },
      Math.max(0, latestMono - performance.now()),
    );
  });
  selling.catch(() => {}); // answered by `late` if it fails after that
  return Promise.race([selling, late]).finally(() => clearTimeout(timer));
}

async function sellValidated(
  deps: SellDeps,
  plan: CampaignPlan,
  supplier: Supplier,
  submission: z.infer<typeof LeadSubmission>,
  received: { at: number; mono: number },
  idempotent: IdempotentResponse | undefined,
  progress: SellProgress,
): Promise<SellResult> {
  const leadId = deps.newId();
  /** Runs a statement that records the lead under the key: unless it certainly wrote nothing, the key is the lead's. */
  const recording = async <T>(statement: () => Promise<T>): Promise<T> => {
    try {
      const result = await statement();
      progress.leadId = leadId;
      return result;
    } catch (error) {
      if (!wroteNothing(error)) progress.leadId = leadId;
      throw error;
    }
  };
  const campaign = plan.campaign;
  const receivedAt = new Date(received.at);
  // Test leads stay out of every figure.
  const metrics = submission.test ? undefined : deps.metrics;

  // Step 1: validate and normalise; an invalid lead is recorded as rejected with every field error.
  const checked = plan.fields.validate(submission.data);
  if (!checked.ok) {
    const error = new GavelError("validation", "The lead has invalid fields", { errors: checked.errors, lead_id: leadId });
    const problem = { status: 422, errors: checked.errors, lead_id: leadId };
    await recording(() =>
      insertRejectedLead(
        deps.database,
        { ...leadOrigin(leadId, campaign.id, supplier.id, submission), data: submission.data, receivedAt },
        "invalid:" + checked.errors.map((e) => e.path.replace(/^data\./, "")).join(","),
        idempotent && { ...idempotent, status: 422, body: problem },
      ),
    );
    metrics?.recordLead("rejected");
    throw error;
  }
  const data = checked.data;

  // Step 2: record the lead in one statement that also checks the suppression list, claims its
  // dedup keys, reserves its supplier's caps and learns which buyers already have this consumer.
  // Test leads skip dedup and caps so they never block a real consumer or use up a cap.
  const test = submission.test;
  const at = received.at;
  const newLead = {
    ...leadOrigin(leadId, campaign.id, supplier.id, submission),
    data,
    receivedAt,
    deadlineAt: new Date(at + campaign.auction.timeout_ms),
  };
  const supplierWindowMs = (campaign.dedup.supplier_window_minutes ?? 0) * 60_000;
  const supplierRules = test ? [] : capRules("supplier", supplier.id, supplier.caps ?? [], supplier.timezone ?? "UTC", "cap");
  if (supplierRules.length || plan.hasCaps) await deps.caps.view.fresh();
  // Plainly over its cap by this process's view: refused without trying.
  const plainlyFull = fullCap(supplierRules, at, 0, (k) => deps.caps.view.get(k));
  if (plainlyFull) return refuseOverCap(deps, newLead, plainlyFull);
  const buyerLookups = test ? [] : buyersWithDedup(plan, data, at);
  const supplierClaims = supplierRules.map((rule) => claimOf(rule, at, 0));
  let verdict;
  try {
    verdict = await recording(() => insertLeadForAuction(
      deps.database,
      newLead,
      {
        dedup: { keys: test ? [] : dedupKeys(campaign.dedup, data), cutoff: new Date(at - campaign.dedup.lookback_days * DAY_MS) },
        resubmit:
          test || supplierWindowMs === 0
            ? undefined
            : { keys: supplierDedupKeys(supplier.id, campaign.dedup, data), cutoff: new Date(at - supplierWindowMs) },
        suppression: leadContacts(plan.fields.contactFields, data),
        supplierCaps: supplierClaims,
        buyerLookups,
      },
      idempotent,
    ));
  } catch (error) {
    // A supplier cap had no room: the statement recorded nothing. Find which cap, and record the refusal.
    if (!isCapViolation(error)) throw error;
    const usage = await readUsage(deps.database.db, supplierClaims);
    deps.caps.view.update(usage);
    const full = fullCap(supplierRules, at, 0, (k) => deps.caps.view.get(k)) ?? { reason: `cap:${supplierRules[0].period}:leads`, claim: supplierClaims[0] };
    return refuseOverCap(deps, newLead, full);
  }
  if (verdict.status !== "auctioning") {
    const status = verdict.status;
    const body = answer(leadId, status, 0, 0, status === "rejected" ? (verdict.reason ?? undefined) : undefined);
    if (idempotent) await storeIdempotentResponse(deps.database, { ...idempotent, body }, leadId);
    metrics?.recordLead(status);
    deps.logger.info({ lead_id: leadId, campaign: campaign.id, supplier: supplier.id, status, reason: verdict.reason }, "lead");
    return { httpStatus: 200, body, replayed: false };
  }

  // Steps 3–6.
  const payoutRule = payoutRuleFor(supplier, campaign);
  const lead = {
    id: leadId,
    supplierId: supplier.id,
    test,
    data,
    receivedAt: at,
    receivedMono: received.mono,
    seenBuyers: new Set(verdict.seenBuyers),
  };
  const eligibility = selectChannels(plan.channels, lead, processWorld(deps.caps, deps.limiter));
  const result = await runAuction(deps, plan, lead, eligibility, payoutFloorCents(payoutRule));
  settleHealth(eligibility.eligible, result.attempts, lead, leadId, deps.clock.now(), deps.gate.overloaded());
  // What the buyers did, whatever becomes of the write.
  metrics?.recordAttempts(campaign.id, result.attempts);

  // Step 7: persist everything in one statement (grouped with other leads ending now), then answer.
  const payout = result.status === "sold" ? payoutCents(payoutRule, result.revenueCents) : 0;
  const body = answer(leadId, result.status, payout, result.status === "sold" ? 1 : 0);
  if (result.status === "sold" && result.redirectUrl && campaign.return_redirect_url) body.redirect_url = result.redirectUrl;
  const decidedAt = new Date(deps.clock.now());
  const elapsed = performance.now() - received.mono;
  const overheadMs = Math.max(0, Math.round(elapsed - result.buyerWaitMs));
  const written = await deps.leadWriter.finish({
    leadId,
    status: result.status,
    reason: result.reason,
    decidedAt,
    priceCents: payout,
    revenueCents: result.revenueCents,
    soldTo: result.status === "sold" ? 1 : 0,
    soldChannelId: result.soldTo?.id ?? null,
    soldBuyerId: result.soldTo?.buyerId ?? null,
    excluded: result.excluded,
    overheadMs,
    attempts: result.attempts,
    events: [{ status: result.status, at: decidedAt, reason: result.status === "sold" ? `channel:${result.soldTo?.id}` : result.reason }],
    idempotent: idempotent && { ...idempotent, body },
  });
  // Another process settled the lead as interrupted first (this one could not write for that
  // long): the record, not this auction's result, is the answer, and its key replays it.
  if (!written)
    throw leadUnsettled("The lead was settled as interrupted before its outcome could be written", leadId, idempotent !== undefined);
  // The metric, unlike the trace (written by that very statement), includes the final write.
  const total = performance.now() - received.mono;
  metrics?.recordLead(result.status, { elapsedMs: total, overheadMs: Math.max(0, total - result.buyerWaitMs), pingPhaseMs: longestPingMs(result.attempts) });
  logSummary(deps.logger, leadId, campaign.id, supplier.id, result, payout, elapsed, overheadMs);
  return { httpStatus: 200, body, replayed: false };
}

/** Who sent a lead and how it is tracked: what every record of it starts with, rejected or not. */
function leadOrigin(id: string, campaignId: string, supplierId: string, submission: z.infer<typeof LeadSubmission>) {
  return { id, campaignId, supplierId, test: submission.test, source: submission.source ?? null, subId: submission.sub_id ?? null };
}

/** Each buyer with a dedup window among the campaign's channels, with this consumer's keys for it. */
function buyersWithDedup(plan: CampaignPlan, data: Record<string, unknown>, at: number) {
  const lookups = new Map<string, { buyerId: string; keys: string[]; cutoff: Date }>();
  for (const channel of plan.channels) {
    if (!channel.buyerDedup || lookups.has(channel.buyerId)) continue;
    const keys = dedupKeys(channel.buyerDedup.rule, data);
    if (keys.length) lookups.set(channel.buyerId, { buyerId: channel.buyerId, keys, cutoff: new Date(at - channel.buyerDedup.lookbackMs) });
  }
  return [...lookups.values()];
}

/**
 * A supplier over its cap: the lead is recorded as `rejected` with the cap's reason and the
 * supplier is answered 429 with Retry-After until the cap resets; its Idempotency-Key is given
 * back, so the same request may be sent again then.
 */
async function refuseOverCap(
  deps: SellDeps,
  lead: Parameters<typeof insertRejectedLead>[1],
  full: { reason: string; claim: { resetsAt: number | null } },
): Promise<never> {
  await insertRejectedLead(deps.database, lead, full.reason);
  if (!lead.test) deps.metrics?.recordLead("rejected");
  deps.logger.info({ lead_id: lead.id, campaign: lead.campaignId, supplier: lead.supplierId, status: "rejected", reason: full.reason }, "lead");
  const retryAfter = full.claim.resetsAt === null ? undefined : Math.max(1, Math.ceil((full.claim.resetsAt - deps.clock.now()) / 1000));
  throw new GavelError("supplier_cap", `This supplier is over its cap (${full.reason})`, { lead_id: lead.id, retryAfter, reason: full.reason });
}

function logSummary(
  logger: Logger,
  leadId: string,
  campaign: string,
  supplier: string,
  result: AuctionResult,
  payout: number,
  elapsed: number,
  overheadMs: number,
): void {
  let pings = 0;
  let bids = 0;
  let posts = 0;
  for (const a of result.attempts) {
    if (a.kind === "ping") {
      pings++;
      if (a.outcome === "bid") bids++;
    } else posts++;
  }
  logger.info(
    {
      lead_id: leadId,
      campaign,
      supplier,
      status: result.status,
      reason: result.reason,
      price: fromCents(payout),
      revenue: fromCents(result.revenueCents),
      // Who bought, named as in the trace (`sold_to` in the supplier's answer is a count).
      sold_channel: result.soldTo?.id ?? null,
      sold_buyer: result.soldTo?.buyerId ?? null,
      pings,
      bids,
      posts,
      excluded: result.excluded.length,
      ms: Math.round(elapsed),
      overhead_ms: overheadMs,
    },
    "lead",
  );
}
