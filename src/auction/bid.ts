// A bid in one lead's auction: a channel's offer, from its ping or its fixed price. It refers to its
// channel rather than copying the channel's fields; ranking (rank.ts) reads them through it.
import type { SaleType } from "../channels/config";
import type { AcceptanceRate } from "./acceptance";
import type { ChannelPlan } from "./catalog";
import type { RankableBid } from "./rank";

export class Bid implements RankableBid {
  /**
   * Whether the lead still holds the channel's concurrency slot, taken when the channel was
   * selected (eligibility.ts) and given back once the lead is done with the channel: after its
   * post, or when the auction ends without one.
   */
  holdsSlot = true;

  /**
   * The sale the bid is for: the lead alone (`exclusive`) or one of several (`shared`, at the
   * buyer's shared price). A `best` campaign's channel may make one bid of each from one ping;
   * then only its exclusive bid holds the channel's slot at first (see `takeSlot` in shared.ts).
   */
  sale: SaleType = "exclusive";

  /**
   * An exclusive campaign's bid of a channel that also buys shared sales: its shared bid, at its
   * shared price (a ping's `shared_bid`, a direct post's `shared_fixed_price`) when that clears the
   * floor. A routing tier with strategy `all` sells the lead to several buyers: a shared sale, so it
   * posts these, never the exclusive bids (routing.ts).
   */
  sharedTwin: Bid | null = null;

  /** A bid of several in one ping answer (response.ping.bids): its id, which its post names (`{{bid.id}}`). */
  bidId: string | null = null;

  /** The ping answer's named captures (response.ping.capture), sent back with the post (`{{ping.<name>}}`). */
  captures: Record<string, string | null> | undefined = undefined;

  /**
   * The bids of one ping answer that held several, this one among them, best first. They share
   * their channel's one concurrency slot: it passes from bid to bid as each one's turn ends
   * (post.ts `letGo`), and is given back with the last.
   */
  siblings: readonly Bid[] | null = null;

  /** The lead is done with this bid (posted, skipped or never reached): its sibling may take the slot over. */
  finished = false;

  constructor(
    readonly channel: ChannelPlan,
    readonly priceCents: number,
    /** The ping that won the bid; null for a direct post. */
    readonly pingId: string | null,
    /** The buyer's reference for the bid, sent back with the post. */
    readonly pingRef: string | null,
    /** Wall-clock epoch ms after which the buyer no longer honours the bid; null: no expiry. */
    readonly expiresAt: number | null,
  ) {
    // A plain campaign ranks by the bid itself: its adjusted bid and score are the bid.
    this.adjustedCents = this.score = priceCents;
  }

  get channelId(): string {
    return this.channel.id;
  }

  get priority(): number {
    return this.channel.config.priority;
  }

  get weight(): number {
    return this.channel.config.weight;
  }

  // Pricing and ranking beyond first price by bid (clearing.ts); a plain campaign never sets these.
  /** The bid as ranked: adjusted by the channel's `bid_adjustment` (set by scoreBids; the bid itself without a pricing plan). */
  adjustedCents: number;
  /** What ranking ordered by: the adjusted bid, × the acceptance rate under rank_by expected (set by scoreBids; the bid itself without a pricing plan). */
  score: number;
  /** rank_by expected: the channel's acceptance rate and its inputs (set by scoreBids). */
  acceptance: AcceptanceRate | null = null;
  private clearedCents: number | undefined = undefined;

  /**
   * What the buyer is charged if this bid sells: the post's price, what its caps reserve and the
   * most it pays. Its own bid, unless second price cleared it lower (clearRanking); never above it.
   */
  get chargeCents(): number {
    return this.clearedCents ?? this.priceCents;
  }

  set chargeCents(cents: number) {
    this.clearedCents = cents;
  }
}
