// Floors (SPEC.md step 4): the lowest price the auction takes for a lead, and what becomes of a bid
// under it. The buyers' answers are read without any floor (src/channels/): whether a bid clears it
// is decided here, once, for the auction, explain and the test console alike.
import type { PingAnswer, PingOutcome } from "../channels/native";
import { fromCents, toCents } from "../money";
import { reasonText } from "../reasons";
import type { CampaignPlan, ChannelPlan } from "./catalog";

/** The lowest acceptable price: the campaign floor, and never below a fixed payout owed to the supplier. */
export function floorCents(plan: CampaignPlan, payoutFixedCents: number | null): number {
  return Math.max(toCents(plan.campaign.auction.floor), payoutFixedCents ?? 0);
}

/** The lowest price one channel's bid may have: the lead's floor, or the channel's `min_bid` if higher. */
export const channelFloorCents = (channel: Pick<ChannelPlan, "minBidCents">, floor: number): number => Math.max(channel.minBidCents, floor);

/** A `direct_post` channel joins an auction at its fixed price only if that clears its floor. */
export const fixedPriceClears = (channel: Pick<ChannelPlan, "minBidCents" | "fixedPriceCents">, floor: number): boolean =>
  (channel.fixedPriceCents ?? 0) >= channelFloorCents(channel, floor);

/**
 * Whether a `direct_post` channel joins an auction of `mode` at all: at its fixed price (exclusive,
 * or `best`), or at its shared fixed price (shared, or `best`), whichever it buys, clearing its floor.
 */
export function directPostClears(
  channel: Pick<ChannelPlan, "minBidCents" | "fixedPriceCents" | "sharedFixedPriceCents" | "buys">,
  mode: "exclusive" | "shared" | "best",
  floor: number,
): boolean {
  if (mode === "exclusive") return fixedPriceClears(channel, floor);
  const lowest = channelFloorCents(channel, floor);
  const exclusive = mode === "best" && channel.buys.exclusive && (channel.fixedPriceCents ?? 0) >= lowest;
  return exclusive || (channel.buys.shared && (channel.sharedFixedPriceCents ?? 0) >= lowest);
}

/**
 * A ping answer judged against the channel's floor: a bid under it is a recorded no-bid,
 * `below_floor`, with the price bid; any other answer is what it says.
 */
export function atFloor(answer: PingAnswer, floor: number): PingOutcome {
  if (answer.outcome !== "bid" || answer.priceCents >= floor) return answer;
  const detail = `bid ${fromCents(answer.priceCents).toFixed(2)} < floor ${fromCents(floor).toFixed(2)}`;
  return { outcome: "below_floor", priceCents: answer.priceCents, pingRef: null, reason: reasonText("below_floor", detail) };
}
