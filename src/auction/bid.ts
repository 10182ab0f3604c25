// A bid in one lead's auction: a channel's offer, from its ping or its fixed price. It refers to its
// channel rather than copying the channel's fields; ranking (rank.ts) reads them through it.
import type { ChannelPlan } from "./catalog";
import type { RankableBid } from "./rank";

export class Bid implements RankableBid {
  /**
   * Whether the lead still holds the channel's concurrency slot, taken when the channel was
   * selected (eligibility.ts) and given back once the lead is done with the channel: after its
   * post, or when the auction ends without one.
   */
  holdsSlot = true;

  constructor(
    readonly channel: ChannelPlan,
    readonly priceCents: number,
    /** The ping that won the bid; null for a direct post. */
    readonly pingId: string | null,
    /** The buyer's reference for the bid, sent back with the post. */
    readonly pingRef: string | null,
    /** Wall-clock epoch ms after which the buyer no longer honours the bid; null: no expiry. */
    readonly expiresAt: number | null,
  ) {}

  get channelId(): string {
    return this.channel.id;
  }

  get priority(): number {
    return this.channel.config.priority;
  }

  get weight(): number {
    return this.channel.config.weight;
  }
}
