// The test console's hint: amounts in a buyer's answer under keys named like a bid.
import { describe, expect, it } from "vitest";
import { bidLookalikes } from "../src/channels/lookalikes";

describe("bid lookalikes", () => {
  it("finds positive amounts under bid-like keys, shallowest first, as JSONPaths a rule reads", () => {
    expect(bidLookalikes({ price: 12.5 })).toEqual([{ path: "$.price", value: 12.5 }]);
    expect(bidLookalikes({ result: { offers: [{ BidAmount: "7.25" }] }, cpl: "$3" })).toEqual([
      { path: "$.cpl", value: "$3" },
      { path: "$.result.offers[0].BidAmount", value: "7.25" },
    ]);
    expect(bidLookalikes({ Bid: { "@_currency": "USD", "#text": "9.00" } })).toEqual([{ path: "$.Bid", value: "9.00" }]);
    expect(bidLookalikes({ "bid price": 4 })).toEqual([{ path: "$['bid price']", value: 4 }]);
    expect(bidLookalikes({ bids: [{ lead_id: 99, bid: 3 }] })).toEqual([{ path: "$.bids[0].bid", value: 3 }]);
  });

  it("passes over ids, currencies, zeros, words and non-bid names", () => {
    expect(bidLookalikes({ bid_id: 123, price_currency: "USD", bid: 0, payout: "none", amount: -3, zip: "75001", status: 1 })).toEqual([]);
    expect(bidLookalikes("12.5")).toEqual([]);
    expect(bidLookalikes(null)).toEqual([]);
  });

  it("stops at five and at six levels deep", () => {
    expect(bidLookalikes(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`price${i}`, i + 1])))).toHaveLength(5);
    let deep: unknown = { price: 1 };
    for (let i = 0; i < 10; i++) deep = { a: deep };
    expect(bidLookalikes(deep)).toEqual([]);
  });
});
