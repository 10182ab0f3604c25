// Hostile input: what PostgreSQL cannot store (NUL, unpaired surrogates), what a recursive step
// cannot walk (deep nesting), keys that reach prototypes and bytes that are not UTF-8. Every such
// request is refused with a 4xx problem+json that names the offending field, before anything is
// recorded; never a 500.
import { connect } from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { consumer, pingPost, standardFields, useTestGavel } from "./helpers/gavel";

const nested = (levels: number, leaf = '"x"') => `${'{"a":'.repeat(levels)}${leaf}${"}".repeat(levels)}`;
/** The JSON text of a lead whose data is a consumer plus raw JSON members (`"name": <json>`). */
const leadText = (campaign: string, extra: string) => `{"campaign":"${campaign}","data":${JSON.stringify(consumer()).slice(0, -1)},${extra}}}`;

function expectProblem(res: { status: number; body: any; headers: Headers }, status: number, path?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String), type: expect.stringMatching(/^urn:gavel:problem:/) });
  if (path !== undefined) expect(res.body.errors?.[0]?.path).toBe(path);
}

describe("hostile input", () => {
  const t = useTestGavel();
  let key: string;
  const CAMPAIGN = "hostile";
  const leads = async () => (await t.g.admin("GET", `/v1/leads?campaign=${CAMPAIGN}&limit=500`)).body.items.length as number;
  const post = (body: string, headers: Record<string, string> = {}) => t.g.lead(key, body, headers);

  beforeAll(async () => {
    key = await t.g.setup({ campaign: { id: CAMPAIGN, fields: [...standardFields, { name: "first_name", type: "string" }] }, channels: [] });
  });

  describe("a lead", () => {
    it("with a NUL in a declared field is refused with 422 naming the field, and records nothing", async () => {
      const before = await leads();
      const res = await post(JSON.stringify({ campaign: CAMPAIGN, data: consumer({ first_name: "a\u0000b" }) }));
      expectProblem(res, 422, "data.first_name");
      expect(res.body.errors[0].message).toMatch(/NUL/);
      expect(await leads()).toBe(before);
    });

    it("with a NUL in an undeclared field, in a key, or in an otherwise invalid lead is refused the same way", async () => {
      const before = await leads();
      expectProblem(await post(JSON.stringify({ campaign: CAMPAIGN, data: consumer({ note: "x\u0000" }) })), 422, "data.note");
      const inKey = await post(JSON.stringify({ campaign: CAMPAIGN, data: consumer({ "k\u0000": "x" }) }));
      expectProblem(inKey, 422, "data.k\u0000");
      expectProblem(await post(JSON.stringify({ campaign: CAMPAIGN, data: { zip: "nope", note: "\u0000" } })), 422, "data.note");
      expectProblem(await post(JSON.stringify({ campaign: "\u0000", data: consumer() })), 422, "campaign");
      expect(await leads()).toBe(before);
    });

    it("with an unpaired surrogate is refused with 422 naming the field; a surrogate pair (an emoji) is kept", async () => {
      const before = await leads();
      expectProblem(await post(leadText(CAMPAIGN, '"first_name":"a\\ud800"')), 422, "data.first_name");
      expectProblem(await post(leadText(CAMPAIGN, '"note":"\\udc00b"')), 422, "data.note");
      expectProblem(await post(leadText(CAMPAIGN, '"note":["ok","\\udbff"]')), 422, "data.note[1]");
      expect(await leads()).toBe(before);

      const emoji = await post(JSON.stringify({ campaign: CAMPAIGN, data: consumer({ first_name: "Zoë 😀" }) }));
      expect(emoji.status).toBe(200);
      expect((await t.g.admin("GET", emoji.body.trace_url)).body.data.first_name).toBe("Zoë 😀");
    });

    it("nested 5,000 levels deep is refused with 422 naming where it is too deep; 20 levels are kept", async () => {
      const before = await leads();
      for (const deep of [nested(5000), `${"[".repeat(5000)}${"]".repeat(5000)}`]) {
        const res = await post(leadText(CAMPAIGN, `"note":${deep}`));
        expectProblem(res, 422);
        expect(res.body.errors[0].path).toMatch(/^data\.note/);
        expect(res.body.errors[0].message).toMatch(/deeper than 32 levels/);
      }
      // The invalid-lead path stores what it was given too.
      expectProblem(await post(`{"campaign":"${CAMPAIGN}","data":{"zip":"nope","note":${nested(5000)}}}`), 422);
      expect(await leads()).toBe(before);

      const ok = await post(leadText(CAMPAIGN, `"note":${nested(20)}`));
      expect(ok.status).toBe(200);
    });

    it("refuses __proto__ keys and numbers out of range, and keeps constructor keys as given", async () => {
      const before = await leads();
      expectProblem(await post(leadText(CAMPAIGN, '"__proto__":{"polluted":true}')), 422, "data.__proto__");
      expectProblem(await post(leadText(CAMPAIGN, '"note":1e999')), 422, "data.note");
      expect(await leads()).toBe(before);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();

      const ok = await post(leadText(CAMPAIGN, '"constructor":"x","note":-0'));
      expect(ok.status).toBe(200);
      expect((await t.g.admin("GET", ok.body.trace_url)).body.data).toMatchObject({ constructor: "x", note: "0" });
    });

    it("refused for a NUL does not use up its Idempotency-Key", async () => {
      const body = { campaign: CAMPAIGN, data: consumer({ first_name: "a\u0000" }) };
      expectProblem(await post(JSON.stringify(body), { "idempotency-key": "k-nul" }), 422, "data.first_name");
      const clean = await post(JSON.stringify({ ...body, data: { ...body.data, first_name: "a" } }), { "idempotency-key": "k-nul" });
      expect(clean.status).toBe(200);
    });

    it("whose body is not UTF-8 is a 400, and records nothing", async () => {
      const before = await leads();
      const text = JSON.stringify({ campaign: CAMPAIGN, data: consumer({ first_name: "xx" }) });
      const bytes = Buffer.from(text);
      bytes.set([0xc3, 0x28], text.indexOf("xx"));
      const res = await fetch(`${t.g.url}/v1/leads`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: bytes,
      });
      const body = (await res.json()) as any;
      expectProblem({ status: res.status, body, headers: res.headers }, 400);
      expect(body.detail).toMatch(/UTF-8/);
      // The same bytes through the app without the Node server.
      const inProcess = await t.g.gavel.app.request("/v1/leads", {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: bytes,
      });
      expect(inProcess.status).toBe(400);
      expect(await leads()).toBe(before);
    });
  });

  describe("a price past any lead's", () => {
    it("bid by a buyer is an invalid response, and the lead goes to the next bid", async () => {
      const greedy = await t.buyer({ ping: () => ({ json: { bid: 30_000_000 } }) });
      const sane = await t.buyer({ ping: () => ({ json: { bid: 4 } }) });
      const saneKey = await t.g.setup({ campaign: { id: "hostile-bids" }, channels: [pingPost("h-greedy", greedy, { priority: 2 }), pingPost("h-sane", sane)] });
      const res = await t.g.lead(saneKey, { campaign: "hostile-bids", data: consumer() });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "sold" });
      const trace = (await t.g.admin("GET", res.body.trace_url)).body;
      expect(trace.attempts.find((a: any) => a.channel_id === "h-greedy")).toMatchObject({ kind: "ping", outcome: "invalid_response" });
      expect(greedy.posts).toHaveLength(0);
    });

    it("in a payout, floor, fixed price or minimum bid is refused with 422", async () => {
      const big = 10_000_000;
      expectProblem(await t.g.admin("POST", "/v1/suppliers", { id: "h-rich", name: "x", payout: { type: "fixed", amount: big } }), 422, "payout.amount");
      expectProblem(await t.g.admin("POST", "/v1/campaigns", { id: "h-floor", name: "x", fields: [{ name: "zip", type: "zip" }], auction: { floor: big } }), 422, "auction.floor");
      const channel = { type: "direct_post", campaign_id: CAMPAIGN, buyer_id: "acme", post: { url: "http://127.0.0.1:9/" } };
      expectProblem(await t.g.admin("POST", "/v1/channels", { id: "h-fixed", ...channel, fixed_price: big }), 422, "fixed_price");
      expectProblem(await t.g.admin("POST", "/v1/channels", { id: "h-min", ...channel, fixed_price: 1, min_bid: big }), 422, "min_bid");
    });
  });

  describe("an operator", () => {
    it("writing a NUL or an unpaired surrogate into a resource gets 422 naming the field, and nothing changes", async () => {
      expectProblem(await t.g.admin("POST", "/v1/buyers", { id: "h-nul", name: "a\u0000" }), 422, "name");
      expectProblem(await t.g.admin("POST", "/v1/buyers", '{"id":"h-sur","name":"a\\ud800"}'), 422, "name");
      expect((await t.g.admin("GET", "/v1/buyers/h-nul")).status).toBe(404);

      expect((await t.g.admin("POST", "/v1/buyers", { id: "h-ok", name: "ok" })).status).toBe(201);
      expectProblem(await t.g.admin("PUT", "/v1/buyers/h-ok", { name: "a\u0000" }), 422, "name");
      expectProblem(await t.g.admin("PATCH", "/v1/buyers/h-ok", { name: "b\u0000" }), 422, "name");
      expectProblem(await t.g.admin("PATCH", "/v1/buyers/h-ok", `{"x":${nested(5000)}}`), 422);
      expectProblem(await t.g.admin("PATCH", "/v1/buyers/h-ok", '{"__proto__":{"status":"paused"}}'), 422, "__proto__");
      expect((await t.g.admin("GET", "/v1/buyers/h-ok")).body).toMatchObject({ name: "ok", status: "active" });
    });

    it("explaining or suppressing such values gets 422 too", async () => {
      expectProblem(await t.g.admin("POST", `/v1/campaigns/${CAMPAIGN}/explain`, { data: { note: "\u0000" } }), 422, "data.note");
      expectProblem(await t.g.admin("POST", "/v1/suppressions", { emails: ["a\u0000@example.com"] }), 422, "emails[0]");
    });

    it("naming a resource with a NUL in its path or query gets a 4xx", async () => {
      expectProblem(await t.g.admin("GET", "/v1/buyers/a%00b"), 404);
      expectProblem(await t.g.admin("GET", "/v1/leads?campaign=%00"), 422, "campaign");
    });

    it("giving a time PostgreSQL cannot hold (year 0) gets 422, on every route that takes one", async () => {
      for (const at of ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]) {
        expectProblem(await t.g.admin("POST", `/v1/campaigns/${CAMPAIGN}/explain`, { data: consumer(), at }), 422, "at");
        expectProblem(await t.g.admin("POST", "/v1/suppliers/h-keys/keys", { expires_at: at }), 422, "expires_at");
        expectProblem(await t.g.admin("GET", `/v1/leads?from=${at}`), 422, "from");
        expectProblem(await t.g.admin("GET", `/v1/audit?to=${at}`), 422, "to");
      }
      expect((await t.g.admin("GET", "/v1/leads?from=1900-01-01T00:00:00Z&to=8999-12-31T00:00:00Z")).status).toBe(200);
    });

    it("applying a configuration file with a NUL, an unpaired surrogate or deep nesting gets 422 and changes nothing", async () => {
      const file = (buyer: string) => `version: 1\ncampaigns: []\nbuyers:\n  - ${buyer}\nsuppliers: []\nchannels: []\n`;
      const apply = async (text: string) => {
        const res = await fetch(`${t.g.url}/v1/config/apply`, { method: "POST", headers: { authorization: `Bearer ${t.g.gavel.adminToken}`, "content-type": "application/yaml" }, body: text });
        return { status: res.status, body: (await res.json()) as any, headers: res.headers };
      };
      const nul = await apply(file('{ id: h-file, name: "a\\0b" }'));
      expectProblem(nul, 422, "buyers[0].name");
      expect(nul.body.errors[0].line).toBe(4);
      expectProblem(await apply(file('{ id: h-file, name: "a\\ud800" }')), 422, "buyers[0].name");
      // Deep flow and block nesting, twice (the YAML parser near the stack's end once crashed the process).
      for (let i = 0; i < 2; i++) {
        const deep = await apply(file(`{ id: h-file, name: x, o: ${"[".repeat(20_000)}${"]".repeat(20_000)} }`));
        expectProblem(deep, 422);
        expect(deep.body.errors[0].message).toMatch(/deeper than/);
        expectProblem(await apply(file(`{ id: h-file, name: x, o: ${nested(3000)} }`)), 422);
        expectProblem(await apply(`version: 1\nbuyers:\n  - id: h-file\n    o:\n      ${"- ".repeat(3000)}x\n`), 422);
      }
      expect((await t.g.admin("GET", "/v1/buyers/h-file")).status).toBe(404);
      expect((await fetch(`${t.g.url}/healthz`)).status).toBe(200);
    });
  });
  /** What a raw HTTP/1.1 request gets back, read until Gavel closes the connection. */
  function raw(request: string): Promise<string> {
    const { port } = new URL(t.g.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => socket.end(request));
      let answer = "";
      socket.on("data", (chunk) => (answer += chunk));
      socket.on("close", () => resolve(answer));
      socket.on("error", reject);
    });
  }

  it("answers a request head over Node's 16 KiB limit, or bytes that are not HTTP, with problem+json", async () => {
    const huge = await raw(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-pad: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(huge.slice(huge.indexOf("\r\n\r\n") + 4))).toMatchObject({ type: "urn:gavel:problem:headers_too_large", status: 431 });
    const garbage = await raw("\u0000\u0001 not http at all\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4))).toMatchObject({ type: "urn:gavel:problem:bad_request" });
    // Each with a request id of its own, like every answer (the request's own could not be read).
    const ids = [huge, garbage].map((answer) => /^x-request-id: (\S+)\r$/im.exec(answer)?.[1]);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(ids[0]).not.toBe(ids[1]);
    expect((await fetch(`${t.g.url}/healthz`)).status).toBe(200);
  });
});
