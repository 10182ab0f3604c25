// The reason kernel: canonical texts round-trip, and every spelling written before the codes
// existed reads as its code.
import { describe, expect, it } from "vitest";
import { attemptReason, KEYED_CODES, knownReason, reasonText, splitReason, STAGE_CODES, stageReason } from "../src/reasons";

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

  it("reads an attempt's reason as a code of its kind, else as its outcome's detail", () => {
    expect(attemptReason("ping", "no_bid", null)).toEqual({ reason: "no_bid", detail: null });
    expect(attemptReason("ping", "no_bid", "zip not served")).toEqual({ reason: "no_bid", detail: "zip not served" });
    expect(attemptReason("ping", "error", "http_503")).toEqual({ reason: "http_error", detail: "503" });
    expect(attemptReason("ping", "below_floor", "bid 1.5 < floor 3")).toEqual({ reason: "below_floor", detail: "bid 1.50 < floor 3.00" });
    expect(attemptReason("ping", "bid", null)).toBeNull();
    // A buyer's message that happens to be another stage's code stays the buyer's message.
    expect(attemptReason("post", "rejected", "duplicate")).toEqual({ reason: "rejected", detail: "duplicate" });
    expect(attemptReason("post", "rejected", "rejected: dup")).toEqual({ reason: "rejected", detail: "dup" });
    expect(attemptReason("post", "accepted", null)).toEqual({ reason: "accepted", detail: null });
    expect(attemptReason("post", "unknown", "connection_lost:ECONNRESET")).toEqual({ reason: "connection_lost", detail: "ECONNRESET" });
    expect(attemptReason("post", "skipped", "cap_leads: day")).toEqual({ reason: "cap_leads", detail: "day" });
  });

  it("reads an exclusion, a lead's reason and explain's verdicts as codes of their stage", () => {
    expect(stageReason("excluded", "filtered:state")).toEqual({ reason: "filtered", detail: "state" });
    expect(stageReason("lead", "cap:hour:leads")).toEqual({ reason: "cap_leads", detail: "hour" });
    expect(stageReason("lead", null)).toBeNull();
    expect(knownReason("duplicate", "explain")).toEqual({ reason: "duplicate", detail: null });
    expect(knownReason("duplicate", "post")).toBeNull();
    expect(STAGE_CODES.post).toEqual(expect.arrayContaining(["rejected", "bid_expired", "cap_leads", "throttled"]));
  });

  it("marks as report keys only details drawn from a small set", () => {
    expect(new Set(KEYED_CODES)).toEqual(
      new Set(["filtered", "cap_leads", "cap_spend", "buyer_cap_leads", "buyer_cap_spend", "http_error", "connection", "connection_lost", "sale_type"]),
    );
  });
});
