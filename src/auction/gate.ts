// Admission control: a bound on auctions running at once in this process. Past it a lead waits
// briefly or is answered 503 with Retry-After before anything is pinged (http/admission.ts is the
// one place that asks), so overload sheds load quickly instead of letting every lead queue past its
// deadline. The gate also lets shutdown wait for the auctions still running, and says when Gavel
// itself is the reason buyers seem slow.

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

interface Waiter {
  admit(admitted: boolean): void;
  timer: NodeJS.Timeout;
}

export class AuctionGate {
  private running = 0;
  private idle: (() => void)[] = [];
  private refusedAt = -Infinity;
  /** Leads waiting for a slot, oldest first. */
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly limit: number,
    private readonly now: () => number = () => performance.now(),
    /** Whether the event loop is saturated now; injectable for tests. */
    private readonly loopSaturated: () => boolean = () => false,
    /** Leads that may wait for a slot at once. */
    readonly maxWaiting = 4 * limit,
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Takes a slot, waiting up to `maxWaitMs` for one behind the leads already waiting (first come,
   * first served). False: no slot in time, or too many waiting already; the lead is refused.
   * `cancelled`, when it fires, withdraws a lead still waiting (its client went away).
   */
  enter(maxWaitMs: number, cancelled?: (withdraw: () => void) => void): Promise<boolean> | boolean {
    if (this.running < this.limit && this.waiting.length === 0) {
      this.running++;
      return true;
    }
    if (maxWaitMs <= 0 || this.waiting.length >= this.maxWaiting) {
      this.refused();
      return false;
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        admit: resolve,
        timer: setTimeout(() => {
          this.withdraw(waiter);
          this.refused();
          resolve(false);
        }, maxWaitMs),
      };
      this.waiting.push(waiter);
      cancelled?.(() => {
        if (this.withdraw(waiter)) resolve(false);
      });
    });
  }

  private withdraw(waiter: Waiter): boolean {
    const i = this.waiting.indexOf(waiter);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    clearTimeout(waiter.timer);
    return true;
  }

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

  /** Records a lead refused; `enter` records each lead it refuses. */
  refused(): void {
    this.refusedAt = this.now();
  }

  /** Takes a slot if one is free now, without waiting. */
  tryEnter(): boolean {
    return this.enter(0) === true;
  }

  leave(): void {
    // A waiting lead takes the slot over directly, so a newcomer cannot jump the queue.
    const next = this.waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      next.admit(true);
      return;
    }
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
