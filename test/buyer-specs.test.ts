// Real buyers' specs connected by configuration alone (issue #18 items 2–4), each against a strict
// loopback buyer that checks its request field by field the way such a spec does and refuses
// anything else (HTTP 400): hashed contacts in the ping, phone styles and the lead's arrival time in
// a zone, an XML document inside a form field; a post URL carrying the ping's reference; "no buyer"
// answered as HTTP 404 or as a flag. End to end through POST /v1/leads and through the test console.
import { createHash } from "node:crypto";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { DateTime } from "luxon";
import { beforeAll, describe, expect, it } from "vitest";
import { consumer, pingPost, standardFields, useTestGavel, type TestGavel } from "./helpers/gavel";
import type { Answer, Received } from "./helpers/buyers";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const md5 = (text: string) => createHash("md5").update(text).digest("hex");
const refuse = (why: string): Answer => ({ status: 400, json: { error: why } });

// The campaign lets pings carry hashes of the email and phone (never the values); the address is pii too.
const fields = [
  ...standardFields.map((f) => (f.pii ? { ...f, ping_hash: true } : f)),
  { name: "address", type: "string", pii: true },
];

describe("buyer specs", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const trace = async (leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;

  describe("template output: hashes, phones, time, XML inside a form field", () => {
    // An insurance price-presentation API: a JSON ping with hashed contacts and the arrival time in
    // Central time; a form post whose `lead` field is an XML document.
    const expectedLead = new Map<string, { email: string; phone: string }>();
    const checkPing = (r: Received): Answer => {
      const b = r.body;
      if (typeof b !== "object" || b === null) return refuse("not JSON");
      const lead = [...expectedLead.values()].find((l) => sha256(l.email) === b.email_sha256);
      if (!lead) return refuse("email_sha256 is not the sha256 of a known consumer");
      if (b.phone_md5 !== md5(lead.phone.slice(2))) return refuse("phone_md5 must be the md5 of the 10 digits");
      if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(b.received)) return refuse("received must be yyyy-MM-dd HH:mm:ss");
      if (r.raw.includes(lead.email) || r.raw.includes(lead.phone.slice(2))) return refuse("pii in a ping");
      return { json: { quote: { amount: 13.5, id: `Q-${b.email_sha256.slice(0, 6)}` } } };
    };
    const checkPost = (r: Received): Answer => {
      if (r.headers["content-type"] !== "application/x-www-form-urlencoded") return refuse("form only");
      const form = new URLSearchParams(r.raw);
      const xml = form.get("lead");
      if (!xml || XMLValidator.validate(xml) !== true) return refuse(`lead is not XML: ${xml}`);
      const doc = new XMLParser({ parseTagValue: false }).parse(xml).Lead;
      if (doc.Address !== "12 Oak & Elm St") return refuse(`Address ${doc.Address}`);
      if (!/^512-555-\d{4}$/.test(doc.Phone)) return refuse(`Phone ${doc.Phone}`);
      if (!/^\(512\) 555-\d{4}$/.test(doc.Home)) return refuse(`Home ${doc.Home}`);
      if (!/^Q-[0-9a-f]{6}$/.test(form.get("quote_id") ?? "")) return refuse("quote_id");
      return { contentType: "application/xml", text: `<Result><Status>sold</Status></Result>` };
    };
    const channel = (id: string, b: { pingUrl: string; postUrl: string }) => ({
      id,
      type: "ping_post",
      ping: {
        url: b.pingUrl,
        body: {
          zip: "{{data.zip}}",
          email_sha256: "{{data.email | sha256}}",
          phone_md5: "{{data.phone | phone:national_digits | md5}}",
          received: "{{received_at | tz:America/Chicago | date:yyyy-MM-dd HH:mm:ss}}",
        },
      },
      post: {
        url: b.postUrl,
        format: "form",
        body: {
          quote_id: "{{ping_ref}}",
          lead:
            "<Lead><Address>{{data.address | xml}}</Address><Phone>{{data.phone | phone:dashed}}</Phone>" +
            "<Home>{{data.phone | phone:national | xml}}</Home><Sent>{{now | iso}}</Sent></Lead>",
        },
      },
      response: {
        ping: { bid: "$.quote.amount", ping_ref: "$.quote.id" },
        post: { accepted: { path: "$.Result.Status", equals: "sold" } },
      },
    });

    it("sells through POST /v1/leads, the buyer reading every field as its spec says", async () => {
      const b = await buyer({ ping: checkPing, post: checkPost });
      const key = await g.setup({ campaign: { id: "spec-hash", fields }, channels: [channel("spec-hash-acme", b)] });
      const data = consumer({ email: "Oak.Elm@Example.com", address: "12 Oak & Elm St" });
      expectedLead.set("a", { email: "oak.elm@example.com", phone: data.phone as string });
      const res = await g.lead(key, { campaign: "spec-hash", data });
      expect(res.body, JSON.stringify(b.pings.map((p) => p.body))).toMatchObject({ status: "sold", price: 13.5 });
      // The arrival time the ping carried is the lead's, in Central time.
      const t = await trace(res.body.lead_id);
      const central = DateTime.fromISO(t.received_at).setZone("America/Chicago").toFormat("yyyy-MM-dd HH:mm:ss");
      expect(b.pings[0].body.received).toBe(central);
      expect(b.posts).toHaveLength(1);
    });

    it("sells through the test console, which shows the hashed ping", async () => {
      const b = await buyer({ ping: checkPing, post: checkPost });
      await g.setup({ campaign: { id: "spec-hash", fields }, channels: [channel("spec-hash-console", b)] });
      const data = consumer({ email: "console@example.com", address: "12 Oak & Elm St" });
      expectedLead.set("b", { email: "console@example.com", phone: data.phone as string });
      const res = await g.admin("POST", "/v1/channels/spec-hash-console/test", { data, post: true });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.ping.result).toMatchObject({ outcome: "bid", price: 13.5 });
      expect(JSON.parse(res.body.ping.request.body).email_sha256).toBe(sha256("console@example.com"));
      expect(res.body.post.request.body).toContain("12+Oak+%26amp%3B+Elm+St");
      expect(res.body.post.result).toMatchObject({ outcome: "accepted", price: 13.5 });
    });

    it("refuses at save time a pii field in a ping without ping_hash, an unknown transform, an unescaped XML value", async () => {
      const b = await buyer({});
      await g.setup({ campaign: { id: "spec-hash", fields }, channels: [] });
      const save = (id: string, ping: Record<string, unknown>, post: Record<string, unknown> = {}) =>
        g.admin("POST", "/v1/channels", { id, buyer_id: "acme", campaign_id: "spec-hash", type: "ping_post", ping: { url: b.pingUrl, body: ping }, post: { url: b.postUrl, ...post } });
      const address = await save("spec-hash-bad1", { p: "{{data.address | sha256}}" });
      expect(address.status).toBe(422);
      expect(address.body.errors).toEqual([{ path: "ping.body.p", message: "'address' is pii: a ping carries its hash only when the campaign's field says ping_hash: true" }]);
      const clear = await save("spec-hash-bad4", { p: "{{data.email | lower}}" });
      expect(clear.body.errors).toEqual([{ path: "ping.body.p", message: expect.stringMatching(/^'email' is pii: a ping never carries it/) }]);
      const transform = await save("spec-hash-bad2", { p: "{{data.zip | sha512}}" });
      expect(transform.status).toBe(422);
      expect(transform.body.errors[0]).toMatchObject({ path: "ping.body.p", message: expect.stringMatching(/^unknown transform 'sha512' \(known: .*md5, sha1, sha256/) });
      const xml = await save("spec-hash-bad3", { zip: "{{data.zip}}" }, { format: "form", body: { lead: "<Lead><A>{{data.address}}</A></Lead>" } });
      expect(xml.status).toBe(422);
      expect(xml.body.errors).toEqual([{ path: "post.body.lead", message: expect.stringMatching(/^'\{\{data\.address\}\}' sits inside XML text: end it with '\| xml'/) }]);
      // The buyer's own reference inside XML text, and a lead's value inside a string of JSON text, need their escapes too.
      const ref = await save("spec-hash-bad5", { zip: "{{data.zip}}" }, { format: "form", body: { lead: "<Lead><R>{{ping_ref}}</R></Lead>" } });
      expect(ref.body.errors).toEqual([{ path: "post.body.lead", message: expect.stringMatching(/^'\{\{ping_ref\}\}' sits inside XML text: end it with '\| xml'/) }]);
      const json = await save("spec-hash-bad6", { zip: "{{data.zip}}" }, { format: "form", body: { lead: '{"address":"{{data.address}}"}' } });
      expect(json.status).toBe(422);
      expect(json.body.errors).toEqual([{ path: "post.body.lead", message: expect.stringMatching(/^'\{\{data\.address\}\}' sits inside a string of JSON text: end it with '\| json'/) }]);
      expect((await save("spec-hash-ok6", { zip: "{{data.zip}}" }, { format: "form", body: { lead: '{"address":"{{data.address | json}}"}' } })).status).toBe(201);
      // ping_hash is for pii fields only, and a campaign cannot take it back while a channel hashes the field.
      const notPii = await g.admin("POST", "/v1/campaigns", { id: "spec-hash-2", name: "x", fields: [{ name: "zip", type: "zip", ping_hash: true }] });
      expect(notPii.status).toBe(422);
      expect(notPii.body.errors[0].path).toBe("fields[0].ping_hash");
      const back = await g.admin("PATCH", "/v1/campaigns/spec-hash", { fields: [...standardFields, { name: "address", type: "string", pii: true }] });
      expect(back.status).toBe(422);
      expect(JSON.stringify(back.body.errors)).toContain("ping_hash");
    });
  });

  describe("templated URLs", () => {
    it("posts to a URL carrying the ping's reference, each value encoded as one component", async () => {
      const seen: string[] = [];
      const b = await buyer({
        ping: () => ({ json: { bid: 8, ping_ref: "A B/7?x" } }),
        post: (r) => {
          seen.push(r.path);
          const lead = new URL(r.path, "http://b").searchParams.get("lead");
          return r.path === `/post/leads/A%20B%2F7%3Fx/accept?lead=${lead}&src=gavel` && lead ? { json: { accepted: true } } : { status: 404, json: { error: "no such lead" } };
        },
      });
      const key = await g.setup({
        campaign: { id: "spec-url" },
        channels: [pingPost("spec-url-acme", b, { post: { url: `${b.url}/post/leads/{{ping_ref}}/accept?lead={{lead_id}}&src=gavel` } })],
      });
      const res = await g.lead(key, { campaign: "spec-url", data: consumer() });
      expect(res.body, JSON.stringify(seen)).toMatchObject({ status: "sold", price: 8 });
      expect(seen).toEqual([`/post/leads/A%20B%2F7%3Fx/accept?lead=${res.body.lead_id}&src=gavel`]);

      const tried = await g.admin("POST", "/v1/channels/spec-url-acme/test", { data: consumer(), post: true });
      expect(tried.body.post.request.url).toMatch(/\/post\/leads\/A%20B%2F7%3Fx\/accept\?lead=[0-9a-f-]+&src=gavel$/);
      expect(tried.body.post.result).toMatchObject({ outcome: "accepted", price: 8 });
    });

    it("refuses at save time an unknown variable, a ping-only mistake, and a placeholder in the host", async () => {
      const b = await buyer({});
      await g.setup({ campaign: { id: "spec-url" }, channels: [] });
      const save = (id: string, ping: string, post: string) =>
        g.admin("POST", "/v1/channels", { id, buyer_id: "acme", campaign_id: "spec-url", type: "ping_post", ping: { url: ping }, post: { url: post } });
      const unknown = await save("spec-url-bad1", b.pingUrl, `${b.url}/post/{{pingref}}`);
      expect(unknown.status).toBe(422);
      expect(unknown.body.errors).toEqual([{ path: "post.url", message: expect.stringMatching(/^unknown variable 'pingref' \(known: .*ping_ref/) }]);
      const inPing = await save("spec-url-bad2", `${b.url}/ping/{{ping_ref}}`, b.postUrl);
      expect(inPing.body.errors).toEqual([{ path: "ping.url", message: "'{{ping_ref}}' is only known in posts" }]);
      const host = await save("spec-url-bad3", b.pingUrl, "https://x{{lead_id}}.example/post");
      expect(host.status).toBe(422);
      expect(host.body.errors.map((e: any) => e.path)).toEqual(["post.url"]);
      const pii = await save("spec-url-bad4", `${b.url}/ping?e={{data.email}}`, b.postUrl);
      expect(pii.body.errors).toEqual([{ path: "ping.url", message: expect.stringMatching(/^'email' is pii/) }]);
    });
  });

  describe("ping status rules", () => {
    it("reads 'no buyer' as HTTP 404 as a no-bid by rule, which never opens the circuit", async () => {
      // A home-services partner: 404 { "message": "no buyer" } when it has no buyer for the state.
      const b = await buyer({
        ping: (r) => (r.body.data.state === "OK" ? { status: 404, json: { message: "no buyer for OK" } } : { json: { bid: 11, ping_ref: "h-1" } }),
      });
      const key = await g.setup({
        campaign: { id: "spec-404" },
        channels: [
          pingPost("spec-404-acme", b, {
            circuit_breaker: { failures: 2, cooldown_ms: 600_000 },
            response: { ping: { bid: "$.bid", ping_ref: "$.ping_ref", reason: "$.message", no_bid: { status: [404] } } },
          }),
        ],
      });
      for (let i = 0; i < 3; i++) {
        const res = await g.lead(key, { campaign: "spec-404", data: consumer({ state: "OK" }) });
        expect(res.body.status).toBe("unsold");
        const ping = (await trace(res.body.lead_id)).attempts.find((a: any) => a.kind === "ping");
        expect(ping).toMatchObject({ outcome: "no_bid", http_status: 404, reason: "no_bid_rule", detail: "no buyer for OK" });
      }
      expect((await g.admin("GET", "/v1/channels/spec-404-acme/health")).body).toMatchObject({ state: "closed", consecutive_failures: 0 });
      const sold = await g.lead(key, { campaign: "spec-404", data: consumer() });
      expect(sold.body).toMatchObject({ status: "sold", price: 11 });

      const tried = await g.admin("POST", "/v1/channels/spec-404-acme/test", { data: consumer({ state: "OK" }) });
      expect(tried.body.ping.result).toMatchObject({ outcome: "no_bid", reason: "no_bid_rule", detail: "no buyer for OK" });
      expect(tried.body.ping.rules[0]).toEqual({ rule: "no_bid", spec: { status: [404] }, matched: true, holds: true, value: 404 });
    });

    it("lets a native buyer add only the no_bid rule, the native protocol reading the rest", async () => {
      const b = await buyer({
        ping: (r) => (r.body.data.state === "OK" ? { status: 404, text: "" } : r.body.ping_id ? { json: { bid: 6, ping_ref: "n-1" } } : refuse("not native")),
        post: (r) => (r.body.ping_ref === "n-1" ? { json: { accepted: true } } : refuse("ping_ref")),
      });
      const key = await g.setup({
        campaign: { id: "spec-404-native" },
        channels: [pingPost("spec-404-native-acme", b, { circuit_breaker: { failures: 1, cooldown_ms: 600_000 }, response: { ping: { no_bid: { status: [404] } } } })],
      });
      const none = await g.lead(key, { campaign: "spec-404-native", data: consumer({ state: "OK" }) });
      expect((await trace(none.body.lead_id)).attempts[0]).toMatchObject({ outcome: "no_bid", reason: "no_bid_rule", detail: "HTTP 404" });
      const sold = await g.lead(key, { campaign: "spec-404-native", data: consumer() });
      expect(sold.body).toMatchObject({ status: "sold", price: 6 });
      const tried = await g.admin("POST", "/v1/channels/spec-404-native-acme/test", { data: consumer() });
      expect(tried.body.ping.rules.map((r: any) => r.rule)).toEqual(["no_bid", "bid", "ping_ref", "reason"]);
      expect(tried.body.ping.result).toMatchObject({ outcome: "bid", price: 6, ping_ref: "n-1" });
    });

    it("the same 404s without the rule are errors that open the circuit", async () => {
      const b = await buyer({ ping: (r) => (r.body.data.state === "OK" ? { status: 404, json: { message: "no buyer" } } : { json: { bid: 11 } }) });
      const key = await g.setup({
        campaign: { id: "spec-404-bare" },
        channels: [pingPost("spec-404-bare-acme", b, { circuit_breaker: { failures: 2, cooldown_ms: 600_000 } })],
      });
      for (let i = 0; i < 2; i++) await g.lead(key, { campaign: "spec-404-bare", data: consumer({ state: "OK" }) });
      const lost = await g.lead(key, { campaign: "spec-404-bare", data: consumer() });
      expect(lost.body.status).toBe("unsold");
      expect((await trace(lost.body.lead_id)).excluded).toContainEqual(expect.objectContaining({ channel_id: "spec-404-bare-acme", reason: "circuit_open" }));
    });

    it("reads 'no buyer' as a flag in a 200 answer, with the buyer's words", async () => {
      const b = await buyer({
        ping: (r) =>
          r.body.data.state === "OK" ? { json: { result: "NO_BUYER", msg: "capped" } } : r.body.data ? { json: { result: "OK", price: "9.25" } } : refuse("no data"),
        post: () => ({ json: { result: "OK" } }),
      });
      const key = await g.setup({
        campaign: { id: "spec-flag" },
        channels: [
          pingPost("spec-flag-acme", b, {
            response: {
              ping: { bid: "$.price", reason: "$.msg", no_bid: { path: "$.result", equals: "no_buyer" } },
              post: { accepted: { path: "$.result", equals: "ok" } },
            },
          }),
        ],
      });
      const none = await g.lead(key, { campaign: "spec-flag", data: consumer({ state: "OK" }) });
      expect(none.body.status).toBe("unsold");
      expect((await trace(none.body.lead_id)).attempts[0]).toMatchObject({ outcome: "no_bid", reason: "no_bid_rule", detail: "capped" });
      const sold = await g.lead(key, { campaign: "spec-flag", data: consumer() });
      expect(sold.body).toMatchObject({ status: "sold", price: 9.25 });
    });

    it("keeps every new setting through config as code: the export holds them and applies back as no change", async () => {
      const headers = { authorization: `Bearer ${g.gavel.adminToken}` };
      const text = await (await fetch(`${g.url}/v1/config/export`, { headers })).text();
      expect(text).toContain("ping_hash: true");
      expect(text).toContain("{{data.email | sha256}}");
      expect(text).toContain("/post/leads/{{ping_ref}}/accept?lead={{lead_id}}&src=gavel");
      expect(text).toMatch(/no_bid:\s+status:\s+- 404/);
      const res = await fetch(`${g.url}/v1/config/apply`, { method: "POST", headers: { ...headers, "content-type": "application/yaml" }, body: text });
      expect(res.status).toBe(200);
      expect(((await res.json()) as any).applied).toBe(false);
    });

    it("refuses a no_bid rule that is not a condition at save time", async () => {
      const b = await buyer({});
      await g.setup({ campaign: { id: "spec-flag" }, channels: [] });
      const res = await g.admin("POST", "/v1/channels", {
        id: "spec-flag-bad",
        buyer_id: "acme",
        campaign_id: "spec-flag",
        type: "ping_post",
        ping: { url: b.pingUrl },
        post: { url: b.postUrl },
        response: { ping: { bid: "$.bid", no_bid: { path: "$[", equals: "x" } } },
      });
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: any) => e.path)).toEqual(["response.ping.no_bid"]);
    });
  });
});
