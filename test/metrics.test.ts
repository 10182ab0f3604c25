import { describe, expect, it } from "vitest";
import { createMetrics } from "../src/metrics";
import { ADMIN, consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";

/** The value of one series of a Prometheus text exposition, matched on exactly these labels; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).sort().map(([k, v]) => `${k}="${v}"`).join(",");
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? "").split(/,(?=[a-zA-Z_]\w*=")/).filter(Boolean).sort().join(",");
    if (got === wanted) return Number(m[3]);
  }
  return 0;
}

async function scrape(g: TestGavel): Promise<string> {
  const res = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

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

  it("counts each channel's pings and posts by outcome and times them, labelled by channel and campaign", async () => {
    const g = fixture.g;
    const winner = await fixture.buyer({ ping: () => ({ json: { bid: 9 } }) });
    const picky = await fixture.buyer({ ping: () => ({ json: { bid: 15 } }), post: () => ({ json: { accepted: false, reason: "no thanks" } }) });
    const shy = await fixture.buyer({ ping: () => ({ status: 204 }) });
    const key = await g.setup({
      campaign: { id: "per-channel", dedup: { fields: ["email"] } },
      channels: [pingPost("pc-winner", winner), pingPost("pc-picky", picky), pingPost("pc-shy", shy)],
    });
    for (let i = 0; i < 2; i++) expect((await g.lead(key, { campaign: "per-channel", data: consumer() })).body.status).toBe("sold");

    const text = await scrape(g);
    const on = (channel: string, extra: Record<string, string> = {}) => ({ channel, campaign: "per-channel", ...extra });
    expect(sample(text, "gavel_channel_pings_total", on("pc-winner", { outcome: "bid" }))).toBe(2);
    expect(sample(text, "gavel_channel_pings_total", on("pc-picky", { outcome: "bid" }))).toBe(2);
    expect(sample(text, "gavel_channel_pings_total", on("pc-shy", { outcome: "no_bid" }))).toBe(2);
    // The highest bid is posted first and rejected; the next one is accepted.
    expect(sample(text, "gavel_channel_posts_total", on("pc-picky", { outcome: "rejected" }))).toBe(2);
    expect(sample(text, "gavel_channel_posts_total", on("pc-winner", { outcome: "accepted" }))).toBe(2);
    expect(sample(text, "gavel_channel_posts_total", on("pc-shy", { outcome: "accepted" }))).toBe(0);
    for (const channel of ["pc-winner", "pc-picky", "pc-shy"]) {
      expect(sample(text, "gavel_channel_ping_duration_seconds_count", on(channel))).toBe(2);
      expect(sample(text, "gavel_channel_ping_duration_seconds_bucket", on(channel, { le: "+Inf" }))).toBe(2);
    }
    expect(sample(text, "gavel_channel_post_duration_seconds_count", on("pc-winner"))).toBe(2);
    expect(sample(text, "gavel_channel_post_duration_seconds_count", on("pc-picky"))).toBe(2);
    expect(sample(text, "gavel_channel_post_duration_seconds_count", on("pc-shy"))).toBe(0);
    // Buyer time is observed, not just counted.
    expect(sample(text, "gavel_channel_ping_duration_seconds_sum", on("pc-winner"))).toBeGreaterThan(0);
  });

  it("leaves test leads out of every lead metric", async () => {
    const g = fixture.g;
    const buyer = await fixture.buyer({ ping: () => ({ json: { bid: 7 } }) });
    const key = await g.setup({ campaign: { id: "tests-apart", dedup: { fields: ["email"] } }, channels: [pingPost("ta-buyer", buyer)] });
    const series = (text: string) => ({
      sold: sample(text, "gavel_leads_total", { status: "sold" }),
      rejected: sample(text, "gavel_leads_total", { status: "rejected" }),
      duration: sample(text, "gavel_lead_duration_seconds_count"),
      overhead: sample(text, "gavel_lead_overhead_seconds_count"),
      pingPhase: sample(text, "gavel_ping_phase_seconds_count"),
      pings: sample(text, "gavel_channel_pings_total", { channel: "ta-buyer", campaign: "tests-apart", outcome: "bid" }),
      posts: sample(text, "gavel_channel_posts_total", { channel: "ta-buyer", campaign: "tests-apart", outcome: "accepted" }),
      pingSeconds: sample(text, "gavel_channel_ping_duration_seconds_count", { channel: "ta-buyer", campaign: "tests-apart" }),
      postSeconds: sample(text, "gavel_channel_post_duration_seconds_count", { channel: "ta-buyer", campaign: "tests-apart" }),
    });
    const before = series(await scrape(g));

    expect((await g.lead(key, { campaign: "tests-apart", data: consumer(), test: true })).body.status).toBe("sold");
    expect((await g.lead(key, { campaign: "tests-apart", data: { zip: "x" }, test: true })).status).toBe(422);
    expect(buyer.posts).toHaveLength(1);
    expect(series(await scrape(g))).toEqual(before);

    // The same lead, real: counted everywhere.
    expect((await g.lead(key, { campaign: "tests-apart", data: consumer() })).body.status).toBe("sold");
    const after = series(await scrape(g));
    for (const name of Object.keys(before) as (keyof typeof before)[]) expect(after[name] - before[name], name).toBe(name === "rejected" ? 0 : 1);
  });
});

describe("per-channel series, as scraped", () => {
  it("counts by outcome and writes cumulative latency buckets, a sum and a count", async () => {
    const metrics = createMetrics({ auctionsInFlight: () => 0 });
    const ping = (channelId: string, outcome: string, durationMs: number) => ({ kind: "ping" as const, channelId, outcome, durationMs });
    metrics.recordAttempts("c", [ping("a", "bid", 4), ping("a", "bid", 20), ping("a", "timeout", 300), ping("b", "no_bid", 2)]);
    metrics.recordAttempts("c", [{ kind: "post", channelId: "a", outcome: "skipped", durationMs: 0 }]);
    const text = await metrics.registry.metrics();
    const on = (channel: string, extra: Record<string, string> = {}) => ({ channel, campaign: "c", ...extra });
    expect(sample(text, "gavel_channel_pings_total", on("a", { outcome: "bid" }))).toBe(2);
    expect(sample(text, "gavel_channel_pings_total", on("a", { outcome: "timeout" }))).toBe(1);
    expect(sample(text, "gavel_channel_pings_total", on("b", { outcome: "no_bid" }))).toBe(1);
    expect(sample(text, "gavel_channel_posts_total", on("a", { outcome: "skipped" }))).toBe(1);
    // `le` is "less than or equal": 20 ms counts in the 0.02 bucket; buckets add up.
    expect(sample(text, "gavel_channel_ping_duration_seconds_bucket", on("a", { le: "0.005" }))).toBe(1);
    expect(sample(text, "gavel_channel_ping_duration_seconds_bucket", on("a", { le: "0.02" }))).toBe(2);
    expect(sample(text, "gavel_channel_ping_duration_seconds_bucket", on("a", { le: "0.3" }))).toBe(3);
    expect(sample(text, "gavel_channel_ping_duration_seconds_bucket", on("a", { le: "+Inf" }))).toBe(3);
    expect(sample(text, "gavel_channel_ping_duration_seconds_count", on("a"))).toBe(3);
    expect(sample(text, "gavel_channel_ping_duration_seconds_sum", on("a"))).toBeCloseTo(0.324, 6);
    // A skipped post never left Gavel: no latency series for it.
    expect(text).not.toMatch(/gavel_channel_post_duration_seconds_count\{/);
    expect(text).toMatch(/# TYPE gavel_channel_ping_duration_seconds histogram/);
    expect(text).toMatch(/# TYPE gavel_channel_pings_total counter/);
  });
});
