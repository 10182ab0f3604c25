// Reading several bids in one answer (response.ping.bids) and named captures, unit by unit: JSON
// and XML (a lone element is one bid, several repeat it), each bid's own expiry, shared legs, a bad
// price left out beside good ones, best first, and captures as text. A property: the bids come out
// best first, and the answer's price is the best of them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compilePingReader } from "../src/channels/rules";
import type { BuyerResponse } from "../src/channels/transport";

const answer = (body: string, contentType = "application/json"): BuyerResponse => ({ kind: "response", status: 200, contentType, headers: {}, body, durationMs: 1 });
const NOW = Date.parse("2026-06-01T12:00:00Z");

describe("several bids in one answer", () => {
  const read = compilePingReader(
    { bids: { path: "$.bids[*]", bid: "$.price", id: "$.id", expires_at: "$.until" }, capture: { lead: "$.lead", meta: "$.meta", missing: "$.nope" }, ping_ref: "$.ref" },
    null,
  );

  it("reads every bid best first, each with its id and expiry, and the captures as text", () => {
    const { outcome, rules } = read(
      answer(JSON.stringify({ ref: "R", lead: 42, meta: { a: 1 }, bids: [{ id: "b", price: "9.5" }, { id: "a", price: 12, until: "2026-06-01T12:05:00Z" }, { id: "z", price: 0 }] })),
      NOW,
    );
    expect(outcome).toMatchObject({
      outcome: "bid",
      priceCents: 1200,
      bidId: "a",
      pingRef: "R",
      expiresAt: NOW + 300_000,
      captures: { lead: "42", meta: '{"a":1}', missing: null },
      offers: [
        { bidId: "a", priceCents: 1200, expiresAt: NOW + 300_000 },
        { bidId: "b", priceCents: 950, expiresAt: null },
      ],
    });
    // A bid of 0 is no bid; the trace names each bid's rules.
    expect(outcome.outcome === "bid" && outcome.offers?.length).toBe(2);
    expect(rules.filter((r) => r.rule.startsWith("bids[")).map((r) => r.rule)).toEqual([
      "bids[0].bid", "bids[0].id", "bids[0].expires_at", "bids[1].bid", "bids[1].id", "bids[1].expires_at", "bids[2].bid", "bids[2].id", "bids[2].expires_at",
    ]);
  });

  it("leaves a bid whose price is not a price out, beside good ones; alone, it is bad_bid", () => {
    expect(read(answer(JSON.stringify({ bids: [{ id: "x", price: "lots" }, { id: "y", price: 3 }] })), NOW).outcome).toMatchObject({ outcome: "bid", priceCents: 300, bidId: "y" });
    expect(read(answer(JSON.stringify({ bids: [{ id: "x", price: "lots" }] })), NOW).outcome).toMatchObject({ outcome: "invalid_response", reason: 'bad_bid: "lots"' });
    expect(read(answer(JSON.stringify({ bids: [] })), NOW).outcome).toMatchObject({ outcome: "no_bid" });
    expect(read(answer("<<<"), NOW).outcome).toMatchObject({ outcome: "invalid_response" });
  });

  it("reads XML: several elements, or a lone one, and attributes", () => {
    const xml = compilePingReader({ bids: { path: "$.Response.Bid", bid: "$.@_price", id: "$.#text" }, capture: { lead: "$.Response.@_lead" } }, null);
    const two = xml(answer(`<Response lead="L1"><Bid price="4">p</Bid><Bid price="6.25">q</Bid></Response>`, "application/xml"), NOW).outcome;
    expect(two).toMatchObject({ priceCents: 625, bidId: "q", captures: { lead: "L1" }, offers: [{ bidId: "q" }, { bidId: "p" }] });
    const one = xml(answer(`<Response lead="L2"><Bid price="4">p</Bid></Response>`, "application/xml"), NOW).outcome;
    expect(one).toMatchObject({ priceCents: 400, bidId: "p", offers: [{ bidId: "p", priceCents: 400 }] });
  });

  it("reads shared legs and shared prices beside a bid", () => {
    const legs = compilePingReader({ bids: { path: "$.legs[*]", bid: "$.price", id: "$.id", shared: { path: "$.type", equals: "shared" }, shared_bid: "$.shared" } }, null);
    const { outcome } = legs(answer(JSON.stringify({ legs: [{ id: "s", type: "shared", price: 30 }, { id: "x", type: "exclusive", price: 20, shared: 5 }] })), NOW);
    expect(outcome).toMatchObject({
      offers: [
        { bidId: "s", priceCents: 3000, sharedCents: 3000, sharedOnly: true },
        { bidId: "x", priceCents: 2000, sharedCents: 500 },
      ],
    });
  });

  it("always keeps the best bids.max bids (default 10), best first, and answers the best price", () => {
    const ids = compilePingReader({ bids: { path: "$.bids[*]", bid: "$.p", id: "$.i" } }, null);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 30 }), (cents) => {
        const { outcome, rules } = ids(answer(JSON.stringify({ bids: cents.map((c, i) => ({ i: `b${i}`, p: c / 100 })) })), NOW);
        if (outcome.outcome !== "bid" || !outcome.offers) return false;
        const prices = outcome.offers.map((o) => o.priceCents);
        const best = [...cents].sort((a, b) => b - a).slice(0, 10);
        const dropped = cents.length - best.length;
        return (
          outcome.priceCents === best[0] &&
          JSON.stringify(prices) === JSON.stringify(best) &&
          (outcome.offersDropped ?? 0) === dropped &&
          rules.filter((r) => r.rule.endsWith(".bid")).length === best.length &&
          rules.some((r) => r.rule === "bids.max") === dropped > 0
        );
      }),
      { seed: 20261129 },
    );
  });

  it("bids.max keeps that many, the first of equal prices; bids that are no bids are traced, the dropped are not", () => {
    const two = compilePingReader({ bids: { path: "$.bids[*]", bid: "$.p", id: "$.i", max: 2 } }, null);
    const bids = [{ i: "a", p: 1 }, { i: "b", p: 5 }, { i: "c", p: 0 }, { i: "d", p: 5 }, { i: "e", p: 5 }];
    const { outcome, rules } = two(answer(JSON.stringify({ bids })), NOW);
    expect(outcome).toMatchObject({ priceCents: 500, offersDropped: 2, offers: [{ bidId: "b" }, { bidId: "d" }] });
    expect(outcome.outcome === "bid" && outcome.offers?.length).toBe(2);
    expect(rules.map((r) => r.rule)).toEqual(["bids", "bids[1].bid", "bids[1].id", "bids[2].bid", "bids[2].id", "bids[3].bid", "bids[3].id", "bids.max"]);
  });

  it("a capture longer than 1,024 characters is missing, and its trace says why", () => {
    const { outcome, rules } = read(answer(JSON.stringify({ lead: "x".repeat(1025), meta: "y".repeat(1024), bids: [{ id: "a", price: 1 }] })), NOW);
    expect(outcome).toMatchObject({ captures: { lead: null, meta: "y".repeat(1024) } });
    expect(rules.find((r) => r.rule === "capture.lead")).toMatchObject({ matched: false, error: "longer than 1024 characters (1025): treated as missing" });
  });
});
