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

  it("always puts the best bid first, and answers its price", () => {
    const ids = compilePingReader({ bids: { path: "$.bids[*]", bid: "$.p", id: "$.i" } }, null);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 20 }), (cents) => {
        const { outcome } = ids(answer(JSON.stringify({ bids: cents.map((c, i) => ({ i: `b${i}`, p: c / 100 })) })), NOW);
        if (outcome.outcome !== "bid" || !outcome.offers) return false;
        const prices = outcome.offers.map((o) => o.priceCents);
        return outcome.priceCents === Math.max(...cents) && prices.every((p, i) => i === 0 || prices[i - 1] >= p) && prices.length === cents.length;
      }),
      { seed: 20261129 },
    );
  });
});
