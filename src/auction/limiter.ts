// max_concurrency (SPEC.md step 3): leads using one channel at once, in this process. A lead takes a
// slot when the channel is selected for it (eligibility.ts, the one place that admits) and keeps it
// through its ping and its post, so the channel never has more requests in flight than its limit. A
// lead past the limit is not queued — a queued ping would only eat the deadline — the channel is
// left out with reason `throttled` instead.

/** A count of slots taken per channel. */
export interface ChannelSlots {
  /** Takes a slot when the channel has one free (no limit: always); every true needs a release. */
  tryAcquire(channelId: string, limit: number | null): boolean;
  release(channelId: string): void;
  count(channelId: string): number;
}

export class ChannelLimiter implements ChannelSlots {
  private inFlight = new Map<string, number>();

  count(channelId: string): number {
    return this.inFlight.get(channelId) ?? 0;
  }

  /** Takes a slot when the channel has one free (no limit: always); every true needs a release. */
  tryAcquire(channelId: string, limit: number | null): boolean {
    const now = this.count(channelId);
    if (limit !== null && now >= limit) return false;
    this.inFlight.set(channelId, now + 1);
    return true;
  }

  release(channelId: string): void {
    const now = this.count(channelId);
    if (now <= 1) this.inFlight.delete(channelId);
    else this.inFlight.set(channelId, now - 1);
  }
}
