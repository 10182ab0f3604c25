// Hostile requests, generated: at least 10,000 per run (FUZZ_RUNS) against every route that takes
// a body, sent to a real Gavel over its real handlers — mostly in-process through app.request(),
// one in eight over loopback HTTP through the Node server (whose lead route reads the socket
// itself). The generated input: NUL and unpaired surrogates, bytes that are not UTF-8, deep nesting
// and huge arrays, huge, non-finite and negative-zero numbers written as JSON text, `__proto__` and
// `constructor` keys, duplicated keys, very long strings and keys, wrong types, odd or missing
// content types, times at the edges of what JavaScript and PostgreSQL hold, and hostile path
// segments, query strings and headers. Most bodies are valid-shaped, so a good share reaches the
// database and the auction with hostile but storable values. A few requests go to the other routes
// that take input: listings with hostile queries, new supplier keys and operator tokens.
//
// What must hold: no 5xx; every 4xx is problem+json; a body that cannot be parsed or stored is
// refused and records nothing (every lead, resource and suppression Gavel holds afterwards was
// answered to some request); Gavel is healthy afterwards, Object.prototype untouched.
//
// The seed is fixed (FUZZ_SEED overrides it); a failure prints the seed and the shrunk request.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { ADMIN, consumer, pingPost, standardFields, startTestGavel, type TestGavel } from "./helpers/gavel";
import { MAX_JSON_DEPTH as MAX_DEPTH } from "../src/storable";

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

// ---------------------------------------------------------------------------------------------
// A JSON model that can say what JSON.stringify cannot: raw number text (1e999, -0), duplicated
// keys, and nesting deeper than any recursive serialiser goes.

/** A JSON fragment written as is. */
class Raw {
  constructor(readonly text: string) {}
}
/** An object as its members in order; a key may repeat. */
class Obj {
  constructor(readonly entries: [string, J][]) {}
}
type J = null | boolean | number | string | Raw | Obj | J[];

function jsonText(value: J): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Obj) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(",")}}`;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
  return JSON.stringify(value) ?? "null";
}

function model(value: unknown): J {
  if (Array.isArray(value)) return value.map(model);
  if (value && typeof value === "object") return new Obj(Object.entries(value).map(([k, v]) => [k, model(v)]));
  return value as J;
}

// ---------------------------------------------------------------------------------------------
// The oracle: what SPEC and issue 11 say a body must be to be stored, written independently of
// Gavel's own check.

type Verdict = "unparseable" | "unstorable" | "clean";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// A NUL or a surrogate is rare: only then is the string's round trip through UTF-8 compared.
const wellFormed = (s: string) => !/[\u0000\ud800-\udfff]/.test(s) || (!s.includes("\u0000") && Buffer.from(s, "utf8").toString("utf8") === s);

function verdictOf(body: Uint8Array | undefined): Verdict {
  if (!body) return "unparseable";
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return "unparseable";
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "unparseable";
  }
  // Iterative: the oracle must survive the nesting it judges.
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node === "string" && !wellFormed(node)) return "unstorable";
    if (typeof node === "number" && !Number.isFinite(node)) return "unstorable";
    if (node === null || typeof node !== "object") continue;
    if (depth >= MAX_DEPTH) return "unstorable";
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && (typeof item === "object" || typeof item === "string" || typeof item === "number")) stack.push([item, depth + 1]);
      continue;
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === "__proto__" || !wellFormed(k)) return "unstorable";
      stack.push([v, depth + 1]);
    }
  }
  return "clean";
}

// ---------------------------------------------------------------------------------------------
// Generators.

/** Characters awkward somewhere (JSON, SQL, templates, XML, JSONPath, logs, terminals), all storable. */
const SPECIALS = [
  "\ud83d\ude00", "😀", "\u2028", "\u2029", "\ufeff", "\u202e", "\u200b", "\uffff", "\ufffd",
  "é", "e\u0301", "\\", '"', "'", "\n", "\r", "\t", "\u0001", "\u001f", "\u007f", "%00", "${HOME}", "$$", "{{data.email}}", "{{", "}}",
  "<x/>", "]]>", "&amp;", "'; drop table leads; --", "$.x", "*", "__proto__", "constructor", "-", "0x1F", "1e999", "NaN", " ",
];
/** What PostgreSQL refuses to store: the NUL, and unpaired surrogates. */
const POISON = ["\u0000", "\ud800", "\udbff", "\udc00", "\udfff"];
/** Any code point, awkward ones often, poison now and then. */
const char = fc.oneof(
  { weight: 10, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "\u0000") },
  { weight: 6, arbitrary: fc.constantFrom(...SPECIALS) },
  { weight: 1, arbitrary: fc.constantFrom(...POISON) },
);
const shortText = fc.string({ unit: char, maxLength: 10 });
const longText = fc
  .tuple(fc.constantFrom("x", "é", "😀", "\u0000", "a\ud800", "ab"), fc.integer({ min: 300, max: 6_000 }))
  .map(([s, n]) => s.repeat(n));
const text = fc.oneof({ weight: 20, arbitrary: shortText }, { weight: 1, arbitrary: longText });
const key = fc.oneof(
  { weight: 6, arbitrary: shortText },
  { weight: 2, arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", "") },
  { weight: 1, arbitrary: longText },
);
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, -0, 5e-324, 1e21, 2 ** 31, 2 ** 63, 0.1 + 0.2, 12.345),
);
/** Numbers as JSON text: past Infinity, negative zero, more digits than a double holds. */
const rawNumber = fc
  .constantFrom("1e999", "-1e999", "-0", "-0.0", "1E400", "123456789012345678901234567890", "1e-999", "0.1e-400", "-0e0", "12.50", "1.000000000000000000001")
  .map((t) => new Raw(t));
const deep = fc
  .tuple(fc.oneof(fc.integer({ min: MAX_DEPTH - 4, max: MAX_DEPTH + 4 }), fc.integer({ min: 1000, max: 10_000 })), fc.boolean())
  .map(([n, arrays]) => new Raw(arrays ? "[".repeat(n) + "]".repeat(n) : '{"a":'.repeat(n) + "1" + "}".repeat(n)));
const hugeArray = fc.integer({ min: 1000, max: 12_000 }).map((n) => new Raw(`[${"0,".repeat(n - 1)}0]`));
const leaf: fc.Arbitrary<J> = fc.oneof(
  { weight: 8, arbitrary: text },
  { weight: 3, arbitrary: number },
  { weight: 2, arbitrary: rawNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);
const { value: anyValue } = fc.letrec<{ value: J; list: J[]; obj: Obj }>((tie) => ({
  value: fc.oneof({ depthSize: "small" }, { weight: 6, arbitrary: leaf }, { weight: 1, arbitrary: tie("list") }, { weight: 1, arbitrary: tie("obj") }),
  list: fc.array(tie("value"), { maxLength: 4 }),
  obj: fc.array(fc.tuple(key, tie("value")), { maxLength: 4 }).map((entries) => new Obj(entries)),
}));
const hostile: fc.Arbitrary<J> = fc.oneof({ weight: 14, arbitrary: anyValue }, { weight: 1, arbitrary: deep }, { weight: 1, arbitrary: hugeArray });

/** A valid-shaped document, some of its members replaced, added, repeated or dropped. */
interface Mutation {
  at: number;
  how: "replace" | "add" | "repeat" | "drop";
  key: string;
  value: J;
}
const mutation: fc.Arbitrary<Mutation> = fc.record({ at: fc.nat(), how: fc.constantFrom("replace", "add", "repeat", "drop"), key, value: hostile });

function mutate(doc: J, mutations: Mutation[]): J {
  for (const m of mutations) {
    const containers: (Obj | J[])[] = [];
    const collect = (node: J) => {
      if (node instanceof Obj) {
        containers.push(node);
        node.entries.forEach(([, v]) => collect(v));
      } else if (Array.isArray(node)) {
        containers.push(node);
        node.forEach(collect);
      }
    };
    collect(doc);
    if (containers.length === 0) return m.value;
    const target = containers[m.at % containers.length];
    const members = target instanceof Obj ? target.entries : target;
    const i = members.length ? m.at % members.length : 0;
    if (m.how === "add" || members.length === 0) {
      if (target instanceof Obj) target.entries.push([m.key, m.value]);
      else target.push(m.value);
    } else if (m.how === "replace") {
      if (target instanceof Obj) target.entries[i] = [target.entries[i][0], m.value];
      else target[i] = m.value;
    } else if (m.how === "repeat") {
      if (target instanceof Obj) target.entries.push([target.entries[i][0], m.value]);
      else target.push(m.value);
    } else members.splice(i, 1);
  }
  return doc;
}

/** A document of `base`, most often with hostile changes. */
const shaped = (base: fc.Arbitrary<unknown>): fc.Arbitrary<J> =>
  fc
    .tuple(base, fc.oneof({ weight: 2, arbitrary: fc.constant([] as Mutation[]) }, { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }))
    .map(([doc, ms]) => mutate(model(doc), ms));

const INVALID_UTF8 = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]];
const GARBAGE = ["{", "[", '{"a":', "nul", "\ufeff{}", "{}x", "1 2", "NaN", "Infinity", "undefined", "{'a':1}", '{"a":1,}', "[1,,2]", '"\\u12"', '"\\x00"', "\u0000"];

/** A request body: mostly the model's JSON text, sometimes broken bytes, garbage or nothing. */
function bodyOf(doc: fc.Arbitrary<J>): fc.Arbitrary<Uint8Array | undefined> {
  return fc.oneof(
    { weight: 16, arbitrary: doc.map((d) => Buffer.from(jsonText(d))) },
    {
      weight: 2,
      arbitrary: fc.tuple(doc, fc.nat(), fc.constantFrom(...INVALID_UTF8)).map(([d, at, seq]) => {
        const bytes = Buffer.from(jsonText(d));
        const i = at % (bytes.length + 1);
        return Buffer.concat([bytes.subarray(0, i), Buffer.from(seq), bytes.subarray(i)]);
      }),
    },
    { weight: 1, arbitrary: fc.tuple(doc, fc.nat()).map(([d, n]) => Buffer.from(jsonText(d)).subarray(0, n % (jsonText(d).length + 1))) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...GARBAGE).map((g) => Buffer.from(g)), fc.uint8Array({ maxLength: 48 }), fc.constant(undefined)) },
  );
}

const headerText = fc.string({ unit: fc.constantFrom(..."abcxyz019 ;=,/*+-_.:\"'()[]{}<>?@\\^`|~%$#!&".split("")), maxLength: 40 });
const contentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant("application/json") },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "text/plain",
      "application/merge-patch+json",
      "application/json; charset=iso-8859-1",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/yaml",
      "text/csv",
      "*/*",
      "application/json;;;",
      "",
    ),
  },
  { weight: 1, arbitrary: headerText },
);

const escapeBytes = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");

/** A path segment as sent: mostly a known or unknown id, sometimes percent-encoded hostile bytes. */
const segment = (known: string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...known, "nope") },
    {
      weight: 2,
      arbitrary: fc.constantFrom("%00", "a%00b", "%ED%A0%80", "%C3%28", "%FF", "..", "%2F", "%", "%zz", "__proto__", "constructor", "%E2%80%AE", "x".repeat(5000)),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => escapeBytes(b)) },
  );

type Target = "lead" | "lead-no-key" | "resource" | "explain" | "suppressions" | "apply" | "other";

interface FuzzRequest {
  target: Target;
  via: "app" | "http";
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** The resource kind a resource request writes. */
  kind?: Kind;
  /** A CSV suppression upload (not JSON). */
  csv?: boolean;
  /** A configuration apply that is not a dry run. */
  applies?: boolean;
}

type Kind = "campaigns" | "buyers" | "channels" | "suppliers";
const KINDS: Kind[] = ["campaigns", "buyers", "channels", "suppliers"];
/** Resources the fuzzer may replace and patch; the ones the health check uses are not among them. */
const TARGETS: Record<Kind, string[]> = { campaigns: ["fz-target"], buyers: ["fzb"], channels: ["fzc"], suppliers: ["fzs"] };

const via = fc.oneof({ weight: 7, arbitrary: fc.constant("app" as const) }, { weight: 1, arbitrary: fc.constant("http" as const) });
const withType = (headers: Record<string, string>, type: string | undefined) => (type === undefined ? headers : { ...headers, "content-type": type });

const email = fc.nat({ max: 50_000 }).map((n) => `p${n}@example.com`);
const phone = fc.nat({ max: 9999 }).map((n) => `+1512555${String(n).padStart(4, "0")}`);
const leadData = fc.record({ zip: fc.constantFrom("75001", "10001", "75001-1234"), state: fc.constantFrom("TX", "texas", "NY"), age: fc.integer({ min: 18, max: 99 }), coverage: fc.constantFrom("auto", "home"), email, phone, first_name: fc.constantFrom("Ann", "Zoë 😀", "O'Brien") });
const leadDoc = fc.record(
  { campaign: fc.oneof({ weight: 6, arbitrary: fc.constant("fz") }, { weight: 1, arbitrary: fc.constantFrom("fz-auction", "nope") }), data: leadData, test: fc.boolean() },
  { requiredKeys: ["campaign", "data"] },
);

function leadRequests(apiKey: string): fc.Arbitrary<FuzzRequest> {
  const idempotency = fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.nat({ max: 200 }).map((n) => `k-${n}`) },
    { weight: 1, arbitrary: headerText },
  );
  const withKey = fc.record({ via, type: contentType, body: bodyOf(shaped(leadDoc)), idem: idempotency }).map(
    ({ via, type, body, idem }): FuzzRequest => ({
      target: "lead",
      via,
      method: "POST",
      path: "/v1/leads",
      headers: withType({ authorization: `Bearer ${apiKey}`, ...(idem !== undefined && { "idempotency-key": idem }) }, type),
      body,
    }),
  );
  const auth = fc.constantFrom(undefined, "Bearer nope", "Basic eDp5", "Bearer", `Bearer ${apiKey}x`, `bearer  ${"k".repeat(3000)}`);
  const withoutKey = fc.record({ via, type: contentType, body: bodyOf(shaped(leadDoc)), auth }).map(
    ({ via, type, body, auth }): FuzzRequest => ({
      target: "lead-no-key",
      via,
      method: "POST",
      path: "/v1/leads",
      headers: withType(auth === undefined ? {} : { authorization: auth }, type),
      body,
    }),
  );
  return fc.oneof({ weight: 8, arbitrary: withKey }, { weight: 1, arbitrary: withoutKey });
}

const slug = fc.stringMatching(/^fz-[a-z0-9]{1,8}$/);
const newId = fc.oneof({ weight: 6, arbitrary: slug }, { weight: 1, arbitrary: text });
const fields = [...standardFields, { name: "first_name", type: "string", max: 40 }];
const docs: Record<Kind, fc.Arbitrary<unknown>> = {
  campaigns: newId.map((id) => ({ id, name: "Fuzz", fields, auction: { timeout_ms: 2000, floor: 1.5 }, payout: { type: "revshare", percent: 70 }, dedup: { fields: ["email"] } })),
  buyers: newId.map((id) => ({ id, name: "Buyer", timezone: "UTC", caps: [{ period: "day", leads: 10, spend: 100 }] })),
  channels: newId.map((id) => ({
    id,
    type: "ping_post",
    campaign_id: "fz-target",
    buyer_id: "fzb",
    ping: { url: "http://127.0.0.1:9/ping", headers: { "X-Key": "v" } },
    post: { url: "http://127.0.0.1:9/post" },
    filters: [{ field: "state", op: "in", value: ["TX"] }],
    min_bid: 2,
  })),
  suppliers: newId.map((id) => ({ id, name: "Supplier", campaigns: ["fz-target"], payout: { type: "fixed", amount: 3 } })),
};

/** A replacement or a patch names its resource in the path; its body most often leaves the id out. */
const withoutId = (doc: fc.Arbitrary<unknown>) => doc.map((d) => {
  const { id: _id, ...rest } = d as Record<string, unknown>;
  return rest;
});

const resourceRequests: fc.Arbitrary<FuzzRequest> = fc.constantFrom(...KINDS).chain((kind) =>
  fc
    .record({
      via,
      type: contentType,
      method: fc.constantFrom("POST", "PUT", "PATCH"),
      id: segment(TARGETS[kind]),
      created: bodyOf(shaped(docs[kind])),
      changed: bodyOf(shaped(fc.oneof({ weight: 4, arbitrary: withoutId(docs[kind]) }, { weight: 1, arbitrary: docs[kind] }))),
      token: fc.oneof({ weight: 12, arbitrary: fc.constant(ADMIN) }, { weight: 1, arbitrary: fc.constantFrom("", "nope") }),
    })
    .map(
      ({ via, type, method, id, created, changed, token }): FuzzRequest => ({
        target: "resource",
        via,
        method,
        path: method === "POST" ? `/v1/${kind}` : `/v1/${kind}/${id}`,
        headers: withType(token ? { authorization: `Bearer ${token}` } : {}, type),
        body: method === "POST" ? created : changed,
        kind,
      }),
    ),
);

/** Times, mostly ISO 8601 at the edges of what JavaScript and PostgreSQL can hold. */
const time = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "2026-01-01T00:00:00Z",
      "0000-01-01T00:00:00Z",
      "0001-01-01T00:00:00Z",
      "1899-12-31T23:59:59Z",
      "1900-01-01T00:00:00Z",
      "1970-01-01T00:00:00+23:59",
      "8999-12-31T23:59:59-23:59",
      "9999-12-31T23:59:59Z",
      "+275760-09-13T00:00:00Z",
      "-271821-04-20T00:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-01-01T00:00:00.123456789Z",
      "2026-01-01",
      "now",
    ),
  },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 9999 }).map((y) => `${String(y).padStart(4, "0")}-01-01T00:00:00Z`) },
  { weight: 1, arbitrary: text },
);

const explainDoc = fc.record(
  { data: leadData, supplier: fc.oneof(fc.constantFrom("fz-lead-sup", "nope"), text), at: time, test: fc.boolean() },
  { requiredKeys: ["data"] },
);
const explainRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({ via, type: contentType, id: segment(["fz", "fz-target"]), body: bodyOf(shaped(explainDoc)) })
  .map(({ via, type, id, body }): FuzzRequest => ({
    target: "explain",
    via,
    method: "POST",
    path: `/v1/campaigns/${id}/explain`,
    headers: withType({ authorization: `Bearer ${ADMIN}` }, type),
    body,
  }));

const suppressionDoc = fc.record({ emails: fc.array(email, { maxLength: 4 }), phones: fc.array(phone, { maxLength: 4 }) });
const csvLines = fc.array(fc.oneof(email, phone, text), { minLength: 0, maxLength: 6 }).map((lines) => ["email,phone", ...lines].join("\n"));
const suppressionRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    via,
    method: fc.constantFrom("POST", "DELETE"),
    csv: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    json: bodyOf(shaped(suppressionDoc)),
    text: fc.oneof(csvLines.map((t) => Buffer.from(t)), bodyOf(fc.constant(null)).map((b) => b ?? Buffer.alloc(0))),
    csvType: fc.constantFrom("text/csv", "text/plain", "text/csv; charset=utf-8"),
    type: contentType,
  })
  .map(({ via, method, csv, json, text, csvType, type }): FuzzRequest => ({
    target: "suppressions",
    via,
    method,
    path: "/v1/suppressions",
    headers: withType({ authorization: `Bearer ${ADMIN}` }, csv ? csvType : type === "text/csv" || type === "text/plain" ? "application/json" : type),
    body: csv ? text : json,
    csv,
  }));

/** A whole configuration file that holds together (its channel refers to its own campaign and buyer). */
const fileDoc = fc
  .record({ campaign: docs.campaigns, buyer: docs.buyers, supplier: docs.suppliers, channel: docs.channels })
  .map(({ campaign, buyer, supplier, channel }) => {
    const [c, b] = [campaign, buyer] as { id: string }[];
    return {
      version: 1,
      campaigns: [c],
      buyers: [b],
      suppliers: [{ ...(supplier as object), campaigns: [c.id] }],
      channels: [{ ...(channel as object), campaign_id: c.id, buyer_id: b.id }],
    };
  });
/** YAML that only YAML can say: aliases, tags, merge keys, escapes, deep flow and block nesting. */
const yamlOnly = fc.oneof(
  fc.constantFrom(
    'version: 1\nbuyers:\n  - id: fz-y\n    name: "a\\0b"\n',
    'version: 1\nbuyers:\n  - id: fz-y\n    name: "a\\ud800"\n',
    "version: 1\nx: &a [1, 2]\ny: &b [*a, *a, *a]\nz: [*b, *b, *b]\n",
    "version: 1\na: &a\n  b: *a\n",
    "version: 1\n<<: {campaigns: []}\n",
    "version: 1\nbuyers: !!js/function 'function(){}'\n",
    "version: 1\n__proto__: {polluted: true}\n",
    "version: 1\nbuyers:\n  - {id: fz-y, name: x, __proto__: {polluted: true}}\n",
    "%YAML 1.1\n---\nversion: 1\n",
    "version: 1\n---\nversion: 2\n",
    "\ufeffversion: 1\n",
    "version: 1\nname: \t\ttabs\n",
  ),
  fc.integer({ min: 20, max: 20_000 }).map((n) => `version: 1\nbuyers: [${"[".repeat(n)}${"]".repeat(n)}]\n`),
  fc.integer({ min: 20, max: 3_000 }).map((n) => `version: 1\nbuyers:\n  - id: fz-y\n    o:\n      ${"- ".repeat(n)}x\n`),
  fc.integer({ min: 20, max: 400 }).map((n) => `version: 1\n${Array.from({ length: n }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n")} x\n`),
);
const applyRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    via,
    type: fc.oneof(contentType, fc.constant("application/yaml")),
    form: fc.constantFrom("json", "yaml", "yaml-only"),
    file: shaped(fileDoc),
    raw: yamlOnly,
    bytes: bodyOf(shaped(fileDoc)),
    query: fc.oneof({ weight: 8, arbitrary: fc.constant("?dry_run=true") }, { weight: 1, arbitrary: fc.constantFrom("?dry_run=maybe", "?dry_run=%00", "?x=1") }),
  })
  .map(({ via, type, form, file, raw, bytes, query }): FuzzRequest => {
    let body: Uint8Array | undefined = bytes;
    if (form === "yaml-only") body = Buffer.from(raw);
    else if (form === "yaml") {
      // The same document as YAML when JSON can carry it (no raw numbers, repeats or deep nesting).
      const json = jsonText(file);
      try {
        if (json.length < 20_000) body = Buffer.from(toYaml(JSON.parse(json)));
      } catch {}
    }
    return { target: "apply", via, method: "POST", path: `/v1/config/apply${query}`, headers: withType({ authorization: `Bearer ${ADMIN}` }, type), body };
  });

/** A query value percent-encoded byte by byte, or hostile percent-escapes as they are. */
const queryValue = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(time, text, fc.constantFrom("1", "0", "-1", "500", "501", "1e3", "true", "sold", "fz", "fz-target")).map((v) => escapeBytes(Buffer.from(v))) },
  { weight: 1, arbitrary: fc.constantFrom("%00", "%FF", "%ED%A0%80", "%", "%zz", "a&b", "x".repeat(3000)) },
);
const listQuery = fc
  .tuple(
    fc.constantFrom("/v1/leads", "/v1/audit", "/v1/campaigns", "/v1/buyers", "/v1/channels", "/v1/suppliers", "/v1/suppressions", "/v1/tokens", "/v1/suppliers/fzs/keys"),
    fc.array(fc.tuple(fc.constantFrom("from", "to", "cursor", "limit", "status", "campaign", "supplier", "test", "campaign_id", "buyer_id", "resource", "actor", "x", "%00"), queryValue), { maxLength: 4 }),
  )
  .map(([path, params]) => `${path}${params.length ? "?" : ""}${params.map(([k, v]) => `${k}=${v}`).join("&")}`)
  // Past Node's 16 KiB of request head, its HTTP parser answers 431 itself, before Gavel sees the request.
  .map((url) => (url.length > 8000 ? url.slice(0, 8000).replace(/%[0-9a-f]?$/, "") : url));
const newKeyDoc = fc.record({ expires_at: time, previous_keys_expire_at: time }, { requiredKeys: [] });
const tokenDoc = fc.record({ name: text, role: fc.constantFrom("admin", "analyst", "owner") });
/** Reads with hostile queries; new supplier keys and operator tokens with hostile bodies. */
const otherRequests: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.tuple(via, listQuery).map(([via, path]): FuzzRequest => ({ target: "other", via, method: "GET", path, headers: { authorization: `Bearer ${ADMIN}` }, body: undefined })),
  fc
    .tuple(via, contentType, fc.oneof(fc.constant("/v1/suppliers/fzs/keys"), segment(["fzs"]).map((id) => `/v1/suppliers/${id}/keys`)), bodyOf(shaped(newKeyDoc)))
    .map(([via, type, path, body]): FuzzRequest => ({ target: "other", via, method: "POST", path, headers: withType({ authorization: `Bearer ${ADMIN}` }, type), body })),
  fc
    .tuple(via, contentType, bodyOf(shaped(tokenDoc)))
    .map(([via, type, body]): FuzzRequest => ({ target: "other", via, method: "POST", path: "/v1/tokens", headers: withType({ authorization: `Bearer ${ADMIN}` }, type), body })),
);

/** Applies for real: only files that can never be whole (no channels section), so nothing is archived. */
const realApplies: fc.Arbitrary<FuzzRequest> = fc.tuple(via, yamlOnly, bodyOf(hostile)).map(([via, raw, bytes]) => ({
  target: "apply",
  via,
  method: "POST",
  path: "/v1/config/apply",
  headers: { authorization: `Bearer ${ADMIN}` },
  body: Buffer.concat([Buffer.from(raw.replace(/^version: 1\n/, "version: 1\ncampaigns: []\nbuyers: []\nsuppliers: []\nbogus: ")), bytes ?? Buffer.alloc(0)]),
  applies: true,
}));

// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  type: string;
  text: string;
  json: any;
}

async function send(g: TestGavel, req: FuzzRequest): Promise<Answer> {
  const init: RequestInit = { method: req.method, headers: req.headers, body: req.body };
  const res = req.via === "app" ? await g.gavel.app.request(req.path, init) : await fetch(g.url + req.path, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, type: res.headers.get("content-type") ?? "", text, json };
}

/**
 * How a failing request is printed: its body as text (as latin1 bytes when it is not UTF-8), cut
 * short; the seed and path replay it whole.
 */
function described(req: FuzzRequest): FuzzRequest {
  const bytes = req.body && Buffer.from(req.body);
  const body = bytes && (isUtf8(bytes) ? bytes.toString("utf8") : `(not UTF-8, as latin1) ${bytes.toString("latin1")}`);
  const shown = body === undefined ? "(none)" : JSON.stringify(body.length > 2000 ? `${body.slice(0, 2000)}… (${body.length} characters)` : body);
  const path = req.path.length > 300 ? `${req.path.slice(0, 300)}… (${req.path.length} characters)` : req.path;
  return Object.assign(req, { [fc.toStringMethod]: () => `${req.via} ${req.method} ${path} ${JSON.stringify(req.headers)} body=${shown}` });
}

function show(req: FuzzRequest, answer: Answer): string {
  const body = req.body ? Buffer.from(req.body).toString("utf8") : "(none)";
  return `${req.via} ${req.method} ${req.path.slice(0, 200)} ${JSON.stringify(req.headers).slice(0, 300)}\nbody: ${body.slice(0, 400)}\n→ ${answer.status} ${answer.type} ${answer.text.slice(0, 400)}`;
}

describe("fuzzing the API with hostile requests", () => {
  let g: TestGavel;
  let buyer: TestBuyer;
  let leadKey: string;
  let sellKey: string;

  beforeAll(async () => {
    g = await startTestGavel();
    buyer = await startBuyer({ ping: () => ({ json: { bid: 7, ping_ref: "r" } }) });
    leadKey = await g.setup({ campaign: { id: "fz", fields }, channels: [], supplier: { id: "fz-lead-sup" } });
    await g.setup({ campaign: { id: "fz-auction", fields }, channels: [pingPost("fz-auction-ch", buyer)], supplier: { id: "fz-lead-sup-2" } });
    sellKey = await g.setup({ campaign: { id: "fz-sell", fields }, channels: [pingPost("fz-sell-ch", buyer)], supplier: { id: "fz-sell-sup" } });
    // What the fuzzer may replace and patch.
    await g.setup({ campaign: { id: "fz-target", fields }, channels: [] });
    for (const [path, body] of [
      ["/v1/buyers", { id: "fzb", name: "Fuzz buyer" }],
      ["/v1/channels", { id: "fzc", type: "ping_post", campaign_id: "fz-target", buyer_id: "fzb", ping: { url: "http://127.0.0.1:9/p" }, post: { url: "http://127.0.0.1:9/q" } }],
      ["/v1/suppliers", { id: "fzs", name: "Fuzz target supplier" }],
    ] as const) {
      const res = await g.admin("POST", path, body);
      if (res.status !== 201) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
  afterAll(async () => {
    await buyer?.close();
    await g?.close();
  });

  async function leadIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    let cursor: string | null = null;
    do {
      const page = await g.admin("GET", `/v1/leads?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.status).toBe(200);
      for (const lead of page.body.items) ids.add(lead.id);
      cursor = page.body.next_cursor;
    } while (cursor);
    return ids;
  }

  async function resourceIds(kind: Kind): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const status of ["active", "paused", "archived"]) {
      let cursor: string | null = null;
      do {
        const page = await g.admin("GET", `/v1/${kind}?limit=500&status=${status}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        expect(page.status, JSON.stringify(page.body)).toBe(200);
        for (const item of page.body.items) ids.add(item.id);
        cursor = page.body.next_cursor;
      } while (cursor);
    }
    return ids;
  }

  const suppressed = async () => (await g.admin("GET", "/v1/suppressions")).body.total as number;

  it(`answers ${RUNS} hostile requests without a 5xx, refuses what it cannot parse or store, and stays healthy (seed ${SEED})`, { timeout: 600_000 }, async () => {
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const leadsBefore = await leadIds();
    const resourcesBefore = Object.fromEntries(await Promise.all(KINDS.map(async (k) => [k, await resourceIds(k)] as const))) as Record<Kind, Set<string>>;
    const suppressedBefore = await suppressed();

    const answeredLeads = new Set<string>();
    const created: Record<Kind, Set<string>> = { campaigns: new Set(), buyers: new Set(), channels: new Set(), suppliers: new Set() };
    let added = 0;
    let removed = 0;
    const tally = new Map<string, number>();

    const requests = fc.oneof(
      { weight: 34, arbitrary: leadRequests(leadKey) },
      { weight: 28, arbitrary: resourceRequests },
      { weight: 10, arbitrary: explainRequests },
      { weight: 10, arbitrary: suppressionRequests },
      { weight: 4, arbitrary: applyRequests },
      { weight: 1, arbitrary: realApplies },
      { weight: 8, arbitrary: otherRequests },
    ).map(described);

    await fc.assert(
      fc.asyncProperty(requests, async (req) => {
        const answer = await send(g, req);
        const where = () => show(req, answer);
        const tallyKey = `${req.target} ${answer.status}`;
        tally.set(tallyKey, (tally.get(tallyKey) ?? 0) + 1);

        // Never a 5xx; every error is problem+json with type, title, status and detail.
        expect(answer.status, where()).toBeLessThan(500);
        if (answer.status >= 400) {
          expect(answer.type, where()).toContain("application/problem+json");
          expect(answer.json, where()).toMatchObject({ type: expect.stringMatching(/^urn:gavel:problem:/), title: expect.any(String), status: answer.status, detail: expect.any(String) });
        }

        // A body that cannot be parsed or stored is refused.
        if (mustRefuse(req)) {
          expect(answer.status, where()).toBeGreaterThanOrEqual(400);
          expect(answer.json?.lead_id, where()).toBeUndefined();
        }
        if (req.applies) expect(answer.status, where()).toBeGreaterThanOrEqual(400);

        // What was answered, to hold against what is stored afterwards.
        if (typeof answer.json?.lead_id === "string") answeredLeads.add(answer.json.lead_id);
        if (req.target === "resource" && answer.status === 201) created[req.kind!].add(answer.json.id);
        if (req.target === "suppressions" && answer.status === 200) {
          added += answer.json.added ?? 0;
          removed += answer.json.removed ?? 0;
        }
        if (req.target === "lead-no-key") expect(answer.status, where()).toBe(401);
      }),
      { seed: SEED, numRuns: RUNS },
    );

    const shares = [...tally.entries()].sort().map(([k, n]) => `${k}: ${n}`);
    console.log(`fuzz seed ${SEED}, ${RUNS} requests, ${answeredLeads.size} leads recorded; answers by route:\n${shares.join("\n")}`);

    // Nothing stored that was not answered, and every answered lead stored.
    const leadsAfter = await leadIds();
    const storedNew = [...leadsAfter].filter((id) => !leadsBefore.has(id));
    expect(new Set(storedNew)).toEqual(answeredLeads);
    for (const kind of KINDS) expect(await resourceIds(kind)).toEqual(new Set([...resourcesBefore[kind], ...created[kind]]));
    expect(await suppressed()).toBe(suppressedBefore + added - removed);

    // No prototype was polluted.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);

    // Still healthy: probes, reads, and a valid lead sells.
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${g.url}/readyz`)).status).toBe(200);
    for (const kind of KINDS) expect((await g.admin("GET", `/v1/${kind}`)).status).toBe(200);
    expect((await g.admin("GET", "/v1/campaigns/fz-sell")).body).toMatchObject({ id: "fz-sell", status: "active" });
    const sale = await g.lead(sellKey, { campaign: "fz-sell", data: consumer({ first_name: "Ann", phone: "+13125550199" }) });
    expect(sale.status).toBe(200);
    expect(sale.body).toMatchObject({ status: "sold" });
  });
});

/**
 * A CSV upload is not JSON: it only has to be UTF-8. A configuration file is YAML, which says more
 * than JSON: it must be UTF-8, and what JSON would refuse to store YAML must refuse too.
 */
function mustRefuse(req: FuzzRequest): boolean {
  const body = req.body;
  if (req.method === "GET") return false;
  if (req.csv) return body !== undefined && !isUtf8(body);
  const verdict = verdictOf(body);
  if (req.target === "apply") return body === undefined || body.length === 0 || !isUtf8(body) || verdict === "unstorable";
  return verdict !== "clean";
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
