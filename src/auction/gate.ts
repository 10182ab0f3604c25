// Admission control: a bound on auctions running at once in this process. Past it a lead is
// answered 503 with Retry-After before anything is pinged, so overload sheds load quickly instead
// of letting every lead queue past its deadline. The gate also lets shutdown wait for the auctions
// still running.
export class AuctionGate {
  private running = 0;
  private idle: (() => void)[] = [];
  private refusedAt = -Infinity;
  private sample = { at: -Infinity, elu: performance.eventLoopUtilization(), busy: 0 };

  constructor(
    readonly limit: number,
    private readonly now: () => number = () => performance.now(),
    /** The event loop's utilisation (0–1) since the last call; injectable for tests. */
    private readonly loopUtilisation: () => number = () => {
      const elu = performance.eventLoopUtilization(this.sample.elu);
      this.sample.elu = performance.eventLoopUtilization();
      return elu.utilization;
    },
  ) {}

  /**
   * Whether Gavel is overloaded: it refused a lead in the last `windowMs`, or its event loop was
   * over 90 % busy over the last quarter second or so (a burst right after start-up, before the
   * gate fills). A buyer's timeout then says more about Gavel than about the buyer.
   */
  overloaded(windowMs = 1000): boolean {
    const now = this.now();
    if (now - this.refusedAt < windowMs) return true;
    if (now - this.sample.at >= 250) {
      const busy = this.loopUtilisation();
      this.sample.at = now;
      this.sample.busy = busy;
    }
    return this.sample.busy > 0.9;
  }

  get inFlight(): number {
    return this.running;
  }

  tryEnter(): boolean {
    if (this.running >= this.limit) {
      this.refusedAt = this.now();
      return false;
    }
    this.running++;
    return true;
  }

  leave(): void {
    this.running--;
    if (this.running === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Resolves when no auction is running, or after `timeoutMs`, whichever comes first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.running === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
