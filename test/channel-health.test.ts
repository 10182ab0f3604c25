// Channel health end to end: a buyer that keeps failing opens its channel's circuit, leads skip it
// with reason circuit_open, one probe lead goes through after the cool-down, and the circuit closes
// (or opens again) on what the probe finds. State and history read back through the API.
//
// The cool-downs pass on the test's clock, which Gavel reads for circuit timing, not on a sleep;
// a probe that must still be out while another lead arrives is held by a latch.
import { beforeAll, describe, expect, it } from "vitest";
import { createBuyerTransport } from "../src/channels/transport";
import { startBuyer } from "./helpers/buyers";
import { consumer, pingPost, startTestGavel, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";

const clock = testClock("2026-06-01T12:00:00Z");

describe("channel health (circuit breaker)", () => {
  const fixture = useTestGavel({}, { clock });
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const trace = async (leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;
  const health = async (id: string) => {
    const res = await g.admin("GET", `/v1/channels/${id}/health`);
    expect(res.status).toBe(200);
    return res.body;
  };

  it("opens after N consecutive failures, skips the channel, probes once after the cool-down, then closes", async () => {
    let mode: "broken" | "ok" = "broken";
    const probeAnswered = latch();
    const flaky = await buyer({
      ping: () => (mode === "broken" ? { status: 503, json: { error: "down" } } : { held: probeAnswered.promise.then(() => ({ json: { bid: 20 } })) }),
    });
    const steady = await buyer({ ping: () => ({ json: { bid: 5 } }) });
    const key = await g.setup({
      // Deadlines far beyond the test's needs: the probe's ping waits for the latch, not for them.
      campaign: { id: "health", auction: { timeout_ms: 20_000, ping_timeout_ms: 15_000 } },
      channels: [pingPost("health-flaky", flaky, { circuit_breaker: { failures: 3, cooldown_ms: 1000 } }), pingPost("health-steady", steady)],
    });

    expect(await health("health-flaky")).toMatchObject({ state: "closed", consecutive_failures: 0, failure_threshold: 3, cooldown_ms: 1000, history: [] });
    const failed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await g.lead(key, { campaign: "health", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", price: 5 });
      failed.push(res.body.lead_id);
    }
    const opened = await health("health-flaky");
    expect(opened).toMatchObject({ state: "open", consecutive_failures: 3 });
    expect(opened.opened_at).toEqual(expect.any(String));
    expect(opened.history).toEqual([{ state: "open", at: expect.any(String), reason: "3 consecutive failures (last: error)", lead_id: failed[2] }]);
    // The channel read shows the same health.
    expect((await g.admin("GET", "/v1/channels/health-flaky")).body.health).toMatchObject({ state: "open" });

    // While open: skipped, with the reason in the trace, and never pinged.
    const skipped = await g.lead(key, { campaign: "health", data: consumer() });
    expect(skipped.body).toMatchObject({ status: "sold", price: 5 });
    const t = await trace(skipped.body.lead_id);
    expect(t.excluded).toContainEqual({ channel_id: "health-flaky", reason: "circuit_open", detail: null });
    expect(t.attempts.filter((a: any) => a.channel_id === "health-flaky")).toEqual([]);
    expect(flaky.pings).toHaveLength(3);

    // Not a millisecond before the cool-down is over.
    clock.advance(999);
    const early = await g.lead(key, { campaign: "health", data: consumer() });
    expect((await trace(early.body.lead_id)).excluded).toContainEqual({ channel_id: "health-flaky", reason: "circuit_open", detail: null });

    // After the cool-down the buyer is back; two leads arrive together: one probes, one is still skipped.
    mode = "ok";
    clock.advance(1);
    const probing = g.lead(key, { campaign: "health", data: consumer() });
    // The second lead arrives while the probe's ping is still out: the buyer holds its answer
    // until the second lead has been answered.
    await eventually(() => flaky.pings.length === 4, "the probe's ping");
    const b = await g.lead(key, { campaign: "health", data: consumer() });
    probeAnswered.open();
    const a = await probing;
    expect(flaky.pings).toHaveLength(4);
    const [ta, tb] = [await trace(a.body.lead_id), await trace(b.body.lead_id)];
    expect(ta.attempts.find((x: any) => x.kind === "ping" && x.channel_id === "health-flaky")).toMatchObject({ outcome: "bid", price: 20 });
    expect(a.body).toMatchObject({ status: "sold", price: 20 });
    expect(tb.excluded).toContainEqual({ channel_id: "health-flaky", reason: "circuit_open", detail: null });

    const closed = await health("health-flaky");
    expect(closed).toMatchObject({ state: "closed", consecutive_failures: 0, opened_at: null });
    expect(closed.history.map((h: any) => [h.state, h.lead_id])).toEqual([
      ["open", failed[2]],
      ["half_open", null],
      ["closed", a.body.lead_id],
    ]);
    const next = await g.lead(key, { campaign: "health", data: consumer() });
    expect(next.body).toMatchObject({ status: "sold", price: 20 });
    expect(flaky.pings).toHaveLength(5);
  });

  it("opens again when the probe fails too, and counts timeouts as failures", async () => {
    const dead = await buyer({ ping: () => ({ hang: true }) });
    const key = await g.setup({
      campaign: { id: "health-dead", auction: { timeout_ms: 1500, ping_timeout_ms: 200 } },
      channels: [pingPost("health-dead-hang", dead, { circuit_breaker: { failures: 2, cooldown_ms: 500 } })],
    });
    for (let i = 0; i < 2; i++) await g.lead(key, { campaign: "health-dead", data: consumer() });
    expect(await health("health-dead-hang")).toMatchObject({ state: "open" });
    expect(dead.pings).toHaveLength(2);
    const skipped = await g.lead(key, { campaign: "health-dead", data: consumer() });
    // Skipping the dead channel answers at once instead of waiting out its timeout.
    expect((await trace(skipped.body.lead_id)).excluded).toEqual([{ channel_id: "health-dead-hang", reason: "circuit_open", detail: null }]);
    expect(skipped.body).toMatchObject({ status: "unsold" });

    clock.advance(500);
    const probe = await g.lead(key, { campaign: "health-dead", data: consumer() });
    expect((await trace(probe.body.lead_id)).attempts).toMatchObject([{ kind: "ping", outcome: "timeout" }]);
    const reopened = await health("health-dead-hang");
    expect(reopened.state).toBe("open");
    expect(reopened.history.map((h: any) => h.state)).toEqual(["open", "half_open", "open"]);
    expect(reopened.history[2]).toMatchObject({ reason: "probe failed (timeout)", lead_id: probe.body.lead_id });
    expect(dead.pings).toHaveLength(3);
  });
});

// Two channels of one buyer share an origin, and so Gavel's pool of connections to it. When the
// one that hangs holds every connection, the other's pings wait in Gavel's own queue and never
// reach the buyer (`ping_not_sent`): that is Gavel's congestion, not the buyer's failure, and only
// the hanging channel's circuit opens. (Seen in the load lab: hanging buyers on S3's one origin
// once opened every channel's circuit, and S3 sold nothing.)
describe("channel health when one endpoint holds every connection to its origin", () => {
  it("opens the hanging channel's circuit only; its neighbour's unsent pings do not count", async () => {
    const shared = await startBuyer({
      ping: (r) => (r.path.startsWith("/ping/hang") ? { hang: true } : { json: { bid: 6 } }),
    });
    const oneConnection = createBuyerTransport({ connectionsPerOrigin: 1, stallMs: Infinity });
    const g = await startTestGavel({}, { transport: oneConnection });
    try {
      const breaker = { circuit_breaker: { failures: 2, cooldown_ms: 60_000 } };
      const key = await g.setup({
        campaign: { id: "health-shared-origin", auction: { timeout_ms: 3000, ping_timeout_ms: 600 } },
        channels: [
          // First by id (the order pings leave in), so its ping takes the one connection; its own timeout is the longer.
          pingPost("shared-a-hang", { pingUrl: `${shared.url}/ping/hang`, postUrl: `${shared.url}/post` }, breaker),
          pingPost("shared-b-bid", { pingUrl: `${shared.url}/ping/bid`, postUrl: `${shared.url}/post` }, { ...breaker, ping: { url: `${shared.url}/ping/bid`, timeout_ms: 200 } }),
        ],
      });
      for (let i = 0; i < 2; i++) {
        const res = await g.lead(key, { campaign: "health-shared-origin", data: consumer() });
        expect(res.body.status).toBe("unsold");
        const t = (await g.admin("GET", `/v1/leads/${res.body.lead_id}`)).body;
        expect(t.attempts.filter((a: any) => a.kind === "ping").map((a: any) => [a.channel_id, a.reason]).sort()).toEqual([
          ["shared-a-hang", "ping_timeout"],
          ["shared-b-bid", "ping_not_sent"],
        ]);
      }
      const hang = (await g.admin("GET", "/v1/channels/shared-a-hang/health")).body;
      const bid = (await g.admin("GET", "/v1/channels/shared-b-bid/health")).body;
      expect(hang).toMatchObject({ state: "open", consecutive_failures: 2 });
      expect(bid).toMatchObject({ state: "closed", consecutive_failures: 0 });

      // With the hanging channel's circuit open, the connection is free and the neighbour sells.
      const sold = await g.lead(key, { campaign: "health-shared-origin", data: consumer() });
      expect(sold.body).toMatchObject({ status: "sold", price: 6 });
    } finally {
      await g.close();
      await shared.close();
    }
  });
});
