// A buyer integration is checked when its channel is saved, not when a lead arrives: malformed
// templates, unknown or pii fields, bad formats and bad response rules are a 422 naming the path.
import { beforeAll, describe, expect, it } from "vitest";
import { standardFields, useTestGavel, type TestGavel } from "./helpers/gavel";

describe("channel configuration checks", () => {
  const fixture = useTestGavel();
  let g: TestGavel;
  beforeAll(async () => {
    g = fixture.g;
    await g.admin("POST", "/v1/campaigns", { id: "cfg", name: "Config", fields: standardFields });
    await g.admin("POST", "/v1/buyers", { id: "acme", name: "Acme" });
  });

  const base = { buyer_id: "acme", campaign_id: "cfg", type: "ping_post", ping: { url: "http://127.0.0.1:9/ping" }, post: { url: "http://127.0.0.1:9/post" } };

  async function refused(id: string, channel: Record<string, unknown>) {
    const res = await g.admin("POST", "/v1/channels", { id, ...base, ...channel });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body).toMatchObject({ type: "urn:gavel:problem:validation", status: 422 });
    expect((await g.admin("GET", `/v1/channels/${id}`)).status).toBe(404);
    return res.body.errors as { path: string; message: string }[];
  }

  it("names an unknown campaign field with the campaign's fields", async () => {
    const errors = await refused("cfg-unknown", { ping: { url: base.ping.url, body: { zip: "{{data.zipcode}}", st: "{{data.state}}" } } });
    expect(errors).toEqual([{ path: "ping.body.zip", message: "unknown field 'zipcode' (campaign fields: zip, state, age, coverage, email, phone)" }]);
  });

  it("refuses pii in a ping template, and takes it in the post", async () => {
    const errors = await refused("cfg-pii", {
      ping: { url: base.ping.url, body: { contact: { email: "{{data.email}}" } }, headers: { "X-Phone": "{{data.phone}}" } },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: "ping.body.contact.email", message: "'email' is pii: a ping never carries it (use it in the post, or a hash of it such as '{{data.email | sha256}}' with ping_hash: true on the field)" },
        { path: "ping.headers.X-Phone", message: "'phone' is pii: a ping never carries it (use it in the post, or a hash of it such as '{{data.phone | sha256}}' with ping_hash: true on the field)" },
      ]),
    );
    const ok = await g.admin("POST", "/v1/channels", { id: "cfg-pii-post", ...base, post: { url: base.post.url, body: { email: "{{data.email}}" } } });
    expect(ok.status).toBe(201);
  });

  it("lists every template problem by path", async () => {
    const errors = await refused("cfg-templates", {
      ping: { url: base.ping.url, body: { a: "{{lead}}", b: ["{{data.zip | shout}}"], c: "{{ping_ref}}", d: "{{data.zip" } },
      post: { url: base.post.url, body: { when: "{{data.age | date:YYYY}}" } },
    });
    expect(errors.map((e) => e.path)).toEqual(["ping.body.a", "ping.body.b[0]", "ping.body.c", "ping.body.d", "post.body.when"]);
    expect(errors[0].message).toMatch(/^unknown variable 'lead'/);
    expect(errors[2].message).toBe("'{{ping_ref}}' is only known in posts");
  });

  it("checks formats: XML has one root, form and GET are flat, native JSON has no other format", async () => {
    expect(await refused("cfg-xml", { ping: { url: base.ping.url, format: "xml", body: { A: "1", B: "2" } } })).toEqual([
      { path: "ping.body", message: "an XML body template has exactly one top-level key, the root element (got 2: A, B)" },
    ]);
    expect(await refused("cfg-form", { post: { url: base.post.url, format: "form", body: { a: { b: "{{lead_id}}" } } } })).toEqual([
      { path: "post.body.a", message: "a form body is flat: a value is text, a number, a boolean or a list of them" },
    ]);
    expect(await refused("cfg-get", { ping: { url: base.ping.url, method: "GET" } })).toEqual([
      { path: "ping.method", message: "a GET needs a body template: its fields become the query string" },
    ]);
    expect(await refused("cfg-native-xml", { ping: { url: base.ping.url, format: "xml" } })).toEqual([
      { path: "ping.format", message: "an XML request needs a body template (body: null sends Gavel's native JSON)" },
    ]);
    const errors = await refused("cfg-bad-format", { ping: { url: base.ping.url, format: "yaml" } });
    expect(errors.map((e) => e.path)).toEqual(["ping.format"]);
  });

  it("checks response rules: JSONPath, regex, one test per condition, what a ping needs", async () => {
    const errors = await refused("cfg-rules", {
      response: {
        ping: { bid: "bid", ping_ref: { regex: "(" }, reason: "$.a[0" },
        post: { accepted: { path: "$.s", equals: "ok", in: ["x"] }, price: { regex: "p", flags: "g" } },
      },
    });
    expect(errors).toEqual([
      { path: "response.ping.bid", message: "a JSONPath starts with '$' (got 'bid')" },
      { path: "response.ping.ping_ref", message: expect.stringMatching(/^bad regular expression/) },
      { path: "response.ping.reason", message: "unclosed '[' in '$.a[0'" },
      { path: "response.post.accepted", message: "use one of equals, in, matches or exists (got equals, in)" },
      { path: "response.post.price", message: "flags may only use i, m, s and u" },
    ]);
    expect(await refused("cfg-nobid", { response: { ping: { reason: "$.why" } } })).toEqual([
      { path: "response.ping.bid", message: "needs bid (where the price is), or accepted (a yes/no priced at fixed_price), or only no_bid (the native protocol reads the rest)" },
    ]);
    expect(await refused("cfg-accept-only", { response: { ping: { accepted: "$.ok" } } })).toEqual([
      { path: "fixed_price", message: "a ping answered only with yes/no sells at the channel's fixed_price: set it" },
    ]);
    const missing = await refused("cfg-post-rules", { response: { post: { price: "$.p" } } });
    expect(missing.map((e) => e.path)).toEqual(["response.post.accepted"]);
  });

  it("checks templates again on PATCH, and keeps the body's key order", async () => {
    const created = await g.admin("POST", "/v1/channels", {
      id: "cfg-order",
      ...base,
      post: { url: base.post.url, format: "xml", body: { Lead: { Zip: "{{data.zip}}", Age: "{{data.age}}", Email: "{{data.email}}", A: "1" } } },
    });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body.post.body.Lead)).toEqual(["Zip", "Age", "Email", "A"]);
    expect(Object.keys((await g.admin("GET", "/v1/channels/cfg-order")).body.post.body.Lead)).toEqual(["Zip", "Age", "Email", "A"]);

    const patched = await g.admin("PATCH", "/v1/channels/cfg-order", { post: { body: { Lead: { Zip: "{{data.zip5}}" } } } });
    expect(patched.status).toBe(422);
    expect(patched.body.errors).toEqual([{ path: "post.body.Lead.Zip", message: expect.stringMatching(/^unknown field 'zip5'/) }]);
  });

  it("refuses a campaign edit that would strand a channel's template on a missing field", async () => {
    await g.admin("POST", "/v1/campaigns", { id: "cfg-edit", name: "Edit", fields: standardFields });
    const created = await g.admin("POST", "/v1/channels", {
      id: "cfg-edit-acme",
      ...base,
      campaign_id: "cfg-edit",
      ping: { url: base.ping.url, body: { age: "{{data.age}}", zip: "{{data.zip}}" } },
    });
    expect(created.status).toBe(201);
    const withoutAge = standardFields.filter((f) => f.name !== "age");
    const res = await g.admin("PUT", "/v1/campaigns/cfg-edit", { name: "Edit", fields: withoutAge });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([
      { path: "fields", message: "channel 'cfg-edit-acme' ping.body.age: unknown field 'age' (campaign fields: zip, state, coverage, email, phone)" },
    ]);
    const zipPii = standardFields.map((f) => (f.name === "zip" ? { ...f, pii: true } : f));
    const pii = await g.admin("PUT", "/v1/campaigns/cfg-edit", { name: "Edit", fields: zipPii });
    expect(pii.body.errors).toEqual([{ path: "fields", message: expect.stringContaining("ping.body.zip: 'zip' is pii") }]);
    // Once the channel is archived, the campaign may change.
    await g.admin("DELETE", "/v1/channels/cfg-edit-acme");
    expect((await g.admin("PUT", "/v1/campaigns/cfg-edit", { name: "Edit", fields: withoutAge })).status).toBe(200);
  });
});
