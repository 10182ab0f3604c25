// Per-supplier rate limits: a token bucket per supplier, in this process's memory. A supplier with
// `rate_limit: { per_second, burst }` may send `burst` leads at once and `per_second` on average;
// past that a lead is answered 429 with Retry-After before anything is recorded. The buckets are
// per process on purpose — no database round trip on the hot path — so N processes behind a load
// balancer admit up to N times the configured rate (the README says so).
import type { RateLimit } from "../resources/schemas";
import type { Clock } from "../time/clock";

interface Bucket {
  tokens: number;
  at: number;
  perSecond: number;
  burst: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

export class SupplierRateLimiter {
  private buckets = new Map<string, Bucket>();

  constructor(private readonly clock: Clock) {}

  /** Takes one token from the supplier's bucket, or says how long until one is available. */
  take(supplierId: string, limit: RateLimit | undefined): Admission {
    if (!limit) return { ok: true };
    const now = this.clock.now();
    let bucket = this.buckets.get(supplierId);
    // A changed limit starts a fresh, full bucket.
    if (!bucket || bucket.perSecond !== limit.per_second || bucket.burst !== limit.burst) {
      bucket = { tokens: limit.burst, at: now, perSecond: limit.per_second, burst: limit.burst };
      this.buckets.set(supplierId, bucket);
      if (this.buckets.size > 100_000) this.buckets.delete(this.buckets.keys().next().value as string);
    } else {
      const elapsed = Math.max(0, now - bucket.at) / 1000;
      bucket.tokens = Math.min(bucket.burst, bucket.tokens + elapsed * bucket.perSecond);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    // Retry-After is in whole seconds: round up, so a retry at that time finds a token.
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / bucket.perSecond)) };
  }
}
