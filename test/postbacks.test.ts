// Buyer postbacks (README "After the sale"): POST /v1/postbacks/{buyer_id}, signed by the buyer's
// postback secret, idempotent by event_id, written into the lead's history and counted in the
// after-sale report. A real Gavel, real loopback buyers, a clock that moves only when told.
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { signature } from "../src/channels/signing";
import { answerBody, consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";

const clock = testClock("2026-11-02T15:00:00Z");
const SECRET = "acme-postback-secret-0001";
const OLD_SECRET = "acme-postback-secret-old0";

function signedHeaders(secret: string, body: string, atMs = clock.now()) {
  const ts = Math.floor(atMs / 1000);
  return { "x-gavel-timestamp": String(ts), "x-gavel-signature": `sha256=${signature(secret, ts, body)}` };
}

describe("buyer postbacks", () => {
  const t = useTestGavel({}, { clock });
  let g: TestGavel;
  let key: string;
  const sold: string[] = [];
  let otherLead: string;

  async function postback(buyerId: string, payload: unknown, options: { secret?: string; headers?: Record<string, string>; raw?: string } = {}) {
    const body = options.raw ?? JSON.stringify(payload);
    const res = await fetch(`${g.url}/v1/postbacks/${buyerId}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(options.headers ?? signedHeaders(options.secret ?? SECRET, body)) },
      body,
    });
    return { status: res.status, body: await answerBody(res) };
  }

  beforeAll(async () => {
    g = t.g;
    const acme = await t.buyer({ ping: () => ({ json: { bid: 20 } }) });
    const other = await t.buyer({ ping: () => ({ json: { bid: 15 } }) });
    expect((await g.admin("POST", "/v1/buyers", { id: "pb-acme", name: "Acme", postbacks: { secret: SECRET, previous_secret: OLD_SECRET } })).status).toBe(201);
    expect((await g.admin("POST", "/v1/buyers", { id: "pb-other", name: "Other", postbacks: { secret: "other-postback-secret-01" } })).status).toBe(201);
    key = await g.setup({
      campaign: { id: "pb-auto", payout: { type: "revshare", percent: 50 } },
      channels: [pingPost("pb-acme-ch", acme, { buyer_id: "pb-acme" })],
    });
    for (let i = 0; i < 2; i++) {
      const res = await g.lead(key, { campaign: "pb-auto", data: consumer(), source: "search" });
      expect(res.body).toMatchObject({ status: "sold", price: 10 });
      sold.push(res.body.lead_id);
    }
    const otherKey = await g.setup({ campaign: { id: "pb-other-auto" }, channels: [pingPost("pb-other-ch", other, { buyer_id: "pb-other" })] });
    const res = await g.lead(otherKey, { campaign: "pb-other-auto", data: consumer() });
    expect(res.body.status).toBe("sold");
    otherLead = res.body.lead_id;
  });

  it("records a signed postback in the lead's history, and answers a repeat of its event_id with the same answer", async () => {
    const event = { event_id: "evt-1", lead_id: sold[0], event: "contacted" };
    const first = await postback("pb-acme", event);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ event_id: "evt-1", lead_id: sold[0], event: "contacted", received_at: new Date(clock.now()).toISOString() });

    clock.advance(60_000);
    // Same id and body, keys in another order: the stored answer, and nothing recorded twice.
    const again = await postback("pb-acme", { event: "contacted", lead_id: sold[0], event_id: "evt-1" });
    expect(again).toEqual(first);
    const trace = (await g.admin("GET", `/v1/leads/${sold[0]}`)).body;
    const contacted = trace.history.filter((h: any) => h.reason === "contacted");
    expect(contacted).toEqual([{ status: "sold", at: first.body.received_at, reason: "contacted", detail: "pb-acme, event evt-1" }]);

    // Same id, another body: refused.
    const changed = await postback("pb-acme", { event_id: "evt-1", lead_id: sold[0], event: "converted", value: 5 });
    expect(changed.status).toBe(422);
    expect(changed.body.detail).toContain("evt-1");
  });

  it("takes the same event sent five times at once as one", async () => {
    const event = { event_id: "evt-burst", lead_id: sold[1], event: "contacted" };
    const answers = await Promise.all(Array.from({ length: 5 }, () => postback("pb-acme", event)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    for (const a of answers) expect(a.body).toEqual(answers[0].body);
    const trace = (await g.admin("GET", `/v1/leads/${sold[1]}`)).body;
    expect(trace.history.filter((h: any) => h.reason === "contacted")).toHaveLength(1);
  });

  it("refuses postbacks that are unsigned, wrongly signed, stale, or for a buyer without a secret", async () => {
    const event = { event_id: "evt-auth", lead_id: sold[0], event: "contacted" };
    const body = JSON.stringify(event);
    expect((await postback("pb-acme", event, { headers: {} })).status).toBe(401);
    expect((await postback("pb-acme", event, { secret: "not-the-secret-at-all" })).status).toBe(401);
    const stale = await postback("pb-acme", event, { headers: signedHeaders(SECRET, body, clock.now() - 301_000) });
    expect(stale.status).toBe(401);
    expect(stale.body.detail).toContain("300 s");
    // A tampered body under a good signature of another body.
    expect((await postback("pb-acme", event, { headers: signedHeaders(SECRET, body), raw: body.replace("contacted", "converted") })).status).toBe(401);
    expect((await postback("nobody", event)).status).toBe(401);
    await g.admin("POST", "/v1/buyers", { id: "pb-silent", name: "No secret" });
    expect((await postback("pb-silent", event)).status).toBe(401);
    // An operator token is no buyer signature.
    expect((await g.admin("POST", "/v1/postbacks/pb-acme", event)).status).toBe(401);
    // Read before its signature is checked, so within a bound: 16 KiB.
    const huge = JSON.stringify({ ...event, reason: "x".repeat(20_000) });
    expect((await postback("pb-acme", null, { raw: huge, headers: signedHeaders(SECRET, huge) })).status).toBe(413);
    // The secret being retired still signs, while the buyer switches.
    expect((await postback("pb-acme", event, { secret: OLD_SECRET })).status).toBe(200);
  });

  it("answers 404 for a lead the buyer did not buy, and 422 field by field for a bad body", async () => {
    const notOurs = await postback("pb-acme", { event_id: "evt-x", lead_id: otherLead, event: "converted", value: 1 });
    expect(notOurs.status).toBe(404);
    expect((await postback("pb-acme", { event_id: "evt-y", lead_id: "no-such-lead", event: "contacted" })).status).toBe(404);
    const bad = await postback("pb-acme", { event_id: "", lead_id: sold[0], event: "called", value: -1, extra: 1 });
    expect(bad.status).toBe(422);
    const paths = bad.body.errors.map((e: any) => e.path).sort();
    expect(paths).toEqual(expect.arrayContaining(["event", "event_id", "extra", "value"]));
    const misplaced = await postback("pb-acme", { event_id: "evt-z", lead_id: sold[0], event: "contacted", value: 3 });
    expect(misplaced.status).toBe(422);
    expect(misplaced.body.errors).toEqual([{ path: "value", message: "is for a converted event only" }]);
    const noReason = await postback("pb-acme", { event_id: "evt-r", lead_id: sold[0], event: "return_requested" });
    expect(noReason.body.errors).toEqual([{ path: "reason", message: "is needed to return a lead" }]);
    // This buyer takes no returns.
    const returned = await postback("pb-acme", { event_id: "evt-r", lead_id: sold[0], event: "return_requested", reason: "bad_phone" });
    expect(returned.status).toBe(422);
    expect(returned.body.detail).toContain("takes no returns");
  });

  it("counts conversions and their value in the after-sale report, per buyer, channel, supplier and source", async () => {
    const converted = await postback("pb-acme", { event_id: "evt-conv", lead_id: sold[0], event: "converted", value: 120.5 });
    expect(converted.status).toBe(200);
    const trace = (await g.admin("GET", `/v1/leads/${sold[0]}`)).body;
    expect(trace.history.find((h: any) => h.reason === "converted")).toMatchObject({ detail: "pb-acme, value 120.50, event evt-conv" });

    const range = `from=2026-11-01&to=2026-11-03`;
    for (const [by, key] of [
      ["buyer", "pb-acme"],
      ["channel", "pb-acme-ch"],
      ["campaign", "pb-auto"],
      ["source", "search"],
    ]) {
      const res = await g.admin("GET", `/v1/reports/after-sale?by=${by}&${range}`);
      expect(res.status).toBe(200);
      const row = res.body.rows.find((r: any) => r.key === key);
      expect(row).toMatchObject({ sold: 2, revenue: 40, payout: 20, conversions: 1, conversion_rate: 0.5, conversion_value: 120.5, returns: 0, net_revenue: 40 });
    }
    const bySupplier = await g.admin("GET", `/v1/reports/after-sale?by=supplier&${range}`);
    expect(bySupplier.body.totals).toMatchObject({ sold: 3, conversions: 1, conversion_value: 120.5 });
    expect((await g.admin("GET", `/v1/reports/after-sale?by=planet`)).status).toBe(422);
  });

  it("keeps the postback secret write-only, through the API and config as code", async () => {
    const buyer = (await g.admin("GET", "/v1/buyers/pb-acme")).body;
    expect(buyer.postbacks).toEqual({ secret: "***", previous_secret: "***" });
    const res = await fetch(`${g.url}/v1/config/export`, { headers: { authorization: `Bearer ${g.gavel.adminToken}` } });
    const text = await res.text();
    expect(text).not.toContain(SECRET);
    const exportedBuyer = (parseYaml(text).buyers as any[]).find((b) => b.id === "pb-acme");
    expect(exportedBuyer.postbacks.secret).toMatch(/^\$\{[A-Z0-9_]+:-\*\*\*\}$/);
    // Applied back as exported, nothing changes and the secret still signs.
    const applied = await fetch(`${g.url}/v1/config/apply`, {
      method: "POST",
      headers: { "content-type": "application/yaml", authorization: `Bearer ${g.gavel.adminToken}` },
      body: text,
    });
    expect(((await applied.json()) as any).changes.changed).toEqual([]);
    expect((await postback("pb-acme", { event_id: "evt-after-apply", lead_id: sold[1], event: "contacted" })).status).toBe(200);
  });

  it("is described in the OpenAPI document, signed by the buyer", async () => {
    const doc = (await fetch(`${g.url}/openapi.json`).then((r) => r.json())) as any;
    const op = doc.paths["/v1/postbacks/{buyer_id}"].post;
    expect(op.security).toEqual([{ buyerSignature: [] }]);
    expect(op.requestBody.content["application/json"].schema).toBeDefined();
    expect(doc.components.securitySchemes.buyerSignature).toMatchObject({ type: "apiKey", in: "header", name: "X-Gavel-Signature" });
    expect(doc.components.schemas.BuyerRead.properties).toHaveProperty("postbacks");
    expect(doc.components.schemas.BuyerRead.properties).toHaveProperty("returns");
    expect(doc.paths["/v1/reports/after-sale"].get).toBeDefined();
  });
});
