// Admission control: a bound on auctions running at once in this process. Past it a lead is
// answered 503 with Retry-After before anything is pinged, so overload sheds load quickly instead
// of letting every lead queue past its deadline. The gate also lets shutdown wait for the auctions
// still running.
export class AuctionGate {
  private running = 0;
  private idle: (() => void)[] = [];
  private refusedAt = -Infinity;

  constructor(
    readonly limit: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Whether a lead was refused in the last `windowMs`: Gavel is shedding load, so its event loop is
   * saturated and a buyer's timeout says more about Gavel than about the buyer.
   */
  shedding(windowMs = 1000): boolean {
    return this.now() - this.refusedAt < windowMs;
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
