// Step 7 of SPEC.md: the auction's outcome is persisted in one statement (grouped with other leads
// ending now, db/lead-writer.ts) — the lead, every ping and post, its history and its
// Idempotency-Key's answer — and only then is the supplier answered.
import type { Logger } from "pino";
import { confirmWithinMs } from "../channels/config";
import { settleHealth } from "../channels/health";
import type { LeadWriter } from "../db/lead-writer";
import type { IdempotentResponse, LeadEvent, LeadOutcome } from "../db/leads";
import { longestPingMs, type Metrics } from "../metrics";
import { fromCents } from "../money";
import { reasonText } from "../reasons";
import type { Payout } from "../resources/schemas";
import type { Clock } from "../time/clock";
import { leadAnswer, leadUnsettled, type LeadFate } from "./answer";
import type { CampaignPlan } from "./catalog";
import type { Deadline } from "./deadline";
import type { Eligibility } from "./eligibility";
import type { AuctionGate } from "./gate";
import { payoutCents } from "./payout";
import { isOutcomeUnknown } from "./post";
import type { AuctionResult } from "./run";

export interface OutcomeDeps {
  leadWriter: LeadWriter;
  gate: AuctionGate;
  clock: Clock;
  logger: Logger;
}

/**
 * Records how the auction of `lead` ended and answers the supplier. Channels hear how their buyers
 * did (their circuit breakers), whatever becomes of the write; a write the database does not take
 * in time is a 503 (thrown), and the lead settles in the background.
 */
export async function recordOutcome(
  deps: OutcomeDeps,
  plan: CampaignPlan,
  lead: { id: string; supplierId: string },
  eligibility: Eligibility,
  result: AuctionResult,
  payoutRule: Payout,
  deadline: Deadline,
  idempotent: IdempotentResponse | undefined,
  metrics: Metrics | undefined,
): Promise<LeadFate> {
  const campaign = plan.campaign;
  // The lead is the owner of any half-open circuit's probe it was let through (eligibility.ts).
  settleHealth(eligibility.eligible, result.attempts, lead, lead.id, deps.clock.now(), deps.gate.overloaded());
  // What the buyers did, whatever becomes of the write.
  metrics?.recordAttempts(campaign.id, result.attempts);

  const sold = result.status === "sold" ? result : null;
  // The payout rule, then the campaign's margin (payout.ts).
  const payout = sold ? payoutCents(payoutRule, sold.revenueCents, campaign.margin) : 0;
  const decidedAt = new Date(deps.clock.now());
  // A channel whose buyer's postback confirms its sales (`post.confirmed_by`): its acceptance
  // leaves the lead pending, offered to no one else, its reservation kept, until the postback
  // sells it or the wait ends unsold (src/reconciliation/confirm.ts). The lead keeps what the sale
  // would be (revenue, payout, channel); nothing counts it sold meanwhile.
  const waitMs = sold && sold.sales.length === 1 ? confirmWithinMs(sold.channel.config) : null;
  const pending = waitMs !== null;
  const status = pending ? "pending" : result.status;
  // A shared lead's payout is the rule applied to the revenue of all its sales. A pending lead's
  // answer quotes the payout its confirmation brings, and no sale yet.
  const answer = leadAnswer(lead.id, status, payout, sold && !pending ? sold.sales.length : 0);
  if (sold?.redirectUrl && campaign.return_redirect_url) answer.redirect_url = sold.redirectUrl;
  const elapsed = deadline.now() - deadline.receivedMono;
  const overheadMs = Math.max(0, Math.round(elapsed - result.buyerWaitMs));
  // A lead sold while another of its posts has an unknown outcome (shared posting, or exclusive
  // with `on_post_timeout: next`) is still to be reconciled: it keeps `post_outcome_unknown`, so the
  // listing by reason finds it and that post is settled later (its buyer's postback or an
  // operator's resolve, src/reconciliation/resolve.ts), its reservation and claim kept meanwhile.
  const reason = pending
    ? reasonText("awaiting_confirmation", awaitingDetail(sold!.channel.id, new Date(decidedAt.getTime() + waitMs)))
    : result.status === "sold"
      ? result.attempts.some((a) => a.kind === "post" && isOutcomeUnknown(a))
        ? reasonText("post_outcome_unknown")
        : null
      : result.reason;
  const written = await deps.leadWriter.finish({
    leadId: lead.id,
    status,
    reason,
    decidedAt,
    priceCents: payout,
    revenueCents: sold ? sold.revenueCents : 0,
    soldTo: sold && !pending ? sold.sales.length : 0,
    soldChannelId: sold ? sold.channel.id : null,
    soldBuyerId: sold ? sold.channel.buyerId : null,
    excluded: result.excluded,
    routing: result.routing ?? null,
    ranking: result.ranking ?? null,
    overheadMs,
    attempts: result.attempts,
    events: pending ? [{ status: "pending", at: decidedAt, reason }] : outcomeEvents(result, decidedAt, reason),
    idempotent: idempotent && { ...idempotent, body: answer },
  });
  // Another process settled the lead as interrupted first (this one could not write for that
  // long): the record, not this auction's result, is the answer, and its key replays it.
  if (!written) throw leadUnsettled("The lead was settled as interrupted before its outcome could be written", lead.id, idempotent !== undefined);
  // The metric, unlike the trace (written by that very statement), includes the final write.
  const total = deadline.now() - deadline.receivedMono;
  metrics?.recordLead(status, { elapsedMs: total, overheadMs: Math.max(0, total - result.buyerWaitMs), pingPhaseMs: longestPingMs(result.attempts) });
  logSummary(deps.logger, lead, campaign.id, result, payout, elapsed, overheadMs, pending);
  return { kind: status, recorded: true, answer };
}

/** A pending lead's reason detail: its channel and when its wait ends (read back by `pendingUntil`). */
export const awaitingDetail = (channelId: string, until: Date) => `${channelId} until ${until.toISOString()}`;

/** The lead's history from its auction: a `best` campaign's choice, then its verdict — one `sold` per sale. */
function outcomeEvents(result: AuctionResult, at: Date, reason: LeadOutcome["reason"]): LeadEvent[] {
  const events: LeadEvent[] = result.saleChosen ? [{ status: "auctioning", at, reason: result.saleChosen }] : [];
  if (result.status === "sold") for (const sale of result.sales) events.push({ status: "sold", at, reason: reasonText("sold_to", sale.channel.id) });
  else events.push({ status: result.status, at, reason });
  return events;
}

/** One line per lead (STYLE.md): how it ended, what it brought, how many buyers it took. */
function logSummary(
  logger: Logger,
  lead: { id: string; supplierId: string },
  campaign: string,
  result: AuctionResult,
  payout: number,
  elapsed: number,
  overheadMs: number,
  pending: boolean,
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
  const sold = result.status === "sold" ? result : null;
  logger.info(
    {
      lead_id: lead.id,
      campaign,
      supplier: lead.supplierId,
      status: pending ? "pending" : result.status,
      reason: result.status === "sold" ? null : result.reason,
      price: fromCents(payout),
      revenue: fromCents(sold ? sold.revenueCents : 0),
      // Who bought, named as in the trace (`sold_to` in the supplier's answer is a count).
      sold_channel: sold ? sold.channel.id : null,
      sold_buyer: sold ? sold.channel.buyerId : null,
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
