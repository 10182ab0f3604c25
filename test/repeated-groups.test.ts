// Repeated groups (issue #18 item 5): a campaign's `list` field (drivers), each item checked field by
// field against its own fields, and templates that write one element per item with
// `{{#each data.drivers}}`: repeated <Driver> elements in XML, an array in JSON, a block of text inside
// an XML document sent as a form field. Strict loopback buyers check every field of every driver and
// refuse anything else (HTTP 400); a lead with two drivers sells end to end through POST /v1/leads,
// a form lead, a supplier's ping and post, and the test console. A driver's pii (names) never
// reaches a ping, nor an analyst.
import { isDeepStrictEqual } from "node:util";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { compileTemplate } from "../src/channels/template";
import { serialize } from "../src/channels/formats";
import type { Answer, Received } from "./helpers/buyers";
import { readFileSync } from "node:fs";
import { consumer, standardFields, useTestGavel, type TestGavel } from "./helpers/gavel";

const refuse = (why: string): Answer => ({ status: 400, json: { error: why } });

const driverFields = [
  { name: "first_name", type: "string", required: true, pii: true },
  { name: "last_name", type: "string", required: true, pii: true },
  { name: "birth_date", type: "date", required: true },
  { name: "gender", type: "enum", values: ["male", "female", "other"] },
  { name: "accidents", type: "integer", min: 0, max: 20 },
];
const fields = [...standardFields, { name: "drivers", type: "list", required: true, min: 1, max: 4, fields: driverFields }];

/** Two drivers as a supplier sends them; the second's names hold what XML must escape. */
const twoDrivers = () => [
  { first_name: "Ana", last_name: "Lopez", birth_date: "1984-03-09", gender: "Female", accidents: "1" },
  { first_name: "D'Arcy & <Co>", last_name: "O'Brien", birth_date: "1990-11-30", gender: "male" },
];
/** The drivers as Gavel keeps them: normalised, in the item fields' order. */
const normalised = [
  { first_name: "Ana", last_name: "Lopez", birth_date: "1984-03-09", gender: "female", accidents: 1 },
  { first_name: "D'Arcy & <Co>", last_name: "O'Brien", birth_date: "1990-11-30", gender: "male" },
];

const xmlParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", parseTagValue: false, isArray: (name) => name === "Driver" });
const xmlOf = (raw: string) => (XMLValidator.validate(raw) === true ? xmlParser.parse(raw) : undefined);
const same = (a: unknown, b: unknown) => isDeepStrictEqual(a, b);

// An insurer's XML ping/post: a driver per <Driver>, numbered; the ping without names.
const xmlChannel = (id: string, b: { pingUrl: string; postUrl: string }) => ({
  id,
  type: "ping_post",
  ping: {
    url: b.pingUrl,
    format: "xml",
    body: {
      Ping: {
        Zip: "{{data.zip}}",
        Drivers: { Driver: { "{{#each data.drivers}}": { "@_n": "{{@number}}", BirthDate: "{{item.birth_date | date:MM/dd/yyyy}}", Gender: "{{item.gender | map:male=M,female=F,other=X}}", Accidents: "{{item.accidents | default:0}}" } } },
      },
    },
  },
  post: {
    url: b.postUrl,
    format: "xml",
    body: {
      Lead: {
        Ref: "{{ping_ref}}",
        Email: "{{data.email}}",
        Drivers: {
          Driver: {
            "{{#each data.drivers}}": {
              "@_n": "{{@number}}",
              FirstName: "{{item.first_name}}",
              LastName: "{{item.last_name}}",
              BirthDate: "{{item.birth_date | date:MM/dd/yyyy}}",
              Gender: "{{item.gender | map:male=M,female=F,other=X}}",
              Accidents: "{{item.accidents | default:0}}",
            },
          },
        },
      },
    },
  },
  response: { ping: { bid: "$.Response.Bid", ping_ref: "$.Response.Ref" }, post: { accepted: { path: "$.Response.Status", equals: "accepted" } } },
});

const xmlDrivers = [
  { "@_n": "1", BirthDate: "03/09/1984", Gender: "F", Accidents: "1" },
  { "@_n": "2", BirthDate: "11/30/1990", Gender: "M", Accidents: "0" },
];
const xmlPing = (r: Received): Answer => {
  const doc = xmlOf(r.raw)?.Ping;
  if (!doc) return refuse(`not an XML Ping: ${r.raw}`);
  if (doc.Zip !== "75001") return refuse(`Zip ${doc.Zip}`);
  if (!same(doc.Drivers?.Driver, xmlDrivers)) return refuse(`Drivers ${JSON.stringify(doc.Drivers)}`);
  if (/Ana|Lopez|Arcy|Brien|first|last/i.test(r.raw)) return refuse("a driver's name in a ping");
  return { contentType: "application/xml", text: "<Response><Bid>14.25</Bid><Ref>X-77</Ref></Response>" };
};
const xmlPost = (email: () => string) => (r: Received): Answer => {
  if (r.headers["content-type"] !== "application/xml; charset=utf-8") return refuse(`content-type ${r.headers["content-type"]}`);
  const doc = xmlOf(r.raw)?.Lead;
  if (!doc) return refuse(`not an XML Lead: ${r.raw}`);
  if (doc.Ref !== "X-77" || doc.Email !== email()) return refuse(`Ref ${doc.Ref} Email ${doc.Email}`);
  const want = [
    { ...xmlDrivers[0], FirstName: "Ana", LastName: "Lopez" },
    { ...xmlDrivers[1], FirstName: "D'Arcy & <Co>", LastName: "O'Brien" },
  ].map(({ "@_n": n, FirstName, LastName, BirthDate, Gender, Accidents }) => ({ "@_n": n, FirstName, LastName, BirthDate, Gender, Accidents }));
  if (!same(doc.Drivers?.Driver, want)) return refuse(`Drivers ${JSON.stringify(doc.Drivers)}`);
  return { contentType: "application/xml", text: "<Response><Status>accepted</Status></Response>" };
};

// A marketplace's JSON ping/post: a `drivers` array, typed values, positions from 0.
const jsonChannel = (id: string, b: { pingUrl: string; postUrl: string }) => ({
  id,
  type: "ping_post",
  ping: {
    url: b.pingUrl,
    body: { zip: "{{data.zip}}", drivers: { "{{#each data.drivers}}": { birth_year: "{{item.birth_date | date:yyyy}}", accidents: "{{item.accidents | default:0}}" } } },
  },
  post: {
    url: b.postUrl,
    body: {
      lead_ref: "{{ping_ref}}",
      phone: "{{data.phone | phone:dashed}}",
      drivers: {
        "{{#each data.drivers}}": {
          position: "{{@index}}",
          name: "{{item.first_name}} {{item.last_name}}",
          dob: "{{item.birth_date}}",
          gender: "{{item.gender | upper}}",
          accidents: "{{item.accidents | default:0}}",
        },
      },
      summary: "{{#each data.drivers}}{{@number}}:{{item.first_name}};{{/each}}",
    },
  },
  response: { ping: { bid: "$.bid", ping_ref: "$.ref" }, post: { accepted: { path: "$.result", equals: "ok" } } },
});

const jsonPing = (r: Received): Answer => {
  const b = r.body;
  if (b?.zip !== "75001") return refuse("zip");
  if (!same(b.drivers, [{ birth_year: "1984", accidents: 1 }, { birth_year: "1990", accidents: 0 }])) return refuse(`drivers ${JSON.stringify(b.drivers)}`);
  if (/Ana|Lopez|Arcy|Brien/.test(r.raw)) return refuse("a driver's name in a ping");
  return { json: { bid: 11.5, ref: "J-1" } };
};
const jsonPost = (phone: () => string) => (r: Received): Answer => {
  const b = r.body;
  if (b?.lead_ref !== "J-1") return refuse("lead_ref");
  if (b.phone !== phone()) return refuse(`phone ${b.phone}`);
  const want = [
    { position: 0, name: "Ana Lopez", dob: "1984-03-09", gender: "FEMALE", accidents: 1 },
    { position: 1, name: "D'Arcy & <Co> O'Brien", dob: "1990-11-30", gender: "MALE", accidents: 0 },
  ];
  if (!same(b.drivers, want)) return refuse(`drivers ${JSON.stringify(b.drivers)}`);
  if (b.summary !== "1:Ana;2:D'Arcy & <Co>;") return refuse(`summary ${b.summary}`);
  return { json: { result: "ok" } };
};

const dashed = (e164: string) => `${e164.slice(2, 5)}-${e164.slice(5, 8)}-${e164.slice(8)}`;

describe("repeated groups", () => {
  const fixture = useTestGavel();
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  describe("an XML buyer with repeated <Driver> elements", () => {
    let email = "";
    it("sells a lead with two drivers through POST /v1/leads", async () => {
      const b = await fixture.buyer({ ping: xmlPing, post: xmlPost(() => email) });
      const key = await g.setup({ campaign: { id: "rg-xml", fields }, channels: [xmlChannel("rg-xml-ch", b)] });
      const data = consumer({ drivers: twoDrivers() });
      email = data.email as string;
      const res = await g.lead(key, { campaign: "rg-xml", data });
      expect(res.body, JSON.stringify({ pings: b.pings.map((p) => p.raw), posts: b.posts.map((p) => p.raw) })).toMatchObject({ status: "sold", price: 14.25 });
      expect(b.posts).toHaveLength(1);
      // '&' and '<' in a driver's name reach the buyer escaped, as XML text.
      expect(b.posts[0].raw).toContain("<FirstName>D&apos;Arcy &amp; &lt;Co&gt;</FirstName>");
      // The lead keeps its drivers normalised; an analyst sees their names masked, the rest as kept.
      const trace = await g.admin("GET", `/v1/leads/${res.body.lead_id}`);
      expect(trace.body.data.drivers).toEqual(normalised);
      const token = (await g.admin("POST", "/v1/tokens", { name: "rg-analyst", role: "analyst" })).body.token as string;
      const seen = await g.admin("GET", `/v1/leads/${res.body.lead_id}`, undefined, token);
      expect(seen.body.data.drivers).toEqual(normalised.map((d) => ({ ...d, first_name: "***", last_name: "***" })));
      expect(seen.body.data.email).toBe("***");
    });

    it("sells through the test console, which shows the repeated elements", async () => {
      const b = await fixture.buyer({ ping: xmlPing, post: xmlPost(() => email) });
      await g.setup({ campaign: { id: "rg-xml", fields }, channels: [xmlChannel("rg-xml-console", b)] });
      const data = consumer({ drivers: twoDrivers() });
      email = data.email as string;
      const res = await g.admin("POST", "/v1/channels/rg-xml-console/test", { data, post: true });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.ping.result, JSON.stringify(res.body.ping)).toMatchObject({ outcome: "bid", price: 14.25 });
      expect(res.body.ping.request.body).toContain('<Driver n="1"><BirthDate>03/09/1984</BirthDate>');
      expect(res.body.post.result).toMatchObject({ outcome: "accepted", price: 14.25 });
      expect(b.posts).toHaveLength(1);
    });
  });

  describe("a JSON buyer with a drivers array", () => {
    let phone = "";
    it("sells a lead with two drivers through POST /v1/leads", async () => {
      const b = await fixture.buyer({ ping: jsonPing, post: jsonPost(() => phone) });
      const key = await g.setup({ campaign: { id: "rg-json", fields }, channels: [jsonChannel("rg-json-ch", b)] });
      const data = consumer({ drivers: twoDrivers() });
      phone = dashed(data.phone as string);
      const res = await g.lead(key, { campaign: "rg-json", data });
      expect(res.body, JSON.stringify({ pings: b.pings.map((p) => p.raw), posts: b.posts.map((p) => p.raw) })).toMatchObject({ status: "sold", price: 11.5 });
    });

    it("sells through the test console", async () => {
      const b = await fixture.buyer({ ping: jsonPing, post: jsonPost(() => phone) });
      await g.setup({ campaign: { id: "rg-json", fields }, channels: [jsonChannel("rg-json-console", b)] });
      const data = consumer({ drivers: twoDrivers() });
      phone = dashed(data.phone as string);
      const res = await g.admin("POST", "/v1/channels/rg-json-console/test", { data, post: true });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(JSON.parse(res.body.ping.request.body).drivers).toEqual([{ birth_year: "1984", accidents: 1 }, { birth_year: "1990", accidents: 0 }]);
      expect(res.body.post.result).toMatchObject({ outcome: "accepted", price: 11.5 });
    });

    it("takes the drivers of a form lead as drivers[0][first_name]=…", async () => {
      const b = await fixture.buyer({ ping: jsonPing, post: jsonPost(() => phone) });
      const key = await g.setup({ campaign: { id: "rg-json", fields }, channels: [jsonChannel("rg-json-form", b)] });
      const person = consumer();
      phone = dashed(person.phone as string);
      const pairs: [string, string][] = [["campaign", "rg-json"], ...Object.entries(person).map(([k, v]): [string, string] => [k, String(v)])];
      twoDrivers().forEach((d, i) => {
        for (const [k, v] of Object.entries(d)) pairs.push([i === 1 ? `data[drivers][${i}][${k}]` : `drivers[${i}][${k}]`, v]);
      });
      const form = (p: [string, string][]) => ({ "content-type": "application/x-www-form-urlencoded", body: new URLSearchParams(p).toString() });
      const send = (p: [string, string][]) =>
        fetch(`${g.url}/v1/leads`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": form(p)["content-type"] }, body: form(p).body }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      const sold = await send(pairs);
      expect(sold.body, JSON.stringify(b.posts.map((p) => p.raw))).toMatchObject({ status: "sold", price: 11.5 });
      // Items numbered with a gap, or an item field twice, are refused naming them.
      const gap = await send(pairs.map(([k, v]): [string, string] => [k.replace("data[drivers][1]", "drivers[2]"), v]));
      expect(gap.status).toBe(422);
      expect(gap.body.errors).toEqual([{ path: "data.drivers[2]", message: "follows drivers[0]: number a list's items from 0 without gaps" }]);
      const twice = await send([...pairs, ["drivers[0][last_name]", "Again"]]);
      expect(twice.status).toBe(422);
      expect(twice.body.errors).toEqual([{ path: "data.drivers[0].last_name", message: "is sent more than once" }]);
    });

    it("sells a supplier's ping and post: the ping carries the drivers without their names", async () => {
      const b = await fixture.buyer({ ping: jsonPing, post: jsonPost(() => phone) });
      const key = await g.setup({ campaign: { id: "rg-json", fields }, channels: [jsonChannel("rg-json-inbound", b)] });
      const lead = consumer({ drivers: twoDrivers() });
      phone = dashed(lead.phone as string);
      const publicOf = (d: Record<string, unknown>) => ({ birth_date: d.birth_date, gender: d.gender, ...(d.accidents !== undefined && { accidents: d.accidents }) });
      const pingData = { zip: lead.zip, state: lead.state, age: lead.age, coverage: lead.coverage, drivers: twoDrivers().map(publicOf) };
      // A driver's name in a ping is refused, field by field.
      const named = await g.admin("POST", "/v1/pings", { campaign: "rg-json", data: { ...pingData, drivers: twoDrivers() } }, key);
      expect(named.status).toBe(422);
      expect(named.body.errors).toEqual(
        expect.arrayContaining([
          { path: "data.drivers[0].first_name", message: "is pii: send it with the post, never in a ping" },
          { path: "data.drivers[1].last_name", message: "is pii: send it with the post, never in a ping" },
        ]),
      );
      const ping = await g.admin("POST", "/v1/pings", { campaign: "rg-json", data: pingData }, key);
      expect(ping.status, JSON.stringify(ping.body)).toBe(200);
      // The post's drivers must be the ping's, names added.
      const other = twoDrivers();
      other[1].birth_date = "1991-01-01";
      const differs = await g.admin("POST", "/v1/posts", { ping_id: ping.body.ping_id, data: { ...lead, drivers: other } }, key);
      expect(differs.status).toBe(422);
      expect(differs.body.errors).toEqual([{ path: "data.drivers", message: expect.stringMatching(/^differs from the ping's/) }]);
      const post = await g.admin("POST", "/v1/posts", { ping_id: ping.body.ping_id, data: lead }, key);
      expect(post.body, JSON.stringify(post.body)).toMatchObject({ status: "sold" });
    });
  });

  it("exports and applies back a campaign with a list field and channels writing each item: no change", async () => {
    const b = await fixture.buyer({ ping: jsonPing, post: jsonPost(() => "") });
    await g.setup({ campaign: { id: "rg-json", fields }, channels: [jsonChannel("rg-json-export", b), xmlChannel("rg-xml-export", b)] });
    const headers = { authorization: `Bearer ${g.gavel.adminToken}` };
    const exported = await (await fetch(`${g.url}/v1/config/export`, { headers })).text();
    expect(exported).toContain("type: list");
    expect(exported).toContain("{{#each data.drivers}}");
    const res = await fetch(`${g.url}/v1/config/apply`, { method: "POST", headers: { ...headers, "content-type": "application/yaml" }, body: exported });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.changes).toEqual({ created: [], changed: [], archived: [] });
  });

  it("explains a lead's bad drivers by their paths", async () => {
    const res = await g.admin("POST", "/v1/campaigns/rg-json/explain", { data: consumer({ drivers: [{ first_name: "Ana", birth_date: "1984-03-09", accidents: "many" }] }) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.valid).toBe(false);
    expect(res.body.errors).toEqual([
      { path: "data.drivers[0].last_name", message: "is required" },
      { path: "data.drivers[0].accidents", message: "must be an integer" },
    ]);
  });

  it("takes README's Example 8 as written: its list field, and its XML and JSON channels", async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const start = readme.indexOf("### Example 8: repeated groups");
    const example = readme.slice(start, readme.indexOf("\n### ", start + 1));
    const blocks = [...example.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => JSON.parse(m[1]));
    expect(blocks).toHaveLength(3);
    const [drivers, xml, json] = blocks;
    const campaign = await g.admin("POST", "/v1/campaigns", { id: "rg-readme", name: "README", fields: [...standardFields, drivers] });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    await g.admin("POST", "/v1/buyers", { id: "acme", name: "Buyer" });
    const base = { buyer_id: "acme", campaign_id: "rg-readme", type: "ping_post" };
    const saved = await g.admin("POST", "/v1/channels", { id: "rg-readme-xml", ...base, ...xml });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    const posted = await g.admin("POST", "/v1/channels", { id: "rg-readme-json", ...base, ping: { url: "https://insurer.example/ping" }, post: { url: "https://insurer.example/post", body: json } });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
  });

  it("refuses bad drivers with a 422 naming each one's path, recording nothing sold", async () => {
    const b = await fixture.buyer({ ping: () => refuse("never pinged"), post: () => refuse("never posted") });
    const key = await g.setup({ campaign: { id: "rg-json", fields }, channels: [jsonChannel("rg-json-bad", b)] });
    const lead = (drivers: unknown) => g.lead(key, { campaign: "rg-json", data: consumer({ drivers }) });
    const bad = await lead([
      { first_name: "Ana", last_name: "Lopez", birth_date: "1984-02-30", accidents: 1 },
      { last_name: "O'Brien", birth_date: "1990-11-30", gender: "robot", accidents: -1 },
      "Bob",
    ]);
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual([
      { path: "data.drivers[0].birth_date", message: "is not a real date" },
      { path: "data.drivers[1].first_name", message: "is required" },
      { path: "data.drivers[1].gender", message: "must be one of: male, female, other" },
      { path: "data.drivers[1].accidents", message: "must be at least 0" },
      { path: "data.drivers[2]", message: "must be an object of the item's fields" },
    ]);
    expect((await lead([])).body.errors).toEqual([{ path: "data.drivers", message: "is required" }]);
    expect((await lead(twoDrivers().concat(twoDrivers(), twoDrivers()))).body.errors).toEqual([{ path: "data.drivers", message: "must have at most 4 items" }]);
    expect((await lead({ first_name: "Ana" })).body.errors).toEqual([{ path: "data.drivers", message: "must be a list of objects" }]);
    expect(b.pings).toHaveLength(0);
  });

  it("refuses at save time an unknown item field, a driver's pii in a ping, and filters or dedup on a list", async () => {
    await g.setup({ campaign: { id: "rg-save", fields }, channels: [] });
    await g.admin("POST", "/v1/buyers", { id: "acme", name: "Buyer" });
    const channel = (id: string, extra: Record<string, unknown>) =>
      g.admin("POST", "/v1/channels", { id, buyer_id: "acme", campaign_id: "rg-save", type: "ping_post", ping: { url: "http://127.0.0.1:9/p" }, post: { url: "http://127.0.0.1:9/q" }, ...extra });
    const each = (item: unknown) => ({ drivers: { "{{#each data.drivers}}": item } });
    const errors = async (id: string, extra: Record<string, unknown>) => {
      const res = await channel(id, extra);
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      return res.body.errors;
    };
    expect(await errors("rg-s1", { post: { url: "http://127.0.0.1:9/q", body: each({ n: "{{item.nickname}}" }) } })).toEqual([
      { path: "post.body.drivers.{{#each data.drivers}}.n", message: "unknown field 'nickname' of the drivers items (their fields: first_name, last_name, birth_date, gender, accidents)" },
    ]);
    expect(await errors("rg-s2", { ping: { url: "http://127.0.0.1:9/p", body: each({ n: "{{item.first_name}}" }) } })).toEqual([
      { path: "ping.body.drivers.{{#each data.drivers}}.n", message: "'drivers[].first_name' is pii: a ping never carries it (use it in the post)" },
    ]);
    expect(await errors("rg-s3", { post: { url: "http://127.0.0.1:9/q", body: { d: { "{{#each data.zip}}": { z: "{{item.zip}}" } } } } })).toEqual(
      expect.arrayContaining([{ path: "post.body.d.{{#each data.zip}}", message: "'{{#each data.zip}}' needs a list field: 'zip' is zip" }]),
    );
    expect((await errors("rg-s4", { post: { url: "http://127.0.0.1:9/q", body: { n: "{{item.first_name}}" } } }))[0].message).toBe(
      "'{{item.first_name}}' is only known inside '{{#each data.<list>}}'",
    );
    expect((await errors("rg-s5", { post: { url: "http://127.0.0.1:9/q", body: { lead: "<L>{{#each data.drivers}}<N>{{item.first_name}}</N>{{/each}}</L>" } } }))[0].message).toBe(
      "'{{item.first_name}}' sits inside XML text: end it with '| xml' so that '&' and '<' reach the buyer's parser intact",
    );
    expect(await errors("rg-s6", { filters: [{ field: "drivers", op: "eq", value: "x" }] })).toEqual([
      { path: "filters[0].field", message: "'drivers' is a list field: filters on a list or its items are not supported" },
    ]);
    const dedup = await g.admin("PUT", "/v1/campaigns/rg-save", { name: "Save", fields, dedup: { fields: ["drivers"] } });
    expect(dedup.status).toBe(422);
    expect(dedup.body.errors).toEqual([{ path: "dedup.fields[0]", message: "'drivers' is a list field: dedup keys are single values (a list's items are not dedup keys)" }]);
    const list = await g.admin("PUT", "/v1/campaigns/rg-save", { name: "Save", fields: [...standardFields, { name: "drivers", type: "list", ping_hash: true }] });
    expect(list.status).toBe(422);
    expect(list.body.errors).toEqual(
      expect.arrayContaining([
        { path: "fields[6].fields", message: "a list field needs fields: what each item holds" },
        { path: "fields[6].ping_hash", message: "ping_hash does not apply to a list field (set it on an item field)" },
      ]),
    );
    // A form field repeated per item, and a form's object per item refused: a form is flat.
    const repeated = await channel("rg-s8", { post: { url: "http://127.0.0.1:9/q", format: "form", body: { driver_dob: { "{{#each data.drivers}}": "{{item.birth_date}}" } } } });
    expect(repeated.status, JSON.stringify(repeated.body)).toBe(201);
    expect(await errors("rg-s9", { post: { url: "http://127.0.0.1:9/q", format: "form", body: { d: { "{{#each data.drivers}}": { dob: "{{item.birth_date}}" } } } } })).toEqual([
      { path: "post.body.d", message: "a form body is flat: a value is text, a number, a boolean or a list of them" },
    ]);
    // A text block per item in an XML document sent as a form field, escaped, is taken.
    const ok = await channel("rg-s7", { post: { url: "http://127.0.0.1:9/q", format: "form", body: { lead: "<L>{{#each data.drivers}}<N i=\"{{@index}}\">{{item.first_name | xml}}</N>{{/each}}</L>" } } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });
});

describe("each in a template", () => {
  const vars = (drivers: unknown) => ({ lead_id: "L1", ping_id: null, campaign: "c", test: false, data: { drivers } });
  const render = (template: unknown, drivers: unknown) => {
    const { template: t, problems } = compileTemplate(template, "post");
    expect(problems).toEqual([]);
    return t.render(vars(drivers));
  };
  const problems = (template: unknown) => compileTemplate(template, "post").problems.map((p) => p.message);

  it("writes nothing for no items, a missing list or a value that is no list; an item that is no object has no fields", () => {
    const list = { "{{#each data.drivers}}": { n: "{{item.first_name}}", i: "{{@index}}" } };
    expect(render({ d: list }, [])).toEqual({ d: [] });
    expect(render({ d: list }, undefined)).toEqual({ d: [] });
    expect(render({ d: list }, "Ana")).toEqual({ d: [] });
    expect(render({ d: list }, ["Ana", { first_name: "Bo" }])).toEqual({ d: [{ n: null, i: 0 }, { n: "Bo", i: 1 }] });
    expect(render("{{#each data.drivers}}[{{@number}} {{item.first_name | default:?}}]{{/each}}", [{}, { first_name: "Bo" }])).toBe("[1 ?][2 Bo]");
    // A form repeats its key per item.
    expect(serialize("form", render({ dob: { "{{#each data.drivers}}": "{{item.birth_date}}" } }, [{ birth_date: "1984-03-09" }, { birth_date: "1990-11-30" }]) as Record<string, unknown>)).toBe(
      "dob=1984-03-09&dob=1990-11-30",
    );
    // XML: an empty list writes no element, one item one element.
    const doc = { Drivers: { Driver: list } };
    expect(serialize("xml", render(doc, []))).toBe('<?xml version="1.0" encoding="UTF-8"?><Drivers></Drivers>');
    expect(serialize("xml", render(doc, [{ first_name: "A&B" }]))).toBe('<?xml version="1.0" encoding="UTF-8"?><Drivers><Driver><n>A&amp;B</n><i>0</i></Driver></Drivers>');
  });

  it("refuses an each that is not the only key, nested, unclosed or over something other than data.<field>", () => {
    expect(problems({ d: { "{{#each data.drivers}}": {}, x: 1 } })).toEqual(["an '{{#each …}}' key must be the only key of its object: the object stands for the list it writes"]);
    expect(problems({ d: { "{{#each data.drivers}}": { v: { "{{#each data.vehicles}}": {} } } } })).toEqual([
      "'{{#each data.vehicles}}' inside '{{#each data.drivers}}': an item's fields are not lists",
    ]);
    expect(problems("{{#each data.drivers}}{{item.x}}")[0]).toBe("'{{#each data.drivers}}' has no '{{/each}}' after it in the same text");
    expect(problems("{{item.x}}{{/each}}")[1]).toBe("'{{/each}}' closes no '{{#each data.<list>}}' in the same text");
    expect(problems({ d: { "{{#each lead_id}}": {} } })).toEqual(["'{{#each lead_id}}' walks a list field: write '{{#each data.<field>}}'"]);
  });
});
