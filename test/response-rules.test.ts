// Response rules and formats: every rule type over JSON, XML and form bodies, how a ping or post
// answer becomes an outcome, and the rule problems refused when a channel is saved.
import { describe, expect, it } from "vitest";
import { parseBody, responseFormat, serialize } from "../src/channels/formats";
import { conditionProblem, valueRuleProblem, type Condition, type ValueRule } from "../src/channels/config";
import { atFloor } from "../src/auction/floors";
import { compileCondition, compilePingReader, compilePostReader, compileValueRule } from "../src/channels/rules";
import type { BuyerResponse } from "../src/channels/transport";

const answer = (body: string, contentType = "application/json", status = 200): BuyerResponse => ({
  kind: "response",
  status,
  contentType,
  headers: {},
  body,
  durationMs: 5,
});
const json = (value: unknown, status = 200) => answer(JSON.stringify(value), "application/json", status);
const xml = (text: string) => answer(text, "application/xml");
const form = (text: string) => answer(text, "application/x-www-form-urlencoded");
const text = (t: string) => answer(t, "text/plain");

/** Evaluates a rule the way the readers do (through a ping reader with only that rule). */
function value(rule: ValueRule, response: BuyerResponse) {
  const r = compilePingReader({ reason: rule, bid: "$.__never__" }, null)(response, 0);
  return r.rules.find((x) => x.rule === "reason");
}

function decide(rule: Condition, response: BuyerResponse) {
  return compilePostReader({ accepted: rule })(response, 1000).rules.find((x) => x.rule === "accepted");
}

const SOAP = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <ns:PingResponse xmlns:ns="urn:buyer" status="ok">
      <ns:Bid currency="USD">12.50</ns:Bid>
      <ns:Ref>007</ns:Ref>
    </ns:PingResponse>
  </soap:Body>
</soap:Envelope>`;

describe("response formats", () => {
  it("follows the Content-Type, then the channel's format, then a sniff of the first character", () => {
    expect(responseFormat("application/json; charset=utf-8", "")).toBe("json");
    expect(responseFormat("application/vnd.api+json", "")).toBe("json");
    expect(responseFormat("text/xml", "")).toBe("xml");
    expect(responseFormat("application/soap+xml", "")).toBe("xml");
    expect(responseFormat("application/x-www-form-urlencoded", "")).toBe("form");
    expect(responseFormat("text/html", ' {"bid":1}')).toBe("json");
    expect(responseFormat("text/plain", "<a/>")).toBe("xml");
    expect(responseFormat("text/plain", "ACCEPTED")).toBe("text");
    expect(responseFormat("application/json", "bid=1", "form")).toBe("form");
  });

  it("parses XML with the root element first, namespace prefixes dropped and attributes as @_name", () => {
    const parsed = parseBody("xml", SOAP);
    expect(parsed).toEqual({
      ok: true,
      value: { Envelope: { Body: { PingResponse: { "@_status": "ok", Bid: { "#text": "12.50", "@_currency": "USD" }, Ref: "007" } } } },
    });
    expect(parseBody("xml", "<a><b></a>").ok).toBe(false);
  });

  it("parses form bodies, repeated keys as lists", () => {
    expect(parseBody("form", "bid=7.25&ping_ref=a%20b&tag=x&tag=y\n")).toEqual({ ok: true, value: { bid: "7.25", ping_ref: "a b", tag: ["x", "y"] } });
  });

  it("writes JSON, form and XML", () => {
    expect(serialize("json", { a: [1, { b: null }] })).toBe('{"a":[1,{"b":null}]}');
    expect(serialize("form", { zip: "75001", ok: true, n: null, tags: ["a", "b"], q: "a&b=c" })).toBe("zip=75001&ok=true&n=&tags=a&tags=b&q=a%26b%3Dc");
    expect(
      serialize("xml", { "soap:Envelope": { "@_xmlns:soap": "urn:s", Lead: { "@_id": "L1", Zip: "75001", Age: 34, Smoker: false, Note: null, Name: "A & B <c>", Tag: ["x", "y"] } } }),
    ).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="urn:s"><Lead id="L1"><Zip>75001</Zip><Age>34</Age><Smoker>false</Smoker><Note></Note><Name>A &amp; B &lt;c&gt;</Name><Tag>x</Tag><Tag>y</Tag></Lead></soap:Envelope>',
    );
  });
});

describe("value rules", () => {
  it("JSONPath over JSON, including nested arrays", () => {
    expect(value("$.result.offers[0].price", json({ result: { offers: [{ price: 9.5 }, { price: 3 }] } }))).toMatchObject({ matched: true, value: 9.5 });
    expect(value({ path: "$..price" }, json({ a: { price: "4" } }))).toMatchObject({ matched: true, value: "4" });
    expect(value("$.missing", json({}))).toMatchObject({ matched: false });
  });

  it("JSONPath over XML: element text, attributes, namespaces", () => {
    expect(value("$.Envelope.Body.PingResponse.Bid", xml(SOAP))).toMatchObject({ matched: true, value: "12.50" });
    expect(value("$.Envelope.Body.PingResponse.Bid.@_currency", xml(SOAP))).toMatchObject({ matched: true, value: "USD" });
    expect(value("$.Envelope.Body.PingResponse['@_status']", xml(SOAP))).toMatchObject({ matched: true, value: "ok" });
    expect(value("$..Ref", xml(SOAP))).toMatchObject({ matched: true, value: "007" });
    expect(value("$..Bid['@_currency']", xml(SOAP))).toMatchObject({ matched: true, value: "USD" });
    expect(value("$..PingResponse[?(@['@_currency'] == 'USD')]", xml(SOAP))).toMatchObject({ matched: true, value: "12.50" });
  });

  it("JSONPath over form bodies", () => {
    expect(value("$.price", form("status=ok&price=11.00"))).toMatchObject({ matched: true, value: "11.00" });
  });

  it("regex over the raw text: capture group 1, or the whole match", () => {
    expect(value({ regex: "PRICE:\\s*([0-9.]+)" }, text("OK PRICE: 8.75 REF=9"))).toMatchObject({ matched: true, value: "8.75" });
    expect(value({ regex: "[0-9]+\\.[0-9]+" }, text("bid 8.75"))).toMatchObject({ matched: true, value: "8.75" });
    expect(value({ regex: "price=(\\d+)", flags: "i" }, text("PRICE=5"))).toMatchObject({ matched: true, value: "5" });
    expect(value({ regex: "nope" }, text("bid 8.75"))).toMatchObject({ matched: false });
  });

  it("a path over an unparseable body is unmatched, with the parse error", () => {
    expect(value("$.bid", answer("{oops", "application/json"))).toMatchObject({ matched: false, error: expect.stringMatching(/^not JSON/) });
    expect(value("$.bid", text("plain words"))).toMatchObject({ matched: false, error: expect.stringMatching(/regex or status rule/) });
  });
});

describe("conditions", () => {
  it("a path alone reads yes/no", () => {
    expect(decide("$.ok", json({ ok: true }))).toMatchObject({ matched: true, holds: true });
    expect(decide("$.ok", json({ ok: "YES" }))).toMatchObject({ matched: true, holds: true });
    expect(decide("$.ok", json({ ok: 0 }))).toMatchObject({ matched: true, holds: false });
    expect(decide("$.ok", json({}))).toMatchObject({ matched: false });
  });

  it("equals compares as text, ignoring case", () => {
    expect(decide({ path: "$.status", equals: "accepted" }, json({ status: "Accepted" }))).toMatchObject({ holds: true });
    expect(decide({ path: "$.R.code", equals: 1 }, xml("<R><code>1</code></R>"))).toMatchObject({ holds: true });
    expect(decide({ path: "$.status", equals: "accepted" }, json({ status: "rejected" }))).toMatchObject({ matched: true, holds: false });
  });

  it("in, matches and exists", () => {
    expect(decide({ path: "$.s", in: ["ok", "sold"] }, json({ s: "SOLD" }))).toMatchObject({ holds: true });
    expect(decide({ path: "$.s", in: ["ok", "sold"] }, json({ s: "dup" }))).toMatchObject({ holds: false });
    expect(decide({ path: "$.s", matches: "^acc" }, json({ s: "accepted" }))).toMatchObject({ holds: true });
    expect(decide({ path: "$.error", exists: false }, json({ ok: 1 }))).toMatchObject({ matched: true, holds: true });
    expect(decide({ path: "$.error", exists: true }, json({ ok: 1 }))).toMatchObject({ matched: true, holds: false });
  });

  it("regex over the raw text and status on the HTTP code always decide", () => {
    expect(decide({ regex: "^ACCEPTED" }, text("ACCEPTED id=4"))).toMatchObject({ matched: true, holds: true });
    expect(decide({ regex: "^ACCEPTED" }, text("REJECTED"))).toMatchObject({ matched: true, holds: false });
    expect(decide({ status: [200, 201] }, answer("", "", 201))).toMatchObject({ matched: true, holds: true, value: 201 });
    expect(decide({ status: [201] }, answer("", "", 200))).toMatchObject({ matched: true, holds: false });
  });

  it("compile to plain functions usable on their own", () => {
    const view = { status: 200, text: "x", tree: () => ({ ok: true as const, value: { a: 1 } }) };
    expect(compileValueRule("$.a")(view)).toEqual({ found: true, value: 1 });
    expect(compileCondition({ path: "$.a", equals: 1 })(view)).toMatchObject({ decided: true, holds: true });
  });
});

describe("reading a ping answer by rules", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  /** The answer as the auction sees it: read by the rules, then judged against the floor (src/auction/floors.ts). */
  const read = (rules: Parameters<typeof compilePingReader>[0], response: BuyerResponse, fixed: number | null = null, floor = 0) =>
    atFloor(compilePingReader(rules, fixed)(response, now).outcome, floor);

  it("a bid with its reference and expiry", () => {
    expect(read({ bid: "$.offer.price", ping_ref: "$.offer.id", ttl_seconds: "$.offer.ttl" }, json({ offer: { price: "12.5", id: 42, ttl: 30 } }))).toEqual({
      outcome: "bid",
      priceCents: 1250,
      pingRef: "42",
      reason: null,
      expiresAt: now + 30_000,
    });
    expect(read({ bid: "$.bid", expires_at: "$.until" }, json({ bid: 3, until: "2026-01-01T00:01:00Z" }))).toMatchObject({ expiresAt: now + 60_000 });
    expect(read({ bid: "$.bid", expires_at: "$.until" }, json({ bid: 3, until: now / 1000 + 5 }))).toMatchObject({ expiresAt: now + 5000 });
  });

  it("no bid when the price is null, 0 or absent beside something the rules understand", () => {
    expect(read({ bid: "$.bid", reason: "$.why" }, json({ bid: null, why: "no coverage" }))).toMatchObject({ outcome: "no_bid", reason: "no_bid: no coverage" });
    expect(read({ bid: "$.bid" }, json({ bid: 0 }))).toMatchObject({ outcome: "no_bid" });
    expect(read({ bid: "$.bid", reason: "$.why" }, json({ why: "closed" }))).toMatchObject({ outcome: "no_bid", reason: "no_bid: closed" });
  });

  it("accept/decline pings priced at the channel's fixed price", () => {
    const rules = { accepted: { path: "$.Response.Decision", equals: "ACCEPT" }, reason: "$.Response.Message" };
    expect(read(rules, xml("<Response><Decision>ACCEPT</Decision></Response>"), 900)).toMatchObject({ outcome: "bid", priceCents: 900 });
    expect(read(rules, xml("<Response><Decision>DECLINE</Decision><Message>zip</Message></Response>"), 900)).toMatchObject({
      outcome: "no_bid",
      reason: "no_bid: zip",
    });
    expect(read({ accepted: { status: [200] } }, answer("", "text/plain", 200), 500)).toMatchObject({ outcome: "bid", priceCents: 500 });
  });

  it("below the floor, a bad price, an answer that matches no rule, an unparseable body", () => {
    expect(read({ bid: "$.bid" }, json({ bid: 2 }), null, 300)).toMatchObject({ outcome: "below_floor", priceCents: 200 });
    expect(read({ bid: "$.bid" }, json({ bid: "lots" }))).toMatchObject({ outcome: "invalid_response", reason: 'bad_bid: "lots"' });
    expect(read({ bid: "$.bid", ping_ref: "$.id" }, json({ hello: "world" }))).toMatchObject({
      outcome: "invalid_response",
      reason: 'no_rule_matched: {"hello":"world"}',
    });
    expect(read({ bid: "$.bid" }, answer("<html>Bad gateway</html>", "text/html"))).toMatchObject({
      outcome: "invalid_response",
      reason: "no_rule_matched: <html>Bad gateway</html>",
    });
    expect(read({ bid: "$.bid" }, answer('{"bid": 5', "application/json"))).toMatchObject({
      outcome: "invalid_response",
      reason: 'unparseable_body: {"bid": 5',
    });
  });

  it("transport faults, 204 and non-2xx keep their native meaning", () => {
    expect(read({ bid: "$.bid" }, { kind: "timeout", durationMs: 5, sent: true })).toMatchObject({ outcome: "timeout", reason: "ping_timeout" });
    expect(read({ bid: "$.bid" }, { kind: "timeout", durationMs: 5, sent: false })).toMatchObject({ outcome: "timeout", reason: "ping_not_sent" });
    expect(read({ bid: "$.bid" }, answer("", "", 204))).toMatchObject({ outcome: "no_bid" });
    expect(read({ bid: "$.bid" }, json({ bid: 5 }, 503))).toMatchObject({ outcome: "error", reason: "http_error: 503" });
  });
});

describe("reading a post answer by rules", () => {
  const read = (rules: Parameters<typeof compilePostReader>[0], response: BuyerResponse, bid = 1000) => compilePostReader(rules)(response, bid).outcome;

  it("accepted, with price capped at the bid and a redirect", () => {
    const rules = { accepted: { path: "$.r.status", equals: "sold" }, price: "$.r.price", redirect_url: "$.r.url" };
    expect(read(rules, json({ r: { status: "sold", price: 8, url: "https://b.example/thanks" } }))).toEqual({
      outcome: "accepted",
      priceCents: 800,
      reason: null,
      redirectUrl: "https://b.example/thanks",
    });
    expect(read(rules, json({ r: { status: "sold", price: 80 } }))).toMatchObject({ outcome: "accepted", priceCents: 1000 });
    expect(read(rules, json({ r: { status: "sold" } }))).toMatchObject({ outcome: "accepted", priceCents: 1000 });
  });

  it("rejected when accepted is found and false, or rejected holds", () => {
    expect(read({ accepted: { path: "$.status", equals: "sold" }, reason: "$.msg" }, json({ status: "dup", msg: "seen it" }))).toMatchObject({
      outcome: "rejected",
      reason: "rejected: seen it",
    });
    expect(read({ accepted: { regex: "^OK" }, rejected: { regex: "^NO" } }, text("NO thanks"))).toMatchObject({ outcome: "rejected" });
    expect(read({ accepted: { status: [200, 201] }, rejected: { status: [409] } }, answer("dup", "text/plain", 409))).toMatchObject({
      outcome: "rejected",
      reason: "rejected: HTTP 409",
    });
  });

  it("status-only acceptance", () => {
    expect(read({ accepted: { status: [200, 201] } }, answer("", "text/plain", 201))).toMatchObject({ outcome: "accepted", priceCents: 1000 });
    expect(read({ accepted: { status: [201] } }, answer("", "text/plain", 200))).toMatchObject({ outcome: "rejected" });
  });

  it("invalid_response (outcome unknown) when no rule decides", () => {
    expect(read({ accepted: { path: "$.status", equals: "sold" } }, json({ other: 1 }))).toMatchObject({
      outcome: "invalid_response",
      reason: 'no_rule_matched: {"other":1}',
    });
    expect(read({ accepted: { regex: "^OK" }, rejected: { regex: "^NO" } }, text("MAYBE"))).toMatchObject({ outcome: "invalid_response" });
    expect(read({ accepted: "$.ok" }, json({ ok: true }, 500))).toMatchObject({ outcome: "error", reason: "http_error: 500" });
    expect(read({ accepted: "$.ok" }, { kind: "timeout", durationMs: 9, sent: true })).toMatchObject({ outcome: "unknown", reason: "post_timeout" });
    // Never written to its socket: the buyer never saw the post, so it cannot have sold.
    expect(read({ accepted: "$.ok" }, { kind: "timeout", durationMs: 9, sent: false })).toMatchObject({ outcome: "error", reason: "post_not_sent" });
  });
});

describe("rule problems found when a channel is saved", () => {
  it("JSONPath", () => {
    expect(valueRuleProblem("bid")).toBe("a JSONPath starts with '$' (got 'bid')");
    expect(valueRuleProblem("$.a[0")).toBe("unclosed '[' in '$.a[0'");
    expect(valueRuleProblem("$.a]")).toBe("unbalanced ']' in '$.a]'");
    expect(valueRuleProblem("$.a.")).toBe("'$.a.' ends with '.'");
    expect(valueRuleProblem("$['a")).toBe("unclosed quote in '$['a'");
    expect(valueRuleProblem("$.a[?(@.b > 1)].c")).toBeNull();
    expect(valueRuleProblem({ path: "$.x" })).toBeNull();
  });

  it("regular expressions and their flags", () => {
    expect(valueRuleProblem({ regex: "(" })).toMatch(/^bad regular expression/);
    expect(valueRuleProblem({ regex: "a", flags: "g" })).toBe("flags may only use i, m, s and u");
    expect(conditionProblem({ path: "$.s", matches: "[" })).toMatch(/^bad regular expression/);
  });

  it("one test per condition", () => {
    expect(conditionProblem({ path: "$.s", equals: "a", in: ["b"] })).toBe("use one of equals, in, matches or exists (got equals, in)");
    expect(conditionProblem({ status: [200] })).toBeNull();
  });
});
