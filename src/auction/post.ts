// Step 6 of SPEC.md: post to the top bid, and fall back down the ranking until a buyer accepts, the
// ranking runs out or the deadline passes. Each post is a step with its compensation: the caps it
// needs are reserved before it, and given back when the sale does not happen (a reject, an error,
// no time left to send it); an accepted post keeps them, and so does a post whose outcome is
// unknown, since the buyer may have taken the lead.
import { unavailable } from "../db/client";
import { postTimeoutOf } from "../channels/config";
import type { PostOutcome } from "../channels/native";
import { waitedInGavelQueue, type BuyerTransport } from "../channels/transport";
import type { AttemptRow } from "../db/leads";
import type { Bid } from "./bid";
import type { CapHold, CapLedger, CapReservation } from "./caps";
import type { Deadline } from "./deadline";
import type { ChannelSlots } from "./limiter";
import type { AuctionLead, AuctionTrail } from "./ping";

export interface PostDeps {
  transport: BuyerTransport;
  caps: CapLedger;
  maxBodyBytes: number;
}

/** What posting reads of the campaign: its id, and `auction.post_timeout_ms` (for a channel without its own) and `on_post_timeout`. */
export interface PostCampaign {
  id: string;
  auction: { post_timeout_ms: number; on_post_timeout: "stop" | "next" };
}

export type PostingEnd =
  | { status: "sold"; bid: Bid; priceCents: number; redirectUrl: string | null }
  | { status: "unsold"; reason: "deadline" | "all_rejected" }
  | { status: "error"; reason: "post_outcome_unknown" | "database_unavailable" };

const DEADLINE: PostingEnd = { status: "unsold", reason: "deadline" };
const ALL_REJECTED: PostingEnd = { status: "unsold", reason: "all_rejected" };
const OUTCOME_UNKNOWN: PostingEnd = { status: "error", reason: "post_outcome_unknown" };
const NO_DATABASE: PostingEnd = { status: "error", reason: "database_unavailable" };

export const isOutcomeUnknown = (post: { outcome: string }) => post.outcome === "unknown" || post.outcome === "invalid_response";

/**
 * Without the database no cap can be reserved, so no post may go out: the auction ends in error.
 * A post whose outcome was already unknown keeps its reason: a buyer may have taken the lead.
 */
const noDatabase = (attempts: readonly AttemptRow[]): PostingEnd =>
  attempts.some((a) => a.kind === "post" && isOutcomeUnknown(a)) ? OUTCOME_UNKNOWN : NO_DATABASE;

/** The step: reserves a bid's caps before its post; null when the database cannot be reached. */
export async function reserve(caps: CapLedger, bid: Bid, lead: AuctionLead): Promise<CapReservation | null> {
  try {
    // What the buyer is charged (its bid, or less under second price: clearing.ts) is what its spend caps count.
    return await caps.reserveCap(bid.channel, lead, bid.chargeCents);
  } catch (error) {
    if (unavailable(error)) return null;
    throw error;
  }
}

/**
 * Its compensation: gives a reservation back; false when the database cannot take it now (the
 * reservation then stays counted: a cap errs on the side of selling less, never more).
 */
export async function giveBack(caps: CapLedger, hold: CapHold): Promise<boolean> {
  try {
    await caps.releaseCap(hold);
    return true;
  } catch (error) {
    if (unavailable(error)) return false;
    throw error;
  }
}

/**
 * The buyer said how long its bid stands: past that, posting would only earn a reject. An expired
 * bid is recorded as a skipped post (`bid_expired`); true when it is.
 */
export function skipExpired(bid: Bid, deadline: Deadline, trail: AuctionTrail): boolean {
  if (bid.expiresAt === null || deadline.wallNow() < bid.expiresAt) return false;
  trail.attempts.push({
    kind: "post",
    channelId: bid.channel.id,
    startedAt: new Date(deadline.wallNow()),
    durationMs: 0,
    httpStatus: null,
    outcome: "skipped",
    priceCents: bid.priceCents,
    reason: "bid_expired",
    pingRef: bid.bidId ?? bid.pingRef,
  });
  return true;
}

/**
 * The lead is done with a bid's channel: its concurrency slot is free for another lead, or, when
 * the bid's ping answer held several bids, for the next of them the lead is not done with.
 */
export function letGo(slots: ChannelSlots, bid: Bid): void {
  bid.finished = true;
  if (!bid.holdsSlot) return;
  bid.holdsSlot = false;
  const heir = bid.siblings?.find((b) => !b.finished && !b.holdsSlot);
  if (heir) heir.holdsSlot = true;
  else slots.release(bid.channel.id);
}

/** Posts of one answer's bids (response.ping.bids) a buyer may refuse for a lead before its other bids are left out. */
export const MOST_REFUSED_BIDS = 2;

/**
 * A bid of several in one answer whose buyer already refused MOST_REFUSED_BIDS posts of its bids
 * for this lead: left out (`bids_refused`), so that one buyer's many bids cannot use up the time
 * the lead has for the other buyers. True when it is.
 */
export function skipRefused(bid: Bid, trail: AuctionTrail): boolean {
  if (!bid.siblings) return false;
  let refused = 0;
  for (const a of trail.attempts) if (a.kind === "post" && a.channelId === bid.channel.id && (a.outcome === "rejected" || a.outcome === "error")) refused++;
  if (refused < MOST_REFUSED_BIDS) return false;
  trail.excluded.push({ channel_id: bid.channel.id, reason: "bids_refused" });
  return true;
}

/**
 * Posts down the ranking: the first acceptance sells. Every post and every skipped bid is recorded
 * in `trail`; each bid's concurrency slot is given back once its turn is over.
 */
export async function postWithFallback(
  deps: PostDeps,
  campaign: PostCampaign,
  lead: AuctionLead,
  ranking: readonly Bid[],
  slots: ChannelSlots,
  deadline: Deadline,
  trail: AuctionTrail,
): Promise<PostingEnd> {
  const { attempts, excluded } = trail;
  /** Channels whose post's outcome is unknown: the buyer may have the lead, so its other bids of the answer are not posted. */
  const unsure = new Set<string>();
  // The lead ends unsold only if no buyer may have it: after an unknown outcome (on_post_timeout
  // next), running out of bids or of time leaves it error post_outcome_unknown, to be reconciled.
  const unsold = (end: PostingEnd): PostingEnd => (unsure.size > 0 ? OUTCOME_UNKNOWN : end);
  for (const bid of ranking) {
    try {
      if (deadline.passed()) return unsold(DEADLINE);
      const channel = bid.channel;
      if (bid.siblings && unsure.has(channel.id)) {
        excluded.push({ channel_id: channel.id, reason: "buyer_bought" });
        continue;
      }
      if (skipRefused(bid, trail) || skipExpired(bid, deadline, trail)) continue;

      // Reserve the caps before posting, so two processes cannot both sell the last lead of the
      // day; a bid that no longer fits is skipped with the cap's reason.
      const reservation = await reserve(deps.caps, bid, lead);
      if (reservation === null) return noDatabase(attempts);
      if (!reservation.ok) {
        excluded.push({ channel_id: channel.id, reason: reservation.reason });
        continue;
      }
      const hold = reservation.hold;
      const timeoutMs = deadline.postTimeout(postTimeoutOf(channel.config) ?? campaign.auction.post_timeout_ms);
      if (timeoutMs <= 0) return (await giveBack(deps.caps, hold)) ? unsold(DEADLINE) : noDatabase(attempts);

      const post = await send(deps, campaign, lead, bid, timeoutMs, deadline, trail);
      if (post.outcome === "accepted") {
        // The sale stands whatever happens next: spend the buyer did not use stays counted if the
        // database cannot take it back now (a cap errs on the side of selling less, never more).
        if (post.priceCents < bid.chargeCents) await deps.caps.settleCap(hold, bid.chargeCents, post.priceCents).catch(() => {});
        return { status: "sold", bid, priceCents: post.priceCents, redirectUrl: post.redirectUrl };
      }
      // The buyer may have taken the lead: its reservation stays, and offering the lead to anyone
      // else could sell it twice.
      if (isOutcomeUnknown(post)) {
        // `on_post_timeout: "next"` goes on to the next bid (a different buyer) all the same.
        if (campaign.auction.on_post_timeout === "stop") return OUTCOME_UNKNOWN;
        unsure.add(channel.id);
        continue;
      }
      // Rejected or errored: the sale did not happen, so the caps it reserved are free again.
      if (!(await giveBack(deps.caps, hold))) return noDatabase(attempts);
    } finally {
      letGo(slots, bid);
    }
  }
  return unsold(ALL_REJECTED);
}

/** One post to the buyer of `bid`, recorded as an attempt. */
export async function send(
  deps: PostDeps,
  campaign: PostCampaign,
  lead: AuctionLead,
  bid: Bid,
  timeoutMs: number,
  deadline: Deadline,
  trail: AuctionTrail,
): Promise<PostOutcome> {
  const channel = bid.channel;
  const startedAt = deadline.wallNow();
  const request = channel.io.buildPost(
    {
      leadId: lead.id,
      channelId: channel.id,
      pingId: bid.pingId,
      pingRef: bid.pingRef,
      ...(bid.bidId !== null && { bidId: bid.bidId }),
      ...(bid.captures && { captures: bid.captures }),
      campaign: campaign.id,
      test: lead.test,
      priceCents: bid.chargeCents,
      data: lead.data,
      receivedAt: lead.receivedAt,
      ...(bid.sale === "shared" && { sale: "shared" as const }),
    },
    timeoutMs,
    deps.maxBodyBytes,
  );
  const response = await deps.transport.send(request);
  trail.buyerWaitMs += response.durationMs;
  // The post offers the lead at the bid's charge, and a buyer's answer never raises it.
  const post = channel.io.readPost(response, bid.chargeCents);
  trail.attempts.push({
    kind: "post",
    channelId: channel.id,
    startedAt: new Date(startedAt),
    durationMs: response.durationMs,
    httpStatus: response.kind === "response" || response.kind === "too_large" ? response.status : null,
    outcome: post.outcome,
    priceCents: post.outcome === "accepted" ? post.priceCents : bid.chargeCents,
    reason: post.reason,
    pingRef: bid.bidId ?? bid.pingRef,
    congested: waitedInGavelQueue(response),
  });
  return post;
}
