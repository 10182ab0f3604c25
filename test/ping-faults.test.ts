// Everything a buyer can do wrong during the ping phase (SPEC.md "The auction" step 4 and "Native
// buyer protocol"), against a real Gavel and real loopback buyers: each fault is a recorded outcome
// with its reason, never a reason to miss the supplier's deadline.
import { beforeAll, describe, expect, it } from "vitest";
import type { Behaviour } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";
import { latch } from "./helpers/latch";

describe("ping faults", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  /**
   * g.setup, plus a check that every channel really is the one this test describes: the helper
   * accepts a 409 for a taken id, so a reused channel id would silently point at another buyer.
   */
  async function setup(options: Parameters<TestGavel["setup"]>[0]): Promise<string> {
    const key = await g.setup(options);
    for (const channel of options.channels) {
      const res = await g.admin("GET", `/v1/channels/${channel.id}`);
      expect(res.body, `channel ${channel.id}`).toMatchObject({ campaign_id: options.campaign?.id, ping: channel.ping });
    }
    return key;
  }

  async function trace(leadId: string) {
    const res = await g.admin("GET", `/v1/leads/${leadId}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  /** The one attempt of `kind` to `channel` in a trace. */
  function attempt(t: any, kind: "ping" | "post", channel: string) {
    const found = t.attempts.filter((a: any) => a.kind === kind && a.channel_id === channel);
    expect(found, `${kind} attempts to ${channel}`).toHaveLength(1);
    return found[0];
  }

  const posts = (t: any) => t.attempts.filter((a: any) => a.kind === "post");

  it("records a buyer that never answers as a timeout and still sells to another bidder well within the deadline", async () => {
    const hang = await buyer({ ping: () => ({ hang: true }) });
    const good = await buyer({ ping: () => ({ json: { bid: 7, ping_ref: "good-1" } }) });
    const key = await setup({
      // A deadline far beyond the ping timeout, so the one is told from the other on a busy machine too.
      campaign: { id: "faults-hang", auction: { timeout_ms: 20_000, ping_timeout_ms: 300 } },
      channels: [pingPost("hang-hang", hang), pingPost("hang-good", good)],
    });

    const res = await g.lead(key, { campaign: "faults-hang", data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "sold", sold_to: 1, price: 7 });
    // The hang costs the ping timeout (300 ms), not the campaign deadline (20 s).
    expect(res.ms).toBeLessThan(5000);

    const t = await trace(res.body.lead_id);
    const hung = attempt(t, "ping", "hang-hang");
    expect(hung).toMatchObject({ outcome: "timeout", reason: "ping_timeout", http_status: null, price: null });
    expect(hung.duration_ms).toBeGreaterThanOrEqual(250);
    expect(hung.duration_ms).toBeLessThan(5000);
    expect(attempt(t, "ping", "hang-good")).toMatchObject({ outcome: "bid", price: 7 });
    expect(attempt(t, "post", "hang-good")).toMatchObject({ outcome: "accepted", price: 7 });
    expect(posts(t)).toHaveLength(1);
    expect(hang.pings).toHaveLength(1);
    expect(hang.posts).toHaveLength(0);
    expect(good.posts).toHaveLength(1);
  });

  it("cuts off a buyer that sends headers then trickles its body at the ping timeout", async () => {
    const trickle = await buyer({ ping: () => ({ trickle: true }) });
    const key = await setup({
      campaign: { id: "faults-trickle", auction: { timeout_ms: 20_000, ping_timeout_ms: 300 } },
      channels: [pingPost("trickle-trickle", trickle)],
    });

    const res = await g.lead(key, { campaign: "faults-trickle", data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "unsold", price: 0, sold_to: 0 });
    expect(res.ms).toBeLessThan(5000);

    const t = await trace(res.body.lead_id);
    const ping = attempt(t, "ping", "trickle-trickle");
    expect(ping.outcome).toBe("timeout");
    // ≈ the 300 ms ping timeout, with room for a busy machine; never the 20 s deadline.
    expect(ping.duration_ms).toBeGreaterThanOrEqual(250);
    expect(ping.duration_ms).toBeLessThan(5000);
    expect(trickle.posts).toHaveLength(0);
  });

  it("records an HTTP 500 answer as an error with reason http_error, detail 500", async () => {
    const broken = await buyer({ ping: () => ({ status: 500, json: { error: "boom" } }) });
    const good = await buyer({ ping: () => ({ json: { bid: 3 } }) });
    const key = await setup({
      campaign: { id: "faults-500" },
      channels: [pingPost("h500-broken", broken), pingPost("h500-good", good)],
    });

    const res = await g.lead(key, { campaign: "faults-500", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 3 });
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "ping", "h500-broken")).toMatchObject({ outcome: "error", reason: "http_error", detail: "500", http_status: 500, price: null });
    expect(broken.posts).toHaveLength(0);
  });

  it("records a connection reset during the ping as an error", async () => {
    const reset = await buyer({ ping: () => ({ reset: true }) });
    const good = await buyer({ ping: () => ({ json: { bid: 3 } }) });
    const key = await setup({
      campaign: { id: "faults-reset" },
      channels: [pingPost("reset-reset", reset), pingPost("reset-good", good)],
    });

    const res = await g.lead(key, { campaign: "faults-reset", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 3 });
    const t = await trace(res.body.lead_id);
    const ping = attempt(t, "ping", "reset-reset");
    expect(ping).toMatchObject({ outcome: "error", http_status: null, price: null });
    expect(ping).toMatchObject({ reason: "connection", detail: expect.stringMatching(/^[A-Z_]+$/) });
    expect(reset.pings).toHaveLength(1);
    expect(reset.posts).toHaveLength(0);
  });

  it("records a body that is not JSON as invalid_response with an excerpt of the body", async () => {
    const garbage = await buyer({ ping: () => ({ text: "<html><body>Service Temporarily Unavailable</body></html>" }) });
    const key = await setup({ campaign: { id: "faults-garbage" }, channels: [pingPost("garbage-garbage", garbage)] });

    const res = await g.lead(key, { campaign: "faults-garbage", data: consumer() });
    expect(res.body).toMatchObject({ status: "unsold", price: 0 });
    const t = await trace(res.body.lead_id);
    const ping = attempt(t, "ping", "garbage-garbage");
    expect(ping).toMatchObject({ outcome: "invalid_response", http_status: 200 });
    expect(ping.reason).toBe("unparseable_body");
    expect(ping.detail).toContain("Service Temporarily Unavailable");
    expect(garbage.posts).toHaveLength(0);
  });

  it("records a ping answer over 64 KiB as an error with reason body_too_large", async () => {
    const huge = await buyer({ ping: () => ({ hugeBytes: 100_000 }) });
    const key = await setup({ campaign: { id: "faults-huge" }, channels: [pingPost("huge-huge", huge)] });

    const res = await g.lead(key, { campaign: "faults-huge", data: consumer() });
    expect(res.body).toMatchObject({ status: "unsold", price: 0 });
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "ping", "huge-huge")).toMatchObject({ outcome: "error", reason: "body_too_large", http_status: 200 });
    // The huge body carried `bid: 5`: it must not have become a bid.
    expect(posts(t)).toHaveLength(0);
    expect(huge.posts).toHaveLength(0);
  });

  it("treats a bid below the channel's min_bid as below_floor and never posts to it", async () => {
    const cheap = await buyer({ ping: () => ({ json: { bid: 6 } }) });
    const good = await buyer({ ping: () => ({ json: { bid: 4 } }) });
    const key = await setup({
      campaign: { id: "faults-minbid" },
      channels: [pingPost("minbid-cheap", cheap, { min_bid: 10 }), pingPost("minbid-good", good)],
    });

    const res = await g.lead(key, { campaign: "faults-minbid", data: consumer() });
    // 6 would have won on price, but it is under the channel's own minimum.
    expect(res.body).toMatchObject({ status: "sold", price: 4 });
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "ping", "minbid-cheap")).toMatchObject({ outcome: "below_floor", price: 6 });
    expect(posts(t).map((a: any) => a.channel_id)).toEqual(["minbid-good"]);
    expect(cheap.posts).toHaveLength(0);
  });

  it("treats a bid below the campaign floor as below_floor and never posts to it", async () => {
    const cheap = await buyer({ ping: () => ({ json: { bid: 2.5 } }) });
    const key = await setup({
      campaign: { id: "faults-floor", auction: { floor: 3 } },
      channels: [pingPost("floor-cheap", cheap)],
    });

    const res = await g.lead(key, { campaign: "faults-floor", data: consumer() });
    expect(res.body).toMatchObject({ status: "unsold", price: 0, sold_to: 0 });
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "ping", "floor-cheap")).toMatchObject({ outcome: "below_floor", price: 2.5 });
    expect(posts(t)).toHaveLength(0);
    expect(cheap.posts).toHaveLength(0);
  });

  it("records bid null, 0, absent and HTTP 204 as no_bid, and a lead nobody bids on is unsold with price 0", async () => {
    const answers: Record<string, ReturnType<Behaviour>> = {
      "/ping/null": { json: { bid: null, reason: "not today" } },
      "/ping/zero": { json: { bid: 0 } },
      "/ping/absent": { json: { ping_ref: "x" } },
      "/ping/nocontent": { status: 204 },
    };
    const b = await buyer({ ping: (r) => answers[r.path] ?? { status: 404 } });
    const channels = Object.keys(answers).map((path) => {
      const id = path.split("/")[2];
      return pingPost(`nobid-${id}`, { pingUrl: b.url + path, postUrl: b.postUrl });
    });
    const key = await setup({ campaign: { id: "faults-nobid" }, channels });

    const res = await g.lead(key, { campaign: "faults-nobid", data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "unsold", price: 0, sold_to: 0 });
    const t = await trace(res.body.lead_id);
    expect(t).toMatchObject({ status: "unsold", reason: "no_bids", price: 0, revenue: 0 });
    expect(t.history.at(-1)).toMatchObject({ status: "unsold", reason: "no_bids" });
    for (const id of ["null", "zero", "absent", "nocontent"]) {
      expect(attempt(t, "ping", `nobid-${id}`).outcome, id).toBe("no_bid");
    }
    expect(attempt(t, "ping", "nobid-nocontent").http_status).toBe(204);
    expect(attempt(t, "ping", "nobid-null")).toMatchObject({ reason: "no_bid", detail: "not today" });
    // A 204 is a no_bid too, with nothing more to say.
    expect(attempt(t, "ping", "nobid-nocontent")).toMatchObject({ reason: "no_bid", detail: null });
    expect(posts(t)).toHaveLength(0);
    expect(b.pings).toHaveLength(4);
    expect(b.posts).toHaveLength(0);
  });

  // How close to the deadline the answer comes is measured in load/ (a late count), not here: a busy
  // machine runs Gavel's timers late. This test tells the campaign deadline from the channels' own.
  it("answers the supplier at the campaign deadline, not at the channels' own longer ping timeouts, when 20 channels never answer", async () => {
    const silent = await buyer({ ping: () => ({ hang: true }) });
    const ids = Array.from({ length: 20 }, (_, i) => `never-${String(i + 1).padStart(2, "0")}`);
    const key = await setup({
      campaign: { id: "faults-deadline", auction: { timeout_ms: 600, ping_timeout_ms: 400 } },
      // Half the channels carry their own ping timeout far beyond the campaign deadline: the
      // deadline (minus the post reserve) must bound them all the same.
      channels: ids.map((id, i) =>
        pingPost(id, silent, { ping: i % 2 ? { url: `${silent.url}/ping/${id}`, timeout_ms: 60_000 } : { url: `${silent.url}/ping/${id}` } }),
      ),
    });

    const res = await g.lead(key, { campaign: "faults-deadline", data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "unsold", price: 0 });
    // By the 600 ms deadline (~0.3 s on a quiet machine: the pings end before the post reserve), far from the channels' 60 s.
    expect(res.ms).toBeLessThan(3000);

    const t = await trace(res.body.lead_id);
    const pings = t.attempts.filter((a: any) => a.kind === "ping");
    expect(pings).toHaveLength(20);
    expect(pings.map((a: any) => a.channel_id).sort()).toEqual(ids);
    for (const p of pings) {
      expect(p.outcome, p.channel_id).toBe("timeout");
      expect(p.duration_ms, p.channel_id).toBeLessThan(3000);
    }
    expect(silent.posts).toHaveLength(0);
  });

  it("never sends pii fields in a ping, while the post to the winner carries every field", async () => {
    const b = await buyer({ ping: () => ({ json: { bid: 9, ping_ref: "pii-1" } }) });
    const key = await setup({ campaign: { id: "faults-pii" }, channels: [pingPost("pii-winner", b)] });
    const data = consumer({ email: "  Jane.Doe.PII@Example.com ", phone: "(512) 555-0199" });

    const res = await g.lead(key, { campaign: "faults-pii", data });
    expect(res.body).toMatchObject({ status: "sold", price: 9 });

    expect(b.pings).toHaveLength(1);
    const ping = b.pings[0];
    expect(ping.body.data).toEqual({ zip: "75001", state: "TX", age: 30, coverage: "auto" });
    expect(ping.body.data).not.toHaveProperty("email");
    expect(ping.body.data).not.toHaveProperty("phone");
    // Not anywhere in the request either, in any spelling.
    for (const secret of ["jane.doe.pii@example.com", "Jane.Doe", "+15125550199", "555-0199", "5550199"])
      expect(ping.raw.toLowerCase()).not.toContain(secret.toLowerCase());

    expect(b.posts).toHaveLength(1);
    expect(b.posts[0].body).toMatchObject({ lead_id: res.body.lead_id, ping_ref: "pii-1", price: 9 });
    expect(b.posts[0].body.data).toEqual({
      zip: "75001",
      state: "TX",
      age: 30,
      coverage: "auto",
      email: "jane.doe.pii@example.com",
      phone: "+15125550199",
    });
  });

  it("ignores a bid that arrives after the ping timeout: recorded as a timeout and never posted to", async () => {
    // The late bid is held until the lead has been answered: after the ping timeout by construction.
    const answered = latch();
    const late = await buyer({ ping: () => ({ held: answered.promise.then(() => ({ json: { bid: 50, ping_ref: "late-1" } })) }) });
    const onTime = await buyer({ ping: () => ({ json: { bid: 5, ping_ref: "ontime-1" } }) });
    const key = await setup({
      campaign: { id: "faults-late", auction: { timeout_ms: 2000, ping_timeout_ms: 250 } },
      channels: [pingPost("late-late", late), pingPost("late-ontime", onTime)],
    });

    const res = await g.lead(key, { campaign: "faults-late", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 5, sold_to: 1 });
    const before = await trace(res.body.lead_id);

    // Gavel hung up on the late buyer at its ping timeout; its (much higher) bid goes out now, to
    // nobody. Then look again.
    await late.pings[0].closed;
    answered.open();
    await late.answered();

    const after = await trace(res.body.lead_id);
    expect(after).toEqual(before);
    expect(after).toMatchObject({ status: "sold", revenue: 5 });
    expect(attempt(after, "ping", "late-late")).toMatchObject({ outcome: "timeout", price: null });
    expect(posts(after).map((a: any) => a.channel_id)).toEqual(["late-ontime"]);
    expect(late.posts).toHaveLength(0);
    expect(onTime.posts).toHaveLength(1);
  });
});
