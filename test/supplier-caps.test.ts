// Supplier caps: the leads a supplier may send per period. Over its cap a lead is refused before
// the auction: answered 429 with Retry-After, and recorded as `rejected` with the cap's reason.
import { beforeAll, describe, expect, it } from "vitest";
import { consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";

// 14:20 UTC; New York is UTC-4 in June.
const clock = testClock("2026-06-01T14:20:00Z");

describe("supplier caps", () => {
  const fixture = useTestGavel({}, { clock });
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  it("refuses a supplier's lead over its hourly cap with 429 and Retry-After, records it, and never counts test leads", async () => {
    const b = await fixture.buyer({ ping: () => ({ json: { bid: 5 } }) });
    const key = await g.setup({
      campaign: { id: "sup-cap" },
      channels: [pingPost("sup-cap-a", b)],
      supplier: { id: "capped-supplier", timezone: "America/New_York", caps: [{ period: "hour", leads: 2 }, { period: "day", leads: 10 }] },
    });
    const send = (test = false) => g.lead(key, { campaign: "sup-cap", data: consumer(), test });
    expect((await send()).status).toBe(200);
    expect((await send(true)).status).toBe(200);
    expect((await send()).status).toBe(200);
    const over = await send();
    expect(over.status).toBe(429);
    expect(over.headers.get("content-type")).toContain("application/problem+json");
    expect(over.headers.get("retry-after")).toBe(String(40 * 60));
    expect(over.body).toMatchObject({ type: "urn:gavel:problem:supplier_cap", status: 429, reason: "cap_leads", reason_detail: "hour" });
    const t = (await g.admin("GET", `/v1/leads/${over.body.lead_id}`)).body;
    expect(t).toMatchObject({ status: "rejected", reason: "cap_leads", detail: "hour", attempts: [] });
    expect(b.pings).toHaveLength(3);

    // Test leads are not refused either.
    expect((await send(true)).status).toBe(200);
    const read = (await g.admin("GET", "/v1/suppliers/capped-supplier")).body;
    expect(read.caps).toEqual([
      { period: "hour", leads: 2, used: { leads: 2, spend: 0 }, resets_at: "2026-06-01T15:00:00.000Z" },
      { period: "day", leads: 10, used: { leads: 2, spend: 0 }, resets_at: "2026-06-02T04:00:00.000Z" },
    ]);

    // The next hour has room again, and the same Idempotency-Key may be retried then.
    const body = { campaign: "sup-cap", data: consumer() };
    expect((await g.lead(key, body, { "idempotency-key": "later" })).status).toBe(429);
    clock.set("2026-06-01T15:00:00Z");
    const retried = await g.lead(key, body, { "idempotency-key": "later" });
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe("sold");
  });

  it("counts only leads that go to auction: duplicates and invalid leads do not use the cap", async () => {
    // A cap of 2, so the duplicate arrives while the cap still has room: a full cap may refuse a lead
    // (429) before its duplicate check, as soon as this process's usage view has caught up (it
    // refreshes behind the leads, on a timer), which made the answer a race on a busy machine.
    const key = await g.setup({
      campaign: { id: "sup-cap-dup", dedup: { fields: ["email"] } },
      channels: [],
      supplier: { id: "careful-supplier", caps: [{ period: "day", leads: 2 }] },
    });
    const person = consumer();
    expect((await g.lead(key, { campaign: "sup-cap-dup", data: { zip: "1" } })).status).toBe(422);
    expect((await g.lead(key, { campaign: "sup-cap-dup", data: person })).body.status).toBe("unsold");
    expect((await g.lead(key, { campaign: "sup-cap-dup", data: person })).body.status).toBe("duplicate");
    // Only the one auctioned lead used the cap, so one more fits, and then no more.
    expect((await g.lead(key, { campaign: "sup-cap-dup", data: consumer() })).body.status).toBe("unsold");
    expect((await g.lead(key, { campaign: "sup-cap-dup", data: consumer() })).status).toBe(429);
  });
});
