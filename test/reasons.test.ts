// The reason taxonomy held together: README's reason tables list exactly the codes of
// src/reasons.ts, stage by stage; the OpenAPI document gives every `reason` as an enum of the same
// codes, with a `detail` beside it; and a trace shows { reason, detail } as the tables say.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { BuyerRequest, BuyerResponse, BuyerTransport } from "../src/channels/transport";
import { EXCLUSION_REASONS, LEAD_REASONS, PING_REASONS, POST_REASONS, VERDICT_REASONS } from "../src/reasons";
import { useInProcessApp } from "./helpers/app";
import { consumer } from "./helpers/gavel";

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8").split("\n");

/** The codes in the first column of the table that follows the line `start` (a heading, or a table's own header). */
function tableCodes(start: string): string[] {
  const at = README.indexOf(start);
  expect(at, `README has no line '${start}'`).toBeGreaterThanOrEqual(0);
  let i = README[at].startsWith("|") ? at : README.findIndex((line, n) => n > at && line.startsWith("|"));
  // Stop at the next heading: a table further down belongs to another section.
  expect(README.slice(at + 1, i).some((line) => line.startsWith("#")), `no table under '${start}'`).toBe(false);
  const rows: string[] = [];
  for (i += 2; README[i]?.startsWith("|"); i++) rows.push(README[i].split("|")[1]);
  return rows.flatMap((cell) => [...cell.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]));
}

const codes = (stage: object) => Object.keys(stage).sort();

/** The enum of a schema, nullable (anyOf [enum, null]) or not. */
function enumOf(schema: any): string[] | undefined {
  if (schema?.enum) return [...schema.enum].sort();
  const member = schema?.anyOf?.find((s: any) => s.enum);
  return member ? [...member.enum].sort() : undefined;
}

/** Every object schema in the document with a `reason` property, by where it is. */
function reasonSchemas(node: unknown, path: string, out: { path: string; schema: any }[] = []) {
  if (Array.isArray(node)) node.forEach((n, i) => reasonSchemas(n, `${path}[${i}]`, out));
  else if (node && typeof node === "object") {
    const o = node as Record<string, any>;
    if (o.properties?.reason) out.push({ path, schema: o });
    for (const [k, v] of Object.entries(o)) reasonSchemas(v, `${path}.${k}`, out);
  }
  return out;
}

describe("README's reason tables", () => {
  it("list exactly the codes of each stage", () => {
    expect(tableCodes("### Exclusion reasons").sort()).toEqual(codes(EXCLUSION_REASONS));
    expect(tableCodes("### Ping reasons").sort()).toEqual(codes(PING_REASONS));
    expect(tableCodes("### Post reasons").sort()).toEqual(codes(POST_REASONS));
    expect(tableCodes("### Lead reasons").sort()).toEqual(codes(LEAD_REASONS));
    expect(tableCodes("| verdict | when |").sort()).toEqual(codes(VERDICT_REASONS));
  });
});

/** Buyers in memory: `nobid` answers its ping 204; `picky` bids 5 and refuses the post with a message. */
const buyers: BuyerTransport = {
  async send(request: BuyerRequest): Promise<BuyerResponse> {
    const answer = (status: number, body: unknown): BuyerResponse => ({
      kind: "response",
      status,
      contentType: "application/json",
      headers: {},
      body: body === null ? "" : JSON.stringify(body),
      durationMs: 1,
    });
    const path = new URL(request.url).pathname;
    if (path === "/nobid/ping") return answer(204, null);
    if (path === "/picky/ping") return answer(200, { bid: 5 });
    if (path === "/picky/post") return answer(200, { accepted: false, reason: "already have this consumer" });
    return answer(404, { error: `no ${path}` });
  },
  close: async () => {},
};

describe("reasons through the API", () => {
  const t = useInProcessApp({ transport: buyers });

  it("gives every reason in the OpenAPI document as an enum of its stage's codes, with a detail beside it", async () => {
    const doc = (await t.a.call("GET", "/openapi.json", { token: "" })).body;
    const schemas = doc.components.schemas;
    const trace = schemas.LeadTrace.properties;
    expect(enumOf(trace.excluded.items.properties.reason)).toEqual(codes(EXCLUSION_REASONS));
    // A post's codes include the exclusions' (src/reasons.ts PostCode: a bid skipped at post time).
    expect(enumOf(trace.attempts.items.properties.reason)).toEqual([...new Set([...codes(PING_REASONS), ...codes(POST_REASONS), ...codes(EXCLUSION_REASONS)])].sort());
    expect(enumOf(trace.reason)).toEqual(codes(LEAD_REASONS));
    expect(enumOf(trace.history.items.properties.reason)).toEqual(codes(LEAD_REASONS));
    expect(enumOf(schemas.LeadAnswer.properties.reason)).toEqual(codes(LEAD_REASONS));
    expect(enumOf(schemas.Problem.properties.reason)).toEqual(codes(LEAD_REASONS));
    const listed = doc.paths["/v1/leads"].get;
    expect(enumOf(listed.parameters.find((p: any) => p.name === "reason").schema)).toEqual(codes(LEAD_REASONS));
    expect(enumOf(listed.responses["200"].content["application/json"].schema.properties.items.items.properties.reason)).toEqual(codes(LEAD_REASONS));
    const explained = schemas.Explanation.properties;
    expect(enumOf(explained.channels.items.properties.reasons.items.properties.reason)).toEqual(
      [...codes(VERDICT_REASONS), ...codes(EXCLUSION_REASONS)].sort(),
    );
    expect(enumOf(explained.blocked_by.items)).toEqual(codes(VERDICT_REASONS));
    expect(enumOf(schemas.ReasonReport.properties.rows.items.properties.key.properties.reason)).toEqual(
      [...new Set([...codes(EXCLUSION_REASONS), ...codes(PING_REASONS), ...codes(POST_REASONS), ...codes(LEAD_REASONS)])].sort(),
    );
    // Wherever a reason is, it is a code, and its detail is beside it (a problem's own `detail`
    // is its text, so there it is `reason_detail`).
    // (A channel's `response` rules have a `reason` of their own: where to read the buyer's message.)
    // (A return's `reason` is the buyer's own word, one of its `returns.reasons`: README "After the sale".)
    const found = reasonSchemas(doc, "$").filter(
      (f) => !f.path.includes(".properties.response.properties.") && !/\.schemas\.(Postback|Return|NewReturn)$|\/v1\/(postbacks\/\{buyer_id\}|leads\/\{id\}\/returns)\.post\.requestBody\./.test(f.path),
    );
    expect(found.length).toBeGreaterThanOrEqual(9);
    for (const { path, schema } of found) {
      expect(enumOf(schema.properties.reason), path).toBeDefined();
      expect(schema.properties.detail ?? schema.properties.reason_detail, path).toBeDefined();
    }
  });

  it("shows a 204 as no_bid and a buyer's refusal as rejected with its words as the detail", async () => {
    const key = await t.a.supplier("reasons", "reasons-sup");
    for (const id of ["nobid", "picky"]) {
      expect((await t.a.call("POST", "/v1/buyers", { body: { id, name: id } })).status).toBe(201);
      const channel = { id, campaign_id: "reasons", buyer_id: id, type: "ping_post", ping: { url: `http://buyers.test/${id}/ping` }, post: { url: `http://buyers.test/${id}/post` } };
      expect((await t.a.call("POST", "/v1/channels", { body: channel })).status).toBe(201);
    }
    const sold = await t.a.call("POST", "/v1/leads", { token: key, body: { campaign: "reasons", data: consumer() } });
    expect(sold.body).toMatchObject({ status: "unsold" });
    const trace = (await t.a.call("GET", `/v1/leads/${sold.body.lead_id}`)).body;
    expect(trace).toMatchObject({ status: "unsold", reason: "all_rejected", detail: null, excluded: [] });
    expect(trace.history.at(-1)).toEqual({ status: "unsold", at: expect.any(String), reason: "all_rejected", detail: null });
    const attempts = trace.attempts.map((a: any) => [a.kind, a.channel_id, a.outcome, a.reason, a.detail]);
    expect(attempts).toContainEqual(["ping", "nobid", "no_bid", "no_bid", null]);
    expect(attempts).toContainEqual(["ping", "picky", "bid", null, null]);
    expect(attempts).toContainEqual(["post", "picky", "rejected", "rejected", "already have this consumer"]);
    expect(attempts).toHaveLength(3);
    // As the README's tables say: a 204 is `no_bid` (detail: the message, if any), a refusal `rejected` with the buyer's message.
    expect(README).toContain("| `no_bid` | `no_bid` | the buyer's message, if any | the buyer declined: HTTP 204, `bid` null, 0 or absent |");
    expect(README).toContain("| `rejected` | `rejected` | the buyer's message, if any | the buyer refused the lead |");
    // The list filters by the code, whatever the detail.
    const listed = await t.a.call("GET", "/v1/leads?reason=all_rejected");
    expect(listed.body.items.map((l: any) => [l.id, l.reason, l.detail])).toEqual([[sold.body.lead_id, "all_rejected", null]]);
  });
});
