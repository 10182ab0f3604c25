// Steps 4–6 of SPEC.md for one lead, in exclusive mode: ping every eligible channel in parallel
// under the deadline, rank the bids, post to the best one and fall back down the ranking.
// Everything a buyer can do wrong comes back as an attempt with an outcome and a reason.
import { unavailable } from "../db/client";
import type { AttemptRow } from "../db/leads";
import type { PostOutcome } from "../channels/native";
import { waitedInGavelQueue, type BuyerTransport } from "../channels/transport";
import { toCents } from "../money";
import type { CapHold, CapLedger } from "./caps";
import type { CampaignPlan, ChannelPlan } from "./catalog";
import type { Eligibility } from "./eligibility";
import type { ChannelLimiter } from "./limiter";
import { rankBids } from "./rank";

export interface AuctionLead {
  id: string;
  supplierId: string;
  test: boolean;
  data: Record<string, unknown>;
  /** Wall-clock epoch ms at intake, and the same instant on the monotonic clock. */
  receivedAt: number;
  receivedMono: number;
}

export interface AuctionDeps {
  transport: BuyerTransport;
  newId(): string;
  random(): number;
  maxBodyBytes: number;
  /** Requests in flight per channel in this process (max_concurrency). */
  limiter: ChannelLimiter;
  /** Exact cap reservations before each post. */
  caps: CapLedger;
}

export interface Bid {
  channel: ChannelPlan;
  channelId: string;
  priceCents: number;
  priority: number;
  weight: number;
  pingRef: string | null;
  pingId: string | null;
  /** Wall-clock epoch ms after which the buyer no longer honours this bid; null: no expiry. */
  expiresAt: number | null;
}

export interface AuctionResult {
  status: "sold" | "unsold" | "error";
  reason: string | null;
  revenueCents: number;
  soldTo: ChannelPlan | null;
  redirectUrl: string | null;
  attempts: AttemptRow[];
  excluded: { channel_id: string; reason: string }[];
  /** Milliseconds spent waiting on buyers (ping phase plus posts); the rest of a lead's time is Gavel's. */
  buyerWaitMs: number;
}

/** Time kept free after the ping phase so that at least one post fits before the deadline. */
export function postReserveMs(plan: CampaignPlan): number {
  const a = plan.campaign.auction;
  return a.post_reserve_ms ?? Math.min(500, Math.floor(a.timeout_ms / 2));
}

/** The lowest acceptable price: the campaign floor, and never below a fixed payout owed to the supplier. */
export function floorCents(plan: CampaignPlan, payoutFixedCents: number | null): number {
  return Math.max(toCents(plan.campaign.auction.floor), payoutFixedCents ?? 0);
}

async function pingChannels(
  deps: AuctionDeps,
  plan: CampaignPlan,
  lead: AuctionLead,
  channels: ChannelPlan[],
  pingsEndMono: number,
  floor: number,
  attempts: AttemptRow[],
  excluded: AuctionResult["excluded"],
): Promise<Bid[]> {
  const publicData: Record<string, unknown> = {};
  for (const name of plan.fields.publicFields) if (lead.data[name] !== undefined) publicData[name] = lead.data[name];
  // Serialised once for every native ping of this lead.
  const publicJson = JSON.stringify(publicData);
  const campaignTimeout = plan.campaign.auction.ping_timeout_ms;
  // A channel at its max_concurrency is left out now rather than queued behind its other leads.
  const admitted = channels.filter((channel) => {
    if (deps.limiter.tryAcquire(channel.id, channel.maxConcurrency)) return true;
    excluded.push({ channel_id: channel.id, reason: "throttled" });
    return false;
  });
  const answers = await Promise.all(
    admitted.map(async (channel) => {
      const startedAt = wallNow(lead);
      const budget = Math.min(channel.config.ping?.timeout_ms ?? campaignTimeout, pingsEndMono - performance.now());
      const channelFloor = Math.max(channel.minBidCents, floor);
      const pingId = deps.newId();
      const request = channel.io.buildPing(
        { pingId, leadId: lead.id, campaign: plan.campaign.id, test: lead.test, publicData, publicJson },
        Math.max(0, budget),
        deps.maxBodyBytes,
      );
      let response;
      try {
        response = await deps.transport.send(request);
      } finally {
        deps.limiter.release(channel.id);
      }
      const outcome = channel.io.readPing(response, channelFloor, wallNow(lead));
      attempts.push({
        kind: "ping",
        channelId: channel.id,
        startedAt: new Date(startedAt),
        durationMs: response.durationMs,
        httpStatus: response.kind === "response" || response.kind === "too_large" ? response.status : null,
        outcome: outcome.outcome,
        priceCents: outcome.priceCents,
        reason: outcome.reason,
        pingRef: outcome.pingRef,
        congested: waitedInGavelQueue(response),
      });
      return outcome.outcome === "bid"
        ? { channel, priceCents: outcome.priceCents, pingRef: outcome.pingRef, pingId, expiresAt: outcome.expiresAt ?? null }
        : null;
    }),
  );
  return answers
    .filter((a): a is NonNullable<typeof a> => a !== null)
    .map((a) => ({ ...a, channelId: a.channel.id, priority: a.channel.config.priority, weight: a.channel.config.weight }));
}

/**
 * Wall-clock now on the lead's monotonic clock: the app clock that stamped its arrival, moved on by
 * the monotonic time since. A bid's expiry compares with the same time the auction runs on, and
 * attempts are stamped with it, so they fall in the day (the `attempts` partition) of the clock the
 * partitions are kept by.
 */
const wallNow = (lead: AuctionLead) => lead.receivedAt + (performance.now() - lead.receivedMono);

const isOutcomeUnknown = (post: { outcome: string }) => post.outcome === "unknown" || post.outcome === "invalid_response";

/**
 * Gives a reservation back; false when the database cannot take it now (the reservation then
 * stays counted: a cap errs on the side of selling less, never more).
 */
async function giveBack(caps: CapLedger, hold: CapHold): Promise<boolean> {
  try {
    await caps.releaseCap(hold);
    return true;
  } catch (error) {
    if (unavailable(error)) return false;
    throw error;
  }
}

export async function runAuction(
  deps: AuctionDeps,
  plan: CampaignPlan,
  lead: AuctionLead,
  eligibility: Eligibility,
  payoutFixedCents: number | null,
): Promise<AuctionResult> {
  const auction = plan.campaign.auction;
  const deadlineMono = lead.receivedMono + auction.timeout_ms;
  const attempts: AttemptRow[] = [];
  const excluded = [...eligibility.excluded];
  const floor = floorCents(plan, payoutFixedCents);

  // Step 4: direct_post channels join at their fixed price; ping_post channels are pinged.
  const bids: Bid[] = [];
  const toPing: ChannelPlan[] = [];
  for (const channel of eligibility.eligible) {
    if (channel.config.type === "ping_post") {
      toPing.push(channel);
      continue;
    }
    const price = channel.fixedPriceCents ?? 0;
    if (price < Math.max(floor, channel.minBidCents)) excluded.push({ channel_id: channel.id, reason: "below_floor" });
    else
      bids.push({
        channel,
        channelId: channel.id,
        priceCents: price,
        priority: channel.config.priority,
        weight: channel.config.weight,
        pingRef: null,
        pingId: null,
        expiresAt: null,
      });
  }
  const pingStart = performance.now();
  if (toPing.length) {
    const pingsEndMono = deadlineMono - postReserveMs(plan);
    bids.push(...(await pingChannels(deps, plan, lead, toPing, pingsEndMono, floor, attempts, excluded)));
  }
  let buyerWaitMs = performance.now() - pingStart;

  // Steps 5 and 6: rank, then post down the ranking until a buyer accepts or time runs out.
  const ranking = rankBids(bids, deps.random);
  /** The auction's end without a sale. */
  const noSale = (status: "unsold" | "error", reason: string): AuctionResult => ({
    status,
    reason,
    revenueCents: 0,
    soldTo: null,
    redirectUrl: null,
    attempts,
    excluded,
    buyerWaitMs,
  });
  const deadline = () => noSale("unsold", "deadline");
  // Without the database no cap can be reserved, so no post may go out: the auction ends in error.
  // A post whose outcome was already unknown keeps its reason: a buyer may have taken the lead.
  const noDatabase = () =>
    noSale("error", attempts.some((a) => a.kind === "post" && isOutcomeUnknown(a)) ? "post_outcome_unknown" : "database_unavailable");
  for (const bid of ranking) {
    if (deadlineMono - performance.now() <= 0) return deadline();
    const channel = bid.channel;
    // The buyer said how long its bid stands: past that, posting would only earn a reject.
    if (bid.expiresAt !== null && wallNow(lead) >= bid.expiresAt) {
      attempts.push({
        kind: "post",
        channelId: channel.id,
        startedAt: new Date(wallNow(lead)),
        durationMs: 0,
        httpStatus: null,
        outcome: "skipped",
        priceCents: bid.priceCents,
        reason: "bid_expired",
        pingRef: bid.pingRef,
      });
      continue;
    }
    if (!deps.limiter.tryAcquire(channel.id, channel.maxConcurrency)) {
      excluded.push({ channel_id: channel.id, reason: "throttled" });
      continue;
    }
    let post: PostOutcome;
    let hold: CapHold;
    try {
      // Reserve the caps before posting, so two processes cannot both sell the last lead of the
      // day; a bid that no longer fits is skipped with the cap's reason.
      let reservation;
      try {
        reservation = await deps.caps.reserveCap(channel, lead, bid.priceCents);
      } catch (error) {
        if (unavailable(error)) return noDatabase();
        throw error;
      }
      if (!reservation.ok) {
        excluded.push({ channel_id: channel.id, reason: reservation.reason });
        continue;
      }
      hold = reservation.hold;
      const left = deadlineMono - performance.now();
      if (left <= 0) {
        const given = await giveBack(deps.caps, hold);
        return given ? deadline() : noDatabase();
      }
      const startedAt = wallNow(lead);
      const request = channel.io.buildPost(
        {
          leadId: lead.id,
          channelId: channel.id,
          pingId: bid.pingId,
          pingRef: bid.pingRef,
          campaign: plan.campaign.id,
          test: lead.test,
          priceCents: bid.priceCents,
          data: lead.data,
        },
        Math.min(channel.config.post.timeout_ms ?? auction.post_timeout_ms, left),
        deps.maxBodyBytes,
      );
      const response = await deps.transport.send(request);
      buyerWaitMs += response.durationMs;
      post = channel.io.readPost(response, bid.priceCents);
      attempts.push({
        kind: "post",
        channelId: channel.id,
        startedAt: new Date(startedAt),
        durationMs: response.durationMs,
        httpStatus: response.kind === "response" || response.kind === "too_large" ? response.status : null,
        outcome: post.outcome,
        priceCents: post.outcome === "accepted" ? post.priceCents : bid.priceCents,
        reason: post.reason,
        pingRef: bid.pingRef,
        congested: waitedInGavelQueue(response),
      });
    } finally {
      deps.limiter.release(channel.id);
    }
    if (post.outcome === "accepted") {
      // The sale stands whatever happens next: spend the buyer did not use stays counted if the
      // database cannot take it back now (a cap errs on the side of selling less, never more).
      if (post.priceCents < bid.priceCents) await deps.caps.settleCap(hold, bid.priceCents, post.priceCents).catch(() => {});
      return {
        status: "sold",
        reason: null,
        revenueCents: post.priceCents,
        soldTo: channel,
        redirectUrl: post.redirectUrl,
        attempts,
        excluded,
        buyerWaitMs,
      };
    }
    // The buyer may have taken the lead: its reservation stays, and offering the lead to anyone
    // else could sell it twice.
    if (isOutcomeUnknown(post)) {
      if (auction.on_post_timeout === "stop") return noSale("error", "post_outcome_unknown");
      continue;
    }
    // Rejected or errored: the sale did not happen, so the caps it reserved are free again.
    if (!(await giveBack(deps.caps, hold))) return noDatabase();
  }
  return noSale("unsold", ranking.length === 0 ? (eligibility.eligible.length === 0 ? "no_eligible_channels" : "no_bids") : "all_rejected");
}
