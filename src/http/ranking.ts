// How a lead's ranking reads in its trace (`ranking`): each bid as the buyer made it, as the auction
// ranked it (adjusted, and under rank_by expected its acceptance rate and score), what it would have
// been charged, and the clearing price of the sale. Stored as src/auction/clearing.ts's
// RankingRecord (in cents); null for a plain first-price auction, whose trace's attempts say it all.
import { z } from "zod";
import type { RankingRecord } from "../auction/clearing";
import { fromCents } from "../money";

export const RankingTrace = z
  .object({
    pricing: z.enum(["first", "second"]),
    rank_by: z.enum(["price", "expected"]),
    floor: z.number().meta({ description: "The lead's floor (campaign floor, or what a fixed payout plus the margin needs): second price never charges less" }),
    rate_floor: z.number().nullable().meta({ description: "rank_by expected: the least acceptance rate any channel is ranked with" }),
    clearing_price: z
      .number()
      .nullable()
      .meta({ description: "What the bid that sold was charged (its post's price; the buyer's answer may lower it); null unless sold" }),
    bids: z
      .array(
        z.object({
          channel_id: z.string(),
          bid_id: z
            .string()
            .optional()
            .meta({ description: "A bid of several in one ping answer (`response.ping.bids`): its id, which its post named" }),
          bid: z.number().meta({ description: "The bid as the buyer made it (floors apply to it)" }),
          adjusted_bid: z.number().meta({ description: "bid × multiplier + offset (the channel's bid_adjustment), as ranked" }),
          posted: z.number().nullable().meta({ description: "rank_by expected: the channel's posts, decayed by the half-life" }),
          accepted: z.number().nullable().meta({ description: "rank_by expected: the channel's accepted posts, decayed by the half-life" }),
          rate: z.number().nullable().meta({ description: "rank_by expected: the acceptance rate ranked with (prior and floor applied)" }),
          score: z.number().meta({ description: "What the ranking ordered by: adjusted_bid, × rate under rank_by expected" }),
          charge: z.number().meta({ description: "What this bid is charged if it sells: its bid (first price) or the second price, never above its bid" }),
        }),
      )
      .meta({ description: "Every bid, in ranking order" }),
  })
  .meta({ id: "RankingTrace" });

/**
 * The stored ranking as the trace shows it; `soldChannelId` finds the clearing price, and of a
 * channel's several bids `soldBidId` (its accepted post's ping_ref) the one that sold.
 */
export function rankingTrace(stored: unknown, soldChannelId: string | null, soldBidId: string | null = null): z.infer<typeof RankingTrace> | null {
  if (!stored) return null;
  const r = stored as RankingRecord;
  const sold =
    soldChannelId === null ? undefined : r.bids.find((b) => b.channel_id === soldChannelId && (b.bid_id === undefined || b.bid_id === soldBidId));
  return {
    pricing: r.pricing,
    rank_by: r.rank_by,
    floor: fromCents(r.floor_cents),
    rate_floor: r.rate_floor,
    clearing_price: sold ? fromCents(sold.charge_cents) : null,
    bids: r.bids.map((b) => ({
      channel_id: b.channel_id,
      ...(b.bid_id !== undefined && { bid_id: b.bid_id }),
      bid: fromCents(b.bid_cents),
      adjusted_bid: fromCents(b.adjusted_cents),
      posted: b.posted,
      accepted: b.accepted,
      rate: b.rate,
      score: Math.round(b.score * 100) / 10_000,
      charge: fromCents(b.charge_cents),
    })),
  };
}
