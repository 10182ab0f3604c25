import { describe, expect, it } from "vitest";
import { ADMIN, consumer, pingPost, useTestGavel } from "./helpers/gavel";

describe("GET /metrics", () => {
  const fixture = useTestGavel();

  it("needs an operator token", async () => {
    const res = await fetch(`${fixture.g.url}/metrics`);
    expect(res.status).toBe(401);
  });

  it("counts leads by status and observes overhead, duration and the ping phase", async () => {
    const g = fixture.g;
    const buyer = await fixture.buyer({ ping: () => ({ json: { bid: 10, ping_ref: "m-1" }, delayMs: 30 }) });
    const key = await g.setup({ campaign: { id: "metrics", dedup: { fields: ["email"] } }, channels: [pingPost("metrics-buyer", buyer)] });
    const lead = consumer();
    expect((await g.lead(key, { campaign: "metrics", data: lead })).body.status).toBe("sold");
    expect((await g.lead(key, { campaign: "metrics", data: lead })).body.status).toBe("duplicate");
    expect((await g.lead(key, { campaign: "metrics", data: { zip: "x" } })).status).toBe(422);

    const res = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^gavel_leads_total\{status="sold"\} 1$/m);
    expect(text).toMatch(/^gavel_leads_total\{status="duplicate"\} 1$/m);
    expect(text).toMatch(/^gavel_leads_total\{status="rejected"\} 1$/m);
    expect(text).toMatch(/^gavel_lead_overhead_seconds_count 1$/m);
    expect(text).toMatch(/^gavel_lead_duration_seconds_count 1$/m);
    expect(text).toMatch(/^gavel_ping_phase_seconds_count 1$/m);
    // The 30 ms ping is buyer time: it lands in the ping phase, not in Gavel's overhead.
    expect(text).toMatch(/^gavel_ping_phase_seconds_bucket\{le="0.02"\} 0$/m);
    expect(text).toMatch(/^gavel_auctions_in_flight 0$/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
  });
});
