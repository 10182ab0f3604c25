// One lead from a supplier, start to finish: SPEC.md's auction, read top to bottom in
// `sellValidated` as its seven steps, each in its own module. `sellLead` around it checks the
// request, claims the Idempotency-Key and makes sure the supplier is answered in time, whatever the
// database does. The lead's fate comes back as a value (answer.ts).
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { unavailable, type Database } from "../db/client";
import type { LeadWriter } from "../db/lead-writer";
import { claimIdempotencyKey, releaseIdempotencyKey, type IdempotentResponse } from "../db/leads";
import { GavelError, invalid } from "../errors";
import type { Metrics } from "../metrics";
import type { Supplier } from "../resources/schemas";
import type { Clock } from "../time/clock";
import { leadUnsettled, replayedAnswer, type LeadFate } from "./answer";
import type { CapLedger, UsageView } from "./caps";
import type { Catalog, CampaignPlan } from "./catalog";
import { Deadline } from "./deadline";
import { processWorld, selectChannels } from "./eligibility";
import { holdIfClosed } from "./hold";
import type { AuctionGate } from "./gate";
import { LeadSubmission, leadOrigin, recordForAuction, recordInvalid, type SellProgress } from "./intake";
import type { ChannelSlots } from "./limiter";
import { recordOutcome } from "./outcome";
import { payoutFloorCents, payoutRuleFor } from "./payout";
import { runAuction, type AuctionDeps } from "./run";

export { LeadAnswer, type LeadFate } from "./answer";
export { LeadSubmission, trackingString } from "./intake";

export interface SellDeps extends AuctionDeps {
  database: Database;
  /** Admission control (http/admission.ts takes a lead's slot); while Gavel is overloaded, unsent requests are not the buyers' fault. */
  gate: AuctionGate;
  /** Group commit of the end-of-auction writes. */
  leadWriter: LeadWriter;
  catalog: Catalog;
  /** Exact cap reservations before each post, and this process's view of usage for eligibility. */
  caps: CapLedger & { view: UsageView };
  /** Requests in flight per channel in this process (max_concurrency). */
  limiter: ChannelSlots;
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
 * Sells one submission. A malformed submission, an unknown or closed campaign and a supplier not
 * allowed on it are request errors (thrown, nothing recorded); so is an Idempotency-Key that is
 * running or was used with another body. Every other end is the lead's fate.
 */
export async function sellLead(
  deps: SellDeps,
  supplier: Supplier,
  body: unknown,
  received: { at: number; mono: number },
  idempotencyKey: string | undefined,
): Promise<LeadFate> {
  const parsed = LeadSubmission.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error, "The lead submission is malformed");
  const submission = parsed.data;
  const plan = await deps.catalog.campaign(submission.campaign);
  if (!plan || plan.campaign.status === "archived") throw new GavelError("not_found", `No campaign '${submission.campaign}'`);
  if (supplier.campaigns !== null && !supplier.campaigns.includes(plan.campaign.id))
    throw new GavelError("forbidden", `This supplier may not send leads to campaign '${plan.campaign.id}'`);
  if (plan.campaign.status !== "active") throw new GavelError("campaign_inactive", `Campaign '${plan.campaign.id}' is ${plan.campaign.status}`);

  // The lead's whole time budget, from its arrival (its wait for an auction slot is spent from it).
  const deadline = new Deadline(received.at, received.mono, plan.campaign.auction, deps.answerGraceMs ?? 1000);
  const progress: SellProgress = { leadId: undefined };
  const keyed = idempotencyKey !== undefined;
  const selling = (async (): Promise<LeadFate> => {
    let idempotent: IdempotentResponse | undefined;
    if (idempotencyKey !== undefined) {
      const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
      const claim = await claimIdempotencyKey(deps.database, supplier.id, idempotencyKey, requestHash);
      if (claim.kind === "mismatch") throw new GavelError("idempotency_mismatch", "This Idempotency-Key was used with a different request body");
      if (claim.kind === "running") throw new GavelError("idempotency_in_progress", "A request with this Idempotency-Key is still running");
      if (claim.kind === "replay") return { kind: "replay", recorded: false, status: claim.status, body: replayedAnswer(claim.body) };
      idempotent = { supplierId: supplier.id, key: idempotencyKey, status: 200, body: null };
    }
    try {
      return await sellValidated(deps, plan, supplier, submission, deadline, idempotent, progress);
    } catch (error) {
      const absent = unavailable(error);
      if (absent && progress.leadId) throw leadUnsettled(absent.message, progress.leadId, keyed);
      throw error;
    } finally {
      // The key is given back only while no lead can have been recorded under it (a supplier cap,
      // or a database that refused the intake): the supplier may then send the same request again.
      // Once a lead may exist, the key is that lead's for good: a retry answers 409 until the lead
      // is settled, then replays its outcome, and never starts a second auction.
      if (idempotent && progress.leadId === undefined) await releaseIdempotencyKey(deps.database, supplier.id, idempotent.key).catch(() => {});
    }
  })();
  return answerBy(deps, selling, deadline, progress, keyed);
}

/**
 * The lead's fate, or a 503 at the deadline's answer-by time if it is not ready by then (the
 * database is failing): a supplier is never left waiting on the database. The sale goes on behind
 * the answer and settles itself; its Idempotency-Key replays the outcome.
 */
function answerBy(deps: SellDeps, selling: Promise<LeadFate>, deadline: Deadline, progress: SellProgress, keyed: boolean): Promise<LeadFate> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        deps.logger.warn({ lead_id: progress.leadId }, "lead not settled by its deadline: answered 503, settling it in the background");
        reject(leadUnsettled("The lead could not be settled by its deadline", progress.leadId, keyed));
      },
      Math.max(0, deadline.answerByMono - deadline.now()),
    );
  });
  selling.catch(() => {}); // answered by `late` if it fails after that
  return Promise.race([selling, late]).finally(() => clearTimeout(timer));
}

/** SPEC.md's seven steps for a submission to an open campaign (the supplier is authenticated by now). */
async function sellValidated(
  deps: SellDeps,
  plan: CampaignPlan,
  supplier: Supplier,
  submission: LeadSubmission,
  deadline: Deadline,
  idempotent: IdempotentResponse | undefined,
  progress: SellProgress,
): Promise<LeadFate> {
  const origin = leadOrigin(deps.newId(), plan.campaign.id, supplier.id, submission);
  // Test leads stay out of every figure.
  const metrics = submission.test ? undefined : deps.metrics;

  // Step 1: validate and normalise; an invalid lead is recorded as rejected, with every field error.
  const checked = plan.fields.validate(submission.data);
  if (!checked.ok) return recordInvalid(deps, origin, submission.data, checked.errors, deadline, idempotent, progress, metrics);

  // Step 2: deduplicate, in the one statement that records the lead (and checks the suppression
  // list and the supplier's caps): a suppressed, duplicate or over-cap lead ends here.
  const intake = await recordForAuction(deps, plan, supplier, origin, checked.data, deadline, idempotent, progress, metrics);
  if (intake.kind !== "auctioning") return intake;

  // Step 3: the channels that may bid, each holding its concurrency slot.
  const lead = {
    id: origin.id,
    supplierId: supplier.id,
    test: origin.test,
    data: checked.data,
    receivedAt: deadline.receivedAt,
    seenBuyers: new Set(intake.seenBuyers),
  };
  const eligibility = selectChannels(plan.channels, lead, processWorld(deps.caps, deps.limiter));
  // Every channel that could take the lead is closed: a campaign with `hold` keeps it until one opens (hold.ts).
  if (plan.campaign.hold && eligibility.eligible.length === 0) {
    const held = await holdIfClosed(deps, plan, lead, eligibility, idempotent, metrics);
    if (held) return held;
  }

  // Steps 4–6: ping, rank, post down the ranking.
  const payoutRule = payoutRuleFor(supplier, plan.campaign);
  const result = await runAuction(deps, plan, lead, eligibility, deadline, payoutFloorCents(payoutRule, plan.campaign.margin));

  // Step 7: persist the outcome, then answer.
  return recordOutcome(deps, plan, lead, eligibility, result, payoutRule, deadline, idempotent, metrics);
}
