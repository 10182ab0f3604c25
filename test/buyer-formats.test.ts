// Buyers that do not speak Gavel's native JSON, connected by configuration alone (SPEC.md "Channel
// configuration", "Parsing and templates"): real loopback buyers speaking JSON with nested prices,
// form-encoded, XML with namespaces and attributes, plain text; GET pings; status-only and
// accept-only answers; bid expiry; answers no rule understands. End to end through POST /v1/leads.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { beforeAll, describe, expect, it } from "vitest";
import { consumer, standardFields, useTestGavel, type TestGavel } from "./helpers/gavel";
import { latch } from "./helpers/latch";

const fields = [...standardFields, { name: "dob", type: "date" }, { name: "homeowner", type: "boolean" }];

describe("buyer formats", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  const trace = async (leadId: string) => {
    const res = await g.admin("GET", `/v1/leads/${leadId}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const attempt = (t: any, kind: "ping" | "post", channel: string) => {
    const found = t.attempts.filter((a: any) => a.kind === kind && a.channel_id === channel);
    expect(found, `${kind} attempts to ${channel}`).toHaveLength(1);
    return found[0];
  };
  const campaign = (id: string, extra: Record<string, unknown> = {}) => ({ id, fields, ...extra });

  it("maps a lead into a nested JSON request and reads a nested price, a token and a redirect", async () => {
    const b = await buyer({
      ping: () => ({ json: { result: { offers: [{ price: 14.25 }, { price: 3 }], token: "tok-1" } } }),
      post: () => ({ json: { result: { status: "SOLD", paid: 14, next: "https://buyer.example/thanks/1" } } }),
    });
    const key = await g.setup({
      campaign: campaign("fmt-json", { return_redirect_url: true }),
      channels: [
        {
          id: "fmt-json-acme",
          type: "ping_post",
          ping: {
            url: b.pingUrl,
            body: {
              source: "gavel",
              lead: {
                id: "{{lead_id}}",
                zip: "{{data.zip}}",
                state: "{{data.state | lower}}",
                age: "{{data.age}}",
                dob: "{{data.dob | date:MM/dd/yyyy}}",
                owner: "{{data.homeowner | yesno:Y/N}}",
                tags: ["web", "{{campaign}}"],
              },
            },
          },
          post: {
            url: b.postUrl,
            headers: { "X-Lead": "{{lead_id}}" },
            body: {
              token: "{{ping_ref}}",
              price: "{{price | fixed}}",
              lead_id: "{{lead_id}}",
              contact: { email: "{{data.email | upper}}", phone: "{{data.phone | national}}" },
            },
          },
          response: {
            ping: { bid: "$.result.offers[0].price", ping_ref: "$.result.token" },
            post: { accepted: { path: "$.result.status", equals: "sold" }, price: "$.result.paid", redirect_url: "$.result.next" },
          },
        },
      ],
    });

    const res = await g.lead(key, { campaign: "fmt-json", data: consumer({ dob: "1990-07-04", homeowner: "yes", email: "Jo@Example.com" }) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "sold", price: 14, sold_to: 1, redirect_url: "https://buyer.example/thanks/1" });
    const leadId = res.body.lead_id;

    expect(b.pings).toHaveLength(1);
    expect(b.pings[0].headers["content-type"]).toBe("application/json");
    expect(b.pings[0].body).toEqual({
      source: "gavel",
      lead: { id: leadId, zip: "75001", state: "tx", age: 30, dob: "07/04/1990", owner: "Y", tags: ["web", "fmt-json"] },
    });
    expect(b.posts).toHaveLength(1);
    expect(b.posts[0].headers["x-lead"]).toBe(leadId);
    expect(b.posts[0].headers["idempotency-key"]).toBe(`${leadId}:fmt-json-acme`);
    expect(b.posts[0].body).toEqual({ token: "tok-1", price: "14.25", lead_id: leadId, contact: { email: "JO@EXAMPLE.COM", phone: expect.stringMatching(/^512555\d{4}$/) } });

    const t = await trace(leadId);
    expect(attempt(t, "ping", "fmt-json-acme")).toMatchObject({ outcome: "bid", price: 14.25, ping_ref: "tok-1" });
    // The buyer's lower price is its final word.
    expect(attempt(t, "post", "fmt-json-acme")).toMatchObject({ outcome: "accepted", price: 14 });
  });

  it("hands the redirect to the supplier only when the campaign allows it", async () => {
    const b = await buyer({ ping: () => ({ json: { bid: 4 } }), post: () => ({ json: { accepted: true, redirect_url: "https://b.example/r" } }) });
    const key = await g.setup({
      campaign: campaign("fmt-noredirect"),
      channels: [{ id: "fmt-noredirect-native", type: "ping_post", ping: { url: b.pingUrl }, post: { url: b.postUrl } }],
    });
    const res = await g.lead(key, { campaign: "fmt-noredirect", data: consumer() });
    expect(res.body.status).toBe("sold");
    expect(res.body).not.toHaveProperty("redirect_url");
  });

  it("speaks form-encoded both ways", async () => {
    const b = await buyer({
      ping: () => ({ text: "bid=9.50&ref=F-1", contentType: "application/x-www-form-urlencoded" }),
      post: () => ({ text: "result=accepted&msg=thanks", contentType: "application/x-www-form-urlencoded" }),
    });
    const key = await g.setup({
      campaign: campaign("fmt-form"),
      channels: [
        {
          id: "fmt-form-acme",
          type: "ping_post",
          ping: { url: b.pingUrl, format: "form", body: { zip: "{{data.zip}}", st: "{{data.state}}", age: "{{data.age}}", lid: "{{lead_id}}", src: "gavel & co" } },
          post: {
            url: b.postUrl,
            format: "form",
            body: { ref: "{{ping_ref}}", email: "{{data.email}}", phone: "{{data.phone | digits}}", owner: "{{data.homeowner | yesno}}", bid: "{{price}}" },
          },
          response: {
            ping: { bid: "$.bid", ping_ref: "$.ref" },
            post: { accepted: { path: "$.result", equals: "accepted" }, reason: "$.msg" },
          },
        },
      ],
    });

    const res = await g.lead(key, { campaign: "fmt-form", data: consumer({ email: "form@example.com", homeowner: false }) });
    expect(res.body).toMatchObject({ status: "sold", price: 9.5 });
    expect(b.pings[0].headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(b.pings[0].raw))).toEqual({
      zip: "75001",
      st: "TX",
      age: "30",
      lid: res.body.lead_id,
      src: "gavel & co",
    });
    expect(b.pings[0].raw).toContain("src=gavel+%26+co");
    expect(Object.fromEntries(new URLSearchParams(b.posts[0].raw))).toEqual({
      ref: "F-1",
      email: "form@example.com",
      phone: expect.stringMatching(/^1512555\d{4}$/),
      owner: "no",
      bid: "9.5",
    });
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "post", "fmt-form-acme")).toMatchObject({ outcome: "accepted", price: 9.5, reason: "accepted", detail: "thanks" });
  });

  it("speaks XML both ways, with namespaces and attributes", async () => {
    const b = await buyer({
      ping: () => ({
        contentType: "text/xml; charset=utf-8",
        text: `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <b:PingResponse xmlns:b="urn:buyer" status="ok" ref="X-77">
      <b:Bid currency="USD">11.75</b:Bid>
    </b:PingResponse>
  </soap:Body>
</soap:Envelope>`,
      }),
      post: () => ({ contentType: "application/xml", text: `<PostResponse result="accepted"><Price>11.00</Price></PostResponse>` }),
    });
    const key = await g.setup({
      campaign: campaign("fmt-xml"),
      channels: [
        {
          id: "fmt-xml-acme",
          type: "ping_post",
          ping: {
            url: b.pingUrl,
            format: "xml",
            body: {
              "soap:Envelope": {
                "@_xmlns:soap": "http://schemas.xmlsoap.org/soap/envelope/",
                "soap:Body": {
                  PingRequest: { "@_xmlns": "urn:buyer", "@_leadId": "{{lead_id}}", Zip: "{{data.zip}}", State: "{{data.state}}", Owner: "{{data.homeowner}}" },
                },
              },
            },
          },
          post: {
            url: b.postUrl,
            format: "xml",
            body: { Lead: { "@_ref": "{{ping_ref}}", Email: "{{data.email}}", Price: "{{price | fixed}}", Note: "a < b & c" } },
          },
          response: {
            ping: {
              accepted: { path: "$.Envelope.Body.PingResponse.@_status", equals: "ok" },
              bid: "$.Envelope.Body.PingResponse.Bid",
              ping_ref: "$.Envelope.Body.PingResponse.@_ref",
            },
            post: { accepted: { path: "$.PostResponse.@_result", equals: "accepted" }, price: "$.PostResponse.Price" },
          },
        },
      ],
    });

    const res = await g.lead(key, { campaign: "fmt-xml", data: consumer({ email: "xml@example.com", homeowner: true }) });
    expect(res.body).toMatchObject({ status: "sold", price: 11 });
    expect(b.pings[0].headers["content-type"]).toBe("application/xml; charset=utf-8");
    expect(b.pings[0].raw).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
        `<PingRequest xmlns="urn:buyer" leadId="${res.body.lead_id}"><Zip>75001</Zip><State>TX</State><Owner>true</Owner></PingRequest>` +
        `</soap:Body></soap:Envelope>`,
    );
    expect(b.posts[0].raw).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><Lead ref="X-77"><Email>xml@example.com</Email><Price>11.75</Price><Note>a &lt; b &amp; c</Note></Lead>`,
    );
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "ping", "fmt-xml-acme")).toMatchObject({ outcome: "bid", price: 11.75, ping_ref: "X-77" });
    expect(attempt(t, "post", "fmt-xml-acme")).toMatchObject({ outcome: "accepted", price: 11 });
  });

  it("reads plain-text answers by regex, and sends a GET ping with a query string", async () => {
    const b = await buyer({
      ping: () => ({ text: "OK|price=6.40|id=TX-9" }),
      post: (r) => ({ text: r.raw.includes("second") ? "REJECTED: duplicate" : "ACCEPTED #123" }),
    });
    const key = await g.setup({
      campaign: campaign("fmt-text"),
      channels: [
        {
          id: "fmt-text-acme",
          type: "ping_post",
          ping: { url: `${b.pingUrl}?key=k1`, method: "GET", body: { zip: "{{data.zip}}", lid: "{{lead_id}}", age: "{{data.age}}" } },
          post: { url: b.postUrl, format: "form", body: { ref: "{{ping_ref}}", email: "{{data.email}}" } },
          response: {
            ping: { bid: { regex: "price=([0-9.]+)" }, ping_ref: { regex: "id=([A-Z0-9-]+)" } },
            post: { accepted: { regex: "^ACCEPTED" }, rejected: { regex: "^REJECTED" }, reason: { regex: "^REJECTED: (.*)$" } },
          },
        },
      ],
    });

    const res = await g.lead(key, { campaign: "fmt-text", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 6.4 });
    expect(b.pings[0].method).toBe("GET");
    expect(b.pings[0].raw).toBe("");
    expect(b.pings[0].query).toEqual({ key: "k1", zip: "75001", lid: res.body.lead_id, age: "30" });
    expect(b.pings[0].headers).not.toHaveProperty("content-type");
    expect(new URLSearchParams(b.posts[0].raw).get("ref")).toBe("TX-9");

    const rejected = await g.lead(key, { campaign: "fmt-text", data: consumer({ email: "second@example.com" }) });
    expect(rejected.body).toMatchObject({ status: "unsold" });
    const t = await trace(rejected.body.lead_id);
    expect(attempt(t, "post", "fmt-text-acme")).toMatchObject({ outcome: "rejected", reason: "rejected", detail: "duplicate" });
  });

  it("accepts on the HTTP status alone, and prices an accept/decline ping at the fixed price", async () => {
    const b = await buyer({
      ping: (r) => ({ json: { decision: r.body.zip === "75001" ? "accept" : "decline", why: "zip not served" } }),
      post: () => ({ status: 201, text: "" }),
    });
    const key = await g.setup({
      campaign: campaign("fmt-status"),
      channels: [
        {
          id: "fmt-status-acme",
          type: "ping_post",
          fixed_price: 7,
          ping: { url: b.pingUrl, body: { zip: "{{data.zip}}" } },
          post: { url: b.postUrl, body: { email: "{{data.email}}" } },
          response: {
            ping: { accepted: { path: "$.decision", equals: "accept" }, reason: "$.why" },
            post: { accepted: { status: [200, 201] } },
          },
        },
      ],
    });

    const sold = await g.lead(key, { campaign: "fmt-status", data: consumer() });
    expect(sold.body).toMatchObject({ status: "sold", price: 7 });
    const t = await trace(sold.body.lead_id);
    expect(attempt(t, "ping", "fmt-status-acme")).toMatchObject({ outcome: "bid", price: 7 });
    expect(attempt(t, "post", "fmt-status-acme")).toMatchObject({ outcome: "accepted", http_status: 201, price: 7 });

    const declined = await g.lead(key, { campaign: "fmt-status", data: consumer({ zip: "73301" }) });
    expect(declined.body).toMatchObject({ status: "unsold" });
    const d = await trace(declined.body.lead_id);
    expect(attempt(d, "ping", "fmt-status-acme")).toMatchObject({ outcome: "no_bid", reason: "no_bid", detail: "zip not served" });
  });

  it("posts a bid within its expiry", async () => {
    const b = await buyer({ ping: () => ({ json: { bid: 20, until: new Date(Date.now() + 60_000).toISOString() } }) });
    const key = await g.setup({
      campaign: campaign("fmt-expiry-ok"),
      channels: [
        {
          id: "fmt-expiry-ok-acme",
          type: "ping_post",
          ping: { url: b.pingUrl },
          post: { url: b.postUrl },
          response: { ping: { bid: "$.bid", expires_at: "$.until" } },
        },
      ],
    });
    const res = await g.lead(key, { campaign: "fmt-expiry-ok", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 20 });
    expect(b.posts).toHaveLength(1);
  });

  it("skips the post of an expired bid with reason bid_expired and sells to the next bid", async () => {
    // The best bid stands for 100 ms, but the ping phase lasts until the slow buyer answers, which it
    // does 300 ms after Gavel has read the brief bid whole (undici reports that, in this process,
    // just before Gavel reads the bid's ttl): the bid has expired by then however busy the machine.
    const briefRead = latch();
    const brief = await buyer({ ping: () => ({ json: { bid: 20, ttl: 0.1 } }) });
    const slow = await buyer({ ping: () => ({ held: briefRead.promise.then(() => ({ json: { bid: 5 } })) }) });
    const onComplete = (message: unknown) => {
      const { request } = message as { request: { origin?: unknown; path?: string } };
      if (String(request.origin) === brief.url && request.path === "/ping") setTimeout(() => briefRead.open(), 300);
    };
    subscribe("undici:request:trailers", onComplete);
    const key = await g.setup({
      campaign: campaign("fmt-expired", { auction: { timeout_ms: 4000, ping_timeout_ms: 3000 } }),
      channels: [
        {
          id: "fmt-expired-brief",
          type: "ping_post",
          ping: { url: brief.pingUrl },
          post: { url: brief.postUrl },
          response: { ping: { bid: "$.bid", ttl_seconds: "$.ttl" } },
        },
        { id: "fmt-expired-slow", type: "ping_post", ping: { url: slow.pingUrl }, post: { url: slow.postUrl } },
      ],
    });
    const res = await g.lead(key, { campaign: "fmt-expired", data: consumer() }).finally(() => unsubscribe("undici:request:trailers", onComplete));
    expect(briefRead.isOpen).toBe(true);
    expect(res.body).toMatchObject({ status: "sold", price: 5 });
    expect(brief.posts).toHaveLength(0);
    expect(slow.posts).toHaveLength(1);
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "post", "fmt-expired-brief")).toMatchObject({ outcome: "skipped", reason: "bid_expired", price: 20, http_status: null });
    expect(attempt(t, "post", "fmt-expired-slow")).toMatchObject({ outcome: "accepted", price: 5 });
  });

  it("records an answer that matches no rule as invalid_response with an excerpt of the body", async () => {
    const b = await buyer({ ping: () => ({ json: { status: "maintenance", message: "back soon" } }) });
    const key = await g.setup({
      campaign: campaign("fmt-nomatch"),
      channels: [
        {
          id: "fmt-nomatch-acme",
          type: "ping_post",
          ping: { url: b.pingUrl },
          post: { url: b.postUrl },
          response: { ping: { bid: "$.offer.amount", ping_ref: "$.offer.id" } },
        },
      ],
    });
    const res = await g.lead(key, { campaign: "fmt-nomatch", data: consumer() });
    expect(res.body).toMatchObject({ status: "unsold" });
    const t = await trace(res.body.lead_id);
    expect(attempt(t, "ping", "fmt-nomatch-acme")).toMatchObject({
      outcome: "invalid_response",
      http_status: 200,
      reason: "no_rule_matched",
      detail: '{"status":"maintenance","message":"back soon"}',
    });
    expect(b.posts).toHaveLength(0);
  });
});
