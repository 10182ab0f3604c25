// Pricing and ranking beyond the plain first-price auction (README "Pricing and ranking"): bid
// adjustments, expected-value ranking and second price. A campaign that uses none of them has no
// pricing plan, and its auction does none of this work.
//
// - Each bid is adjusted by its channel's `bid_adjustment` (bid × multiplier + offset, at least 0):
//   the auction ranks the adjusted bid. Floors and `min_bid` apply to the bid itself (floors.ts),
//   since the floor is about what a buyer pays and the buyer pays in its own terms.
// - With `rank_by: "expected"` a bid's score is its adjusted bid × its channel's acceptance rate
//   (acceptance.ts); otherwise its score is its adjusted bid.
// - After ranking, every bid gets what it is charged if it sells (`chargeCents`): its own bid under
//   first price; under second price the least that would still have ranked it above the bid below
//   it — that bid's score over this bid's rate, plus a cent, turned back into this buyer's own terms
//   (undoing its adjustment) — or the floor when nothing is below it, never more than its own bid.
//   The bid below is the next one of another buyer: a buyer is never bid up by its own channels.
//   A buyer that rejects passes the lead to the next bid, which is charged against the one below
//   it in turn.
import type { AttemptRow } from "../db/leads";
import { fromCents } from "../money";
import { AcceptanceEstimate, type Auction, type Margin } from "../resources/schemas";
import { acceptanceRate, type AcceptanceBook, type AcceptanceTally } from "./acceptance";
import type { Bid } from "./bid";
import type { CampaignPlan, ChannelPlan } from "./catalog";
import { adjustedCents, rawCentsFor, type PricingPlan } from "./pricing";

/**
 * Sets each bid's adjusted price and score for ranking (rank_by expected reads the channels'
 * acceptance tallies: from memory, at most a TTL old).
 */
export async function scoreBids(plan: PricingPlan, campaignId: string, channels: readonly ChannelPlan[], bids: readonly Bid[], at: number): Promise<void> {
  let tallies: Map<string, AcceptanceTally> | null = null;
  // Without the database (and no earlier read) every channel ranks at its prior rate.
  if (plan.book) tallies = await plan.book.tallies(campaignId, channels).catch(() => null);
  for (const bid of bids) {
    bid.adjustedCents = adjustedCents(bid.channel.adjustment, bid.priceCents);
    if (plan.rankBy === "expected") {
      bid.acceptance = acceptanceRate(tallies?.get(bid.channel.id), at, plan.estimate);
      bid.score = bid.adjustedCents * bid.acceptance.rate;
    } else bid.score = bid.adjustedCents;
  }
}

/** What each bid of the ranking is charged if it sells (see above); `floor`: the lead's floor in cents. */
export function clearRanking(plan: PricingPlan, ranking: readonly Bid[], floor: number): void {
  for (let i = 0; i < ranking.length; i++) {
    const bid = ranking[i];
    if (plan.pricing === "first") {
      bid.chargeCents = bid.priceCents;
      continue;
    }
    // A buyer is not charged against its own other channel's bid: the next bid of another buyer.
    const next = ranking.slice(i + 1).find((b) => b.channel.buyerId !== bid.channel.buyerId);
    let least = floor;
    if (next) {
      const rate = bid.acceptance?.rate ?? 1;
      // The least adjusted bid whose score would still beat the next one's, plus a cent.
      const target = Math.ceil(next.score / rate - 1e-9) + 1;
      least = Math.max(least, rawCentsFor(bid.channel.adjustment, target));
    }
    bid.chargeCents = Math.min(bid.priceCents, least);
  }
}

/** What an auction with a pricing plan leaves in its trail: its ranking, for the trace. */
export interface PricedTrail {
  ranking?: RankingRecord;
}

/** Ranking's order under a pricing plan (rank.ts). */
export const byScore = (bid: Bid): number => bid.score;

/** The lead's ranking as its trace shows it (README "Pricing and ranking"), stored with the lead. */
export interface RankingRecord {
  pricing: Auction["pricing"];
  rank_by: Auction["rank_by"];
  floor_cents: number;
  /** rank_by expected: the floor under every rate. */
  rate_floor: number | null;
  /** In ranking order. */
  bids: {
    channel_id: string;
    /** A bid of several in one ping answer (response.ping.bids): its id. */
    bid_id?: string;
    bid_cents: number;
    adjusted_cents: number;
    /** rank_by expected: the decayed counts and the rate they gave, and the score ranked by. */
    posted: number | null;
    accepted: number | null;
    rate: number | null;
    score: number;
    charge_cents: number;
  }[];
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** The ranking as the trace shows it; the bid that sold is found by its channel (and its bid id), and its charge is the clearing price. */
export function rankingRecord(plan: PricingPlan, ranking: readonly Bid[], floor: number): RankingRecord {
  return {
    pricing: plan.pricing,
    rank_by: plan.rankBy,
    floor_cents: floor,
    rate_floor: plan.rankBy === "expected" ? plan.estimate.floor : null,
    bids: ranking.map((b) => ({
      channel_id: b.channel.id,
      ...(b.bidId !== null && { bid_id: b.bidId }),
      bid_cents: b.priceCents,
      adjusted_cents: b.adjustedCents,
      posted: b.acceptance ? round4(b.acceptance.posted) : null,
      accepted: b.acceptance ? round4(b.acceptance.accepted) : null,
      rate: b.acceptance ? round4(b.acceptance.rate) : null,
      score: round4(b.score),
      charge_cents: b.chargeCents,
    })),
  };
}

/** After the posts: rank_by expected counts each post for its channel's rate. */
export function countPosts(plan: PricingPlan, campaignId: string, attempts: readonly AttemptRow[]): void {
  plan.book?.record(campaignId, plan.estimate, attempts);
}

/** Explain's view of a campaign's pricing and ranking: its settings, and each channel's adjustment and current rate. */
export interface PricingPreview {
  pricing: Auction["pricing"];
  rank_by: Auction["rank_by"];
  /** The lead's floor (campaign floor, or what a fixed payout and the margin need). */
  floor: number;
  margin: Margin | null;
  /** rank_by expected: how the acceptance rate is estimated. */
  acceptance: AcceptanceEstimate | null;
  channels: {
    channel_id: string;
    bid_adjustment: { multiplier: number; offset: number } | null;
    /** rank_by expected: the channel's decayed counts and its rate now. */
    acceptance: { posted: number; accepted: number; rate: number } | null;
  }[];
}

/** The pricing settings explain shows; rank_by expected reads the channels' tallies as an auction in this process would. */
export async function previewPricing(book: AcceptanceBook, plan: CampaignPlan, floor: number, at: number): Promise<PricingPreview> {
  const auction = plan.campaign.auction;
  const rankBy = auction.rank_by ?? "price";
  const estimate = rankBy === "expected" ? (auction.acceptance ?? AcceptanceEstimate.parse({})) : null;
  const tallies = estimate ? await book.tallies(plan.campaign.id, plan.channels) : null;
  return {
    pricing: auction.pricing ?? "first",
    rank_by: rankBy,
    floor: fromCents(floor),
    margin: plan.campaign.margin ?? null,
    acceptance: estimate,
    channels: plan.channels.map((c) => {
      const rate = estimate ? acceptanceRate(tallies?.get(c.id), at, estimate) : null;
      return {
        channel_id: c.id,
        bid_adjustment: c.adjustment ? { multiplier: c.adjustment.multiplier, offset: fromCents(c.adjustment.offsetCents) } : null,
        acceptance: rate && { posted: round4(rate.posted), accepted: round4(rate.accepted), rate: round4(rate.rate) },
      };
    }),
  };
}
