// The channel test console: POST /v1/channels/{id}/test sends a real, test-marked ping (and post)
// and shows the exact request (secrets masked), the raw answer, every rule's result and timings —
// and records nothing.
import { beforeAll, describe, expect, it } from "vitest";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";

describe("channel test console", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  it("shows why a buyer's answer reads as a no-bid: request, raw answer, each rule, timings", async () => {
    const b = await buyer({
      ping: () => ({ contentType: "application/xml", text: `<Response status="declined"><Reason>zip not served</Reason></Response>` }),
    });
    await g.setup({
      campaign: { id: "console" },
      channels: [
        {
          id: "console-xml",
          type: "ping_post",
          status: "paused",
          auth: { type: "bearer", token: "tok-console-1" },
          secret_headers: ["X-Partner-Key"],
          signing: { secret: "console-signing-secret" },
          ping: { url: b.pingUrl, format: "xml", headers: { "X-Partner-Key": "partner-key-9" }, body: { Ping: { "@_lead": "{{lead_id}}", Zip: "{{data.zip}}" } } },
          post: { url: b.postUrl, format: "xml", body: { Post: { Email: "{{data.email}}" } } },
          response: {
            ping: { accepted: { path: "$.Response.@_status", equals: "accepted" }, bid: "$.Response.Price", reason: "$.Response.Reason" },
            post: { accepted: { path: "$.Result", equals: "ok" } },
          },
        },
      ],
    });

    const res = await g.admin("POST", "/v1/channels/console-xml/test", { data: consumer({ state: "texas" }) });
    expect(res.status).toBe(200);
    const out = res.body;
    expect(out).toMatchObject({ channel_id: "console-xml", test: true, post: null });
    expect(out.ping.request).toEqual({
      url: b.pingUrl,
      method: "POST",
      headers: expect.objectContaining({
        authorization: "Bearer ***",
        "x-partner-key": "***",
        "content-type": "application/xml; charset=utf-8",
        "x-gavel-test": "1",
        "x-gavel-timestamp": expect.stringMatching(/^\d+$/),
        "x-gavel-signature": expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
      }),
      body: `<?xml version="1.0" encoding="UTF-8"?><Ping lead="${out.lead_id}"><Zip>75001</Zip></Ping>`,
    });
    expect(out.ping.response).toMatchObject({
      status: 200,
      content_type: "application/xml",
      headers: expect.objectContaining({ "content-type": "application/xml" }),
      body: `<Response status="declined"><Reason>zip not served</Reason></Response>`,
      truncated: false,
    });
    expect(out.ping.rules).toEqual([
      { rule: "accepted", spec: { path: "$.Response.@_status", equals: "accepted" }, matched: true, holds: false, value: "declined" },
      { rule: "bid", spec: "$.Response.Price", matched: false },
      { rule: "reason", spec: "$.Response.Reason", matched: true, value: "zip not served" },
    ]);
    expect(out.ping.result).toEqual({ outcome: "no_bid", price: null, ping_ref: null, reason: "no_bid", detail: "zip not served", expires_at: null });
    expect(out.ping.timings).toEqual({ started_at: expect.any(String), duration_ms: expect.any(Number), timeout_ms: 800 });

    // What the buyer got is what the console showed, secrets and all.
    expect(b.pings).toHaveLength(1);
    expect(b.pings[0].raw).toBe(out.ping.request.body);
    expect(b.pings[0].headers.authorization).toBe("Bearer tok-console-1");
    expect(b.pings[0].headers["x-partner-key"]).toBe("partner-key-9");
    expect(JSON.stringify(out)).not.toMatch(/tok-console-1|partner-key-9|console-signing-secret/);

    // Nothing was recorded.
    expect((await g.admin("GET", "/v1/leads?campaign=console")).body.items).toEqual([]);
  });

  it("posts too when asked, marked as a test, and shows the native rules of a native channel", async () => {
    const b = await buyer({ ping: () => ({ json: { bid: 6.5, ping_ref: "r-1" } }), post: () => ({ json: { accepted: false, reason: "test leads not taken" } }) });
    await g.setup({ campaign: { id: "console-native" }, channels: [pingPost("console-native-acme", b)] });

    const res = await g.admin("POST", "/v1/channels/console-native-acme/test", { data: consumer(), post: true });
    expect(res.status).toBe(200);
    expect(res.body.ping.result).toMatchObject({ outcome: "bid", price: 6.5, ping_ref: "r-1" });
    expect(res.body.ping.rules).toEqual([
      { rule: "bid", spec: "$.bid", matched: true, value: 6.5 },
      { rule: "ping_ref", spec: "$.ping_ref", matched: true, value: "r-1" },
      { rule: "reason", spec: "$.reason", matched: false },
    ]);
    expect(res.body.post.request.headers).toMatchObject({ "x-gavel-test": "1", "idempotency-key": `${res.body.lead_id}:console-native-acme` });
    expect(JSON.parse(res.body.post.request.body)).toMatchObject({ lead_id: res.body.lead_id, ping_ref: "r-1", price: 6.5, test: true });
    expect(res.body.post.result).toEqual({ outcome: "rejected", price: null, reason: "rejected", detail: "test leads not taken", redirect_url: null });
    expect(res.body.post.rules).toContainEqual({ rule: "accepted", spec: "$.accepted", matched: true, holds: false, value: false });
    expect(b.pings[0].body.test).toBe(true);
    expect(b.posts[0].headers["x-gavel-test"]).toBe("1");
    expect((await g.admin("GET", "/v1/leads?campaign=console-native")).body.items).toEqual([]);
  });

  it("shows a transport fault without touching the channel's health", async () => {
    const broken = await buyer({ ping: () => ({ status: 500, text: "boom" }) });
    await g.setup({
      campaign: { id: "console-broken" },
      channels: [pingPost("console-broken-acme", broken, { circuit_breaker: { failures: 1, cooldown_ms: 60_000 } })],
    });
    const res = await g.admin("POST", "/v1/channels/console-broken-acme/test", { data: consumer(), post: true });
    expect(res.body.ping).toMatchObject({ response: { status: 500, body: "boom" }, result: { outcome: "error", reason: "http_error", detail: "500" } });
    expect(res.body.post).toEqual({ skipped: "no bid to post at: send a price to post anyway" });
    expect((await g.admin("GET", "/v1/channels/console-broken-acme/health")).body).toMatchObject({ state: "closed", consecutive_failures: 0 });

    const priced = await g.admin("POST", "/v1/channels/console-broken-acme/test", { data: consumer(), post: true, price: 3 });
    expect(priced.body.post.result).toMatchObject({ outcome: "accepted", price: 3 });
  });

  it("warns when an answer without a bid holds an amount under another key than the bid rule reads", async () => {
    // The native protocol reads $.bid; this buyer answers with `price`.
    let answer: unknown = { price: 12.5, ping_id: "p-77" };
    const b = await buyer({ ping: () => ({ json: answer }) });
    await g.setup({ campaign: { id: "console-elsewhere" }, channels: [pingPost("console-elsewhere-acme", b)] });
    const test = async (id: string) => {
      const res = await g.admin("POST", `/v1/channels/${id}/test`, { data: consumer() });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.ping;
    };

    const native = await test("console-elsewhere-acme");
    expect(native.result.outcome).toBe("no_bid");
    expect(native.warnings).toEqual([{ code: "bid_elsewhere", message: expect.any(String), paths: ["$.price"] }]);
    expect(native.warnings[0].message).toMatch(/reads the bid at \$\.bid and found nothing.*12\.5 under \$\.price.*response\.ping\.bid to "\$\.price"/);

    // A buyer that plainly passes gets no warning, and neither does a bid.
    answer = { bid: 0, price: 12.5 };
    expect((await test("console-elsewhere-acme")).warnings).toEqual([]);
    answer = { bid: 4 };
    expect((await test("console-elsewhere-acme")).warnings).toEqual([]);

    // Rules of the channel's own, over XML: the element's text beside its attribute, and ids are no bids.
    const xml = await buyer({
      ping: () => ({ contentType: "application/xml", text: `<Response><LeadId>123456</LeadId><Amount currency="USD">12.50</Amount></Response>` }),
    });
    const channel = {
      id: "console-elsewhere-xml",
      type: "ping_post",
      ping: { url: xml.pingUrl, format: "xml", body: { Ping: { Zip: "{{data.zip}}" } } },
      post: { url: xml.postUrl },
      response: { ping: { bid: "$.Response.Bid" } },
    };
    await g.setup({ campaign: { id: "console-elsewhere" }, channels: [channel] });
    const ruled = await test("console-elsewhere-xml");
    expect(ruled.result.outcome).not.toBe("bid");
    expect(ruled.warnings).toEqual([{ code: "bid_elsewhere", message: expect.any(String), paths: ["$.Response.Amount"] }]);
    expect(ruled.warnings[0].message).toMatch(/^The bid rule \$\.Response\.Bid found nothing, but the answer has "12\.50" under \$\.Response\.Amount/);
    // The path it suggests is one a rule reads.
    const fixed = await g.admin("PATCH", "/v1/channels/console-elsewhere-xml", { response: { ping: { bid: ruled.warnings[0].paths[0] } } });
    expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
    const read = await test("console-elsewhere-xml");
    expect(read.result).toMatchObject({ outcome: "bid", price: 12.5 });
    expect(read.warnings).toEqual([]);
  });

  it("refuses an invalid sample lead, an unknown channel, and analysts", async () => {
    const b = await buyer({});
    await g.setup({ campaign: { id: "console-refuse" }, channels: [pingPost("console-refuse-acme", b)] });
    const bad = await g.admin("POST", "/v1/channels/console-refuse-acme/test", { data: { zip: "nope" } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path)).toEqual(expect.arrayContaining(["data.zip", "data.email"]));
    expect((await g.admin("POST", "/v1/channels/nobody/test", { data: consumer() })).status).toBe(404);
    const analyst = (await g.admin("POST", "/v1/tokens", { name: "a", role: "analyst" })).body.token;
    expect((await g.admin("POST", "/v1/channels/console-refuse-acme/test", { data: consumer() }, analyst)).status).toBe(403);
    expect(b.pings).toHaveLength(0);
  });
});
