// Explain: validation, dedup verdict and every channel's eligibility with every reason — without
// pinging anyone and without recording a lead.
import { beforeAll, describe, expect, it } from "vitest";
import type { TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

describe("explain", () => {
  const t = useTestGavel();
  let buyer: TestBuyer;
  const explain = (body: unknown, campaign = "exp") => t.g.admin("POST", `/v1/campaigns/${campaign}/explain`, body);
  const byChannel = (res: { body: any }) => Object.fromEntries(res.body.channels.map((c: any) => [c.channel_id, c]));
  /** A reason as explain shows it: its code, and the detail beside it. */
  const r = (reason: string, detail: string | null = null) => ({ reason, detail });

  beforeAll(async () => {
    buyer = await t.buyer({ ping: () => ({ json: { bid: 9 } }) });
    await t.g.admin("POST", "/v1/buyers", { id: "exp-sleepy", name: "Sleepy", status: "paused" });
    await t.g.setup({
      campaign: { id: "exp", auction: { floor: 3 }, dedup: { fields: ["email", "phone"], match: "any", lookback_days: 30 } },
      supplier: { id: "exp-sup" },
      channels: [
        pingPost("exp-open", buyer),
        pingPost("exp-paused", buyer, { status: "paused" }),
        pingPost("exp-buyer-paused", buyer, { buyer_id: "exp-sleepy" }),
        pingPost("exp-other-suppliers", buyer, { suppliers: ["someone-else"] }),
        pingPost("exp-picky", buyer, {
          filters: [
            { field: "state", op: "in", value: ["CA"] },
            { field: "age", op: "gte", value: 50 },
            { field: "zip", op: "prefix", value: "75" },
          ],
        }),
        { id: "exp-cheap-direct", type: "direct_post", fixed_price: 2, post: { url: buyer.postUrl } },
        // Every channel rule failing at once.
        pingPost("exp-everything", buyer, { status: "paused", buyer_id: "exp-sleepy", suppliers: ["nobody"], filters: [{ field: "state", op: "eq", value: "NY" }] }),
      ],
    });
    // A second supplier, restricted to another campaign, and one with a fixed payout.
    await t.g.admin("POST", "/v1/campaigns", { id: "exp-other", name: "Other", fields: [{ name: "zip", type: "zip" }] });
    await t.g.admin("POST", "/v1/suppliers", { id: "exp-elsewhere", name: "Elsewhere", campaigns: ["exp-other"] });
  });

  it("lists every exclusion reason for each channel, and which ones would be pinged", async () => {
    const res = await explain({ data: consumer({ state: "Texas", age: 30 }), supplier: "exp-sup" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ campaign: "exp", valid: true, errors: [], duplicate: false, supplier: { id: "exp-sup", allowed: true }, blocked_by: [] });
    const c = byChannel(res);
    expect(c["exp-open"]).toMatchObject({ eligible: true, reasons: [], type: "ping_post", buyer_id: "acme" });
    expect(c["exp-paused"]).toMatchObject({ eligible: false, reasons: [r("paused")] });
    expect(c["exp-buyer-paused"].reasons).toEqual([r("buyer_paused")]);
    expect(c["exp-other-suppliers"].reasons).toEqual([r("supplier")]);
    // Every failing filter, not just the first (the zip passes: 75001 starts with 75).
    expect(c["exp-picky"].reasons).toEqual([r("filtered", "state"), r("filtered", "age")]);
    expect(c["exp-cheap-direct"].reasons).toEqual([r("below_floor")]);
    expect(c["exp-everything"].reasons).toEqual([r("paused"), r("buyer_paused"), r("supplier"), r("filtered", "state")]);
  });

  it("pings nobody and records no lead", async () => {
    const before = (await t.g.admin("GET", "/v1/leads?campaign=exp")).body.items.length;
    const pings = buyer.pings.length;
    const posts = buyer.posts.length;
    await explain({ data: consumer(), supplier: "exp-sup" });
    await explain({ data: { zip: "nope" } });
    expect(buyer.pings.length).toBe(pings);
    expect(buyer.posts.length).toBe(posts);
    expect((await t.g.admin("GET", "/v1/leads?campaign=exp")).body.items.length).toBe(before);
  });

  it("reports every validation error, and marks every channel as blocked by it", async () => {
    const res = await explain({ data: { zip: "nope", state: "Atlantis", email: "jo@example.com" } });
    expect(res.body.valid).toBe(false);
    expect(res.body.errors.map((e: any) => e.path).sort()).toEqual(["data.phone", "data.state", "data.zip"]);
    expect(res.body.blocked_by).toEqual(["lead_invalid"]);
    const c = byChannel(res);
    expect(c["exp-open"]).toMatchObject({ eligible: false, reasons: [r("lead_invalid")] });
    // Channels are still judged on the fields that did pass (here none of state/zip/age).
    expect(c["exp-picky"].reasons).toEqual([r("lead_invalid"), r("filtered", "state"), r("filtered", "age"), r("filtered", "zip")]);
  });

  it("gives the dedup verdict without claiming the lead's keys", async () => {
    const key = await t.g.setup({ campaign: { id: "exp" }, channels: [], supplier: { id: "exp-seller" } });
    const person = consumer();
    const fresh = await explain({ data: person });
    expect(fresh.body.duplicate).toBe(false);
    // Explaining claimed nothing: the real lead is not a duplicate.
    const sold = await t.g.lead(key, { campaign: "exp", data: person });
    expect(sold.body.status).toBe("sold");

    const again = await explain({ data: { ...consumer(), email: person.email } });
    expect(again.body).toMatchObject({ duplicate: true, duplicate_of: [sold.body.lead_id], blocked_by: ["duplicate"] });
    expect(byChannel(again)["exp-open"].reasons).toEqual([r("duplicate")]);
    // Outside the lookback window, and for test leads, it is not a duplicate.
    const later = new Date(Date.now() + 31 * 86_400_000).toISOString();
    expect((await explain({ data: person, at: later })).body.duplicate).toBe(false);
    expect((await explain({ data: person, test: true })).body.duplicate).toBe(false);
  });

  it("checks the supplier's campaign access and a paused campaign", async () => {
    const res = await explain({ data: consumer(), supplier: "exp-elsewhere" });
    expect(res.body.supplier).toEqual({ id: "exp-elsewhere", allowed: false });
    expect(res.body.blocked_by).toEqual(["supplier_not_allowed"]);
    expect(byChannel(res)["exp-open"].reasons).toEqual([r("supplier_not_allowed")]);

    await t.g.admin("PATCH", "/v1/campaigns/exp", { status: "paused" });
    const paused = await explain({ data: consumer() });
    expect(paused.body.blocked_by).toEqual(["campaign_paused"]);
    expect(byChannel(paused)["exp-open"].eligible).toBe(false);
    await t.g.admin("PATCH", "/v1/campaigns/exp", { status: "active" });
  });

  it("raises the direct-post floor to a supplier's fixed payout", async () => {
    await t.g.admin("PATCH", "/v1/channels/exp-cheap-direct", { fixed_price: 4 });
    expect(byChannel(await explain({ data: consumer() }))["exp-cheap-direct"].eligible).toBe(true);
    await t.g.admin("POST", "/v1/suppliers", { id: "exp-fixed", name: "Fixed", payout: { type: "fixed", amount: 5 } });
    const res = await explain({ data: consumer(), supplier: "exp-fixed" });
    expect(byChannel(res)["exp-cheap-direct"].reasons).toEqual([r("below_floor")]);
  });

  it("answers 404 for an unknown campaign and 422 for a bad request, and is open to analysts", async () => {
    expect((await explain({ data: {} }, "nowhere")).status).toBe(404);
    const bad = await explain({ data: "x", supplier: "ghost-supplier", at: "noon", extra: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(["at", "data", "extra"]);
    expect((await explain({ data: {}, supplier: "ghost-supplier" })).status).toBe(422);
    const analyst = await t.g.admin("POST", "/v1/tokens", { name: "explainer", role: "analyst" });
    const res = await t.g.admin("POST", "/v1/campaigns/exp/explain", { data: consumer() }, analyst.body.token);
    expect(res.status).toBe(200);
    // The one POST analysts may call, declared as changing nothing.
    const doc = (await t.g.admin("GET", "/openapi.json")).body;
    expect(doc.paths["/v1/campaigns/{id}/explain"].post).toMatchObject({ "x-gavel-role": "analyst", "x-gavel-read-only": true });
  });
});
