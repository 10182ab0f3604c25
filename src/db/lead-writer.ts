// Group commit of the end-of-auction writes. Under load many auctions end within a few
// milliseconds of each other; writing each in its own statement costs a round trip and a WAL flush
// per lead. Here a lead's outcome waits only while an earlier batch is being written, then goes out
// with every outcome that queued meanwhile, in one statement. Alone (light load) a lead is written
// at once, so there is no added latency; each caller is answered only after ITS batch committed, so
// a sale is still committed before the supplier hears `sold`.
//
// When the database fails, a batch fails within its bound and the next batch goes out as usual:
// nothing waits behind a statement that will never answer. The outcomes of a failed batch are
// kept and written again in the background until the database takes them (the statement settles a
// lead once only, so a write whose answer was lost and is sent again does no harm). A process that
// dies first leaves them to the sweep of interrupted leads (settleInterruptedLeads).
import type { Logger } from "pino";
import { unavailable, type Database } from "./client";
import { finishLeads, type LeadOutcome } from "./leads";

interface Pending {
  outcome: LeadOutcome;
  resolve(written: boolean): void;
  reject(error: unknown): void;
}

export interface LeadWriterOptions {
  /** Outcomes in one statement at most: bounds a statement's size and how long one batch holds its leads. */
  maxBatch?: number;
  /**
   * Batches being written at once. One: everything that ends while a batch is written goes out in
   * the next, so batches are as large as the load makes them (two in flight halved them, for about
   * 5 % less throughput at S1 and no better latency at S2).
   */
  maxInFlight?: number;
  /** How long one batch may take before it counts as failed (its outcomes are then kept and retried). */
  timeoutMs?: number;
  /** The first wait before outcomes of a failed batch are written again; it doubles up to 8×. */
  retryMs?: number;
  /** Outcomes kept for writing again at most; past it the oldest are left to the sweep of interrupted leads. */
  maxUnsettled?: number;
  logger?: Logger;
}

export class LeadWriter {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly retryMs: number;
  private readonly maxUnsettled: number;
  /** Outcomes whose write failed, to be written again in the background. */
  private unsettled: LeadOutcome[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private retrying: Promise<void> | undefined;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly database: Database,
    options: LeadWriterOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxInFlight = options.maxInFlight ?? 1;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.retryMs = options.retryMs ?? 500;
    this.retryDelay = this.retryMs;
    this.maxUnsettled = options.maxUnsettled ?? 10_000;
    this.logger = options.logger;
  }

  /**
   * Resolves once this outcome is committed: `true` when this write settled the lead, `false` when
   * it was already settled (by another process's sweep of interrupted leads). Rejects when the
   * database did not take it; the outcome is then kept and written again in the background.
   */
  finish(outcome: LeadOutcome): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ outcome, resolve, reject });
      this.pump();
    });
  }

  /** Outcomes waiting to be written again after a failure. */
  get unsettledCount(): number {
    return this.unsettled.length;
  }

  /** Tries once more to write what is unsettled (on shutdown); whatever still fails is left to the sweep. */
  async close(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.retrying;
    if (this.unsettled.length) await this.retry(false);
    if (this.unsettled.length) this.logger?.warn({ leads: this.unsettled.length }, "closing with lead outcomes unwritten; the sweep of interrupted leads will settle them");
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      const written = await this.finishLeads(batch.map((p) => p.outcome));
      for (const p of batch) p.resolve(written.has(p.outcome.leadId));
    } catch (error) {
      // The database is unreachable or silent: each of these leads is answered now (by its caller,
      // 503) and its outcome is written when the database is back.
      if (unavailable(error) || batch.length === 1) return this.fail(batch, error);
      // The batch was refused as a whole: nothing of it was written. One bad outcome must not fail
      // the others, so each is written alone and answers for itself.
      await Promise.all(
        batch.map((p) =>
          this.finishLeads([p.outcome]).then(
            (written) => p.resolve(written.has(p.outcome.leadId)),
            (e) => this.fail([p], e),
          ),
        ),
      );
    }
  }

  private finishLeads(outcomes: LeadOutcome[]) {
    return finishLeads(this.database, outcomes, { timeoutMs: this.timeoutMs });
  }

  private fail(batch: Pending[], error: unknown): void {
    for (const p of batch) p.reject(error);
    // Only the database's absence is worth waiting out; an outcome it refused would be refused again.
    if (!unavailable(error)) return;
    this.unsettled.push(...batch.map((p) => p.outcome));
    const dropped = this.unsettled.length - this.maxUnsettled;
    if (dropped > 0) {
      this.logger?.error({ leads: dropped }, "too many unwritten lead outcomes; the oldest are left to the sweep of interrupted leads");
      this.unsettled.splice(0, dropped);
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.retrying || this.unsettled.length === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retrying = this.retry(true).finally(() => {
        this.retrying = undefined;
        this.scheduleRetry();
      });
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  private async retry(backOff: boolean): Promise<void> {
    while (this.unsettled.length) {
      const batch = this.unsettled.slice(0, this.maxBatch);
      try {
        await this.finishLeads(batch);
      } catch (error) {
        if (backOff) this.retryDelay = Math.min(this.retryDelay * 2, this.retryMs * 8);
        if (!unavailable(error)) {
          this.logger?.error({ err: error, leads: batch.map((o) => o.leadId) }, "writing lead outcomes again was refused; the sweep of interrupted leads will settle them");
          this.unsettled.splice(0, batch.length);
        }
        return;
      }
      this.unsettled.splice(0, batch.length);
      this.retryDelay = this.retryMs;
      this.logger?.info({ leads: batch.length }, "wrote lead outcomes that had waited for the database");
    }
  }
}
