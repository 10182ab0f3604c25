// Step 5 of SPEC.md, on its own: rankBids orders bids by price descending, then priority ascending,
// then a weighted random draw among exact ties.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rankBids, type RankableBid } from "../src/auction/rank";

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

/** Few distinct prices and priorities, so that ties are common. */
const bidArb = fc.record({
  priceCents: fc.oneof(fc.constantFrom(500, 1000, 1250), fc.integer({ min: 1, max: 100_000 })),
  priority: fc.integer({ min: 0, max: 3 }),
  weight: fc.oneof(fc.constantFrom(1, 3), fc.double({ min: 0.001, max: 1000, noNaN: true, noDefaultInfinity: true })),
});

const bidsArb = fc
  .array(bidArb, { maxLength: 25 })
  .map((bids) => bids.map((b, i): RankableBid & { n: number } => ({ ...b, channelId: `ch-${i}`, n: i })));

/** Any random() in [0, 1), including degenerate ones (constant, always 0). */
const randomArb = fc.oneof(
  fc.integer().map((s) => seeded(s)),
  fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((v) => () => v),
  fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1 }).map((vs) => {
    let i = 0;
    return () => vs[i++ % vs.length];
  }),
);

describe("rankBids", () => {
  it("never puts a lower price before a higher one", () => {
    fc.assert(
      fc.property(bidsArb, randomArb, (bids, random) => {
        const ranked = rankBids(bids, random);
        for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1].priceCents).toBeGreaterThanOrEqual(ranked[i].priceCents);
      }),
    );
  });

  it("among equal prices never puts a higher priority number before a lower one", () => {
    fc.assert(
      fc.property(bidsArb, randomArb, (bids, random) => {
        const ranked = rankBids(bids, random);
        for (let i = 1; i < ranked.length; i++)
          if (ranked[i - 1].priceCents === ranked[i].priceCents) expect(ranked[i - 1].priority).toBeLessThanOrEqual(ranked[i].priority);
      }),
    );
  });

  it("returns a permutation of its input and leaves the input untouched", () => {
    fc.assert(
      fc.property(bidsArb, randomArb, (bids, random) => {
        const before = [...bids];
        const ranked = rankBids(bids, random);
        expect(bids).toEqual(before);
        expect(ranked).toHaveLength(bids.length);
        expect(new Set(ranked).size).toBe(bids.length);
        for (const bid of bids) expect(ranked).toContain(bid);
      }),
    );
  });

  it("is deterministic for a fixed random source", () => {
    fc.assert(
      fc.property(bidsArb, fc.integer(), (bids, seed) => {
        const once = rankBids(bids, seeded(seed)).map((b) => b.channelId);
        const again = rankBids(bids, seeded(seed)).map((b) => b.channelId);
        expect(again).toEqual(once);
      }),
    );
  });

  it("orders by price, then priority, whatever the weights", () => {
    const bids = [
      { channelId: "a", priceCents: 1000, priority: 2, weight: 1000 },
      { channelId: "b", priceCents: 1000, priority: 1, weight: 0.01 },
      { channelId: "c", priceCents: 1200, priority: 9, weight: 0.01 },
      { channelId: "d", priceCents: 500, priority: 0, weight: 1000 },
    ];
    for (let i = 0; i < 50; i++) expect(rankBids(bids).map((b) => b.channelId)).toEqual(["c", "b", "a", "d"]);
  });

  it("handles no bids and one bid", () => {
    expect(rankBids([])).toEqual([]);
    const one = { channelId: "x", priceCents: 1, priority: 1, weight: 1 };
    expect(rankBids([one])).toEqual([one]);
  });

  it("shares exact ties by weight: a heavier bid wins more often, a lighter one still sometimes wins", () => {
    const draws = 20_000;
    const firstShare = (heavyWeight: number) => {
      const bids = [
        { channelId: "light", priceCents: 1000, priority: 1, weight: 1 },
        { channelId: "heavy", priceCents: 1000, priority: 1, weight: heavyWeight },
      ];
      let heavy = 0;
      for (let i = 0; i < draws; i++) if (rankBids(bids, Math.random)[0].channelId === "heavy") heavy++;
      return heavy / draws;
    };
    // Weight w against 1 comes first w/(w+1) of the time; bounds are many standard deviations wide.
    const equal = firstShare(1);
    expect(equal).toBeGreaterThan(0.45);
    expect(equal).toBeLessThan(0.55);
    const three = firstShare(3);
    expect(three).toBeGreaterThan(0.72);
    expect(three).toBeLessThan(0.78);
    const hundred = firstShare(100);
    expect(hundred).toBeGreaterThan(0.97);
    expect(hundred).toBeLessThan(1);
  });

  it("shares a three-way tie in proportion to weight", () => {
    const bids = [
      { channelId: "w1", priceCents: 700, priority: 1, weight: 1 },
      { channelId: "w2", priceCents: 700, priority: 1, weight: 2 },
      { channelId: "w5", priceCents: 700, priority: 1, weight: 5 },
      // Never in the tie: a lower priority and a lower price.
      { channelId: "p2", priceCents: 700, priority: 2, weight: 100 },
      { channelId: "low", priceCents: 600, priority: 0, weight: 100 },
    ];
    const wins: Record<string, number> = { w1: 0, w2: 0, w5: 0, p2: 0, low: 0 };
    const draws = 16_000;
    for (let i = 0; i < draws; i++) wins[rankBids(bids)[0].channelId]++;
    expect(wins.p2).toBe(0);
    expect(wins.low).toBe(0);
    expect(wins.w1 / draws).toBeGreaterThan(0.125 - 0.02);
    expect(wins.w1 / draws).toBeLessThan(0.125 + 0.02);
    expect(wins.w2 / draws).toBeGreaterThan(0.25 - 0.025);
    expect(wins.w2 / draws).toBeLessThan(0.25 + 0.025);
    expect(wins.w5 / draws).toBeGreaterThan(0.625 - 0.025);
    expect(wins.w5 / draws).toBeLessThan(0.625 + 0.025);
  });
});
