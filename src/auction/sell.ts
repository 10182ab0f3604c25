// One lead from a supplier, start to finish (SPEC.md steps 1–7): validate, deduplicate, record,
// select channels, run the auction, persist the outcome and answer.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import type { Database } from "../db/client";
import {
  claimIdempotencyKey,
  finishLead,
  insertLeadForAuction,
  insertRejectedLead,
  releaseIdempotencyKey,
  storeIdempotentResponse,
  type IdempotentResponse,
} from "../db/leads";
import { GavelError, invalid } from "../errors";
import { dedupKeys } from "../leads/dedup";
import { longestPingMs, type Metrics } from "../metrics";
import { fromCents, toCents, type Payout, type Supplier } from "../resources/schemas";
import type { Catalog, CampaignPlan, Clock } from "./catalog";
import { selectChannels } from "./eligibility";
import type { AuctionGate } from "./gate";
import { runAuction, type AuctionDeps, type AuctionResult } from "./run";

export interface SellDeps extends AuctionDeps {
  database: Database;
  catalog: Catalog;
  gate: AuctionGate;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
}

export const LeadSubmission = z
  .object({
    campaign: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
    test: z.boolean().default(false),
  })
  .strict();

export interface LeadAnswer {
  lead_id: string;
  status: "sold" | "unsold" | "duplicate" | "error";
  price: number;
  sold_to: number;
  trace_url: string;
}

export interface SellResult {
  httpStatus: number;
  body: unknown;
  replayed: boolean;
}

const DAY_MS = 86_400_000;

/** What the supplier is paid for a sale: its own payout rule if it has one, else the campaign's. */
export function payoutCents(rule: Payout, revenueCents: number): number {
  // Revenue share rounds down to the cent, so the payout never exceeds the share.
  return rule.type === "fixed" ? toCents(rule.amount) : Math.floor((revenueCents * rule.percent) / 100);
}

function answer(leadId: string, status: LeadAnswer["status"], priceCents: number, soldTo: number): LeadAnswer {
  return { lead_id: leadId, status, price: fromCents(priceCents), sold_to: soldTo, trace_url: `/v1/leads/${leadId}` };
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

  // Admission before anything else costs a buyer or the database a thing.
  if (!deps.gate.tryEnter()) {
    deps.metrics?.recordOverloaded();
    throw new GavelError("overloaded", "Gavel is at its bound of concurrent auctions", { retryAfter: 1 });
  }
  try {
    let idempotent: IdempotentResponse | undefined;
    if (idempotencyKey !== undefined) {
      const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
      const claim = await claimIdempotencyKey(deps.database, supplier.id, idempotencyKey, requestHash);
      if (claim.kind === "mismatch")
        throw new GavelError("idempotency_mismatch", "This Idempotency-Key was used with a different request body");
      if (claim.kind === "running") throw new GavelError("idempotency_in_progress", "A request with this Idempotency-Key is still running");
      if (claim.kind === "replay") return { httpStatus: claim.status, body: claim.body, replayed: true };
      idempotent = { supplierId: supplier.id, key: idempotencyKey, status: 200, body: null };
    }
    try {
      return await sellValidated(deps, plan, supplier, submission, received, idempotent);
    } catch (error) {
      // Nothing was recorded under this key: give it back so the supplier can retry.
      if (idempotent && !(error instanceof GavelError && error.extra.lead_id))
        await releaseIdempotencyKey(deps.database, supplier.id, idempotent.key).catch(() => {});
      throw error;
    }
  } finally {
    deps.gate.leave();
  }
}

async function sellValidated(
  deps: SellDeps,
  plan: CampaignPlan,
  supplier: Supplier,
  submission: z.infer<typeof LeadSubmission>,
  received: { at: number; mono: number },
  idempotent: IdempotentResponse | undefined,
): Promise<SellResult> {
  const leadId = deps.newId();
  const campaign = plan.campaign;
  const receivedAt = new Date(received.at);

  // Step 1: validate and normalise; an invalid lead is recorded as rejected with every field error.
  const checked = plan.fields.validate(submission.data);
  if (!checked.ok) {
    const error = new GavelError("validation", "The lead has invalid fields", { errors: checked.errors, lead_id: leadId });
    const problem = { status: 422, errors: checked.errors, lead_id: leadId };
    await insertRejectedLead(
      deps.database,
      { id: leadId, campaignId: campaign.id, supplierId: supplier.id, test: submission.test, data: submission.data, receivedAt },
      "invalid:" + checked.errors.map((e) => e.path.replace(/^data\./, "")).join(","),
      idempotent && { ...idempotent, status: 422, body: problem },
    );
    deps.metrics?.recordLead("rejected");
    throw error;
  }
  const data = checked.data;

  // Step 2: record the lead and claim its dedup keys in one statement. Test leads skip dedup so
  // they never block a real consumer.
  const keys = submission.test ? [] : dedupKeys(campaign.dedup, data);
  const status = await insertLeadForAuction(
    deps.database,
    {
      id: leadId,
      campaignId: campaign.id,
      supplierId: supplier.id,
      test: submission.test,
      data,
      receivedAt,
      deadlineAt: new Date(received.at + campaign.auction.timeout_ms),
    },
    { keys, cutoff: new Date(received.at - campaign.dedup.lookback_days * DAY_MS) },
    idempotent,
  );
  if (status === "duplicate") {
    const body = answer(leadId, "duplicate", 0, 0);
    if (idempotent) await storeIdempotentResponse(deps.database, { ...idempotent, body }, leadId);
    deps.metrics?.recordLead("duplicate");
    deps.logger.info({ lead_id: leadId, campaign: campaign.id, supplier: supplier.id, status }, "lead");
    return { httpStatus: 200, body, replayed: false };
  }

  // Steps 3–6.
  const payoutRule = supplier.payout ?? campaign.payout;
  const lead = { id: leadId, supplierId: supplier.id, test: submission.test, data, receivedAt: received.at, receivedMono: received.mono };
  const eligibility = selectChannels(plan.channels, lead);
  const result = await runAuction(deps, plan, lead, eligibility, payoutRule.type === "fixed" ? toCents(payoutRule.amount) : null);

  // Step 7: persist everything in one statement, then answer.
  const payout = result.status === "sold" ? payoutCents(payoutRule, result.revenueCents) : 0;
  const body = answer(leadId, result.status, payout, result.status === "sold" ? 1 : 0);
  const decidedAt = new Date(deps.clock.now());
  const elapsed = performance.now() - received.mono;
  const overheadMs = Math.max(0, Math.round(elapsed - result.buyerWaitMs));
  await finishLead(deps.database, {
    leadId,
    status: result.status,
    reason: result.reason,
    decidedAt,
    priceCents: payout,
    revenueCents: result.revenueCents,
    soldTo: result.status === "sold" ? 1 : 0,
    excluded: result.excluded,
    overheadMs,
    attempts: result.attempts,
    events: [{ status: result.status, at: decidedAt, reason: result.status === "sold" ? `channel:${result.soldTo?.id}` : result.reason }],
    idempotent: idempotent && { ...idempotent, body },
  });
  // The metric, unlike the trace (written by that very statement), includes the final write.
  const total = performance.now() - received.mono;
  deps.metrics?.recordLead(result.status, { elapsedMs: total, overheadMs: Math.max(0, total - result.buyerWaitMs), pingPhaseMs: longestPingMs(result.attempts) });
  logSummary(deps.logger, leadId, campaign.id, supplier.id, result, payout, elapsed, overheadMs);
  return { httpStatus: 200, body, replayed: false };
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
      sold_to: result.soldTo?.id,
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
