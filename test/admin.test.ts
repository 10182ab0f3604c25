import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, standardFields, startTestGavel, type TestGavel } from "./helpers/gavel";

describe("configuration over HTTP", () => {
  let g: TestGavel;
  let buyer: TestBuyer;
  beforeAll(async () => {
    g = await startTestGavel();
    buyer = await startBuyer({});
    await g.admin("POST", "/v1/campaigns", { id: "home", name: "Home", fields: standardFields });
    await g.admin("POST", "/v1/buyers", { id: "acme", name: "Acme" });
  });
  afterAll(async () => {
    await buyer?.close();
    await g?.close();
  });

  it("creates, reads, lists, replaces, patches and archives a campaign", async () => {
    const created = await g.admin("POST", "/v1/campaigns", {
      id: "life",
      name: "Life",
      fields: [{ name: "zip", type: "zip", required: true }],
      auction: { timeout_ms: 1500 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: "life", status: "active", auction: { timeout_ms: 1500, ping_timeout_ms: 800, on_post_timeout: "stop" } });
    expect((await g.admin("GET", "/v1/campaigns/life")).body.name).toBe("Life");

    const put = await g.admin("PUT", "/v1/campaigns/life", { name: "Life insurance", fields: [{ name: "zip", type: "zip" }] });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: "life", name: "Life insurance", auction: { timeout_ms: 2000 } });

    const patched = await g.admin("PATCH", "/v1/campaigns/life", { auction: { floor: 2.5 } });
    expect(patched.body.auction).toMatchObject({ floor: 2.5, timeout_ms: 2000 });
    expect(patched.body.name).toBe("Life insurance");

    const archived = await g.admin("DELETE", "/v1/campaigns/life");
    expect(archived.body.status).toBe("archived");
    expect((await g.admin("GET", "/v1/campaigns/life")).body.status).toBe("archived");
    const list = await g.admin("GET", "/v1/campaigns");
    expect(list.body.items.map((c: any) => c.id)).not.toContain("life");
    const archivedList = await g.admin("GET", "/v1/campaigns?status=archived");
    expect(archivedList.body.items.map((c: any) => c.id)).toContain("life");
  });

  it("answers 409 when the id is taken and 404 for an unknown id", async () => {
    const again = await g.admin("POST", "/v1/buyers", { id: "acme", name: "Acme again" });
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toContain("application/problem+json");
    expect((await g.admin("GET", "/v1/buyers/nobody")).status).toBe(404);
    expect((await g.admin("PATCH", "/v1/buyers/nobody", { name: "x" })).status).toBe(404);
  });

  it("lists every bad field by path", async () => {
    const res = await g.admin("POST", "/v1/channels", {
      id: "Bad Id",
      buyer_id: "acme",
      campaign_id: "home",
      type: "ping_post",
      post: { url: "ftp://nope", timeout_ms: -1 },
      filters: [{ field: "state", op: "in", value: [] }],
      priority: "high",
      surprise: true,
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ type: "urn:gavel:problem:validation", status: 422, title: "Validation failed" });
    const paths = res.body.errors.map((e: any) => e.path).sort();
    expect(paths).toEqual(
      expect.arrayContaining(["id", "post.url", "post.timeout_ms", "filters[0].value", "priority", "surprise"]),
    );
  });

  it("refuses a channel whose buyer or campaign does not exist", async () => {
    const res = await g.admin("POST", "/v1/channels", pingPost("orphan", buyer, { buyer_id: "ghost", campaign_id: "nowhere" }));
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: any) => e.path).sort()).toEqual(["buyer_id", "campaign_id"]);
  });

  it("pages through lists with a cursor", async () => {
    for (let i = 0; i < 5; i++) await g.admin("POST", "/v1/buyers", { id: `page-${i}`, name: `Page ${i}` });
    const first = await g.admin("GET", "/v1/buyers?limit=2");
    expect(first.body.items).toHaveLength(2);
    expect(first.body.next_cursor).toBeTruthy();
    const seen = [...first.body.items.map((b: any) => b.id)];
    let cursor = first.body.next_cursor;
    while (cursor) {
      const page = await g.admin("GET", `/v1/buyers?limit=2&cursor=${encodeURIComponent(cursor)}`);
      seen.push(...page.body.items.map((b: any) => b.id));
      cursor = page.body.next_cursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(["acme", "page-0", "page-4"]));
    expect((await g.admin("GET", "/v1/buyers?limit=9999")).status).toBe(422);
  });

  it("never shows secrets, and keeps them when '***' is sent back", async () => {
    const created = await g.admin(
      "POST",
      "/v1/channels",
      pingPost("secretive", buyer, {
        buyer_id: "acme",
        campaign_id: "home",
        auth: { type: "bearer", token: "s3cret-token" },
        ping: { url: buyer.pingUrl, headers: { "X-Api-Key": "key-123", "X-Plain": "visible" } },
        secret_headers: ["X-Api-Key"],
      }),
    );
    expect(created.status).toBe(201);
    expect(created.body.auth.token).toBe("***");
    expect(created.body.ping.headers).toEqual({ "X-Api-Key": "***", "X-Plain": "visible" });
    expect(JSON.stringify(created.body)).not.toContain("s3cret-token");

    const roundTrip = await g.admin("PUT", "/v1/channels/secretive", { ...created.body, priority: 4 });
    expect(roundTrip.status).toBe(200);
    expect(roundTrip.body.priority).toBe(4);

    // The stored secrets still reach the buyer.
    const key = await g.setup({ campaign: { id: "home" }, channels: [] });
    const sale = await g.lead(key, { campaign: "home", data: consumer() });
    expect(sale.body.status).toBe("sold");
    const ping = buyer.pings.find((p) => p.body.lead_id === sale.body.lead_id)!;
    expect(ping.headers.authorization).toBe("Bearer s3cret-token");
    expect(ping.headers["x-api-key"]).toBe("key-123");

    const fresh = await g.admin("POST", "/v1/channels", { ...created.body, id: "secretive-2" });
    expect(fresh.status).toBe(422);
    expect(fresh.body.errors.map((e: any) => e.path)).toContain("auth.token");
  });

  it("returns a supplier's api_key once, and never again", async () => {
    const created = await g.admin("POST", "/v1/suppliers", { id: "once", name: "Once" });
    expect(created.status).toBe(201);
    expect(created.body.api_key).toMatch(/^gvl_[0-9a-f]{16}_/);
    const read = await g.admin("GET", "/v1/suppliers/once");
    expect(read.body.api_key).toBeUndefined();
    expect(JSON.stringify((await g.admin("GET", "/v1/suppliers")).body)).not.toContain(created.body.api_key);
  });

  it("refuses requests without a valid operator token", async () => {
    expect((await g.admin("GET", "/v1/campaigns", undefined, "")).status).toBe(401);
    expect((await g.admin("GET", "/v1/campaigns", undefined, "wrong-token")).status).toBe(401);
    expect((await g.admin("GET", "/v1/leads", undefined, "")).status).toBe(401);
  });

  it("gives analysts read-only access with pii masked, and revokes tokens", async () => {
    const token = await g.admin("POST", "/v1/tokens", { name: "analyst", role: "analyst" });
    expect(token.status).toBe(201);
    const analyst = token.body.token as string;
    expect((await g.admin("GET", "/v1/campaigns", undefined, analyst)).status).toBe(200);
    expect((await g.admin("POST", "/v1/buyers", { id: "nope", name: "Nope" }, analyst)).status).toBe(403);
    expect((await g.admin("DELETE", "/v1/campaigns/home", undefined, analyst)).status).toBe(403);

    const key = await g.setup({ campaign: { id: "home" }, channels: [] });
    const sale = await g.lead(key, { campaign: "home", data: consumer() });
    const asAnalyst = await g.admin("GET", `/v1/leads/${sale.body.lead_id}`, undefined, analyst);
    expect(asAnalyst.body.data).toMatchObject({ zip: "75001", state: "TX", email: "***", phone: "***" });
    const asAdmin = await g.admin("GET", `/v1/leads/${sale.body.lead_id}`);
    expect(asAdmin.body.data.email).toMatch(/@example.com$/);

    expect((await g.admin("DELETE", `/v1/tokens/${token.body.id}`)).status).toBe(204);
    expect((await g.admin("GET", "/v1/campaigns", undefined, analyst)).status).toBe(401);
  });

  it("lists leads by campaign, status and time, newest first, with a cursor", async () => {
    const key = await g.setup({ campaign: { id: "home" }, channels: [] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await g.lead(key, { campaign: "home", data: consumer() })).body.lead_id);
    await g.lead(key, { campaign: "home", data: { zip: "bad" } });
    const sold = await g.admin("GET", "/v1/leads?campaign=home&status=sold&limit=2");
    expect(sold.body.items).toHaveLength(2);
    expect(sold.body.items.every((l: any) => l.status === "sold")).toBe(true);
    const next = await g.admin("GET", `/v1/leads?campaign=home&status=sold&limit=2&cursor=${sold.body.next_cursor}`);
    const all = [...sold.body.items, ...next.body.items].map((l: any) => l.id);
    expect(all.slice(0, 3)).toEqual([...ids].reverse());
    const rejected = await g.admin("GET", "/v1/leads?campaign=home&status=rejected");
    expect(rejected.body.items).toHaveLength(1);
    const future = await g.admin("GET", `/v1/leads?campaign=home&from=${new Date(Date.now() + 3600_000).toISOString()}`);
    expect(future.body.items).toHaveLength(0);
    const bad = await g.admin("GET", "/v1/leads?status=bogus&from=yesterday");
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(["from", "status"]);
  });

  it("answers health and readiness without a token", async () => {
    expect((await g.admin("GET", "/healthz", undefined, "")).body).toEqual({ status: "ok" });
    const ready = await g.admin("GET", "/readyz", undefined, "");
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");
  });
});
