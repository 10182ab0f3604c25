// Step 6 of SPEC.md against a real Gavel and real loopback buyers: posting to the top bid, falling
// back down the ranking, what each post answer means for the sale, and how the ranking treats
// direct_post channels, priorities, weights and fixed payouts.
import diagnosticsChannel from "node:diagnostics_channel";
import { beforeAll, describe, expect, it } from "vitest";
import { createBuyerTransport, type BuyerTransport } from "../src/channels/transport";
import { startBuyer, type Behaviour } from "./helpers/buyers";
import { consumer, pingPost, startTestGavel, useTestGavel, type TestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";

describe("posting and fallback", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const bidding = (bid: number, ref = `ref-${bid}`): Behaviour => () => ({ json: { bid, ping_ref: ref } });
  const trace = async (leadId: string) => {
    const res = await g.admin("GET", `/v1/leads/${leadId}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const posts = (t: any) => t.attempts.filter((a: any) => a.kind === "post");

  it("falls back to the next bid when the winner rejects the post", async () => {
    const high = await buyer({ ping: bidding(12), post: () => ({ json: { accepted: false, reason: "dup" } }) });
    const low = await buyer({ ping: bidding(8) });
    const key = await g.setup({
      campaign: { id: "fb-reject" },
      channels: [pingPost("fb-reject-high", high), pingPost("fb-reject-low", low)],
    });
    const res = await g.lead(key, { campaign: "fb-reject", data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "sold", price: 8, sold_to: 1 });
    expect(high.posts).toHaveLength(1);
    expect(low.posts).toHaveLength(1);
    expect(low.posts[0].at).toBeGreaterThanOrEqual(high.posts[0].at);

    const t = await trace(res.body.lead_id);
    expect(t).toMatchObject({ status: "sold", revenue: 8 });
    expect(posts(t)).toMatchObject([
      { channel_id: "fb-reject-high", outcome: "rejected", reason: "rejected", detail: "dup", http_status: 200 },
      { channel_id: "fb-reject-low", outcome: "accepted", price: 8 },
    ]);
  });

  it("falls back to the next bid when the winner's post answers HTTP 500", async () => {
    const high = await buyer({ ping: bidding(12), post: () => ({ status: 500, json: { error: "boom" } }) });
    const low = await buyer({ ping: bidding(8) });
    const key = await g.setup({
      campaign: { id: "fb-500" },
      channels: [pingPost("fb-500-high", high), pingPost("fb-500-low", low)],
    });
    const res = await g.lead(key, { campaign: "fb-500", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 8 });
    expect(high.posts).toHaveLength(1);
    expect(low.posts).toHaveLength(1);

    const t = await trace(res.body.lead_id);
    expect(t.revenue).toBe(8);
    expect(posts(t)).toMatchObject([
      { channel_id: "fb-500-high", outcome: "error", http_status: 500, reason: "http_error", detail: "500" },
      { channel_id: "fb-500-low", outcome: "accepted" },
    ]);
  });

  it("stops with post_outcome_unknown on a post timeout by default and never posts to the next bidder", async () => {
    const high = await buyer({ ping: bidding(12), post: () => ({ hang: true }) });
    const low = await buyer({ ping: bidding(8) });
    const key = await g.setup({
      // A deadline far beyond the post timeout, so stopping at the one is told from waiting for the other.
      campaign: { id: "fb-timeout-stop", auction: { timeout_ms: 20_000, post_timeout_ms: 300 } },
      channels: [pingPost("fb-stop-high", high), pingPost("fb-stop-low", low)],
    });
    const res = await g.lead(key, { campaign: "fb-timeout-stop", data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "error", price: 0, sold_to: 0 });
    expect(res.ms).toBeLessThan(5000); // ~0.3 s on a quiet machine; the deadline is 20 s
    expect(high.posts).toHaveLength(1);

    const t = await trace(res.body.lead_id);
    expect(t).toMatchObject({ status: "error", reason: "post_outcome_unknown", revenue: 0 });
    expect(t.history.at(-1)).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    expect(posts(t)).toMatchObject([{ channel_id: "fb-stop-high", outcome: "unknown", reason: "post_timeout" }]);

    // Not even later: the lead is never offered to anyone else. (A grace period for a check that
    // something does not happen: a slow machine can only make it pass, never fail.)
    await new Promise((r) => setTimeout(r, 300));
    expect(low.posts).toHaveLength(0);
  });

  it("falls back on a post timeout when on_post_timeout is next", async () => {
    const high = await buyer({ ping: bidding(12), post: () => ({ hang: true }) });
    const low = await buyer({ ping: bidding(8) });
    const key = await g.setup({
      campaign: { id: "fb-timeout-next", auction: { timeout_ms: 20_000, post_timeout_ms: 300, on_post_timeout: "next" } },
      channels: [pingPost("fb-next-high", high), pingPost("fb-next-low", low)],
    });
    const res = await g.lead(key, { campaign: "fb-timeout-next", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 8, sold_to: 1 });
    expect(high.posts).toHaveLength(1);
    expect(low.posts).toHaveLength(1);

    const t = await trace(res.body.lead_id);
    expect(t).toMatchObject({ status: "sold", revenue: 8 });
    expect(posts(t)).toMatchObject([
      { channel_id: "fb-next-high", outcome: "unknown", reason: "post_timeout" },
      { channel_id: "fb-next-low", outcome: "accepted", price: 8 },
    ]);
  });

  it("sells at a lower price the post answers, caps a higher one at the bid, and sells at the bid without one", async () => {
    let postPrice: number | undefined;
    const b = await buyer({
      ping: bidding(10),
      post: () => ({ json: postPrice === undefined ? { accepted: true } : { accepted: true, price: postPrice } }),
    });
    const key = await g.setup({
      campaign: { id: "fb-price", payout: { type: "revshare", percent: 100 } },
      channels: [pingPost("fb-price-ch", b)],
    });
    const cases: [number | undefined, number][] = [
      [7.25, 7.25],
      [15, 10],
      [undefined, 10],
    ];
    for (const [answered, expected] of cases) {
      postPrice = answered;
      const res = await g.lead(key, { campaign: "fb-price", data: consumer() });
      expect(res.body, `post price ${answered}`).toMatchObject({ status: "sold", price: expected });
      const t = await trace(res.body.lead_id);
      expect(t.revenue, `post price ${answered}`).toBe(expected);
      expect(posts(t)).toMatchObject([{ outcome: "accepted", price: expected }]);
    }
    // Every post offered the bid itself.
    expect(b.posts.map((p) => p.body.price)).toEqual([10, 10, 10]);
  });

  it("posts every field, pii included, with the ping_ref and an Idempotency-Key of lead_id:channel_id", async () => {
    const b = await buyer({ ping: bidding(9, "their-ref-42") });
    const key = await g.setup({ campaign: { id: "fb-post-body" }, channels: [pingPost("fb-body-ch", b)] });
    const data = consumer({ email: "  Jane.Doe@Example.COM ", phone: "(512) 555-0142" });
    const res = await g.lead(key, { campaign: "fb-post-body", data });
    expect(res.body.status).toBe("sold");
    const leadId = res.body.lead_id;

    // The ping carried only the non-pii fields.
    expect(b.pings).toHaveLength(1);
    expect(b.pings[0].body.data).toEqual({ zip: "75001", state: "TX", age: 30, coverage: "auto" });

    expect(b.posts).toHaveLength(1);
    const post = b.posts[0];
    expect(post.headers["idempotency-key"]).toBe(`${leadId}:fb-body-ch`);
    expect(post.body).toMatchObject({ lead_id: leadId, ping_ref: "their-ref-42", campaign: "fb-post-body", test: false, price: 9 });
    expect(post.body.data).toEqual({
      zip: "75001",
      state: "TX",
      age: 30,
      coverage: "auto",
      email: "jane.doe@example.com",
      phone: "+15125550142",
    });
    const t = await trace(leadId);
    expect(posts(t)).toMatchObject([{ ping_ref: "their-ref-42", outcome: "accepted" }]);
  });

  it("retries a refused post connection once, records it as error, then falls back", async () => {
    const gone = await startBuyer({});
    const closedPort = new URL(gone.url).port;
    await gone.close();
    const high = await buyer({ ping: bidding(12) });
    const low = await buyer({ ping: bidding(8) });

    // Observe Gavel's own HTTP client (same process) trying to connect to the closed port.
    const tries: string[] = [];
    const failures: string[] = [];
    const onTry = (msg: any) => String(msg?.connectParams?.port) === closedPort && tries.push(closedPort);
    const onFail = (msg: any) => String(msg?.connectParams?.port) === closedPort && failures.push(msg?.error?.code);
    diagnosticsChannel.subscribe("undici:client:beforeConnect", onTry);
    diagnosticsChannel.subscribe("undici:client:connectError", onFail);
    try {
      const key = await g.setup({
        campaign: { id: "fb-refused" },
        channels: [
          pingPost("fb-refused-high", { pingUrl: high.pingUrl, postUrl: `http://127.0.0.1:${closedPort}/post` }),
          pingPost("fb-refused-low", low),
        ],
      });
      const res = await g.lead(key, { campaign: "fb-refused", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", price: 8 });
      expect(low.posts).toHaveLength(1);

      expect(tries).toHaveLength(2);
      expect(failures).toEqual(["ECONNREFUSED", "ECONNREFUSED"]);

      const t = await trace(res.body.lead_id);
      expect(posts(t)).toMatchObject([
        { channel_id: "fb-refused-high", outcome: "error", http_status: null, reason: "connection", detail: "ECONNREFUSED" },
        { channel_id: "fb-refused-low", outcome: "accepted" },
      ]);
    } finally {
      diagnosticsChannel.unsubscribe("undici:client:beforeConnect", onTry);
      diagnosticsChannel.unsubscribe("undici:client:connectError", onFail);
    }
  });

  it("ranks direct_post channels at their fixed price among ping bids, posting to them without a ping", async () => {
    const pinged = await buyer({ ping: bidding(10) });
    const rich = await buyer({});
    const key = await g.setup({
      campaign: { id: "fb-direct-win" },
      channels: [pingPost("fb-dw-ping", pinged), { id: "fb-dw-direct", type: "direct_post", post: { url: rich.postUrl }, fixed_price: 20 }],
    });
    const won = await g.lead(key, { campaign: "fb-direct-win", data: consumer() });
    expect(won.body).toMatchObject({ status: "sold", price: 20 });
    expect(rich.pings).toHaveLength(0);
    expect(rich.posts).toHaveLength(1);
    expect(rich.posts[0].body).toMatchObject({ lead_id: won.body.lead_id, ping_ref: null, price: 20 });
    expect(rich.posts[0].headers["idempotency-key"]).toBe(`${won.body.lead_id}:fb-dw-direct`);
    expect(pinged.pings).toHaveLength(1);
    expect(pinged.posts).toHaveLength(0);
    const t = await trace(won.body.lead_id);
    expect(t.attempts.filter((a: any) => a.channel_id === "fb-dw-direct")).toMatchObject([{ kind: "post", outcome: "accepted", price: 20 }]);

    const cheap = await buyer({});
    const pinged2 = await buyer({ ping: bidding(10) });
    const key2 = await g.setup({
      campaign: { id: "fb-direct-lose" },
      channels: [pingPost("fb-dl-ping", pinged2), { id: "fb-dl-direct", type: "direct_post", post: { url: cheap.postUrl }, fixed_price: 3 }],
    });
    const lost = await g.lead(key2, { campaign: "fb-direct-lose", data: consumer() });
    expect(lost.body).toMatchObject({ status: "sold", price: 10 });
    expect(pinged2.posts).toHaveLength(1);
    expect(cheap.pings).toHaveLength(0);
    expect(cheap.posts).toHaveLength(0);
  });

  it("breaks equal bids by priority: priority 1 always beats priority 2", async () => {
    const first = await buyer({ ping: bidding(10) });
    const second = await buyer({ ping: bidding(10) });
    const key = await g.setup({
      campaign: { id: "fb-priority" },
      // Listed lowest priority first, so neither list order nor id order explains the result.
      channels: [pingPost("fb-prio-a", second, { priority: 2 }), pingPost("fb-prio-z", first, { priority: 1 })],
    });
    for (let i = 0; i < 6; i++) {
      const res = await g.lead(key, { campaign: "fb-priority", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", price: 10 });
    }
    expect(first.posts).toHaveLength(6);
    expect(second.posts).toHaveLength(0);
    expect(second.pings).toHaveLength(6);
  });

  it("shares equal bids of equal priority by weight: weight 3 wins clearly more than weight 1, and both win some", async () => {
    const heavy = await buyer({ ping: bidding(10) });
    const light = await buyer({ ping: bidding(10) });
    const key = await g.setup({
      campaign: { id: "fb-weight" },
      channels: [pingPost("fb-weight-heavy", heavy, { weight: 3 }), pingPost("fb-weight-light", light, { weight: 1 })],
    });
    const leads = 40;
    for (let batch = 0; batch < leads / 4; batch++) {
      const results = await Promise.all(Array.from({ length: 4 }, () => g.lead(key, { campaign: "fb-weight", data: consumer() })));
      for (const res of results) expect(res.body.status).toBe("sold");
    }
    const heavyWins = heavy.posts.length;
    const lightWins = light.posts.length;
    expect(heavyWins + lightWins).toBe(leads);
    // Expected 30 : 10. P(light wins none) ≈ 1e-5; P(heavy ≤ 22) ≈ 1e-3.
    expect(lightWins).toBeGreaterThan(0);
    expect(heavyWins).toBeGreaterThan(lightWins);
    expect(heavyWins).toBeGreaterThanOrEqual(23);
  });

  it("pays a fixed payout, refuses bids below it, and lets a supplier's own payout override the campaign's", async () => {
    let bid = 10;
    const b = await buyer({ ping: () => ({ json: { bid, ping_ref: "r" } }) });
    const campaign = { id: "fb-fixed", payout: { type: "fixed", amount: 5 } };
    const channels = [pingPost("fb-fixed-ch", b)];
    const key = await g.setup({ campaign, channels });

    bid = 10;
    const sold = await g.lead(key, { campaign: "fb-fixed", data: consumer() });
    expect(sold.body).toMatchObject({ status: "sold", price: 5 });
    expect((await trace(sold.body.lead_id)).revenue).toBe(10);

    bid = 4.99;
    const low = await g.lead(key, { campaign: "fb-fixed", data: consumer() });
    expect(low.body).toMatchObject({ status: "unsold", price: 0 });
    const lowTrace = await trace(low.body.lead_id);
    expect(lowTrace.attempts).toMatchObject([{ kind: "ping", outcome: "below_floor", price: 4.99 }]);
    expect(b.posts).toHaveLength(1);

    // A supplier paid a fixed 8 on the same campaign: paid 8, and a bid of 6 no longer clears.
    const ownKey = await g.setup({ campaign, channels, supplier: { payout: { type: "fixed", amount: 8 } } });
    bid = 10;
    const own = await g.lead(ownKey, { campaign: "fb-fixed", data: consumer() });
    expect(own.body).toMatchObject({ status: "sold", price: 8 });
    bid = 6;
    const ownLow = await g.lead(ownKey, { campaign: "fb-fixed", data: consumer() });
    expect(ownLow.body).toMatchObject({ status: "unsold", price: 0 });
    expect((await trace(ownLow.body.lead_id)).attempts).toMatchObject([{ kind: "ping", outcome: "below_floor" }]);
    // The same bid of 6 still sells for a supplier on the campaign's payout of 5.
    const campaignLow = await g.lead(key, { campaign: "fb-fixed", data: consumer() });
    expect(campaignLow.body).toMatchObject({ status: "sold", price: 5 });

    // A revshare override on a fixed-payout campaign.
    const shareKey = await g.setup({ campaign, channels, supplier: { payout: { type: "revshare", percent: 50 } } });
    bid = 10;
    const share = await g.lead(shareKey, { campaign: "fb-fixed", data: consumer() });
    expect(share.body).toMatchObject({ status: "sold", price: 5 });
    bid = 3;
    const shareLow = await g.lead(shareKey, { campaign: "fb-fixed", data: consumer() });
    expect(shareLow.body).toMatchObject({ status: "sold", price: 1.5 });
  });

  it("records the lead as auctioning before any buyer is pinged", async () => {
    let seen: Promise<{ status: number; body: any }> | undefined;
    let pingedLead: string | undefined;
    const b = await buyer({
      ping: (req) => {
        pingedLead = req.body.lead_id;
        seen ??= g.admin("GET", `/v1/leads/${req.body.lead_id}`);
        // The bid is answered only once the lead has been read back mid-auction.
        return { held: seen.then(() => ({ json: { bid: 5, ping_ref: "r" } })) };
      },
    });
    const key = await g.setup({ campaign: { id: "fb-crash-order" }, channels: [pingPost("fb-crash-ch", b)] });
    const res = await g.lead(key, { campaign: "fb-crash-order", data: consumer() });
    expect(res.body.status).toBe("sold");
    expect(pingedLead).toBe(res.body.lead_id);
    expect(seen).toBeDefined();
    const during = await seen!;
    expect(during.status).toBe(200);
    expect(during.body).toMatchObject({ id: res.body.lead_id, status: "auctioning", campaign: "fb-crash-order" });
    expect(during.body.history.map((h: any) => h.status)).toEqual(["received", "auctioning"]);
    expect(during.body.attempts).toEqual([]);
  });
});

// A post that never left Gavel (every connection to its buyer busy until the post's deadline) did
// not reach the buyer, so it cannot have sold the lead: it is an error, `post_not_sent`, its caps
// are given back, and the lead falls back to the next bid. The buyer's one connection is held, through
// a second real transport that allows one connection per buyer, by a request the buyer answers only
// when the test opens a latch after the lead is answered: no timer decides which comes first, so the
// time the test Gavel takes to start (seconds on a fresh or busy machine) cannot free it too early.
describe("a post that never reaches its buyer", () => {
  it("is an error (post_not_sent), gives its caps back and falls back to the next bid", async () => {
    const release = latch();
    const stuck = await startBuyer({
      ping: () => ({ json: { bid: 12, ping_ref: "r-12" } }),
      post: (r) => (r.path === "/hold" ? { held: release.promise.then(() => ({ text: "released" })) } : { hang: true }),
    });
    const next = await startBuyer({ ping: () => ({ json: { bid: 8, ping_ref: "r-8" } }) });
    const main = createBuyerTransport();
    const oneConnection = createBuyerTransport({ connectionsPerOrigin: 1 });
    // Its own deadline is only a backstop: the latch, opened in `finally`, ends it.
    const holder = oneConnection.send({ url: `${stuck.url}/hold`, method: "GET", headers: {}, timeoutMs: 300_000, maxBodyBytes: 1024 });
    await eventually(() => stuck.posts.some((r) => r.path === "/hold"), "the holding request to reach the buyer");
    const transport: BuyerTransport = {
      send: (request) => (request.url === stuck.postUrl ? oneConnection.send(request) : main.send(request)),
      close: async () => {
        await Promise.all([main.close(), oneConnection.close()]);
      },
    };
    const g = await startTestGavel({}, { transport });
    try {
      const key = await g.setup({
        campaign: { id: "fb-not-sent", auction: { timeout_ms: 20_000, post_timeout_ms: 10_000 } },
        channels: [
          pingPost("fb-not-sent-stuck", stuck, { caps: [{ period: "day", leads: 5 }], post: { url: stuck.postUrl, timeout_ms: 250 } }),
          pingPost("fb-not-sent-next", next),
        ],
      });
      const res = await g.lead(key, { campaign: "fb-not-sent", data: consumer() });
      expect(release.isOpen).toBe(false); // the connection was held throughout
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "sold", price: 8, sold_to: 1 });
      // The buyer never saw the post: only the request holding its connection.
      expect(stuck.posts.map((r) => r.path)).toEqual(["/hold"]);
      expect(next.posts).toHaveLength(1);

      const t = (await g.admin("GET", `/v1/leads/${res.body.lead_id}`)).body;
      expect(t).toMatchObject({ status: "sold", revenue: 8 });
      expect(t.attempts.filter((a: any) => a.kind === "post")).toMatchObject([
        { channel_id: "fb-not-sent-stuck", outcome: "error", reason: "post_not_sent", http_status: null },
        { channel_id: "fb-not-sent-next", outcome: "accepted" },
      ]);
      const caps = (await g.admin("GET", "/v1/channels/fb-not-sent-stuck")).body.caps;
      expect(caps[0].used.leads).toBe(0);
    } finally {
      release.open();
      await g.close();
      expect(await holder).toMatchObject({ kind: "response", body: "released" });
      await Promise.all([stuck.close(), next.close()]);
    }
  });
});
