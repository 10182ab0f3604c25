// Group commit of the end-of-auction writes. Under load many auctions end within a few
// milliseconds of each other; writing each in its own statement costs a round trip and a WAL flush
// per lead. Here a lead's outcome waits only while an earlier batch is being written, then goes out
// with every outcome that queued meanwhile, in one statement. Alone (light load) a lead is written
// at once, so there is no added latency; each caller is answered only after ITS batch committed, so
// a sale is still committed before the supplier hears `sold`.
import type { Database } from "./client";
import { finishLeads, type LeadOutcome } from "./leads";

interface Pending {
  outcome: LeadOutcome;
  resolve(): void;
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
}

export class LeadWriter {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly database: Database,
    options: LeadWriterOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  /** Resolves once this outcome is committed. */
  finish(outcome: LeadOutcome): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ outcome, resolve, reject });
      this.pump();
    });
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
      await finishLeads(
        this.database,
        batch.map((p) => p.outcome),
      );
      for (const p of batch) p.resolve();
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
      // The batch failed as a whole: nothing of it was written. One bad outcome must not fail the
      // others, so each is written alone and answers for itself.
      await Promise.all(batch.map((p) => finishLeads(this.database, [p.outcome]).then(p.resolve, p.reject)));
    }
  }
}
