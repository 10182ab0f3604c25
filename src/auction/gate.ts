// Admission control: a bound on auctions running at once in this process. Past it a lead is
// answered 503 with Retry-After before anything is pinged, so overload sheds load quickly instead
// of letting every lead queue past its deadline. The gate also lets shutdown wait for the auctions
// still running, and says when Gavel itself is the reason buyers seem slow.

/**
 * Watches this process's event loop: every `everyMs` it records how busy the loop was since the
 * last look and how late its own timer fired. A loop that is busy nearly all the time, or whose
 * timers run late, answers buyers late whatever the buyers do.
 */
export class LoopMonitor {
  private readonly samples: { busy: number; lateMs: number }[] = [];
  private elu = performance.eventLoopUtilization();
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly everyMs = 100,
    /** Samples kept: the window `saturated` judges, about one ping timeout long. */
    private readonly keep = 3,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.now();
    const elu = performance.eventLoopUtilization();
    this.samples.push({ busy: performance.eventLoopUtilization(elu, this.elu).utilization, lateMs: now - this.last - this.everyMs });
    this.elu = elu;
    this.last = now;
    if (this.samples.length > this.keep) this.samples.shift();
  }

  /**
   * Over the last few samples the loop was more than 90 % busy, or a timer fired more than 50 ms
   * late. A timer overdue right now counts too: the loop has been held since the last sample.
   */
  saturated(): boolean {
    if (performance.now() - this.last - this.everyMs > 50) return true;
    if (this.samples.length === 0) return false;
    let busy = 0;
    for (const s of this.samples) {
      if (s.lateMs > 50) return true;
      busy += s.busy;
    }
    return busy / this.samples.length > 0.9;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export class AuctionGate {
  private running = 0;
  private idle: (() => void)[] = [];
  private refusedAt = -Infinity;

  constructor(
    readonly limit: number,
    private readonly now: () => number = () => performance.now(),
    /** Whether the event loop is saturated now; injectable for tests. */
    private readonly loopSaturated: () => boolean = () => false,
  ) {}

  /**
   * Whether Gavel is overloaded: it refused a lead in the last `windowMs`, or its event loop is
   * saturated (a burst right after start-up, before the gate fills, or other work starving it).
   * A buyer's timeout then says more about Gavel than about the buyer.
   */
  overloaded(windowMs = 1000): boolean {
    return this.now() - this.refusedAt < windowMs || this.loopSaturated();
  }

  get inFlight(): number {
    return this.running;
  }

  /** No room for another auction now: what the server checks before reading a lead at all. */
  get full(): boolean {
    return this.running >= this.limit;
  }

  /** Records a lead refused without entering (the server's early 503). */
  refused(): void {
    this.refusedAt = this.now();
  }

  tryEnter(): boolean {
    if (this.running >= this.limit) {
      this.refused();
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
