// The lead's time budget (SPEC.md: D = t0 + auction.timeout_ms), computed here once and asked by
// every step: when the auction must be over, when the ping phase ends (leaving a reserve for at
// least one post), how long a ping or a post may take, and when the supplier is answered whatever
// the database does. Times are on the monotonic clock (`mono`, performance.now() in production),
// so a wall-clock step never stretches or shrinks a lead's deadline; `wallNow` maps them back onto
// the wall clock that stamped the lead's arrival.

/** Milliseconds on a clock that never jumps (performance.now()). */
export type Monotonic = () => number;

export const monotonic: Monotonic = () => performance.now();

export interface AuctionTimes {
  timeout_ms: number;
  post_reserve_ms?: number;
}

/** Time kept free after the ping phase so that at least one post fits before the deadline. */
export function postReserveMs(auction: AuctionTimes): number {
  return auction.post_reserve_ms ?? Math.min(500, Math.floor(auction.timeout_ms / 2));
}

export class Deadline {
  /** D on the monotonic clock: no post starts after it. */
  readonly atMono: number;
  /** D on the wall clock (the lead's `deadline_at`). */
  readonly atWall: number;
  /** Pings are cut off here, so that a post still fits before D. */
  readonly pingsEndMono: number;
  /** The supplier is answered by then at the latest (D plus the answer grace), database or not. */
  readonly answerByMono: number;

  /**
   * @param receivedAt wall-clock epoch ms at which the lead arrived
   * @param receivedMono the same instant on the monotonic clock
   * @param answerGraceMs how long past D the answer may wait for the database (GAVEL_ANSWER_GRACE_MS)
   */
  constructor(
    readonly receivedAt: number,
    readonly receivedMono: number,
    auction: AuctionTimes,
    answerGraceMs: number,
    readonly now: Monotonic = monotonic,
  ) {
    this.atMono = receivedMono + auction.timeout_ms;
    this.atWall = receivedAt + auction.timeout_ms;
    this.pingsEndMono = this.atMono - postReserveMs(auction);
    this.answerByMono = this.atMono + answerGraceMs;
  }

  /** Milliseconds left before D (zero or less: passed). */
  left(): number {
    return this.atMono - this.now();
  }

  passed(): boolean {
    return this.left() <= 0;
  }

  /** A ping's timeout: the channel's, cut to the end of the ping phase (never negative). */
  pingTimeout(channelMs: number): number {
    return Math.max(0, Math.min(channelMs, this.pingsEndMono - this.now()));
  }

  /** A post's timeout: the channel's, cut to D (zero or less: no time for it). */
  postTimeout(channelMs: number): number {
    return Math.min(channelMs, this.left());
  }

  /**
   * Wall-clock now on the lead's monotonic clock: the app clock that stamped its arrival, moved on
   * by the monotonic time since. A bid's expiry compares with the same time the auction runs on, and
   * attempts are stamped with it, so they fall in the day (the `attempts` partition) of the clock
   * the partitions are kept by.
   */
  wallNow(): number {
    return this.receivedAt + (this.now() - this.receivedMono);
  }
}
