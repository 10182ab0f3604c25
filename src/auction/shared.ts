// SPEC.md's shared mode: a lead sold to up to k buyers at their shared prices. The top k bids are
// posted in parallel, one per buyer; each reject, error or skip frees its slot for the next bid down
// the ranking, until k buyers have accepted, the ranking runs out or the deadline passes. Each post
// is the same step with its compensation as an exclusive one (post.ts): its caps and its buyer's
// dedup claim are reserved before it and given back when the sale does not happen; an accepted post
// keeps them, and so does one whose outcome is unknown, whose buyer is never offered the lead again.
//
// `best` decides between the two kinds of sale from the bids in hand: exclusive when the best
// exclusive bid beats the best k shared bids (one per buyer) together, shared otherwise.
import { postTimeoutOf } from "../channels/config";
import { fromCents } from "../money";
import { clearRanking } from "./clearing";
import { rawCentsFor, type PricingPlan } from "./pricing";
import { reasonText, type ReasonText } from "../reasons";
import type { Bid } from "./bid";
import type { Deadline } from "./deadline";
import type { ChannelSlots } from "./limiter";
import type { AuctionLead, AuctionTrail } from "./ping";
import { giveBack, isOutcomeUnknown, letGo, reserve, send, skipExpired, skipRefused, type PostCampaign, type PostDeps } from "./post";

/** One sale of a lead: the bid whose buyer accepted, at the price it accepted. */
export interface Sale {
  bid: Bid;
  priceCents: number;
  redirectUrl: string | null;
}

export type SharedEnd =
  /** At least one buyer accepted; `sales` from the highest price down. */
  | { status: "sold"; sales: Sale[] }
  | { status: "unsold"; reason: "deadline" | "all_rejected" }
  | { status: "error"; reason: "post_outcome_unknown" | "database_unavailable" };

/** How one post of a shared sale ended, for the slot it filled. */
type PostStep = { kind: "sold"; sale: Sale } | { kind: "refused" } | { kind: "unknown" } | { kind: "deadline" } | { kind: "no_database" };

/**
 * Posts `ranking` as a shared sale to at most `k` buyers, in parallel: the first k bids of distinct
 * buyers at once, then the next bid down the ranking for each post that does not sell. A buyer is
 * posted once at a time and buys at most once; a bid whose buyer already bought, or may have (an
 * unknown outcome), is left out with `buyer_bought`. An unknown outcome keeps its slot when the
 * campaign's `on_post_timeout` is `stop` (so no more than k buyers can ever have the lead) and
 * frees it for the next bid with `next`. Every post and skip is recorded in `trail`; each bid's
 * concurrency slot is given back once its turn is over. The routing strategy `all` calls this with
 * k = the ranking's length.
 */
export async function postShared(
  deps: PostDeps,
  campaign: PostCampaign,
  lead: AuctionLead,
  ranking: readonly Bid[],
  k: number,
  slots: ChannelSlots,
  deadline: Deadline,
  trail: AuctionTrail,
): Promise<SharedEnd> {
  const waiting = [...ranking];
  /** Buyers with a post in flight, and buyers that bought or may have. */
  const posting = new Set<string>();
  const done = new Set<string>();
  const sales: Sale[] = [];
  let filled = 0; // slots taken for good: sales, and unknown outcomes under `stop`
  let unknown = false;
  let noDatabase = false;
  let outOfTime = false;
  const inFlight = new Set<Promise<void>>();
  // Posts overlap: the time spent on buyers is the posting phase's, not the sum of its posts.
  const waitedBefore = trail.buyerWaitMs;
  const started = deadline.now();

  /** The next bid to post: the highest one whose buyer is free; bids of buyers that are done leave the queue. */
  const next = (): Bid | undefined => {
    for (let i = 0; i < waiting.length; i++) {
      const bid = waiting[i];
      const buyer = bid.channel.buyerId;
      if (done.has(buyer)) {
        waiting.splice(i--, 1);
        trail.excluded.push({ channel_id: bid.channel.id, reason: "buyer_bought" });
        letGo(slots, bid);
        continue;
      }
      if (posting.has(buyer)) continue;
      waiting.splice(i, 1);
      return bid;
    }
    return undefined;
  };

  const fill = () => {
    while (!noDatabase && !outOfTime && filled + inFlight.size < k) {
      if (deadline.passed()) {
        outOfTime = true;
        break;
      }
      const bid = next();
      if (!bid) break;
      const buyer = bid.channel.buyerId;
      posting.add(buyer);
      const step = postOne(deps, campaign, lead, bid, deadline, trail)
        // An unexpected error (a bug, a driver's throw) is this step's failure, as a lost database
        // is: nothing more is posted, and the posts in flight are still waited for, so that a buyer
        // that accepts one is recorded as a sale rather than lost with the thrown error.
        .catch((): PostStep => ({ kind: "no_database" }))
        .then((result) => {
          posting.delete(buyer);
          switch (result.kind) {
            case "sold":
              sales.push(result.sale);
              done.add(buyer);
              filled++;
              break;
            case "unknown":
              unknown = true;
              done.add(buyer);
              if (campaign.auction.on_post_timeout === "stop") filled++;
              break;
            case "deadline":
              outOfTime = true;
              break;
            case "no_database":
              noDatabase = true;
              break;
          }
        })
        .finally(() => {
          letGo(slots, bid);
          inFlight.delete(step);
        });
      inFlight.add(step);
    }
  };

  fill();
  while (inFlight.size > 0) {
    await Promise.race(inFlight);
    fill();
  }
  trail.buyerWaitMs = waitedBefore + (deadline.now() - started);
  // Bids left over of buyers that bought are in the trace as such; the others were simply not reached.
  for (const bid of waiting) if (done.has(bid.channel.buyerId)) trail.excluded.push({ channel_id: bid.channel.id, reason: "buyer_bought" });

  if (sales.length) return { status: "sold", sales: sales.sort((a, b) => b.priceCents - a.priceCents) };
  // A buyer may have the lead: no verdict may say it is free (as in exclusive posting).
  if (unknown) return { status: "error", reason: "post_outcome_unknown" };
  if (noDatabase) return { status: "error", reason: "database_unavailable" };
  if (outOfTime || (waiting.length > 0 && deadline.passed())) return { status: "unsold", reason: "deadline" };
  return { status: "unsold", reason: "all_rejected" };
}

/**
 * One post of a shared sale, as a step with its compensation: the bid's caps (and its buyer's
 * dedup claim) are reserved before the post and given back when it does not sell; an acceptance
 * keeps them, and so does an unknown outcome.
 */
async function postOne(deps: PostDeps, campaign: PostCampaign, lead: AuctionLead, bid: Bid, deadline: Deadline, trail: AuctionTrail): Promise<PostStep> {
  const channel = bid.channel;
  if (skipRefused(bid, trail) || skipExpired(bid, deadline, trail)) return { kind: "refused" };
  // Reserve this sale's caps before its post, so two processes (or two slots of this lead) cannot
  // both sell the last lead a cap has room for; a bid that no longer fits is left out with the cap's reason.
  const reservation = await reserve(deps.caps, bid, lead);
  if (reservation === null) return { kind: "no_database" };
  if (!reservation.ok) {
    trail.excluded.push({ channel_id: channel.id, reason: reservation.reason });
    return { kind: "refused" };
  }
  const hold = reservation.hold;
  const timeoutMs = deadline.postTimeout(postTimeoutOf(channel.config) ?? campaign.auction.post_timeout_ms);
  if (timeoutMs <= 0) return (await giveBack(deps.caps, hold)) ? { kind: "deadline" } : { kind: "no_database" };

  const post = await send(deps, campaign, lead, bid, timeoutMs, deadline, trail);
  if (post.outcome === "accepted") {
    // Spend the buyer did not use stays counted if the database cannot take it back now.
    if (post.priceCents < bid.chargeCents) await deps.caps.settleCap(hold, bid.chargeCents, post.priceCents).catch(() => {});
    return { kind: "sold", sale: { bid, priceCents: post.priceCents, redirectUrl: post.redirectUrl } };
  }
  // The buyer may have taken the lead: its reservation stays.
  if (isOutcomeUnknown(post)) return { kind: "unknown" };
  // Rejected or errored: this sale did not happen, so the caps it reserved are free again.
  return (await giveBack(deps.caps, hold)) ? { kind: "refused" } : { kind: "no_database" };
}

/** What `best` chose, with the two figures it compared. */
export interface SaleChoice {
  sale: "exclusive" | "shared";
  /** The exclusive bids, best first, and the shared ones (each buyer's best, at most k of them counted). */
  exclusive: Bid[];
  shared: Bid[];
  /** The trace's line: `shared: exclusive 10.00 <= shared 11.00 (4.00 + 4.00 + 3.00)`. */
  reason: ReasonText<"sale_chosen">;
}

/**
 * `best`: the lead is sold exclusively when the best exclusive bid beats the sum of the best k
 * shared bids, one per buyer; shared otherwise (a tie goes to shared, which spreads the lead and
 * earns as much). A channel with a bid of each kind keeps its slot on the bid of the kind chosen.
 *
 * The bids are compared as the ranking compares them: by score — the bid itself in a plain
 * campaign; under a pricing plan the adjusted bid, × the acceptance rate under rank_by expected —
 * so a bid penalty or a buyer that rejects weighs the same in the choice as in the order. Not by
 * the second-price charge, which depends on the choice (see clearChoice). Fallback channels are
 * left out of both sides: they are offered the lead only when no other channel took it.
 */
export function chooseSale(ranking: readonly Bid[], k: number, owedCents = 0): SaleChoice {
  const exclusive = ranking.filter((b) => b.sale === "exclusive");
  const shared = ranking.filter((b) => b.sale === "shared");
  // Fallbacks count only when no other channel bid at all (then the choice is between them alone).
  const others = ranking.some((b) => !isFallback(b));
  const counted = countedShared(shared, k, others);
  const best = exclusive.find((b) => !others || !isFallback(b))?.score ?? 0;
  // A fixed payout is owed once per lead: shared bids that together would bring in less are no sale.
  const reaches = sharedRevenueCents(shared, k) >= owedCents;
  const sum = reaches ? counted.reduce((total, bid) => total + bid.score, 0) : 0;
  const sale = best > sum || (!reaches && best > 0) ? "exclusive" : "shared";
  const money = (cents: number) => fromCents(Math.round(cents)).toFixed(2);
  const parts = counted.length ? ` (${counted.map((b) => money(b.score)).join(" + ")})` : "";
  // Scores that are not the bids themselves say so, so the trace's figures can be found in its ranking.
  const terms = ranking.some((b) => b.score !== b.priceCents) ? ", as ranked (adjusted bids" + (ranking.some((b) => b.acceptance) ? " × acceptance rates)" : ")") : "";
  const detail = reaches
    ? `${sale}: exclusive ${money(best)} ${sale === "exclusive" ? ">" : "<="} shared ${money(sum)}${parts}${terms}`
    : `${sale}: exclusive ${money(best)}; shared${parts} under the fixed payout's floor ${money(owedCents)} together`;
  const reason = reasonText("sale_chosen", detail);
  if (sale === "shared") for (const bid of shared) takeSlot(bid, exclusive);
  return { sale, exclusive, shared, reason };
}

export const isFallback = (bid: Bid) => bid.channel.config.role === "fallback";

/**
 * What the best k shared bids (one per buyer) would be charged together, fallbacks left out unless
 * only they bid: a fixed payout owed to the supplier is a floor on this total, not on each sale.
 */
export function sharedRevenueCents(shared: readonly Bid[], k: number): number {
  return countedShared(shared, k, shared.some((b) => !isFallback(b))).reduce((total, bid) => total + bid.chargeCents, 0);
}

/** The shared bids `best` counts: the best k, one per buyer, fallback channels left out (unless `others` is false). */
function countedShared(shared: readonly Bid[], k: number, others = true): Bid[] {
  const counted: Bid[] = [];
  const buyers = new Set<string>();
  for (const bid of shared) {
    if (counted.length === k) break;
    if ((others && isFallback(bid)) || buyers.has(bid.channel.buyerId)) continue;
    buyers.add(bid.channel.buyerId);
    counted.push(bid);
  }
  return counted;
}

/**
 * Second price in a `best` campaign: each kind of sale is charged within its own kind (an exclusive
 * bid against the next exclusive bid, a shared one against the next shared bid), since the ranking
 * cleared as one list would charge an exclusive buyer against a shared price, a different product.
 * The best exclusive bid, when the lead is sold exclusively, is charged at least what would still
 * have beaten the shared sale it displaced: the least that would still have won, as second price
 * always charges. Never above a bid; a first-price plan charges each its bid already.
 */
export function clearChoice(plan: PricingPlan, choice: SaleChoice, k: number, floor: number): void {
  if (plan.pricing !== "second") return;
  clearRanking(plan, choice.exclusive, floor);
  clearRanking(plan, choice.shared, floor);
  const top = choice.exclusive.find((b) => !isFallback(b));
  if (choice.sale !== "exclusive" || !top) return;
  const sum = countedShared(choice.shared, k).reduce((total, bid) => total + bid.score, 0);
  if (sum <= 0) return;
  const target = Math.ceil(sum / (top.acceptance?.rate ?? 1) - 1e-9) + 1;
  top.chargeCents = Math.min(top.priceCents, Math.max(top.chargeCents, rawCentsFor(top.channel.adjustment, target)));
}

/** A shared bid whose channel's slot is held by its exclusive twin (one ping, two bids) takes it over. */
function takeSlot(bid: Bid, exclusive: readonly Bid[]): void {
  if (bid.holdsSlot) return;
  const twin = exclusive.find((b) => b.channel === bid.channel && b.holdsSlot);
  if (!twin) return;
  twin.holdsSlot = false;
  bid.holdsSlot = true;
}
