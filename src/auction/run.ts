// Steps 4–6 of SPEC.md for one lead, in exclusive mode: the selected channels make their offers
// (ping.ts), the bids are ranked (rank.ts), and the lead is posted down the ranking (post.ts).
// Everything a buyer can do wrong comes back as an attempt with an outcome and a reason; the
// auction's own end is a value: sold, unsold or error.
import type { Bid } from "./bid";
import type { CampaignPlan, ChannelPlan } from "./catalog";
import type { Deadline } from "./deadline";
import type { Eligibility } from "./eligibility";
import { byScore, clearRanking, countPosts, rankingRecord, scoreBids, type PricedTrail } from "./clearing";
import { floorCents } from "./floors";
import { collectBids, type AuctionLead, type PingDeps } from "./ping";
import { isOutcomeUnknown, letGo, type PostDeps } from "./post";
import { rankBids } from "./rank";
import { chooseSale, clearChoice, isFallback, sharedRevenueCents, type SaleChoice, type SharedEnd } from "./shared";
import { reasonText, type ReasonText } from "../reasons";
import { startRouting, type LeadRouter, type RoutedTrail, type RoutingDeps } from "./routing";
import type { ChannelSlots } from "./limiter";

export type { AuctionLead, AuctionTrail } from "./ping";

export interface AuctionDeps extends PingDeps, PostDeps, RoutingDeps {
  /** Draws among exact ties (rank.ts). */
  random(): number;
}

/** How the auction ended, with its trail. */
export type AuctionResult = RoutedTrail &
  PricedTrail &
  AuctionEnd & {
    /** A `best` campaign's choice between an exclusive and a shared sale, with the figures it compared. */
    saleChosen?: ReasonText<"sale_chosen">;
  };

/** How the auction ended, without its trail. */
export type AuctionEnd =
  | {
      status: "sold";
      /** The highest sale's channel (a shared lead's `sold_channel`), the revenue of every sale, the highest sale's redirect. */
      channel: ChannelPlan;
      revenueCents: number;
      redirectUrl: string | null;
      /** Every sale, highest price first: one for an exclusive sale, up to `max_sells` for a shared one. */
      sales: SoldTo[];
    }
  | { status: "unsold"; reason: "no_eligible_channels" | "no_bids" | "all_rejected" | "deadline" }
  | { status: "error"; reason: "post_outcome_unknown" | "database_unavailable" };

/** One sale of the lead: the channel whose buyer accepted, at the price it accepted. */
export interface SoldTo {
  channel: ChannelPlan;
  priceCents: number;
}

/** The auction's end after a shared posting (shared.ts): the sales, highest first, or why there were none. */
export function sharedResult(end: SharedEnd): AuctionEnd {
  if (end.status !== "sold") return end;
  const sales = end.sales.map((s) => ({ channel: s.bid.channel, priceCents: s.priceCents }));
  return {
    status: "sold",
    channel: sales[0].channel,
    revenueCents: sales.reduce((total, s) => total + s.priceCents, 0),
    redirectUrl: end.sales.find((s) => s.redirectUrl !== null)?.redirectUrl ?? null,
    sales,
  };
}

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
  const trail: RoutedTrail & PricedTrail = { attempts: [], excluded: eligibility.excluded, buyerWaitMs: 0 };
  const pricing = plan.pricing;
  // Routing starts now, so that what it reads (a returning consumer's buyer) is read during the pings.
  const router = startRouting(deps, plan, lead);
  const bids: Bid[] = [];
  try {
    // Step 4: direct posts join at their fixed price; ping_post channels are pinged.
    const floor = floorCents(plan, payoutFixedCents);
    await collectBids(deps, plan, lead, eligibility.eligible, slots, floor, deadline, trail, bids);
    // Step 5. A pricing plan (clearing.ts) ranks by adjusted bids, × acceptance rates under rank_by
    // expected, and sets what each bid is charged if it sells; a plain campaign does none of it.
    if (pricing) await scoreBids(pricing, plan.campaign.id, plan.channels, bids, deadline.wallNow());
    const ranking = rankBids(bids, deps.random, pricing ? byScore : undefined);
    if (ranking.length === 0)
      return { ...trail, status: "unsold", reason: eligibility.eligible.length === 0 ? "no_eligible_channels" : "no_bids" };
    // Step 6. A shared sale (shared.ts) posts to the top max_sells bids at once, one per buyer; a
    // `best` campaign first chooses between that and an exclusive sale, comparing the bids as ranked
    // (second price then charges each kind of sale within its kind: clearChoice).
    const auction = plan.campaign.auction;
    if (pricing) clearRanking(pricing, ranking, floor);
    // A fixed payout is owed once per lead: a shared sale is made only when its best bids together
    // bring in at least that (each of its bids cleared the campaign's floor alone: ping.ts).
    const owed = payoutFixedCents ?? 0;
    const choice = auction.mode === "best" ? chooseSale(ranking, auction.max_sells, owed) : null;
    if (pricing) {
      if (choice) clearChoice(pricing, choice, auction.max_sells, floor);
      trail.ranking = rankingRecord(pricing, ranking, floor);
    }
    if (auction.mode === "shared" || choice?.sale === "shared") {
      const offered = choice ? choice.shared : ranking;
      if (sharedRevenueCents(offered, auction.max_sells) < owed) return { ...trail, saleChosen: choice?.reason, status: "unsold", reason: "no_bids" };
      const shared = await router.postShared(offered, auction.max_sells, slots, deadline, trail);
      return { ...trail, saleChosen: choice?.reason, ...sharedResult(shared) };
    }
    if (choice) return { ...trail, ...(await sellBest(router, choice, auction.max_sells, owed, slots, deadline, trail)) };
    // An exclusive sale, in the order the campaign's routing gives the bids (routing.ts; by default the ranking's).
    // Its sales: one, or with the routing strategy `all` one per buyer of a tier.
    const end = await router.post(ranking, slots, deadline, trail);
    return { ...trail, ...sharedResult(end) };
  } finally {
    // Bids the posting never reached (a sale or the deadline came first) free their channels now.
    for (const bid of bids) letGo(slots, bid);
    // rank_by expected: every post counts for its channel's acceptance rate.
    if (pricing) countPosts(pricing, plan.campaign.id, trail.attempts);
  }
}

/**
 * A `best` campaign that chose an exclusive sale: the exclusive bids are posted in the routing's
 * order. When every one is refused and the deadline allows, the lead is sold shared instead, to
 * the shared bids (refilled as any shared sale), and only then offered to the fallback channels'
 * exclusive bids, which get what no other channel took. Never after a post whose outcome is
 * unknown: that buyer may have bought the lead exclusively, and selling it again, shared, would
 * break its exclusivity (with `on_post_timeout: "next"` as well, which risks a second exclusive
 * sale but never an exclusive and a shared one).
 */
async function sellBest(
  router: LeadRouter,
  choice: SaleChoice,
  k: number,
  owedCents: number,
  slots: ChannelSlots,
  deadline: Deadline,
  trail: RoutedTrail,
): Promise<AuctionEnd & { saleChosen: ReasonText<"sale_chosen"> }> {
  const saleChosen = choice.reason;
  // No shared sale to fall back to: none bid, or together they would not bring in a fixed payout.
  if (choice.shared.length === 0 || sharedRevenueCents(choice.shared, k) < owedCents) return { saleChosen, ...sharedResult(await router.post(choice.exclusive, slots, deadline, trail)) };
  // Fallbacks are held back to the end, unless only fallbacks bid (then they are the exclusive sale).
  let first = choice.exclusive.filter((b) => !isFallback(b));
  let fallbacks = choice.exclusive.filter(isFallback);
  if (first.length === 0) [first, fallbacks] = [fallbacks, []];
  const goOn = (end: SharedEnd) =>
    end.status === "unsold" && end.reason === "all_rejected" && !trail.attempts.some((a) => a.kind === "post" && isOutcomeUnknown(a));
  let end = await router.post(first, slots, deadline, trail);
  if (!goOn(end) || deadline.passed()) return { saleChosen, ...sharedResult(end) };
  // The exclusive posts gave their channels' slots back: a shared twin bid of one takes a slot
  // again to be posted, or is left out as any channel at its max_concurrency is.
  const shared = choice.shared.filter((bid) => {
    if (bid.holdsSlot || slots.tryAcquire(bid.channel.id, bid.channel.maxConcurrency)) return (bid.holdsSlot = true);
    trail.excluded.push({ channel_id: bid.channel.id, reason: "throttled" });
    return false;
  });
  end = await router.postShared(shared, k, slots, deadline, trail);
  const detail = `${saleChosen.slice("sale_chosen: ".length)}; no exclusive sale: offered shared`;
  if (goOn(end) && fallbacks.length && !deadline.passed()) end = await router.post(fallbacks, slots, deadline, trail);
  return { saleChosen: reasonText("sale_chosen", detail), ...sharedResult(end) };
}
