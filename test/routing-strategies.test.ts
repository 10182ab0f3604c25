// Routing strategies (src/auction/routing.ts): in what order the bids are offered the lead — by
// price (the default), an exact round-robin rotation shared by every process on the database, a
// weighted split, the most room left under caps first, tier by tier by priority — with sticky
// returning consumers and fallback channels. Real loopback buyers; the statistics are seeded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capacityOrder, roomLeft, tiersOf, weightedOrder } from "../src/auction/routing";
import { Campaign } from "../src/resources/schemas";
import { Bid } from "../src/auction/bid";
import { accepted, auctionLead, bid as bidAnswer, campaignPlan, deadlineFor, FakeLedger, FakeTransport, ManualClock, pingUrl, postUrl } from "./helpers/auction";
import { selectChannels } from "../src/auction/eligibility";
import { ChannelLimiter } from "../src/auction/limiter";
import { runAuction, type AuctionDeps } from "../src/auction/run";
import type { RoutingStore } from "../src/auction/routing";
import { DatabaseUnavailable } from "../src/db/client";
import type { TestBuyer } from "./helpers/buyers";
import { onPostgres } from "./helpers/db";
import { consumer, pingPost, startTestGavel, standardFields, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";
import { startChildGavel, type ChildGavel } from "./helpers/process";

/** A small deterministic generator (mulberry32): the same seed gives the same draws. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const direct = (id: string, buyer: TestBuyer, price: number, extra: Record<string, unknown> = {}) => ({
  id,
  buyer_id: `${id}-buyer`,
  type: "direct_post",
  fixed_price: price,
  post: { url: buyer.postUrl },
  ...extra,
});

const posted = (b: TestBuyer) => b.posts.length;

describe("routing, unit", () => {
  const plan = campaignPlan({}, [
    { id: "a", weight: 70, priority: 1 },
    { id: "b", weight: 30, priority: 1 },
    { id: "c", priority: 2, caps: [{ period: "day", leads: 5 }] },
    { id: "d", priority: 2, caps: [{ period: "day", leads: 10, spend: 40 }] },
  ]);
  const channel = (id: string) => plan.channels.find((c) => c.id === id)!;
  const bid = (id: string, cents: number) => new Bid(channel(id), cents, null, null, null);

  it("splits first offers 70/30 by weight within 3 points over 2,000 leads (seeded)", () => {
    const random = seeded(20261129);
    let a = 0;
    for (let i = 0; i < 2000; i++) if (weightedOrder([bid("a", 500), bid("b", 500)], random)[0].channelId === "a") a++;
    expect(Math.abs(a / 2000 - 0.7)).toBeLessThanOrEqual(0.03);
    // And the same seed draws the same split: nothing here depends on the clock or the machine.
    const again = seeded(20261129);
    let a2 = 0;
    for (let i = 0; i < 2000; i++) if (weightedOrder([bid("a", 500), bid("b", 500)], again)[0].channelId === "a") a2++;
    expect(a2).toBe(a);
  });

  it("groups tiers by priority ascending, each with its own strategy, or keeps the price ranking whole", () => {
    const bids = [bid("c", 900), bid("a", 500), bid("d", 800), bid("b", 400)];
    expect(tiersOf(bids, undefined).map((t) => [t.priority, t.strategy, t.bids.map((b) => b.channelId)])).toEqual([[null, "price", ["c", "a", "d", "b"]]]);
    const routing = Campaign.parse({ id: "x", name: "x", fields: standardFields, routing: { strategy: "weighted", tiers: [{ priority: 2, strategy: "capacity" }] } }).routing;
    expect(tiersOf(bids, routing).map((t) => [t.priority, t.strategy, t.bids.map((b) => b.channelId)])).toEqual([
      [1, "weighted", ["a", "b"]],
      [2, "capacity", ["c", "d"]],
    ]);
  });

  it("measures room in sales at the bid under every cap, and puts the most room first", () => {
    const at = Date.parse("2026-03-02T15:00:00Z");
    const used = (leads: number, spendCents: number) => () => ({ leads, spendCents });
    expect(roomLeft(channel("a"), at, 500, used(0, 0))).toBeNull();
    expect(roomLeft(channel("c"), at, 500, used(2, 0))).toBe(3);
    // d: 10 leads, $40: at $5, $30 already spent leaves room for 2 more.
    expect(roomLeft(channel("d"), at, 500, used(1, 3000))).toBe(2);
    const usage = (key: { ownerId: string }) => (key.ownerId === "c" ? { leads: 1, spendCents: 0 } : { leads: 0, spendCents: 0 });
    // c has 4 left, d 8 (at $5 under $40), a no cap: a, d, c.
    expect(capacityOrder([bid("c", 900), bid("d", 500), bid("a", 100)], at, usage).map((b) => b.channelId)).toEqual(["a", "d", "c"]);
  });

  it("refuses routing settings that cannot work, field by field", () => {
    const parse = (routing: unknown, dedup?: unknown) => Campaign.safeParse({ id: "x", name: "x", fields: standardFields, routing, ...(dedup ? { dedup } : {}) });
    const paths = (routing: unknown, dedup?: unknown) => {
      const r = parse(routing, dedup);
      return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
    };
    expect(paths({ strategy: "random" })).toEqual(["routing.strategy"]);
    expect(paths({ tiers: [{ priority: 1, strategy: "weighted" }, { priority: 1, strategy: "price" }] })).toEqual(["routing.tiers.1.priority"]);
    expect(paths({ sticky_days: 30 })).toEqual(["routing.sticky_days"]);
    expect(paths({ sticky_days: 30 }, { fields: ["email"] })).toEqual([]);
    expect(paths({ sticky_days: 0 }, { fields: ["email"] })).toEqual(["routing.sticky_days"]);
  });
});

describe("routing when the database cannot be reached", () => {
  it("offers a round-robin tier by price rather than losing the lead, and a returning consumer as a new one", async () => {
    const plan = campaignPlan({ timeout_ms: 2000, ping_timeout_ms: 800, post_timeout_ms: 1500 }, [{ id: "lo" }, { id: "hi" }], {
      routing: { strategy: "round_robin", sticky_days: 5 },
      dedup: { fields: ["email"], lookback_days: 1 },
    });
    const down = () => Promise.reject(new DatabaseUnavailable("the database is down", false));
    const routing: RoutingStore = { takeTurn: down, peekTurn: down, stickyBuyer: down, rememberBuyer: down, usage: () => ({ leads: 0, spendCents: 0 }) };
    const transport = new FakeTransport({ [pingUrl("lo")]: bidAnswer(5), [pingUrl("hi")]: bidAnswer(9), [postUrl("lo")]: accepted(), [postUrl("hi")]: accepted() });
    let ids = 0;
    const deps: AuctionDeps = { transport, caps: new FakeLedger(), newId: () => `id-${++ids}`, random: () => 0.5, maxBodyBytes: 65_536, routing };
    const lead = auctionLead();
    const limiter = new ChannelLimiter();
    const eligibility = selectChannels(plan.channels, lead, { usage: () => ({ leads: 0, spendCents: 0 }), slots: limiter });
    const result = await runAuction(deps, plan, lead, eligibility, deadlineFor(plan, new ManualClock()), null);
    expect(result.status).toBe("sold");
    expect(transport.posted()).toEqual(["hi"]);
    expect(result.routing).toEqual({
      strategy: "round_robin",
      sticky: { days: 5, buyer_id: null, sold_at: null, lead_id: null, channels: [] },
      tiers: [{ priority: 1, strategy: "round_robin", turn: null, order: ["hi", "lo"] }],
    });
    for (const channel of plan.channels) expect(limiter.count(channel.id)).toBe(0);
  });
});

describe("routing strategies, end to end", () => {
  const clock = testClock("2026-03-02T15:00:00Z");
  // Seeded: the weighted split below is the same on every run.
  const t = useTestGavel({}, { clock, random: seeded(7) });
  const auction = { timeout_ms: 10_000, ping_timeout_ms: 4000, post_timeout_ms: 4000 };

  async function sell(apiKey: string, campaign: string, data = consumer()) {
    const res = await t.g.lead(apiKey, { campaign, data });
    expect(res.status).toBe(200);
    const trace = (await t.g.admin("GET", `/v1/leads/${res.body.lead_id}`)).body;
    return { answer: res.body, trace, soldTo: trace.sold_channel as string | null };
  }

  it("rotates a tier exactly, hands a refused lead to the next in the rotation, and reaches a lower tier only when the higher one sells nothing", async () => {
    let r2Rejects = false;
    let r1Rejects = false;
    const r1 = await t.buyer({ post: () => ({ json: { accepted: !r1Rejects } }) });
    const r2 = await t.buyer({ post: () => ({ json: { accepted: !r2Rejects } }) });
    const low = await t.buyer({ ping: () => ({ json: { bid: 50 } }) });
    const key = await t.g.setup({
      campaign: { id: "rr", auction, routing: { strategy: "price", tiers: [{ priority: 1, strategy: "round_robin" }] } },
      channels: [direct("rr-1", r1, 5, { priority: 1 }), direct("rr-2", r2, 5, { priority: 1 }), pingPost("rr-low", low, { buyer_id: "rr-low-buyer", priority: 2 })],
    });
    // The lower tier bids ten times more, and is never offered the lead while the first tier takes it.
    const first = await sell(key, "rr");
    expect(first.soldTo).toBe("rr-1");
    expect(first.trace.routing).toEqual({ strategy: "price", tiers: [{ priority: 1, strategy: "round_robin", turn: 0, position: 0, order: ["rr-1", "rr-2"] }] });
    expect((await sell(key, "rr")).soldTo).toBe("rr-2");
    expect((await sell(key, "rr")).soldTo).toBe("rr-1");
    expect(posted(low)).toBe(0);

    r2Rejects = true;
    const fallThrough = await sell(key, "rr");
    expect(fallThrough.trace.routing.tiers[0]).toMatchObject({ turn: 3, position: 1, order: ["rr-2", "rr-1"] });
    expect(fallThrough.trace.attempts.filter((a: any) => a.kind === "post").map((a: any) => [a.channel_id, a.outcome])).toEqual([
      ["rr-2", "rejected"],
      ["rr-1", "accepted"],
    ]);

    r1Rejects = true;
    const lower = await sell(key, "rr");
    expect(lower.soldTo).toBe("rr-low");
    expect(lower.trace.routing.tiers.map((tier: any) => [tier.priority, tier.strategy, tier.order])).toEqual([
      [1, "round_robin", ["rr-1", "rr-2"]],
      [2, "price", ["rr-low"]],
    ]);

    // Explain says what the next lead would do: turn 5, starting at rr-2.
    const explained = (await t.g.admin("POST", "/v1/campaigns/rr/explain", { data: consumer() })).body;
    expect(explained.routing.tiers).toEqual([
      { priority: 1, strategy: "round_robin", channels: ["rr-2", "rr-1"], next_turn: 5 },
      { priority: 2, strategy: "price", channels: ["rr-low"] },
    ]);
  });

  it("splits leads by weight, as a seeded 70/30 over 200 leads", async () => {
    const heavy = await t.buyer({});
    const light = await t.buyer({});
    const key = await t.g.setup({
      campaign: { id: "weighted", auction, routing: { strategy: "weighted" } },
      channels: [direct("w-70", heavy, 5, { weight: 70 }), direct("w-30", light, 5, { weight: 30 })],
    });
    const sold = await sell(key, "weighted");
    expect(sold.trace.routing.tiers[0]).toMatchObject({ priority: 1, strategy: "weighted", weights: { "w-70": 70, "w-30": 30 }, shares: { "w-70": 70, "w-30": 30 } });
    for (let i = 1; i < 200; i++) expect((await t.g.lead(key, { campaign: "weighted", data: consumer() })).body.status).toBe("sold");
    expect(posted(heavy) + posted(light)).toBe(200);
    // Seeded, so the same count every run; ±10 points is three standard deviations at 200 leads.
    expect(Math.abs(posted(heavy) / 200 - 0.7)).toBeLessThanOrEqual(0.1);
    // The test console says how routing treats the channel.
    const tried = await t.g.admin("POST", "/v1/channels/w-30/test", { data: consumer() });
    expect(tried.body.routing).toEqual({ role: "buyer", tier: 1, strategy: "weighted", share: 30 });
  });

  it("offers the lead first to the channel with the most room left under its caps", async () => {
    const a = await t.buyer({});
    const b = await t.buyer({});
    const key = await t.g.setup({
      campaign: { id: "capacity", auction, routing: { strategy: "capacity" } },
      channels: [direct("cap-a", a, 10, { caps: [{ period: "day", leads: 2 }] }), direct("cap-b", b, 5, { caps: [{ period: "day", leads: 4 }] })],
    });
    const first = await sell(key, "capacity");
    expect(first.trace.routing.tiers[0]).toMatchObject({ strategy: "capacity", room: { "cap-a": 2, "cap-b": 4 }, order: ["cap-b", "cap-a"] });
    const order = [first.soldTo];
    for (let i = 0; i < 5; i++) order.push((await sell(key, "capacity")).soldTo);
    // By price it would be a, a, b, b, b, b; by room, equal room going to the better price.
    expect(order).toEqual(["cap-b", "cap-b", "cap-a", "cap-b", "cap-a", "cap-b"]);
    expect((await sell(key, "capacity")).answer.status).toBe("unsold");
  });

  it("offers a returning consumer first to the buyer that bought them within sticky_days", async () => {
    let bidA = 12;
    let bidB = 10;
    let bRejects = false;
    const a = await t.buyer({ ping: () => ({ json: { bid: bidA } }) });
    const b = await t.buyer({ ping: () => ({ json: { bid: bidB } }), post: () => ({ json: { accepted: !bRejects } }) });
    const key = await t.g.setup({
      campaign: { id: "sticky", auction, dedup: { fields: ["email"], lookback_days: 0 }, routing: { strategy: "price", sticky_days: 30 } },
      channels: [pingPost("st-a", a, { buyer_id: "st-a-buyer" }), pingPost("st-b", b, { buyer_id: "st-b-buyer" })],
    });
    const jo = consumer();
    const first = await sell(key, "sticky", jo);
    expect(first.soldTo).toBe("st-a");
    expect(first.trace.routing.sticky).toMatchObject({ days: 30, buyer_id: null, channels: [] });

    // B now bids more, but Jo's last buyer gets Jo first; a new consumer goes by price.
    bidB = 15;
    const back = await sell(key, "sticky", jo);
    expect(back.soldTo).toBe("st-a");
    expect(back.trace.routing.sticky).toMatchObject({ buyer_id: "st-a-buyer", lead_id: first.answer.lead_id, channels: ["st-a"] });
    expect((await sell(key, "sticky")).soldTo).toBe("st-b");
    const explained = (await t.g.admin("POST", "/v1/campaigns/sticky/explain", { data: jo })).body;
    expect(explained.routing.sticky).toMatchObject({ days: 30, buyer_id: "st-a-buyer" });

    // 31 days on, the window has passed: price decides, and B becomes Jo's buyer.
    clock.advance(31 * 86_400_000);
    const later = await sell(key, "sticky", jo);
    expect(later.soldTo).toBe("st-b");
    expect(later.trace.routing.sticky.buyer_id).toBeNull();

    // The sticky buyer refuses: the lead goes on by price to the others.
    bRejects = true;
    bidA = 20;
    const refused = await sell(key, "sticky", jo);
    expect(refused.trace.routing.sticky).toMatchObject({ buyer_id: "st-b-buyer", channels: ["st-b"] });
    expect(refused.trace.attempts.filter((x: any) => x.kind === "post").map((x: any) => [x.channel_id, x.outcome])).toEqual([
      ["st-b", "rejected"],
      ["st-a", "accepted"],
    ]);
  });

  it("remembers for a returning consumer a sale confirmed by postback once it is confirmed, not before", async () => {
    const a = await t.buyer({ ping: () => ({ json: { bid: 12 } }), post: () => ({ json: { status: "received" } }) });
    const b = await t.buyer({ ping: () => ({ json: { bid: 10 } }) });
    const key = await t.g.setup({
      campaign: { id: "sticky-pending", auction, dedup: { fields: ["email"], lookback_days: 0 }, routing: { strategy: "price", sticky_days: 30 } },
      channels: [
        pingPost("stp-a", a, {
          buyer_id: "stp-a-buyer",
          post: { url: a.postUrl, confirmed_by: "postback" },
          response: { post: { accepted: { path: "$.status", equals: "received" } } },
        }),
        pingPost("stp-b", b, { buyer_id: "stp-b-buyer" }),
      ],
    });
    const jo = consumer();
    const first = await sell(key, "sticky-pending", jo);
    expect(first.answer.status).toBe("pending");
    expect(first.trace.sold_channel).toBe("stp-a");
    // The pending sale may end not confirmed: Jo's next visit is routed as a first one.
    const back = await sell(key, "sticky-pending", jo);
    expect(back.trace.routing.sticky).toMatchObject({ days: 30, buyer_id: null, channels: [] });
    // Confirmed (here by an operator, as by the buyer's postback): from now on Jo goes first to A.
    const confirmed = await t.g.admin("POST", `/v1/leads/${first.answer.lead_id}/resolve`, { outcome: "sold", channel_id: "stp-a", price: first.trace.revenue });
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
    const third = await sell(key, "sticky-pending", jo);
    expect(third.trace.routing.sticky).toMatchObject({ buyer_id: "stp-a-buyer", lead_id: first.answer.lead_id, channels: ["stp-a"] });
  });

  it("posts to a fallback channel only when no other channel took the lead, whatever it pays", async () => {
    let rejects = false;
    const buyer = await t.buyer({ ping: () => ({ json: { bid: 10 } }), post: () => ({ json: { accepted: !rejects } }) });
    const catchAll = await t.buyer({});
    const key = await t.g.setup({
      campaign: { id: "fallback", auction },
      channels: [pingPost("fb-buyer", buyer, { buyer_id: "fb-buyer-co" }), direct("fb-house", catchAll, 20, { role: "fallback" })],
    });
    const sold = await sell(key, "fallback");
    expect(sold.soldTo).toBe("fb-buyer");
    expect(posted(catchAll)).toBe(0);
    expect(sold.trace.routing).toEqual({
      strategy: "price",
      tiers: [{ priority: null, strategy: "price", order: ["fb-buyer"] }],
      fallback: { channels: ["fb-house"], used: false },
    });

    rejects = true;
    const orphan = await sell(key, "fallback");
    expect(orphan.soldTo).toBe("fb-house");
    expect(orphan.answer.status).toBe("sold");
    expect(orphan.trace.routing.fallback).toEqual({ channels: ["fb-house"], used: true });
    expect(posted(catchAll)).toBe(1);
    const explained = (await t.g.admin("POST", "/v1/campaigns/fallback/explain", { data: consumer() })).body;
    expect(explained.routing.fallback).toEqual(["fb-house"]);
    const tried = await t.g.admin("POST", "/v1/channels/fb-house/test", { data: consumer() });
    expect(tried.body.routing).toEqual({ role: "fallback", tier: null, strategy: null, share: null });
  });

  it("delivers to every bidder of an `all` tier that buys shared sales, one shared sale each, and to the next tier only when none of them took it", async () => {
    let allReject = false;
    const one = await t.buyer({ post: () => ({ json: { accepted: !allReject } }) });
    const two = await t.buyer({ post: () => ({ json: { accepted: false, reason: "full today" } }) });
    const three = await t.buyer({ post: () => ({ json: { accepted: !allReject } }) });
    const exclusiveOnly = await t.buyer({});
    const next = await t.buyer({});
    const catchAll = await t.buyer({});
    // The lead goes to several buyers: each is sold a shared sale, at its shared price.
    const both = (shared: number) => ({ buys: ["exclusive", "shared"], shared_fixed_price: shared });
    const key = await t.g.setup({
      campaign: { id: "all", auction, routing: { strategy: "all" }, payout: { type: "revshare", percent: 50 } },
      channels: [
        direct("all-1", one, 6, both(3)),
        direct("all-2", two, 5, both(2.5)),
        direct("all-3", three, 4, both(2)),
        direct("all-excl", exclusiveOnly, 8),
        direct("all-next", next, 9, { priority: 2, ...both(4.5) }),
        direct("all-house", catchAll, 1, { role: "fallback" }),
      ],
    });
    const sold = await sell(key, "all");
    // Two of the three took it: two sales at their shared prices, paid for both ($3 + $2, half to the supplier).
    expect(sold.answer).toMatchObject({ status: "sold", sold_to: 2, price: 2.5 });
    expect(sold.trace.sales.map((x: any) => [x.channel_id, x.price])).toEqual([
      ["all-1", 3],
      ["all-3", 2],
    ]);
    expect(one.posts[0].body).toMatchObject({ sale: "shared", price: 3 });
    expect(sold.trace.routing.tiers).toEqual([{ priority: 1, strategy: "all", order: ["all-excl", "all-1", "all-2", "all-3"] }]);
    expect(sold.trace.routing.fallback).toEqual({ channels: ["all-house"], used: false });
    // all-excl buys exclusive sales only: never posted a lead sold to several buyers.
    expect(sold.trace.excluded).toContainEqual({ channel_id: "all-excl", reason: "sale_type", detail: "shared" });
    expect([posted(one), posted(two), posted(three), posted(exclusiveOnly), posted(next), posted(catchAll)]).toEqual([1, 1, 1, 0, 0, 0]);

    allReject = true;
    const lower = await sell(key, "all");
    expect(lower.answer).toMatchObject({ status: "sold", sold_to: 1 });
    expect(lower.soldTo).toBe("all-next");
    expect(lower.trace.routing.tiers.map((tier: any) => tier.strategy)).toEqual(["all", "all"]);
    expect(posted(catchAll)).toBe(0);
  });

  it("posts an `all` tier of pinged channels their shared_bid, marked shared", async () => {
    const a = await t.buyer({ ping: () => ({ json: { bid: 10, shared_bid: 4 } }) });
    const b = await t.buyer({ ping: () => ({ json: { bid: 9, shared_bid: 3 } }) });
    const both = { buys: ["exclusive", "shared"] };
    const key = await t.g.setup({
      campaign: { id: "all-pinged", auction, routing: { strategy: "all" } },
      channels: [pingPost("allp-a", a, { buyer_id: "allp-a", ...both }), pingPost("allp-b", b, { buyer_id: "allp-b", ...both })],
    });
    const sold = await sell(key, "all-pinged");
    expect(sold.answer).toMatchObject({ status: "sold", sold_to: 2 });
    expect([a.posts[0].body, b.posts[0].body]).toMatchObject([
      { sale: "shared", price: 4 },
      { sale: "shared", price: 3 },
    ]);
  });

  it("holds a fallback channel back in a shared sale too, until no other buyer took the lead", async () => {
    let reject = false;
    const one = await t.buyer({ post: () => ({ json: { accepted: !reject } }) });
    const two = await t.buyer({ post: () => ({ json: { accepted: !reject } }) });
    const house = await t.buyer({});
    const shared = { buys: ["shared"], shared_fixed_price: 3 };
    const key = await t.g.setup({
      campaign: { id: "shared-fb", auction: { ...auction, mode: "shared", max_sells: 2 } },
      channels: [direct("sfb-1", one, 4, shared), direct("sfb-2", two, 4, shared), direct("sfb-house", house, 9, { ...shared, shared_fixed_price: 8, role: "fallback" })],
    });
    const sold = await sell(key, "shared-fb");
    expect(sold.answer).toMatchObject({ status: "sold", sold_to: 2 });
    expect(sold.trace.routing.fallback).toEqual({ channels: ["sfb-house"], used: false });
    expect(posted(house)).toBe(0);
    reject = true;
    const orphan = await sell(key, "shared-fb");
    expect(orphan.answer).toMatchObject({ status: "sold", sold_to: 1 });
    expect(orphan.soldTo).toBe("sfb-house");
    expect(orphan.trace.routing.fallback).toEqual({ channels: ["sfb-house"], used: true });
  });

  it("keeps the default auction's trace free of routing", async () => {
    const buyer = await t.buyer({ ping: () => ({ json: { bid: 3 } }) });
    const key = await t.g.setup({ campaign: { id: "plain", auction }, channels: [pingPost("plain-1", buyer, { buyer_id: "plain-co" })] });
    const sold = await sell(key, "plain");
    expect(sold.soldTo).toBe("plain-1");
    expect(sold.trace.routing).toBeNull();
    const explained = (await t.g.admin("POST", "/v1/campaigns/plain/explain", { data: consumer() })).body;
    expect(explained.routing).toEqual({ strategy: "price", sticky: null, tiers: [{ priority: null, strategy: "price", channels: ["plain-1"] }], fallback: [] });
  });

  it("answers bad routing settings with a 422 naming the field", async () => {
    const refused = async (routing: unknown) => {
      const res = await t.g.admin("POST", "/v1/campaigns", { id: "bad-routing", name: "Bad", fields: standardFields, routing });
      expect(res.status).toBe(422);
      return res.body.errors.map((e: { path: string }) => e.path);
    };
    expect(await refused({ strategy: "fastest" })).toEqual(["routing.strategy"]);
    expect(await refused({ tiers: [{ priority: 1, strategy: "price" }, { priority: 1, strategy: "weighted" }] })).toEqual(["routing.tiers[1].priority"]);
    expect(await refused({ sticky_days: 7 })).toEqual(["routing.sticky_days"]);
    const channel = await t.g.admin("POST", "/v1/channels", {
      ...direct("bad-role", { postUrl: "http://127.0.0.1:9/post" } as TestBuyer, 1),
      campaign_id: "plain",
      buyer_id: "plain-co",
      role: "backup",
    });
    expect(channel.status).toBe(422);
    expect(channel.body.errors.map((e: { path: string }) => e.path)).toEqual(["role"]);
  });

  it("documents every setting in the OpenAPI document", async () => {
    const doc: any = await (await fetch(`${t.g.url}/openapi.json`)).json();
    const schemas = doc.components.schemas;
    expect(schemas.Routing.properties).toHaveProperty("sticky_days");
    expect(schemas.RoutingStrategy.enum).toEqual(["price", "round_robin", "weighted", "capacity", "all"]);
    expect(schemas.ChannelRead.properties.role.enum).toEqual(["buyer", "fallback"]);
    expect(schemas.CampaignRead.properties.routing.$ref).toBe("#/components/schemas/Routing");
    expect(schemas.LeadTrace.properties).toHaveProperty("routing");
    expect(schemas.Explanation.properties).toHaveProperty("routing");
  });

  describe("config as code", () => {
    let second: TestGavel | undefined;
    afterAll(async () => {
      await second?.close();
    });

    it("exports routing and roles, and applies them back unchanged on another Gavel", async () => {
      const exported = async (g: TestGavel) => (await fetch(`${g.url}/v1/config/export`, { headers: { authorization: `Bearer ${g.gavel.adminToken}` } })).text();
      const apply = async (g: TestGavel, text: string, dryRun = false) => {
        const res = await fetch(`${g.url}/v1/config/apply${dryRun ? "?dry_run=true" : ""}`, {
          method: "POST",
          headers: { "content-type": "application/yaml", authorization: `Bearer ${g.gavel.adminToken}` },
          body: text,
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const text = await exported(t.g);
      expect(text).toMatch(/round_robin/);
      expect(text).toMatch(/role: fallback/);
      expect(text).toMatch(/sticky_days: 30/);
      // The same Gavel: no change.
      expect((await apply(t.g, text, true)).body).toMatchObject({ changes: { created: [], changed: [], archived: [] } });
      // Another Gavel: the same configuration, to the letter.
      second = await startTestGavel();
      const applied = await apply(second, text);
      expect(applied.status).toBe(200);
      expect(await exported(second)).toBe(text);
      expect((await second.admin("GET", "/v1/campaigns/rr")).body.routing).toEqual({ strategy: "price", tiers: [{ priority: 1, strategy: "round_robin" }] });
      expect((await second.admin("GET", "/v1/channels/fb-house")).body.role).toBe("fallback");
    });
  });
});

// Two Gavel processes sharing one PostgreSQL: the rotation's counter is in the database, so the
// leads of both make one rotation. PGlite is one process's database, so this runs on PostgreSQL
// only (CI's PostgreSQL pass runs it; its PGlite pass skips it, as faults.test.ts does).
const twoProcesses = onPostgres;
if (!twoProcesses) console.warn("routing-strategies.test.ts: the two-process round robin is skipped: it needs PostgreSQL (DATABASE_URL); CI's PostgreSQL pass runs it");

describe.skipIf(!twoProcesses)("round robin across two processes (PostgreSQL)", () => {
  let g: TestGavel;
  let child: ChildGavel | undefined;
  const buyers: TestBuyer[] = [];

  beforeAll(async () => {
    g = await startTestGavel();
  });
  afterAll(async () => {
    await child?.stop();
    await Promise.all(buyers.map((b) => b.close()));
    await g?.close();
  });

  it("gives 300 leads to 3 channels exactly 100 each, whichever process takes each lead", { timeout: 300_000 }, async () => {
    const { startBuyer } = await import("./helpers/buyers");
    for (let i = 0; i < 3; i++) buyers.push(await startBuyer({}));
    const key = await g.setup({
      campaign: { id: "rr-two", auction: { timeout_ms: 20_000, post_timeout_ms: 15_000 }, routing: { strategy: "round_robin" } },
      channels: buyers.map((b, i) => direct(`rr-two-${i}`, b, 5)),
    });
    child = await startChildGavel((g.target as { url: string }).url, { GAVEL_CONFIG_TTL_MS: "100" });
    const urls = [g.url, child.url];
    const send = async (i: number) => {
      const res = await fetch(`${urls[i % 2]}/v1/leads`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ campaign: "rr-two", data: consumer() }),
      });
      return (await res.json()) as { status: string; lead_id: string };
    };
    // Both processes at once, 10 leads in flight on each.
    const answers: { status: string }[] = [];
    for (let start = 0; start < 300; start += 20) answers.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => send(start + j)))));
    expect(answers.filter((a) => a.status === "sold")).toHaveLength(300);
    expect(buyers.map(posted)).toEqual([100, 100, 100]);
  });
});
