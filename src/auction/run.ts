// Steps 4–6 of SPEC.md for one lead, in exclusive mode: the selected channels make their offers
// (ping.ts), the bids are ranked (rank.ts), and the lead is posted down the ranking (post.ts).
// Everything a buyer can do wrong comes back as an attempt with an outcome and a reason; the
// auction's own end is a value: sold, unsold or error.
import type { Bid } from "./bid";
import type { CampaignPlan, ChannelPlan } from "./catalog";
import type { Deadline } from "./deadline";
import type { Eligibility } from "./eligibility";
import { floorCents } from "./floors";
import { collectBids, type AuctionLead, type AuctionTrail, type PingDeps } from "./ping";
import { letGo, postWithFallback, type PostDeps } from "./post";
import { rankBids } from "./rank";

export type { AuctionLead, AuctionTrail } from "./ping";

export interface AuctionDeps extends PingDeps, PostDeps {
  /** Draws among exact ties (rank.ts). */
  random(): number;
}

/** How the auction ended, with its trail. */
export type AuctionResult = AuctionTrail &
  (
    | { status: "sold"; channel: ChannelPlan; revenueCents: number; redirectUrl: string | null }
    | { status: "unsold"; reason: "no_eligible_channels" | "no_bids" | "all_rejected" | "deadline" }
    | { status: "error"; reason: "post_outcome_unknown" | "database_unavailable" }
  );

/**
 * Runs the auction of a lead among the channels selected for it (each holding its concurrency slot,
 * which is given back by the end). `payoutFixedCents`: a fixed payout owed to the supplier, which
 * no sale may bring in less than.
 */
export async function runAuction(
  deps: AuctionDeps,
  plan: CampaignPlan,
  lead: AuctionLead,
  eligibility: Eligibility,
  deadline: Deadline,
  payoutFixedCents: number | null,
): Promise<AuctionResult> {
  const slots = eligibility.slots;
  const trail: AuctionTrail = { attempts: [], excluded: eligibility.excluded, buyerWaitMs: 0 };
  const bids: Bid[] = [];
  try {
    // Step 4: direct posts join at their fixed price; ping_post channels are pinged.
    await collectBids(deps, plan, lead, eligibility.eligible, slots, floorCents(plan, payoutFixedCents), deadline, trail, bids);
    // Step 5.
    const ranking = rankBids(bids, deps.random);
    if (ranking.length === 0)
      return { ...trail, status: "unsold", reason: eligibility.eligible.length === 0 ? "no_eligible_channels" : "no_bids" };
    // Step 6.
    const end = await postWithFallback(deps, plan.campaign, lead, ranking, slots, deadline, trail);
    if (end.status === "sold")
      return { ...trail, status: "sold", channel: end.bid.channel, revenueCents: end.priceCents, redirectUrl: end.redirectUrl };
    return { ...trail, ...end };
  } finally {
    // Bids the posting never reached (a sale or the deadline came first) free their channels now.
    for (const bid of bids) letGo(slots, bid);
  }
}
