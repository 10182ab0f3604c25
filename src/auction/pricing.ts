// A campaign's pricing plan, compiled with its configuration (catalog.ts): whether its auction
// does anything beyond first price ranked by bid, and the arithmetic of bid adjustments. The
// auction's use of it is clearing.ts (README "Pricing and ranking").
import { AcceptanceEstimate, type Auction } from "../resources/schemas";
import type { AcceptanceBook } from "./acceptance";

/** A channel's adjustment in cents. */
export interface CompiledAdjustment {
  multiplier: number;
  offsetCents: number;
}

/** What a campaign does beyond first-price ranking by bid; absent (null) for a plain campaign. */
export interface PricingPlan {
  pricing: Auction["pricing"];
  rankBy: Auction["rank_by"];
  estimate: AcceptanceEstimate;
  /** Where the acceptance rates are read and posts are counted (rank_by expected). */
  book: AcceptanceBook | null;
}

/**
 * The pricing plan of a campaign, or null when it prices and ranks as a plain first-price auction.
 * (A campaign document saved before these settings existed has none of them: it is plain.)
 */
export function pricingPlan(auction: Auction, channels: readonly { adjustment: CompiledAdjustment | null }[], book: AcceptanceBook | null): PricingPlan | null {
  const pricing = auction.pricing ?? "first";
  const rankBy = auction.rank_by ?? "price";
  if (pricing === "first" && rankBy === "price" && channels.every((c) => c.adjustment === null)) return null;
  const estimate = auction.acceptance ?? AcceptanceEstimate.parse({});
  return { pricing, rankBy, estimate, book: rankBy === "expected" ? book : null };
}

/** A bid as the auction ranks it: `bid × multiplier + offset` in cents, never below 0. */
export const adjustedCents = (adjustment: CompiledAdjustment | null, priceCents: number): number =>
  adjustment ? Math.max(0, Math.round(priceCents * adjustment.multiplier + adjustment.offsetCents)) : priceCents;

/** The least bid of a channel whose adjusted bid reaches `targetCents` (its adjustment undone, rounded up). */
export function rawCentsFor(adjustment: CompiledAdjustment | null, targetCents: number): number {
  if (!adjustment) return targetCents;
  return Math.max(0, Math.ceil((targetCents - adjustment.offsetCents) / adjustment.multiplier - 1e-9));
}
