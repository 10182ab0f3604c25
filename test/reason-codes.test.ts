// The reason kernel: canonical texts round-trip, and every spelling written before the codes
// existed reads as its code.
import { describe, expect, it } from "vitest";
import { KEYED_CODES, reasonText, splitReason } from "../src/reasons";

describe("reason codes", () => {
  it("writes a code with its detail as one text, and reads it back", () => {
    expect(reasonText("below_floor", "bid 1.50 < floor 3.00")).toBe("below_floor: bid 1.50 < floor 3.00");
    expect(reasonText("no_bid")).toBe("no_bid");
    expect(reasonText("no_bid", null)).toBe("no_bid");
    expect(splitReason("below_floor: bid 1.50 < floor 3.00")).toEqual({ reason: "below_floor", detail: "bid 1.50 < floor 3.00" });
    expect(splitReason("filtered: state")).toEqual({ reason: "filtered", detail: "state" });
    expect(splitReason("no_bids")).toEqual({ reason: "no_bids", detail: null });
    // A detail keeps its colons and line breaks.
    expect(splitReason("rejected: dup: seen\nbefore")).toEqual({ reason: "rejected", detail: "dup: seen\nbefore" });
  });

  it("reads the spellings stored before the codes", () => {
    const legacy: [string, string, string | null][] = [
      ["filtered:state", "filtered", "state"],
      ["cap:day:leads", "cap_leads", "day"],
      ["cap:month:spend", "cap_spend", "month"],
      ["buyer_cap:week:leads", "buyer_cap_leads", "week"],
      ["http_503", "http_error", "503"],
      ["connection:ECONNREFUSED", "connection", "ECONNREFUSED"],
      ["connection_lost:ECONNRESET", "connection_lost", "ECONNRESET"],
      ["bid 1.5 < floor 3", "below_floor", "bid 1.50 < floor 3.00"],
      ["invalid:email,phone", "invalid", "email,phone"],
      ["channel:acme-auto-tx", "sold_to", "acme-auto-tx"],
      ["unparseable_body: <html>", "unparseable_body", "<html>"],
      ["bad_bid: \"abc\"", "bad_bid", "\"abc\""],
      ["ping_timeout", "ping_timeout", null],
    ];
    for (const [text, reason, detail] of legacy) expect(splitReason(text), text).toEqual({ reason, detail });
  });

  it("reads a buyer's own words as the detail of the attempt's outcome", () => {
    expect(splitReason("duplicate lead", "rejected")).toEqual({ reason: "rejected", detail: "duplicate lead" });
    expect(splitReason("Not interested", "no_bid")).toEqual({ reason: "no_bid", detail: "Not interested" });
    expect(splitReason(null, "no_bid")).toEqual({ reason: "no_bid", detail: null });
    expect(splitReason(null)).toBeNull();
  });

  it("marks as report keys only details drawn from a small set", () => {
    expect(new Set(KEYED_CODES)).toEqual(
      new Set(["filtered", "cap_leads", "cap_spend", "buyer_cap_leads", "buyer_cap_spend", "http_error", "connection", "connection_lost"]),
    );
  });
});
