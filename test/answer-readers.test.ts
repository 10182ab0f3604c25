// The two readers of a buyer's answer, the native protocol's and response rules', decide what a bid
// or an acceptance comes to with the same code (src/channels/native.ts): a native answer read
// through the native protocol spelled as rules (NATIVE_PING_RULES, NATIVE_POST_RULES) comes to the
// same outcome. Where they differ on purpose, the difference is pinned here.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { atFloor } from "../src/auction/floors";
import { readPingResponse, readPostResponse, type PingOutcome } from "../src/channels/native";
import { compilePingReader, compilePostReader, NATIVE_PING_RULES, NATIVE_POST_RULES } from "../src/channels/rules";
import type { BuyerResponse } from "../src/channels/transport";

const json = (body: unknown): BuyerResponse => ({
  kind: "response",
  status: 200,
  contentType: "application/json",
  headers: {},
  body: JSON.stringify(body),
  durationMs: 1,
});

const FLOOR = 250;
const byRules = compilePingReader(NATIVE_PING_RULES, null);
const postByRules = compilePostReader(NATIVE_POST_RULES);
/** The rules reader says when a bid expires (null: never), the native one does not. */
const withoutExpiry = ({ ...outcome }: PingOutcome & { expiresAt?: unknown }) => (delete outcome.expiresAt, outcome);

const price = fc.oneof(
  fc.integer({ min: -5, max: 2_000_000 }),
  fc.double({ min: -1, max: 2_000_000, noNaN: true }),
  fc.constantFrom(0, "0", "0.00", "2.49", "2.50", "12.5", " 7 ", "abc", "1e3", true, false, null, [], {}),
  fc.integer({ min: 0, max: 100_000 }).map((cents) => (cents / 100).toFixed(2)),
);
const text = fc.string({ maxLength: 20 });

describe("the native reader and response rules read an answer alike", () => {
  it("a ping answer with a bid", () => {
    fc.assert(
      fc.property(price, fc.option(fc.oneof(text, fc.integer()), { nil: undefined }), fc.option(text, { nil: undefined }), (bid, ref, reason) => {
        const response = json({ bid, ping_ref: ref, reason });
        // Each as the auction sees it: judged against the floor (src/auction/floors.ts).
        expect(withoutExpiry(atFloor(byRules(response, 0).outcome, FLOOR))).toEqual(atFloor(readPingResponse(response), FLOOR));
      }),
    );
  });

  it("a post answer", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.option(price, { nil: undefined }), fc.option(text, { nil: undefined }), fc.option(fc.webUrl(), { nil: undefined }), (accepted, answered, reason, redirect) => {
        const response = json({ accepted, price: answered, reason, redirect_url: redirect });
        expect(postByRules(response, 1234).outcome).toEqual(readPostResponse(response, 1234));
      }),
    );
  });

  it("except that an empty bid is no bid to rules (an empty XML element or form field) and not a price to the native reader", () => {
    expect(byRules(json({ bid: "" }), 0).outcome).toMatchObject({ outcome: "no_bid" });
    expect(readPingResponse(json({ bid: "" }))).toMatchObject({ outcome: "invalid_response" });
  });
});
