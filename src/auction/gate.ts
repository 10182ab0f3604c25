// Admission control: a bound on auctions running at once in this process. Past it a lead is
// answered 503 with Retry-After before anything is pinged, so overload sheds load quickly instead
// of letting every lead queue past its deadline. The gate also lets shutdown wait for the auctions
// still running.
export class AuctionGate {
  private running = 0;
  private idle: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.running;
  }

  tryEnter(): boolean {
    if (this.running >= this.limit) return false;
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
