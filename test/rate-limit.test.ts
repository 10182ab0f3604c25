// Per-supplier rate limits: a token bucket in each process, answered 429 + Retry-After before any
// lead is recorded.
import { describe, expect, it } from "vitest";
import { SupplierRateLimiter } from "../src/auction/rate-limit";
import { consumer, testClock, useTestGavel } from "./helpers/gavel";

describe("supplier rate limits", () => {
  describe("the token bucket", () => {
    const clock = { t: 1_000_000, now() { return this.t; } };
    const limit = { per_second: 2, burst: 3 };

    it("admits a burst, then the refill rate, and says when to retry", () => {
      const limiter = new SupplierRateLimiter(clock);
      for (let i = 0; i < 3; i++) expect(limiter.take("s", limit)).toEqual({ ok: true });
      expect(limiter.take("s", limit)).toEqual({ ok: false, retryAfterSeconds: 1 });
      clock.t += 500; // one token back at 2/s
      expect(limiter.take("s", limit).ok).toBe(true);
      expect(limiter.take("s", limit).ok).toBe(false);
      clock.t += 60_000; // refills to the burst, not beyond
      for (let i = 0; i < 3; i++) expect(limiter.take("s", limit).ok).toBe(true);
      expect(limiter.take("s", limit).ok).toBe(false);
    });

    it("rounds Retry-After up to whole seconds, keeps suppliers apart and restarts on a new limit", () => {
      const limiter = new SupplierRateLimiter(clock);
      const slow = { per_second: 0.1, burst: 1 };
      expect(limiter.take("a", slow).ok).toBe(true);
      expect(limiter.take("a", slow)).toEqual({ ok: false, retryAfterSeconds: 10 });
      expect(limiter.take("b", slow).ok).toBe(true);
      expect(limiter.take("a", undefined).ok).toBe(true);
      expect(limiter.take("a", { per_second: 0.1, burst: 2 }).ok).toBe(true);
    });
  });

  describe("over HTTP", () => {
    // The buckets refill on Gavel's clock: the test's, so no time passes unless the test says so.
    const httpClock = testClock("2026-06-01T12:00:00Z");
    const t = useTestGavel({}, { clock: httpClock });

    it("answers 429 with Retry-After past the burst, records no lead, and admits again after the refill", async () => {
      const key = await t.g.setup({
        campaign: { id: "limited" },
        channels: [],
        supplier: { id: "limited-sup", rate_limit: { per_second: 0.5, burst: 2 } },
      });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await t.g.lead(key, { campaign: "limited", data: consumer() }));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 429, 429]);
      const limited = answers[2];
      expect(limited.headers.get("content-type")).toContain("application/problem+json");
      expect(limited.body).toMatchObject({ type: "urn:gavel:problem:rate_limited", status: 429 });
      expect(limited.headers.get("retry-after")).toBe("2"); // a token every 2 s, and none has come back yet
      const leads = await t.g.admin("GET", "/v1/leads?supplier=limited-sup");
      expect(leads.body.items).toHaveLength(2);

      httpClock.advance(1999);
      expect((await t.g.lead(key, { campaign: "limited", data: consumer() })).status).toBe(429);
      httpClock.advance(1);
      expect((await t.g.lead(key, { campaign: "limited", data: consumer() })).status).toBe(200);
    });

    it("leaves suppliers without a limit alone, and validates the limit", async () => {
      const key = await t.g.setup({ campaign: { id: "limited" }, channels: [], supplier: { id: "free-sup" } });
      for (let i = 0; i < 5; i++) expect((await t.g.lead(key, { campaign: "limited", data: consumer() })).status).toBe(200);
      const bad = await t.g.admin("PATCH", "/v1/suppliers/free-sup", { rate_limit: { per_second: 0, burst: 1.5 } });
      expect(bad.status).toBe(422);
      expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(["rate_limit.burst", "rate_limit.per_second"]);
    });

    it("applies a new limit to the next lead", async () => {
      const key = await t.g.setup({ campaign: { id: "limited" }, channels: [], supplier: { id: "tightened" } });
      expect((await t.g.lead(key, { campaign: "limited", data: consumer() })).status).toBe(200);
      await t.g.admin("PATCH", "/v1/suppliers/tightened", { rate_limit: { per_second: 0.01, burst: 1 } });
      expect((await t.g.lead(key, { campaign: "limited", data: consumer() })).status).toBe(200);
      const refused = await t.g.lead(key, { campaign: "limited", data: consumer() });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("100");
    });
  });
});
