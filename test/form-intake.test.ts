// Leads posted as forms (application/x-www-form-urlencoded), as supplier platforms and web forms
// send them, through the real HTTP server: the same auction and validation as a JSON lead.
// `campaign`, `test`, `source`, `sub_id` and `idempotency_key` are the submission's; every other
// field is a data field, by its plain name or as `data[name]`.
import { beforeAll, describe, expect, it } from "vitest";
import type { TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, standardFields, useTestGavel } from "./helpers/gavel";

const FORM = { "content-type": "application/x-www-form-urlencoded" };
/** A form body from pairs, encoded as a browser encodes it (spaces as `+`). */
const form = (pairs: Record<string, unknown> | [string, string][]) =>
  new URLSearchParams(Array.isArray(pairs) ? pairs : Object.entries(pairs).map(([k, v]): [string, string] => [k, String(v)])).toString();

describe("lead intake as a form", () => {
  const t = useTestGavel();
  let buyer: TestBuyer;
  let key: string;
  const CAMPAIGN = "forms";
  const leads = async () => (await t.g.admin("GET", `/v1/leads?campaign=${CAMPAIGN}&limit=500`)).body.items as any[];
  const post = (body: string, headers: Record<string, string> = {}) => t.g.lead(key, body, { ...FORM, ...headers });

  beforeAll(async () => {
    buyer = await t.buyer({ ping: () => ({ json: { bid: 9 } }) });
    key = await t.g.setup({
      campaign: { id: CAMPAIGN, fields: [...standardFields, { name: "source", type: "string" }], dedup: { fields: ["email"] } },
      channels: [pingPost("forms-acme", buyer)],
    });
  });

  it("sells a lead posted with plain field names, validated and normalised like JSON", async () => {
    const person = consumer({ email: "  Jo.Form@Example.COM ", state: "texas", age: "41" });
    const res = await post(form({ campaign: CAMPAIGN, ...person, source: "web form", sub_id: "kw 7" }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ status: "sold", sold_to: 1, price: expect.any(Number), trace_url: `/v1/leads/${res.body.lead_id}` });

    const trace = (await t.g.admin("GET", res.body.trace_url)).body;
    expect(trace).toMatchObject({ test: false, source: "web form", sub_id: "kw 7" });
    expect(trace.data).toMatchObject({ email: "jo.form@example.com", state: "TX", age: 41, zip: "75001" });
    // The plain `source` is the submission's tracking string, never the campaign's field of that name.
    expect(trace.data.source).toBeUndefined();
    const sent = buyer.posts.at(-1)!.body;
    expect(sent.data).toMatchObject({ email: "jo.form@example.com", age: 41 });
  });

  it("takes data[name] for data fields, the way to send one named like a submission field", async () => {
    const person = consumer();
    const pairs: [string, string][] = [["campaign", CAMPAIGN], ...Object.entries(person).map(([k, v]): [string, string] => [`data[${k}]`, String(v)])];
    const res = await post(form([...pairs, ["data[source]", "campaign's own field"], ["source", "tracking"]]));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const trace = (await t.g.admin("GET", res.body.trace_url)).body;
    expect(trace.source).toBe("tracking");
    expect(trace.data).toMatchObject({ email: person.email, source: "campaign's own field" });
  });

  it("runs a test auction for test=1, true, yes or on, and a real one for 0, false or empty", async () => {
    for (const [value, test] of [["1", true], ["true", true], ["on", true], ["yes", true], ["0", false], ["false", false], ["", false]] as const) {
      const res = await post(form({ campaign: CAMPAIGN, ...consumer(), test: value }));
      expect(res.status, value).toBe(200);
      expect((await t.g.admin("GET", res.body.trace_url)).body.test, value).toBe(test);
    }
    expect(buyer.pings.at(-1)!.body.test).toBe(false);
    const bad = await post(form({ campaign: CAMPAIGN, ...consumer(), test: "maybe" }));
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual([{ path: "test", message: expect.stringMatching(/true or false/) }]);
  });

  it("answers invalid fields with 422 listing each, and records the lead as rejected, as for JSON", async () => {
    const res = await post(form({ campaign: CAMPAIGN, zip: "nope", state: "TX", email: "not-an-email", phone: "+15125550100", age: "old" }));
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["data.age", "data.email", "data.zip"]);
    expect(res.body.lead_id).toEqual(expect.any(String));
    expect((await t.g.admin("GET", `/v1/leads/${res.body.lead_id}`)).body).toMatchObject({ status: "rejected" });
  });

  it("refuses a malformed form before anything is recorded: no campaign, a name twice, nested names, bad escapes, NUL", async () => {
    const before = (await leads()).length;
    const person = form(consumer());
    const cases: [string, number, string[]][] = [
      [person, 422, ["campaign"]],
      [`campaign=${CAMPAIGN}&${person}&zip=75002`, 422, ["data.zip"]],
      [`campaign=${CAMPAIGN}&campaign=${CAMPAIGN}&${person}`, 422, ["campaign"]],
      [`campaign=${CAMPAIGN}&${person}&${encodeURIComponent("data[a][b]")}=1&${encodeURIComponent("tags[]")}=x`, 422, ["data[a][b]", "tags[]"]],
      [`campaign=${CAMPAIGN}&${person}&source=`, 200, []],
      [`campaign=${CAMPAIGN}&${person}&note=a%00b`, 422, ["data.note"]],
      [`campaign=${CAMPAIGN}&${person}&__proto__=x`, 422, ["data.__proto__"]],
      [`campaign=${CAMPAIGN}&${person}&sub_id=${encodeURIComponent(" padded")}`, 422, ["sub_id"]],
    ];
    let recorded = 0;
    for (const [body, status, paths] of cases) {
      const res = await post(body);
      expect(res.status, `${body}: ${JSON.stringify(res.body)}`).toBe(status);
      if (status === 200) recorded++;
      else {
        expect(res.body.errors.map((e: { path: string }) => e.path), body).toEqual(paths);
        expect(res.body.lead_id, body).toBeUndefined();
      }
    }
    for (const body of [`campaign=${CAMPAIGN}&${person}&note=%E9t%E9`, `campaign=${CAMPAIGN}&${person}&note=100%`, ""]) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    expect((await post(`campaign=${CAMPAIGN}&${person}&note=%E9t%E9`)).body.detail).toMatch(/'note'.*UTF-8/);
    expect((await leads()).length).toBe(before + recorded);
  });

  it("replays on the same Idempotency-Key, sent as the header or as the idempotency_key field", async () => {
    const body = form({ campaign: CAMPAIGN, ...consumer() });
    const first = await post(body, { "idempotency-key": "form-k1" });
    expect(first.body.status).toBe("sold");
    const again = await post(body, { "idempotency-key": "form-k1" });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.lead_id).toBe(first.body.lead_id);

    const fielded = form({ campaign: CAMPAIGN, ...consumer(), idempotency_key: "form-k2" });
    const one = await post(fielded);
    const two = await post(fielded);
    expect(two.headers.get("idempotent-replayed")).toBe("true");
    expect(two.body.lead_id).toBe(one.body.lead_id);
    // The same key is the same key, however it is sent.
    expect((await post(fielded, { "idempotency-key": "form-k2" })).body.lead_id).toBe(one.body.lead_id);
    // Two different keys, or a bad one, are a 422 naming the field.
    const clash = await post(fielded, { "idempotency-key": "other" });
    expect(clash.status).toBe(422);
    expect(clash.body.errors[0].path).toBe("idempotency_key");
    const bad = await post(form({ campaign: CAMPAIGN, ...consumer(), idempotency_key: "has space" }));
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].path).toBe("idempotency_key");
  });

  it("answers multipart/form-data with a 400 that says what to send", async () => {
    const data = new FormData();
    data.set("campaign", CAMPAIGN);
    const res = await fetch(`${t.g.url}/v1/leads`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: data });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).detail).toMatch(/x-www-form-urlencoded/);
  });

  it("is described in the OpenAPI document", async () => {
    const doc = (await t.g.admin("GET", "/openapi.json")).body;
    const content = doc.paths["/v1/leads"].post.requestBody.content;
    expect(Object.keys(content)).toEqual(["application/json", "application/x-www-form-urlencoded"]);
  });
});
