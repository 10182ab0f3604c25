// Every configuration change leaves an audit entry: who (actor), when, which resource, what action,
// and a field-level diff in which secrets are masked.
import { describe, expect, it } from "vitest";
import { pingPost, standardFields, useTestGavel } from "./helpers/gavel";

describe("audit log", () => {
  const t = useTestGavel();
  const buyerUrls = { pingUrl: "http://127.0.0.1:9/ping", postUrl: "http://127.0.0.1:9/post" };

  async function entries(query = "") {
    const res = await t.g.admin("GET", `/v1/audit${query}`);
    expect(res.status).toBe(200);
    return res.body.items as any[];
  }

  it("records create, update and archive with actor, time and a field-level diff", async () => {
    const started = new Date(Date.now() - 1000).toISOString();
    await t.g.admin("POST", "/v1/campaigns", { id: "aud-camp", name: "Audit", fields: standardFields });
    await t.g.admin("PATCH", "/v1/campaigns/aud-camp", { auction: { floor: 2.5 }, name: "Audited" });
    await t.g.admin("DELETE", "/v1/campaigns/aud-camp");

    const [archived, updated, created] = await entries("?resource=campaigns/aud-camp");
    expect(created).toMatchObject({ resource: "campaigns/aud-camp", action: "create", actor: "env:ADMIN_TOKEN", via: "api" });
    expect(created.diff).toContainEqual({ path: "name", after: "Audit" });
    expect(Date.parse(created.at)).toBeGreaterThanOrEqual(Date.parse(started));
    expect(updated.action).toBe("update");
    expect(updated.diff).toEqual(
      expect.arrayContaining([
        { path: "name", before: "Audit", after: "Audited" },
        { path: "auction.floor", before: 0, after: 2.5 },
      ]),
    );
    expect(updated.diff).toHaveLength(2);
    expect(archived).toMatchObject({ action: "archive", diff: [{ path: "status", before: "active", after: "archived" }] });
  });

  it("masks secrets in every diff, and names the operator token that made the change", async () => {
    const token = await t.g.admin("POST", "/v1/tokens", { name: "deployer", role: "admin" });
    const deployer = token.body.token as string;
    await t.g.admin("POST", "/v1/campaigns", { id: "aud-sec", name: "Secrets", fields: standardFields });
    await t.g.admin("POST", "/v1/buyers", { id: "aud-buyer", name: "Buyer" });
    const channel = pingPost("aud-secretive", buyerUrls, {
      buyer_id: "aud-buyer",
      campaign_id: "aud-sec",
      auth: { type: "bearer", token: "first-secret-value" },
      ping: { url: buyerUrls.pingUrl, headers: { "X-Api-Key": "header-secret-value", "X-Plain": "plain" } },
      secret_headers: ["X-Api-Key"],
    });
    expect((await t.g.admin("POST", "/v1/channels", channel, deployer)).status).toBe(201);
    expect((await t.g.admin("PATCH", "/v1/channels/aud-secretive", { auth: { token: "second-secret-value" } }, deployer)).status).toBe(200);

    const list = await entries("?resource=channels/aud-secretive");
    const text = JSON.stringify(list);
    for (const secret of ["first-secret-value", "second-secret-value", "header-secret-value"]) expect(text).not.toContain(secret);
    const [update, create] = list;
    expect(create.actor).toBe(`token:${token.body.id}`);
    expect(create.actor_name).toBe("deployer");
    expect(create.diff).toContainEqual({ path: "auth.token", after: "***" });
    expect(create.diff).toContainEqual({ path: "ping.headers.X-Api-Key", after: "***" });
    expect(create.diff).toContainEqual({ path: "ping.headers.X-Plain", after: "plain" });
    expect(update.diff).toEqual([{ path: "auth.token", before: "***", after: "***" }]);
  });

  it("records nothing for a write that changes nothing", async () => {
    await t.g.admin("POST", "/v1/buyers", { id: "aud-same", name: "Same" });
    const read = await t.g.admin("GET", "/v1/buyers/aud-same");
    await t.g.admin("PUT", "/v1/buyers/aud-same", read.body);
    expect((await entries("?resource=buyers/aud-same")).map((e) => e.action)).toEqual(["create"]);
  });

  it("records token and supplier key operations without their secrets", async () => {
    const token = await t.g.admin("POST", "/v1/tokens", { name: "temp", role: "analyst" });
    await t.g.admin("DELETE", `/v1/tokens/${token.body.id}`);
    const tokenLog = await entries(`?resource=tokens/${token.body.id}`);
    expect(tokenLog.map((e) => e.action)).toEqual(["token.revoke", "token.create"]);
    expect(tokenLog[1].diff).toEqual([
      { path: "name", after: "temp" },
      { path: "role", after: "analyst" },
    ]);
    expect(JSON.stringify(tokenLog)).not.toContain(token.body.token);

    const supplier = await t.g.admin("POST", "/v1/suppliers", { id: "aud-sup", name: "Supplier" });
    const rotated = await t.g.admin("POST", "/v1/suppliers/aud-sup/keys", {});
    await t.g.admin("DELETE", `/v1/suppliers/aud-sup/keys/${rotated.body.id}`);
    const supplierLog = await entries("?resource=suppliers/aud-sup");
    expect(supplierLog.map((e) => e.action)).toEqual(["key.revoke", "key.create", "key.create", "create"]);
    expect(supplierLog[0].resource).toBe(`suppliers/aud-sup/keys/${rotated.body.id}`);
    const text = JSON.stringify(supplierLog);
    expect(text).not.toContain(supplier.body.api_key);
    expect(text).not.toContain(rotated.body.api_key);
  });

  it("pages newest first and filters by resource kind, actor and time", async () => {
    for (let i = 0; i < 5; i++) await t.g.admin("POST", "/v1/buyers", { id: `aud-page-${i}`, name: `Page ${i}` });
    const first = await t.g.admin("GET", "/v1/audit?resource=buyers&limit=2");
    expect(first.body.items).toHaveLength(2);
    const seen = [...first.body.items];
    let cursor = first.body.next_cursor;
    while (cursor) {
      const page = await t.g.admin("GET", `/v1/audit?resource=buyers&limit=2&cursor=${cursor}`);
      seen.push(...page.body.items);
      cursor = page.body.next_cursor;
    }
    const ids = seen.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen.every((e) => e.resource.startsWith("buyers/"))).toBe(true);
    expect(seen.map((e) => e.resource)).toEqual(expect.arrayContaining(["buyers/aud-page-0", "buyers/aud-page-4"]));

    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await entries(`?from=${encodeURIComponent(future)}`)).toEqual([]);
    const past = new Date(Date.now() - 3_600_000).toISOString();
    expect(await entries(`?to=${encodeURIComponent(past)}`)).toEqual([]);
    expect((await entries("?actor=env:ADMIN_TOKEN&limit=500")).every((e) => e.actor === "env:ADMIN_TOKEN")).toBe(true);
    const bad = await t.g.admin("GET", "/v1/audit?from=yesterday&cursor=abc&color=red");
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(["color", "cursor", "from"]);
  });

  it("is for admins only", async () => {
    const analyst = await t.g.admin("POST", "/v1/tokens", { name: "reader", role: "analyst" });
    expect((await t.g.admin("GET", "/v1/audit", undefined, analyst.body.token)).status).toBe(403);
  });
});
