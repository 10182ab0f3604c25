// Pricing and ranking (README "Pricing and ranking"; src/auction/clearing.ts, payout.ts,
// acceptance.ts) against a real Gavel and real loopback buyers: bid adjustments change who wins but
// never what a buyer pays above its bid, the campaign's margin comes off the supplier's payout,
// second price charges the least that would still have won, and expected-value ranking prefers an
// honest bidder to a higher one that rejects most posts. The arithmetic is also checked alone.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { acceptanceRate, AcceptanceBook } from "../src/auction/acceptance";
import { Bid } from "../src/auction/bid";
import { byScore, clearRanking } from "../src/auction/clearing";
import { adjustedCents, rawCentsFor } from "../src/auction/pricing";
import { rankBids } from "../src/auction/rank";
import { marginCents, payoutCents, payoutFloorCents } from "../src/auction/payout";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client";
import type { AttemptRow } from "../src/db/leads";
import { AcceptanceEstimate } from "../src/resources/schemas";
import type { Behaviour } from "./helpers/buyers";
import { campaignPlan } from "./helpers/auction";
import { freshDatabase, onPostgres } from "./helpers/db";
import { consumer, pingPost, startTestGavel, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";

const bidding = (bid: number): Behaviour => () => ({ json: { bid, ping_ref: `ref-${bid}` } });
const rejecting: Behaviour = () => ({ json: { accepted: false, reason: "not today" } });

describe("pricing arithmetic", () => {
  it("adjusts a bid by multiplier then offset, never below zero, and undoes it rounding up", () => {
    expect(adjustedCents(null, 1234)).toBe(1234);
    expect(adjustedCents({ multiplier: 0.8, offsetCents: 0 }, 1000)).toBe(800);
    expect(adjustedCents({ multiplier: 1, offsetCents: -250 }, 1000)).toBe(750);
    expect(adjustedCents({ multiplier: 1, offsetCents: -2000 }, 1000)).toBe(0);
    expect(rawCentsFor({ multiplier: 0.5, offsetCents: 0 }, 401)).toBe(802);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0.05, max: 20, noNaN: true }),
        fc.integer({ min: -5000, max: 5000 }),
        (target, multiplier, offsetCents) => {
          const adjustment = { multiplier, offsetCents };
          const raw = rawCentsFor(adjustment, target);
          // The least raw bid whose adjusted bid reaches the target.
          if (raw > 0) expect(adjustedCents(adjustment, raw)).toBeGreaterThanOrEqual(target);
          if (raw > 1) expect(adjustedCents(adjustment, raw - 1)).toBeLessThanOrEqual(target);
        },
      ),
    );
  });

  it("takes a percent margin rounded up to the cent, or a fixed one, before the supplier's payout", () => {
    expect(marginCents({ type: "percent", percent: 12.3 }, 1000)).toBe(123);
    expect(marginCents({ type: "percent", percent: 20 }, 1001)).toBe(201);
    expect(payoutCents({ type: "revshare", percent: 100 }, 1000, { type: "percent", percent: 20 })).toBe(800);
    expect(payoutCents({ type: "revshare", percent: 70 }, 1000, { type: "percent", percent: 20 })).toBe(700);
    expect(payoutCents({ type: "revshare", percent: 100 }, 1000, { type: "fixed", amount: 1.5 })).toBe(850);
    expect(payoutCents({ type: "revshare", percent: 100 }, 100, { type: "fixed", amount: 1.5 })).toBe(0);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 100 }),
        fc.oneof(
          fc.record({ type: fc.constant("percent" as const), percent: fc.integer({ min: 0, max: 99 }) }),
          fc.record({ type: fc.constant("fixed" as const), amount: fc.integer({ min: 0, max: 5000 }).map((c) => c / 100) }),
        ),
        (revenue, percent, margin) => {
          const paid = payoutCents({ type: "revshare", percent }, revenue, margin);
          expect(paid).toBeGreaterThanOrEqual(0);
          expect(paid).toBeLessThanOrEqual(revenue - marginCents(margin, revenue) < 0 ? 0 : revenue - marginCents(margin, revenue));
        },
      ),
    );
  });

  it("raises a fixed payout's floor by the margin, so the payout is never cut", () => {
    expect(payoutFloorCents({ type: "fixed", amount: 5 }, { type: "fixed", amount: 2 })).toBe(700);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 99.9, noNaN: true }), (owed, percent) => {
        const margin = { type: "percent" as const, percent };
        const floor = payoutFloorCents({ type: "fixed", amount: owed / 100 }, margin)!;
        expect(floor - marginCents(margin, floor)).toBeGreaterThanOrEqual(owed);
        expect(floor - 1 - marginCents(margin, floor - 1)).toBeLessThan(owed);
      }),
    );
  });

  it("second price under expected ranking: the least bid whose score still beats the next one's, + 0.01", () => {
    const plan = campaignPlan({ pricing: "second", rank_by: "expected", floor: 2 }, [{ id: "flaky" }, { id: "honest" }, { id: "boosted", bid_adjustment: { multiplier: 2 } }]);
    const [flaky, honest, boosted] = plan.channels;
    const bid = (channel: (typeof plan.channels)[number], cents: number, rate: number) => {
      const b = new Bid(channel, cents, null, null, null);
      b.adjustedCents = adjustedCents(channel.adjustment, cents);
      b.acceptance = { posted: 0, accepted: 0, rate };
      b.score = b.adjustedCents * rate;
      return b;
    };
    // Scores: boosted 300 × 2 × 1 = 600, flaky 1000 × 0.5 = 500, honest 400 × 1 = 400.
    const ranking = rankBids([bid(flaky, 1000, 0.5), bid(honest, 400, 1), bid(boosted, 300, 1)], () => 0.5, byScore);
    expect(ranking.map((b) => b.channel.id)).toEqual(["boosted", "flaky", "honest"]);
    clearRanking(plan.pricing!, ranking, 200);
    // boosted needs an adjusted 501 (a score of 501 at rate 1): a bid of 2.51, under its own 3.00.
    // flaky needs a score over 400 at rate 0.5: an adjusted 801, 8.01. honest is last: the floor.
    expect(ranking.map((b) => b.chargeCents)).toEqual([251, 801, 200]);
  });

  it("second price never charges above the bid, nor below the floor", () => {
    const plan = campaignPlan({ pricing: "second" }, [{ id: "a" }, { id: "b", bid_adjustment: { multiplier: 0.7, offset: 1.5 } }, { id: "c" }]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 100, max: 100_000 }), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 100 }), (cents, floor) => {
        const bids = plan.channels.map((channel, i) => new Bid(channel, cents[i], null, null, null));
        for (const b of bids) b.score = b.adjustedCents = adjustedCents(b.channel.adjustment, b.priceCents);
        const ranking = rankBids(bids, () => 0.5, byScore);
        clearRanking(plan.pricing!, ranking, floor);
        for (const b of ranking) {
          expect(b.chargeCents).toBeLessThanOrEqual(b.priceCents);
          expect(b.chargeCents).toBeGreaterThanOrEqual(Math.min(floor, b.priceCents));
        }
      }),
    );
  });

  it("second price charges a buyer against the next bid of another buyer, never its own other channel's", () => {
    const plan = campaignPlan({ pricing: "second" }, [
      { id: "acme-1", buyer_id: "acme" },
      { id: "acme-2", buyer_id: "acme" },
      { id: "other", buyer_id: "other" },
    ]);
    const bids = plan.channels.map((channel, i) => new Bid(channel, [1000, 900, 500][i], null, null, null));
    const ranking = rankBids(bids, () => 0.5, byScore);
    clearRanking(plan.pricing!, ranking, 100);
    // acme-1 against other's 5.00 (not acme-2's 9.00); acme-2 likewise; other against nothing: the floor.
    expect(ranking.map((b) => [b.channel.id, b.chargeCents])).toEqual([
      ["acme-1", 501],
      ["acme-2", 501],
      ["other", 100],
    ]);
  });

  it("estimates a rate from decayed counts, trusting a new channel and never going under the floor", () => {
    const estimate = AcceptanceEstimate.parse({ floor: 0.1, half_life_hours: 1, prior_posts: 5 });
    const now = Date.parse("2026-03-02T15:00:00Z");
    expect(acceptanceRate(undefined, now, estimate).rate).toBe(1);
    expect(acceptanceRate({ posted: 20, accepted: 4, asOf: now }, now, estimate).rate).toBeCloseTo(9 / 25, 10);
    expect(acceptanceRate({ posted: 1000, accepted: 0, asOf: now }, now, estimate).rate).toBe(0.1);
    // An hour later (one half-life) the same history weighs half as much against the prior.
    const later = acceptanceRate({ posted: 20, accepted: 4, asOf: now }, now + 3_600_000, estimate);
    expect(later.posted).toBeCloseTo(10, 10);
    expect(later.rate).toBeCloseTo(7 / 15, 10);
  });
});

describe("pricing and ranking in the auction", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const trace = async (leadId: string) => {
    const res = await g.admin("GET", `/v1/leads/${leadId}`);
    expect(res.status).toBe(200);
    return res.body;
  };

  it("ranks by the adjusted bid: a multiplier makes the lower bidder win, at its own bid", async () => {
    const penalised = await buyer({ ping: bidding(10) });
    const plain = await buyer({ ping: bidding(8) });
    const key = await g.setup({
      campaign: { id: "adj-mult" },
      channels: [pingPost("adj-mult-penalised", penalised, { bid_adjustment: { multiplier: 0.7 } }), pingPost("adj-mult-plain", plain)],
    });
    const res = await g.lead(key, { campaign: "adj-mult", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 8 });
    expect(penalised.posts).toHaveLength(0);
    expect(plain.posts[0].body.price).toBe(8);
    const t = await trace(res.body.lead_id);
    expect(t.ranking).toMatchObject({
      pricing: "first",
      rank_by: "price",
      clearing_price: 8,
      bids: [
        { channel_id: "adj-mult-plain", bid: 8, adjusted_bid: 8, charge: 8, rate: null },
        { channel_id: "adj-mult-penalised", bid: 10, adjusted_bid: 7, charge: 10 },
      ],
    });
  });

  it("ranks by the adjusted bid: an offset boost wins without charging the buyer more than it bid", async () => {
    const boosted = await buyer({ ping: bidding(6) });
    const plain = await buyer({ ping: bidding(8) });
    const key = await g.setup({
      campaign: { id: "adj-offset" },
      channels: [pingPost("adj-offset-boosted", boosted, { bid_adjustment: { offset: 2.5 } }), pingPost("adj-offset-plain", plain)],
    });
    const res = await g.lead(key, { campaign: "adj-offset", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 6 });
    expect(plain.posts).toHaveLength(0);
    expect(boosted.posts[0].body.price).toBe(6);
    const t = await trace(res.body.lead_id);
    expect(t).toMatchObject({ revenue: 6, sold_channel: "adj-offset-boosted" });
    expect(t.ranking.bids[0]).toMatchObject({ channel_id: "adj-offset-boosted", bid: 6, adjusted_bid: 8.5, charge: 6 });
  });

  it("applies floors to the bid itself, not the adjusted one", async () => {
    const boosted = await buyer({ ping: bidding(4) });
    const key = await g.setup({
      campaign: { id: "adj-floor", auction: { floor: 5 } },
      channels: [pingPost("adj-floor-boosted", boosted, { bid_adjustment: { offset: 10 } })],
    });
    const res = await g.lead(key, { campaign: "adj-floor", data: consumer() });
    expect(res.body).toMatchObject({ status: "unsold" });
    const t = await trace(res.body.lead_id);
    expect(t.attempts).toMatchObject([{ kind: "ping", outcome: "below_floor", price: 4 }]);
  });

  it("takes a percent margin off the supplier's payout", async () => {
    const b = await buyer({ ping: bidding(10) });
    const key = await g.setup({
      campaign: { id: "margin-pct", payout: { type: "revshare", percent: 100 }, margin: { type: "percent", percent: 20 } },
      channels: [pingPost("margin-pct-b", b)],
    });
    const res = await g.lead(key, { campaign: "margin-pct", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 8 });
    expect(await trace(res.body.lead_id)).toMatchObject({ price: 8, revenue: 10 });
  });

  it("takes a fixed margin off the supplier's payout, and raises a fixed payout's floor by it", async () => {
    const b = await buyer({ ping: bidding(10) });
    const key = await g.setup({
      campaign: { id: "margin-fixed", payout: { type: "revshare", percent: 90 }, margin: { type: "fixed", amount: 1.5 } },
      channels: [pingPost("margin-fixed-b", b)],
    });
    const res = await g.lead(key, { campaign: "margin-fixed", data: consumer() });
    // The rule would pay 9; the margin leaves 8.50.
    expect(res.body).toMatchObject({ status: "sold", price: 8.5 });

    const low = await buyer({ ping: bidding(6) });
    const fixedKey = await g.setup({
      campaign: { id: "margin-owed", payout: { type: "fixed", amount: 5 }, margin: { type: "fixed", amount: 2 } },
      channels: [pingPost("margin-owed-low", low)],
    });
    const unsold = await g.lead(fixedKey, { campaign: "margin-owed", data: consumer() });
    expect(unsold.body).toMatchObject({ status: "unsold" });
    expect((await trace(unsold.body.lead_id)).attempts).toMatchObject([{ kind: "ping", outcome: "below_floor", price: 6, detail: "bid 6.00 < floor 7.00" }]);
  });

  it("second price: the winner pays the next bid + 0.01, the floor when alone, never more than its bid", async () => {
    const top = await buyer({ ping: bidding(10) });
    const second = await buyer({ ping: bidding(8) });
    const third = await buyer({ ping: bidding(5) });
    const key = await g.setup({
      campaign: { id: "second", auction: { pricing: "second", floor: 3 } },
      channels: [pingPost("second-top", top, { buyer_id: "second-top" }), pingPost("second-second", second, { buyer_id: "second-second" }), pingPost("second-third", third, { buyer_id: "second-third" })],
    });
    const res = await g.lead(key, { campaign: "second", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 8.01 });
    expect(top.posts[0].body.price).toBe(8.01);
    const t = await trace(res.body.lead_id);
    expect(t).toMatchObject({ revenue: 8.01, sold_channel: "second-top" });
    expect(t.ranking).toMatchObject({
      pricing: "second",
      floor: 3,
      clearing_price: 8.01,
      bids: [
        { channel_id: "second-top", bid: 10, charge: 8.01 },
        { channel_id: "second-second", bid: 8, charge: 5.01 },
        { channel_id: "second-third", bid: 5, charge: 3 },
      ],
    });

    const alone = await buyer({ ping: bidding(10) });
    const aloneKey = await g.setup({ campaign: { id: "second-alone", auction: { pricing: "second", floor: 3 } }, channels: [pingPost("second-alone-b", alone, { buyer_id: "second-alone-b" })] });
    expect((await g.lead(aloneKey, { campaign: "second-alone", data: consumer() })).body).toMatchObject({ status: "sold", price: 3 });
    expect(alone.posts[0].body.price).toBe(3);

    const tieA = await buyer({ ping: bidding(10) });
    const tieB = await buyer({ ping: bidding(10) });
    const tieKey = await g.setup({
      campaign: { id: "second-tie", auction: { pricing: "second" } },
      channels: [pingPost("second-tie-a", tieA, { buyer_id: "second-tie-a" }), pingPost("second-tie-b", tieB, { buyer_id: "second-tie-b" })],
    });
    // The next bid + 0.01 is above the winner's own bid: it pays its bid.
    expect((await g.lead(tieKey, { campaign: "second-tie", data: consumer() })).body).toMatchObject({ status: "sold", price: 10 });
  });

  it("second price with adjustments: the next adjusted bid + 0.01, turned back into the winner's own terms", async () => {
    const halved = await buyer({ ping: bidding(10) });
    const plain = await buyer({ ping: bidding(4) });
    const key = await g.setup({
      campaign: { id: "second-adj", auction: { pricing: "second" } },
      channels: [pingPost("second-adj-halved", halved, { buyer_id: "second-adj-halved", bid_adjustment: { multiplier: 0.5 } }), pingPost("second-adj-plain", plain, { buyer_id: "second-adj-plain" })],
    });
    const res = await g.lead(key, { campaign: "second-adj", data: consumer() });
    // Adjusted 5 beats 4; to beat 4 it needed 4.01 adjusted, a bid of 8.02.
    expect(res.body).toMatchObject({ status: "sold", price: 8.02 });
    expect(halved.posts[0].body.price).toBe(8.02);
    expect((await trace(res.body.lead_id)).ranking.bids[0]).toMatchObject({ channel_id: "second-adj-halved", bid: 10, adjusted_bid: 5, charge: 8.02 });
  });

  it("second price falls back down the ranking, each bid charged against the one below it", async () => {
    const top = await buyer({ ping: bidding(10), post: rejecting });
    const second = await buyer({ ping: bidding(8) });
    const third = await buyer({ ping: bidding(5) });
    const key = await g.setup({
      campaign: { id: "second-fb", auction: { pricing: "second" } },
      channels: [pingPost("second-fb-top", top, { buyer_id: "second-fb-top" }), pingPost("second-fb-second", second, { buyer_id: "second-fb-second" }), pingPost("second-fb-third", third, { buyer_id: "second-fb-third" })],
    });
    const res = await g.lead(key, { campaign: "second-fb", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 5.01 });
    expect(top.posts[0].body.price).toBe(8.01);
    expect(second.posts[0].body.price).toBe(5.01);
    expect((await trace(res.body.lead_id)).ranking.clearing_price).toBe(5.01);
  });

  it("expected value: prefers an honest $10 bidder to a $12 bidder that rejects 80% of its posts", async () => {
    // The $12 buyer rejects four posts of every five, in a fixed order; the $10 buyer accepts all.
    let posted = 0;
    const flaky = await buyer({ ping: bidding(12), post: () => (++posted % 5 === 0 ? { json: { accepted: true } } : rejecting({} as never)) });
    let honestBids = false;
    const honest = await buyer({ ping: () => (honestBids ? { json: { bid: 10 } } : { status: 204 }) });
    const key = await g.setup({
      campaign: { id: "ev", auction: { rank_by: "expected", acceptance: { floor: 0.1, prior_posts: 5, half_life_hours: 24 } } },
      channels: [pingPost("ev-flaky", flaky), pingPost("ev-honest", honest)],
    });

    // The history: 20 leads the $12 buyer bids on alone; 16 rejects, 4 sales.
    let sold = 0;
    for (let i = 0; i < 20; i++) if ((await g.lead(key, { campaign: "ev", data: consumer() })).body.status === "sold") sold++;
    expect(sold).toBe(4);
    expect(flaky.posts).toHaveLength(20);

    // Now both bid: $10 × 1.0 beats $12 × (4 + 5) / (20 + 5).
    honestBids = true;
    const res = await g.lead(key, { campaign: "ev", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 10 });
    expect(flaky.posts).toHaveLength(20);
    expect(honest.posts).toHaveLength(1);
    const t = await trace(res.body.lead_id);
    expect(t.ranking).toMatchObject({ rank_by: "expected", rate_floor: 0.1, bids: [{ channel_id: "ev-honest", bid: 10, rate: 1, score: 10 }, { channel_id: "ev-flaky", bid: 12 }] });
    const flakyRank = t.ranking.bids[1];
    expect(flakyRank.posted).toBeCloseTo(20, 2);
    expect(flakyRank.accepted).toBeCloseTo(4, 2);
    expect(flakyRank.rate).toBeCloseTo(0.36, 3);
    expect(flakyRank.score).toBeCloseTo(4.32, 2);

    // Explain reads the same estimate from the database.
    const explained = await g.admin("POST", "/v1/campaigns/ev/explain", { data: consumer() });
    expect(explained.status).toBe(200);
    expect(explained.body.pricing).toMatchObject({ pricing: "first", rank_by: "expected", acceptance: { floor: 0.1, prior_posts: 5, half_life_hours: 24 } });
    const flakyExplained = explained.body.pricing.channels.find((c: any) => c.channel_id === "ev-flaky");
    expect(flakyExplained.acceptance.rate).toBeCloseTo(0.36, 3);

    // Ranked by price, the same bids put the $12 buyer first.
    const byPrice = await g.admin("PATCH", "/v1/campaigns/ev", { auction: { rank_by: "price" } });
    expect(byPrice.status).toBe(200);
    await g.lead(key, { campaign: "ev", data: consumer() });
    expect(flaky.posts).toHaveLength(21);
  });

  it("keeps a plain first-price campaign's trace free of a ranking", async () => {
    const b = await buyer({ ping: bidding(7) });
    const key = await g.setup({ campaign: { id: "plain" }, channels: [pingPost("plain-b", b)] });
    const res = await g.lead(key, { campaign: "plain", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 7 });
    expect((await trace(res.body.lead_id)).ranking).toBeNull();
  });

  it("refuses bad settings field by field with a 422", async () => {
    const res = await g.admin("POST", "/v1/campaigns", {
      id: "bad-pricing",
      name: "Bad",
      fields: [{ name: "zip", type: "zip" }],
      auction: { pricing: "third", rank_by: "luck", acceptance: { floor: 0 } },
      margin: { type: "percent", percent: 100 },
    });
    expect(res.status).toBe(422);
    const paths = res.body.errors.map((e: any) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["auction.pricing", "auction.rank_by", "auction.acceptance.floor", "margin.percent"]));
    const channel = await g.admin("POST", "/v1/channels", {
      id: "bad-adjustment",
      buyer_id: "acme",
      campaign_id: "plain",
      type: "direct_post",
      fixed_price: 5,
      post: { url: "http://127.0.0.1:9/post" },
      bid_adjustment: { multiplier: 0, offset: 0.001 },
    });
    expect(channel.status).toBe(422);
    expect(channel.body.errors.map((e: any) => e.path)).toEqual(expect.arrayContaining(["bid_adjustment.multiplier", "bid_adjustment.offset"]));
  });

  it("shows the channel's adjustment and adjusted bid in the test console", async () => {
    const b = await buyer({ ping: bidding(10) });
    await g.setup({ campaign: { id: "console-adj" }, channels: [pingPost("console-adj-b", b, { bid_adjustment: { multiplier: 0.5, offset: 1 } })] });
    const res = await g.admin("POST", "/v1/channels/console-adj-b/test", { data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body.ranking).toMatchObject({ pricing: "first", rank_by: "price", bid_adjustment: { multiplier: 0.5, offset: 1 }, bid: 10, adjusted_bid: 6 });
  });
});

describe("pricing settings as code", () => {
  const fixture = useTestGavel();
  let other: TestGavel | undefined;
  afterAll(async () => {
    await other?.close();
  });
  const exported = async (g: TestGavel) => {
    const res = await fetch(`${g.url}/v1/config/export`, { headers: { authorization: `Bearer ${g.gavel.adminToken}` } });
    expect(res.status).toBe(200);
    return res.text();
  };

  it("exports every pricing setting and applies it back on an empty database unchanged", async () => {
    const g = fixture.g;
    await g.setup({
      campaign: {
        id: "code-pricing",
        auction: { pricing: "second", rank_by: "expected", acceptance: { floor: 0.2, half_life_hours: 6, prior_posts: 3 } },
        margin: { type: "fixed", amount: 1.25 },
      },
      channels: [pingPost("code-adjusted", { pingUrl: "http://127.0.0.1:9/ping", postUrl: "http://127.0.0.1:9/post" }, { bid_adjustment: { multiplier: 0.85, offset: -0.5 } })],
    });
    const text = await exported(g);
    const doc = parse(text);
    expect(doc.campaigns.find((c: any) => c.id === "code-pricing")).toMatchObject({
      auction: { pricing: "second", rank_by: "expected", acceptance: { floor: 0.2, half_life_hours: 6, prior_posts: 3 } },
      margin: { type: "fixed", amount: 1.25 },
    });
    expect(doc.channels.find((c: any) => c.id === "code-adjusted").bid_adjustment).toEqual({ multiplier: 0.85, offset: -0.5 });

    other = await startTestGavel();
    const applied = await fetch(`${other.url}/v1/config/apply`, {
      method: "POST",
      headers: { "content-type": "application/yaml", authorization: `Bearer ${other.gavel.adminToken}` },
      body: text,
    });
    expect(applied.status).toBe(200);
    expect(await exported(other)).toBe(text);
    expect((await other.admin("GET", "/v1/channels/code-adjusted")).body.bid_adjustment).toEqual({ multiplier: 0.85, offset: -0.5 });
  });
});

describe("acceptance estimates shared through the database", () => {
  const post = (channelId: string, outcome: string): AttemptRow => ({
    kind: "post",
    channelId,
    startedAt: new Date(),
    durationMs: 1,
    httpStatus: 200,
    outcome,
    priceCents: 100,
    reason: outcome === "accepted" ? null : "rejected",
    pingRef: null,
  });
  const estimate = AcceptanceEstimate.parse({ half_life_hours: 1, prior_posts: 0 });

  it("decays a tally by its half-life as posts are added", async () => {
    const fresh = await freshDatabase();
    const database = await openDatabase(fresh.target);
    try {
      await migrateDatabase(fresh.target, database);
      const clock = testClock("2026-03-02T15:00:00Z");
      const book = new AcceptanceBook(database, clock, 0);
      book.record("c", estimate, [post("decay", "rejected"), post("decay", "rejected"), post("decay", "accepted"), post("decay", "accepted")]);
      await book.flush();
      clock.advance(3_600_000);
      book.record("c", estimate, [post("decay", "rejected"), post("decay", "rejected")]);
      await book.flush();
      const tally = (await book.tallies("c", [{ id: "decay" }])).get("decay")!;
      // 4 posts an hour ago count 2, then 2 more: 4 posted, 1 accepted.
      expect(tally.posted).toBeCloseTo(4, 6);
      expect(tally.accepted).toBeCloseTo(1, 6);
      expect(acceptanceRate(tally, clock.now(), estimate).rate).toBeCloseTo(0.25, 6);
    } finally {
      await database.close();
      await fresh.drop();
    }
  });

  it.runIf(onPostgres)("two processes on one PostgreSQL add to and read one estimate", async () => {
    const fresh = await freshDatabase();
    const one: Database = await openDatabase(fresh.target);
    const two: Database = await openDatabase(fresh.target);
    try {
      await migrateDatabase(fresh.target, one);
      const clock = testClock("2026-03-02T15:00:00Z");
      const a = new AcceptanceBook(one, clock, 0);
      const b = new AcceptanceBook(two, clock, 0);
      // Both write at once, many times over: the row lock of the upsert loses none of them.
      for (let round = 0; round < 10; round++) {
        a.record("c", estimate, [post("shared", "rejected"), post("shared", "rejected"), post("shared", "accepted")]);
        b.record("c", estimate, [post("shared", "rejected")]);
        await Promise.all([a.flush(), b.flush()]);
      }
      for (const book of [a, b]) {
        const tally = (await book.tallies("c", [{ id: "shared" }])).get("shared")!;
        expect(tally.posted).toBeCloseTo(40, 6);
        expect(tally.accepted).toBeCloseTo(10, 6);
      }
    } finally {
      await one.close();
      await two.close();
      await fresh.drop();
    }
  });
});
