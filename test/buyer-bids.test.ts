// Several bids in one ping answer, and named captures (issue #18 item 1): a buyer answering
// `{ "lead_id": …, "bids": [{ "bid_id", "price" }, …] }` has each bid ranked as a bid of its own,
// and its post names the bid chosen (`{{bid.id}}`) and the answer's lead id (`{{ping.lead_id}}`, in
// the body and the URL). The loopback buyer is strict: a post that does not name a bid it made for
// that lead id, at that bid's price or less, is refused (HTTP 400).
import { beforeAll, describe, expect, it } from "vitest";
import { weightedOrder } from "../src/auction/routing";
import { findAnyPing } from "../src/db/pings";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";
import type { Answer, Received } from "./helpers/buyers";

const refuse = (why: string): Answer => ({ status: 400, json: { error: why } });

/** A buyer of several brands: each ping answers one bid per brand, under a lead id of its own. */
function brandsBuyer(prices: Record<string, number>, opts: { rejects?: string[]; legs?: Record<string, "exclusive" | "shared"> } = {}) {
  const issued = new Map<string, Map<string, number>>(); // lead id → bid id → price
  let n = 0;
  const ping = (r: Received): Answer => {
    if (!r.body?.lead_id) return refuse("native ping expected");
    const leadId = `L-${++n}`;
    const bids = new Map(Object.entries(prices).map(([brand, price]) => [`${brand}-${n}`, price]));
    issued.set(leadId, bids);
    return {
      json: {
        response: { lead_id: leadId },
        bids: [...bids].map(([bid_id, price]) => ({ bid_id, price, ...(opts.legs && { type: opts.legs[bid_id.split("-")[0]] }) })),
      },
    };
  };
  const post = (r: Received): Answer => {
    const b = r.body;
    const bids = issued.get(b?.lead_id);
    if (!bids) return refuse(`unknown lead_id ${b?.lead_id}`);
    if (r.path !== `/post/${b.lead_id}`) return refuse(`path ${r.path}`);
    const price = bids.get(b.bid_id);
    if (price === undefined) return refuse(`unknown bid_id ${b.bid_id}`);
    if (!(Number(b.price) <= price)) return refuse(`price ${b.price} above bid ${price}`);
    if (opts.rejects?.includes(b.bid_id.split("-")[0])) return { json: { status: "rejected", message: "brand full" } };
    return { json: { status: "accepted" } };
  };
  return { ping, post };
}

/** The channel that reads such a buyer: every bid, and the lead id captured for the post. */
const brandsChannel = (id: string, b: { url: string; pingUrl: string; postUrl: string }, extra: Record<string, unknown> = {}) =>
  pingPost(id, b, {
    buyer_id: "brands",
    post: { url: `${b.url}/post/{{ping.lead_id}}`, body: { lead_id: "{{ping.lead_id}}", bid_id: "{{bid.id}}", price: "{{price}}", zip: "{{data.zip}}" } },
    response: {
      ping: { bids: { path: "$.bids[*]", bid: "$.price", id: "$.bid_id" }, capture: { lead_id: "$.response.lead_id" } },
      post: { accepted: { path: "$.status", equals: "accepted" }, rejected: { path: "$.status", equals: "rejected" }, reason: "$.message" },
    },
    ...extra,
  });

const native = (bid: number, shared?: number) => () => ({ json: { bid, ...(shared !== undefined && { shared_bid: shared }), ping_ref: `n-${bid}` } });

describe("several bids in one ping answer, and captures", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const trace = async (leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;
  const posts = (t: any) => t.attempts.filter((a: any) => a.kind === "post");

  it("sells at the best bid, the post naming that bid and the answer's lead id in its body and URL", async () => {
    const b = await buyer(brandsBuyer({ alpha: 12, beta: 9.5 }));
    const other = await buyer({ ping: native(10) });
    const key = await g.setup({
      campaign: { id: "bids-best" },
      channels: [brandsChannel("bids-best-brands", b), pingPost("bids-best-other", other, { buyer_id: "bids-other" })],
    });
    const res = await g.lead(key, { campaign: "bids-best", data: consumer() });
    expect(res.body, JSON.stringify(b.posts.map((p) => p.body))).toMatchObject({ status: "sold", price: 12 });
    expect(b.posts).toHaveLength(1);
    expect(b.posts[0].body).toMatchObject({ lead_id: "L-1", bid_id: "alpha-1", price: 12 });
    expect(other.posts).toHaveLength(0);
    const t = await trace(res.body.lead_id);
    const ping = t.attempts.find((a: any) => a.kind === "ping" && a.channel_id === "bids-best-brands");
    // The trace shows every bid of the answer on its ping, and the post by the bid it named.
    expect(ping).toMatchObject({ outcome: "bid", price: 12, reason: "several_bids", detail: "alpha-1 12.00, beta-1 9.50" });
    expect(posts(t)).toEqual([expect.objectContaining({ channel_id: "bids-best-brands", outcome: "accepted", ping_ref: "alpha-1" })]);
    expect(b.posts[0].headers["idempotency-key"]).toBe(`${res.body.lead_id}:bids-best-brands#alpha-1`);
  });

  it("falls back to the buyer's next bid when it rejects the first, each post its own sale", async () => {
    const b = await buyer(brandsBuyer({ alpha: 12, beta: 9 }, { rejects: ["alpha"] }));
    const other = await buyer({ ping: native(8) });
    const key = await g.setup({
      campaign: { id: "bids-next" },
      channels: [brandsChannel("bids-next-brands", b), pingPost("bids-next-other", other, { buyer_id: "bids-other" })],
    });
    const res = await g.lead(key, { campaign: "bids-next", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 9 });
    expect(b.posts.map((p) => p.body.bid_id)).toEqual(["alpha-1", "beta-1"]);
    expect(new Set(b.posts.map((p) => p.headers["idempotency-key"])).size).toBe(2);
    const t = await trace(res.body.lead_id);
    expect(posts(t).map((p: any) => `${p.ping_ref}:${p.outcome}`)).toEqual(["alpha-1:rejected", "beta-1:accepted"]);
    expect(t).toMatchObject({ sold_channel: "bids-next-brands", sold_buyer: "brands" });
    // The channel's one concurrency slot came back: the next lead is pinged, and sells.
    const again = await g.lead(key, { campaign: "bids-next", data: consumer() });
    expect(again.body).toMatchObject({ status: "sold", price: 9 });
  });

  it("after a post whose outcome is unknown, on_post_timeout next passes over the buyer's other bids", async () => {
    const strict = brandsBuyer({ alpha: 12, beta: 9 });
    // alpha's post is answered with something that says neither yes nor no: the buyer may have the lead.
    const b = await buyer({ ping: strict.ping, post: (r) => (r.body.bid_id === "alpha-1" ? { json: { status: "queued" } } : strict.post(r)) });
    const other = await buyer({ ping: native(8), post: () => ({ json: { accepted: true } }) });
    const key = await g.setup({
      campaign: { id: "bids-unknown", auction: { on_post_timeout: "next" } },
      channels: [brandsChannel("bids-unknown-brands", b), pingPost("bids-unknown-other", other, { buyer_id: "bids-other" })],
    });
    const res = await g.lead(key, { campaign: "bids-unknown", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 8 });
    expect(b.posts.map((p) => p.body.bid_id)).toEqual(["alpha-1"]);
    const t = await trace(res.body.lead_id);
    expect(posts(t).map((p: any) => `${p.channel_id}:${p.outcome}`)).toEqual(["bids-unknown-brands:invalid_response", "bids-unknown-other:accepted"]);
    expect(t.excluded).toContainEqual(expect.objectContaining({ channel_id: "bids-unknown-brands", reason: "buyer_bought" }));
  });

  it("second price charges the best bid against another buyer's, never the buyer's own next bid", async () => {
    const b = await buyer(brandsBuyer({ alpha: 12, beta: 11 }));
    const other = await buyer({ ping: native(5) });
    const key = await g.setup({
      campaign: { id: "bids-second", auction: { pricing: "second" } },
      channels: [brandsChannel("bids-second-brands", b), pingPost("bids-second-other", other, { buyer_id: "bids-other" })],
    });
    const res = await g.lead(key, { campaign: "bids-second", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 5.01 });
    expect(b.posts[0].body).toMatchObject({ bid_id: "alpha-1", price: 5.01 });
  });

  it("second price: the trace's ranking names each bid, and the clearing price is the bid that sold", async () => {
    const b = await buyer(brandsBuyer({ alpha: 12, beta: 9 }, { rejects: ["alpha"] }));
    const other = await buyer({ ping: native(10), post: () => ({ json: { accepted: false } }) });
    const key = await g.setup({
      campaign: { id: "bids-clear", auction: { pricing: "second", floor: 2 } },
      channels: [brandsChannel("bids-clear-brands", b), pingPost("bids-clear-other", other, { buyer_id: "bids-other" })],
    });
    const res = await g.lead(key, { campaign: "bids-clear", data: consumer() });
    // alpha 12 is charged against other's 10, other against beta's 9, and beta, with no other buyer below, the floor.
    expect(res.body).toMatchObject({ status: "sold", price: 2 });
    expect(b.posts.map((p) => [p.body.bid_id, p.body.price])).toEqual([
      ["alpha-1", 10.01],
      ["beta-1", 2],
    ]);
    const { ranking } = await trace(res.body.lead_id);
    expect(ranking.bids.map((r: any) => [r.channel_id, r.bid_id ?? null, r.charge])).toEqual([
      ["bids-clear-brands", "alpha-1", 10.01],
      ["bids-clear-other", null, 9.01],
      ["bids-clear-brands", "beta-1", 2],
    ]);
    expect(ranking.clearing_price).toBe(2);
  });

  it("shared mode: a buyer's several bids win it one sale, its best; the next buyer gets another", async () => {
    const b = await buyer(brandsBuyer({ alpha: 7, beta: 6 }));
    const other = await buyer({ ping: native(5), post: () => ({ json: { accepted: true } }) });
    const key = await g.setup({
      campaign: { id: "bids-shared", auction: { mode: "shared", max_sells: 3 } },
      channels: [brandsChannel("bids-shared-brands", b, { buys: ["shared"] }), pingPost("bids-shared-other", other, { buyer_id: "bids-other", buys: ["shared"] })],
    });
    const res = await g.lead(key, { campaign: "bids-shared", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", sold_to: 2 });
    expect(b.posts.map((p) => p.body.bid_id)).toEqual(["alpha-1"]);
    const t = await trace(res.body.lead_id);
    expect(t.sales).toEqual([
      { channel_id: "bids-shared-brands", buyer_id: "brands", price: 7 },
      { channel_id: "bids-shared-other", buyer_id: "bids-other", price: 5 },
    ]);
    expect(t.excluded).toContainEqual(expect.objectContaining({ channel_id: "bids-shared-brands", reason: "buyer_bought" }));
  });

  it("shared mode: a buyer refusing its best bid's sale is posted its next bid", async () => {
    const b = await buyer(brandsBuyer({ alpha: 7, beta: 6 }, { rejects: ["alpha"] }));
    const key = await g.setup({
      campaign: { id: "bids-shared-next", auction: { mode: "shared", max_sells: 2 } },
      channels: [brandsChannel("bids-shared-next-brands", b, { buys: ["shared"] })],
    });
    const res = await g.lead(key, { campaign: "bids-shared-next", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", sold_to: 1 });
    expect(b.posts.map((p) => `${p.body.bid_id}:${String(p.headers["idempotency-key"]).split(":").slice(1).join(":")}`)).toEqual([
      "alpha-1:bids-shared-next-brands:shared#alpha-1",
      "beta-1:bids-shared-next-brands:shared#beta-1",
    ]);
    expect((await trace(res.body.lead_id)).sales).toEqual([{ channel_id: "bids-shared-next-brands", buyer_id: "brands", price: 6 }]);
  });

  describe("legs: an exclusive bid and a shared one, each with its id, in a best campaign", () => {
    const legsChannel = (id: string, b: { url: string; pingUrl: string; postUrl: string }) =>
      brandsChannel(id, b, {
        buys: ["exclusive", "shared"],
        response: {
          ping: { bids: { path: "$.bids[*]", bid: "$.price", id: "$.bid_id", shared: { path: "$.type", equals: "shared" } }, capture: { lead_id: "$.response.lead_id" } },
          post: { accepted: { path: "$.status", equals: "accepted" } },
        },
      });
    const legs = { x: "exclusive", s: "shared" } as const;

    it("sells the exclusive leg when it beats the shared sale", async () => {
      const b = await buyer(brandsBuyer({ x: 20, s: 8 }, { legs }));
      const other = await buyer({ ping: native(0, 7), post: () => ({ json: { accepted: true } }) });
      const key = await g.setup({
        campaign: { id: "bids-legs-x", auction: { mode: "best", max_sells: 2 } },
        channels: [legsChannel("bids-legs-x-brands", b), pingPost("bids-legs-x-other", other, { buyer_id: "bids-other", buys: ["shared"] })],
      });
      const res = await g.lead(key, { campaign: "bids-legs-x", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 1, price: 20 });
      expect(b.posts.map((p) => p.body)).toEqual([expect.objectContaining({ bid_id: "x-1", price: 20 })]);
      expect(other.posts).toHaveLength(0);
    });

    it("sells the shared leg, beside another buyer, when the shared sale earns more", async () => {
      const b = await buyer(brandsBuyer({ x: 14, s: 8 }, { legs }));
      const other = await buyer({ ping: native(0, 7), post: () => ({ json: { accepted: true } }) });
      const key = await g.setup({
        campaign: { id: "bids-legs-s", auction: { mode: "best", max_sells: 2 } },
        channels: [legsChannel("bids-legs-s-brands", b), pingPost("bids-legs-s-other", other, { buyer_id: "bids-other", buys: ["shared"] })],
      });
      const res = await g.lead(key, { campaign: "bids-legs-s", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 2 });
      expect(b.posts.map((p) => p.body)).toEqual([expect.objectContaining({ bid_id: "s-1", price: 8 })]);
      expect(b.posts[0].headers["idempotency-key"]).toBe(`${res.body.lead_id}:bids-legs-s-brands:shared#s-1`);
      expect((await trace(res.body.lead_id)).sales.map((s: any) => s.price)).toEqual([8, 7]);
    });
  });

  it("routing: a channel's several bids are one bidder, one draw of a weighted tier and one turn of a rotation", async () => {
    // One draw per channel: a1 and a2 share the key of a (0.2), b draws 0.9 and comes first.
    const draws = [0.2, 0.9];
    const order = weightedOrder([{ channelId: "a", weight: 1, n: "a1" }, { channelId: "a", weight: 1, n: "a2" }, { channelId: "b", weight: 1, n: "b" }], () => draws.shift()!);
    expect(order.map((b) => b.n)).toEqual(["b", "a1", "a2"]);
    expect(draws).toEqual([]);

    const b = await buyer(brandsBuyer({ alpha: 12, beta: 9 }));
    const other = await buyer({ ping: native(20) });
    const key = await g.setup({
      campaign: { id: "bids-rr", routing: { strategy: "round_robin" } },
      channels: [brandsChannel("bids-rr-a-brands", b), pingPost("bids-rr-b-other", other, { buyer_id: "bids-other" })],
    });
    const first = await g.lead(key, { campaign: "bids-rr", data: consumer() });
    const second = await g.lead(key, { campaign: "bids-rr", data: consumer() });
    expect([first.body.price, second.body.price]).toEqual([12, 20]);
    const routing = (await trace(first.body.lead_id)).routing;
    expect(routing.tiers[0]).toMatchObject({ strategy: "round_robin", turn: 0, position: 0, order: ["bids-rr-a-brands", "bids-rr-a-brands", "bids-rr-b-other"] });
    expect((await trace(second.body.lead_id)).routing.tiers[0]).toMatchObject({ turn: 1, position: 1, order: ["bids-rr-b-other", "bids-rr-a-brands", "bids-rr-a-brands"] });
  });

  it("an answer with an empty list of bids is a no-bid; one with no price is not a bid", async () => {
    const b = await buyer({ ping: (r) => (r.body.data.state === "OK" ? { json: { bids: [] } } : { json: { bids: [{ bid_id: "q", price: "lots" }] } }) });
    const key = await g.setup({ campaign: { id: "bids-none" }, channels: [brandsChannel("bids-none-brands", b)] });
    const none = await g.lead(key, { campaign: "bids-none", data: consumer({ state: "OK" }) });
    expect(none.body.status).toBe("unsold");
    expect((await trace(none.body.lead_id)).attempts[0]).toMatchObject({ outcome: "no_bid" });
    const bad = await g.lead(key, { campaign: "bids-none", data: consumer() });
    expect((await trace(bad.body.lead_id)).attempts[0]).toMatchObject({ outcome: "invalid_response", reason: "bad_bid" });
  });

  it("sells through the test console, which shows every bid and the captures", async () => {
    const b = await buyer(brandsBuyer({ alpha: 12, beta: 9.5 }));
    await g.setup({ campaign: { id: "bids-console" }, channels: [brandsChannel("bids-console-brands", b)] });
    const res = await g.admin("POST", "/v1/channels/bids-console-brands/test", { data: consumer(), post: true });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.ping.result).toMatchObject({
      outcome: "bid",
      price: 12,
      bid_id: "alpha-1",
      bids: [
        { id: "alpha-1", price: 12, shared_price: null, expires_at: null },
        { id: "beta-1", price: 9.5, shared_price: null, expires_at: null },
      ],
      captures: { lead_id: "L-1" },
    });
    expect(res.body.ping.rules.map((r: any) => r.rule)).toEqual(["capture.lead_id", "bids", "bids[0].bid", "bids[0].id", "bids[1].bid", "bids[1].id"]);
    expect(res.body.post.request.url).toBe(`${b.url}/post/L-1`);
    expect(JSON.parse(res.body.post.request.body)).toMatchObject({ lead_id: "L-1", bid_id: "alpha-1" });
    expect(res.body.post.result).toMatchObject({ outcome: "accepted", price: 12 });
  });

  it("a supplier's ping then post: the post names the bid and the capture kept with the ping, and falls back to the buyer's next bid", async () => {
    const b = await buyer(brandsBuyer({ alpha: 12, beta: 9 }, { rejects: ["alpha"] }));
    // The buyer's next bid pays the supplier less than it was quoted: sell_lower lets it sell.
    const key = await g.setup({ campaign: { id: "bids-inbound", inbound: { below_quote: "sell_lower" } }, channels: [brandsChannel("bids-inbound-brands", b)] });
    const data = consumer();
    const call = async (path: string, body: unknown) => {
      const res = await fetch(g.url + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const pinged = await call("/v1/pings", { campaign: "bids-inbound", data: { zip: data.zip, state: data.state, age: data.age, coverage: data.coverage } });
    expect(pinged.body).toMatchObject({ status: "bid" });
    const kept = await g.admin("GET", `/v1/pings/${pinged.body.ping_id}`);
    expect(kept.body.bids.map((k: any) => [k.channel_id, k.bid_id, k.price])).toEqual([
      ["bids-inbound-brands", "alpha-1", 12],
      ["bids-inbound-brands", "beta-1", 9],
    ]);
    const posted = await call("/v1/posts", { ping_id: pinged.body.ping_id, data });
    expect(posted.body, JSON.stringify(posted.body)).toMatchObject({ status: "sold" });
    expect(b.pings).toHaveLength(1);
    expect(b.posts.map((p) => [p.path, p.body.lead_id, p.body.bid_id])).toEqual([
      ["/post/L-1", "L-1", "alpha-1"],
      ["/post/L-1", "L-1", "beta-1"],
    ]);
  });

  it("exports and applies back unchanged", async () => {
    const b = await buyer({});
    const rules = { ping: { bids: { path: "$.bids[*]", bid: "$.price", id: "$.bid_id", max: 5 }, capture: { lead_id: "$.response.lead_id" } }, post: { accepted: "$.ok" } };
    await g.setup({ campaign: { id: "bids-export" }, channels: [brandsChannel("bids-export-brands", b, { response: rules })] });
    const text = await g.exportConfig();
    expect(text).toContain("bids:");
    expect(text).toContain("capture:");
    expect(text).toContain("max: 5");
    const plan = await g.planConfig(text);
    const body = plan.body;
    expect(plan.status, JSON.stringify(body)).toBe(200);
    expect(JSON.stringify(body.changes.changed)).not.toContain("bids-export-brands");
    expect((await g.admin("GET", "/v1/channels/bids-export-brands")).body.response.ping).toEqual({
      bids: { path: "$.bids[*]", bid: "$.price", id: "$.bid_id", max: 5 },
      capture: { lead_id: "$.response.lead_id" },
    });
  });

  it("refuses at save time an unknown capture, {{bid.id}} without bids, and bid beside bids", async () => {
    const b = await buyer({});
    await g.setup({ campaign: { id: "bids-save" }, channels: [] });
    const save = (id: string, extra: Record<string, unknown>) =>
      g.admin("POST", "/v1/channels", { buyer_id: "acme", campaign_id: "bids-save", ...pingPost(id, b), ...extra });
    const unknown = await save("bids-save-1", {
      post: { url: `${b.url}/post/{{ping.leadid}}` },
      response: { ping: { bids: { path: "$.bids[*]", bid: "$.price", id: "$.id" }, capture: { lead_id: "$.lead_id", token: "$.t" } } },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([{ path: "post.url", message: "unknown capture 'leadid' in '{{ping.leadid}}' (known: lead_id, token)" }]);
    const none = await save("bids-save-2", { post: { url: b.postUrl, body: { l: "{{ping.lead_id}}" } } });
    expect(none.body.errors).toEqual([{ path: "post.body.l", message: expect.stringMatching(/^unknown capture 'lead_id' .*set response\.ping\.capture/) }]);
    const bidId = await save("bids-save-3", { post: { url: b.postUrl, body: { b: "{{bid.id}}" } }, response: { ping: { bid: "$.price" } } });
    expect(bidId.body.errors).toEqual([{ path: "post.body.b", message: expect.stringMatching(/^'\{\{bid\.id\}\}' names the bid chosen of several/) }]);
    const inPing = await save("bids-save-4", { ping: { url: b.pingUrl, body: { l: "{{ping.lead_id}}" } }, response: { ping: { bid: "$.price", capture: { lead_id: "$.l" } } } });
    expect(inPing.body.errors).toEqual([{ path: "ping.body.l", message: expect.stringMatching(/only known in posts/) }]);
    const both = await save("bids-save-5", { response: { ping: { bid: "$.price", bids: { path: "$.bids[*]", bid: "$.price" } } } });
    expect(both.body.errors).toEqual([{ path: "response.ping.bid", message: expect.stringMatching(/^with bids, each bid's price is read inside it/) }]);
    const badPath = await save("bids-save-6", { response: { ping: { bids: { path: "bids", bid: "$.price" } } } });
    expect(badPath.body.errors).toEqual([{ path: "response.ping.bids.path", message: "a JSONPath starts with '$' (got 'bids')" }]);
    const badName = await save("bids-save-8", { response: { ping: { bid: "$.price", capture: { "1x": "$.a" } } } });
    expect(badName.status).toBe(422);
    expect(badName.body.errors.map((e: any) => e.path)).toEqual(["response.ping.capture.1x"]);
    const shared = await save("bids-save-7", { response: { ping: { bids: { path: "$.bids[*]", bid: "$.price", shared: { path: "$.t", equals: "shared" } } } } });
    expect(shared.body.errors).toEqual([{ path: "response.ping.bids.shared", message: expect.stringMatching(/buys shared sales/) }]);
  });
});

// Review of issue #18 item 1: an answer of thousands of bids, and captures far larger than a
// reference, are bounded. The buyers here answer more than the default 64 KB a buyer may send.
describe("one buyer's many bids, bounded", () => {
  const fixture = useTestGavel({ GAVEL_MAX_BUYER_BODY_BYTES: String(1024 * 1024) });
  const buyer = fixture.buyer;
  const trace = async (g: TestGavel, leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;
  /** `count` bids, h0 at 2.00, h1 at 2.01 …: the last is the best. */
  const manyBids = (count: number) => () => ({
    json: { response: { lead_id: "H-1" }, bids: Array.from({ length: count }, (_, i) => ({ bid_id: `h${i}`, price: (200 + i) / 100 })) },
  });

  it("5,500 bids, every post rejected: the best 10 are kept, two are posted, and the other buyer sells", async () => {
    const g = fixture.g;
    const hostile = await buyer({ ping: manyBids(5500), post: () => ({ json: { status: "rejected", message: "no" } }) });
    const other = await buyer({ ping: native(1.5), post: () => ({ json: { accepted: true } }) });
    const key = await g.setup({
      campaign: { id: "bids-hostile" },
      channels: [brandsChannel("bids-hostile-brands", hostile), pingPost("bids-hostile-other", other, { buyer_id: "bids-other" })],
    });
    const res = await g.lead(key, { campaign: "bids-hostile", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 1.5 });
    expect(hostile.posts.map((p) => p.body.bid_id)).toEqual(["h5499", "h5498"]);
    expect(other.posts).toHaveLength(1);
    const t = await trace(g, res.body.lead_id);
    // Two pings, two rejected posts and the sale: the buyer's other eight bids are left out at once.
    expect(t.attempts.map((a: any) => `${a.kind}:${a.channel_id}:${a.outcome}`).sort()).toEqual([
      "ping:bids-hostile-brands:bid",
      "ping:bids-hostile-other:bid",
      "post:bids-hostile-brands:rejected",
      "post:bids-hostile-brands:rejected",
      "post:bids-hostile-other:accepted",
    ]);
    expect(t.excluded.filter((e: any) => e.reason === "bids_refused")).toHaveLength(8);
    const ping = t.attempts.find((a: any) => a.kind === "ping" && a.channel_id === "bids-hostile-brands");
    expect(ping).toMatchObject({ reason: "several_bids", price: 56.99 });
    expect(ping.detail).toMatch(/^h5499 56\.99, h5498 56\.98, .*h5490 56\.90 \(best 10 kept, 5490 more dropped: bids\.max\)$/);
    expect(JSON.stringify(t).length).toBeLessThan(20_000);
  });

  it("bids.max sets how many are kept, and the console says how many were dropped; over 100 is refused", async () => {
    const g = fixture.g;
    const b = await buyer({ ping: manyBids(40) });
    await g.setup({
      campaign: { id: "bids-max" },
      channels: [brandsChannel("bids-max-brands", b, { response: { ping: { bids: { path: "$.bids[*]", bid: "$.price", id: "$.bid_id", max: 3 }, capture: { lead_id: "$.response.lead_id" } } } })],
    });
    const res = await g.admin("POST", "/v1/channels/bids-max-brands/test", { data: consumer() });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.ping.result.bids.map((x: any) => [x.id, x.price])).toEqual([["h39", 2.39], ["h38", 2.38], ["h37", 2.37]]);
    // Only the kept bids' rules are traced, in the answer's order, and one line for the dropped.
    expect(res.body.ping.rules.map((r: any) => r.rule)).toEqual(["capture.lead_id", "bids", "bids[37].bid", "bids[37].id", "bids[38].bid", "bids[38].id", "bids[39].bid", "bids[39].id", "bids.max"]);
    expect(res.body.ping.rules.at(-1)).toMatchObject({ spec: 3, value: "kept the best 3 of 40 bids, dropped 37" });
    const refused = await g.admin("POST", "/v1/channels", {
      ...pingPost("bids-max-over", b),
      buyer_id: "brands",
      campaign_id: "bids-max",
      response: { ping: { bids: { path: "$.bids[*]", bid: "$.price", max: 101 }, capture: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`c${i}`, "$.x"])) } },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors.map((e: any) => e.path).sort()).toEqual(["response.ping.bids.max", "response.ping.capture"]);
  });

  it("a supplier's ping keeps each answer's captures once, and a capture over 1,024 characters is missing", async () => {
    const g = fixture.g;
    const strict = brandsBuyer({ alpha: 12, beta: 9 }, { rejects: ["alpha"] });
    const big = "x".repeat(30_000);
    // The answer: a 30 KB token beside the lead id, and 1,000 filler bids under the brands' bids.
    const b = await buyer({
      ping: (r) => {
        const a = strict.ping(r) as { json: any };
        a.json.token = big;
        a.json.bids.push(...Array.from({ length: 1000 }, (_, i) => ({ bid_id: `f${i}`, price: 1 })));
        return a;
      },
      post: (r) => (r.body.token !== null ? refuse(`token ${String(r.body.token).length} chars`) : strict.post(r)),
    });
    const channel = brandsChannel("bids-captures-brands", b, {
      post: { url: `${b.url}/post/{{ping.lead_id}}`, body: { lead_id: "{{ping.lead_id}}", bid_id: "{{bid.id}}", price: "{{price}}", token: "{{ping.token}}" } },
      response: {
        ping: { bids: { path: "$.bids[*]", bid: "$.price", id: "$.bid_id", max: 100 }, capture: { lead_id: "$.response.lead_id", token: "$.token" } },
        post: { accepted: { path: "$.status", equals: "accepted" }, rejected: { path: "$.status", equals: "rejected" } },
      },
    });

    const key = await g.setup({ campaign: { id: "bids-captures", inbound: { below_quote: "sell_lower" } }, channels: [channel] });
    const data = consumer();
    const call = async (path: string, body: unknown) => {
      const res = await fetch(g.url + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const pinged = await call("/v1/pings", { campaign: "bids-captures", data: { zip: data.zip, state: data.state, age: data.age, coverage: data.coverage } });
    expect(pinged.body).toMatchObject({ status: "bid" });
    const row = await findAnyPing(g.gavel.database, pinged.body.ping_id);
    expect(row!.bids).toHaveLength(100);
    expect(row!.bids.filter((k) => k.captures)).toEqual([expect.objectContaining({ bid_id: "alpha-1", captures: { lead_id: "L-1", token: null } })]);
    expect(JSON.stringify(row!.bids).length).toBeLessThan(30_000);
    // Every bid's post still sends the answer's captures: alpha's (rejected), then beta's.
    const posted = await call("/v1/posts", { ping_id: pinged.body.ping_id, data });
    expect(posted.body, JSON.stringify(posted.body)).toMatchObject({ status: "sold" });
    expect(b.posts.map((p) => [p.path, p.body.bid_id, p.body.token])).toEqual([
      ["/post/L-1", "alpha-1", null],
      ["/post/L-1", "beta-1", null],
    ]);
    // The console's trace says why the token is missing.
    const console = await g.admin("POST", "/v1/channels/bids-captures-brands/test", { data: consumer() });
    expect(console.body.ping.rules.find((r: any) => r.rule === "capture.token")).toMatchObject({ matched: false, error: "longer than 1024 characters (30000): treated as missing" });
  });
});
