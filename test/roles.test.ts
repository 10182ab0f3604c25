// The role matrix, generated from the routes the app really mounts (`app.routes`) and the role each
// declares in the OpenAPI document: no token → 401 on every route but the public ones; an analyst
// token → 403 on every write and every admin-only route, and not on the rest; a supplier key opens
// no operator route and an operator token no supplier route.
import { describe, expect, it } from "vitest";
import { openApiPath } from "../src/http/route";
import { useTestGavel } from "./helpers/gavel";

interface Mounted {
  method: string;
  path: string;
  role: "public" | "supplier" | "analyst" | "admin" | "buyer";
  /** A non-GET route declared as changing nothing (x-gavel-read-only), which analysts may call. */
  readOnly: boolean;
  /** An analyst read a supplier's key may call too, for its own records (its security lists supplierKey). */
  suppliersToo: boolean;
}

describe("roles", () => {
  const t = useTestGavel();

  async function routes(): Promise<Mounted[]> {
    const doc: any = await (await fetch(`${t.g.url}/openapi.json`)).json();
    const seen = new Set<string>();
    const out: Mounted[] = [];
    for (const r of t.g.gavel.app.routes) {
      if (r.method === "ALL") continue;
      const key = `${r.method} ${r.path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const op = doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()];
      // A mounted route missing from the document fails here (and in openapi.test.ts).
      expect(op, `${key} is not in /openapi.json`).toBeDefined();
      out.push({
        method: r.method,
        path: r.path,
        role: op["x-gavel-role"],
        readOnly: op["x-gavel-read-only"] === true,
        suppliersToo: op["x-gavel-role"] === "analyst" && op.security.some((s: object) => "supplierKey" in s),
      });
    }
    expect(out.length).toBeGreaterThan(30);
    return out;
  }

  /** A concrete URL for a route: parameters filled with ids that do not exist. */
  const urlOf = (path: string) => path.replace(/:([A-Za-z_]+)/g, "nothing-here");

  async function call(r: Mounted, token?: string) {
    const res = await fetch(`${t.g.url}${urlOf(r.path)}`, {
      method: r.method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: r.method === "GET" ? undefined : "{}",
    });
    await res.arrayBuffer();
    return res;
  }

  it("refuses every non-public route without a token (401, with WWW-Authenticate)", async () => {
    const all = await routes();
    const failures: string[] = [];
    for (const r of all.filter((r) => r.role !== "public")) {
      const res = await call(r);
      if (res.status !== 401 || !res.headers.get("www-authenticate")) failures.push(`${r.method} ${r.path} → ${res.status}`);
    }
    expect(failures).toEqual([]);
    // …and the public ones answer without one.
    for (const r of all.filter((r) => r.role === "public" && !r.path.includes(":"))) expect((await call(r)).status, r.path).toBe(200);
  });

  it("refuses every write and every admin-only route to an analyst token (403), and allows the rest", async () => {
    const created = await t.g.admin("POST", "/v1/tokens", { name: "matrix analyst", role: "analyst" });
    expect(created.status).toBe(201);
    const analyst = created.body.token as string;
    const all = await routes();
    const failures: string[] = [];
    for (const r of all.filter((r) => r.role === "admin" || r.role === "analyst")) {
      const status = (await call(r, analyst)).status;
      const expectForbidden = r.role === "admin";
      if (expectForbidden ? status !== 403 : status === 401 || status === 403) failures.push(`${r.method} ${r.path} → ${status}`);
    }
    expect(failures).toEqual([]);
    // Every route that changes something is admin-only; the only exceptions are declared read-only.
    // (A buyer's postback is signed by the buyer, not called with a token: README "After the sale".)
    const writes = all.filter((r) => r.method !== "GET" && r.role !== "supplier" && r.role !== "buyer");
    expect(writes.filter((r) => r.role !== "admin" && !r.readOnly).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it("keeps supplier keys and operator tokens apart, and says which is which (403)", async () => {
    const key = await t.g.setup({ campaign: { id: "roles" }, channels: [] });
    const analyst = (await t.g.admin("POST", "/v1/tokens", { name: "apart analyst", role: "analyst" })).body.token as string;
    const all = await routes();
    /** The detail of the 403 problem `token` gets on `r`. */
    const detail = async (r: Mounted, token: string) => {
      const res = await fetch(`${t.g.url}${urlOf(r.path)}`, {
        method: r.method,
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: r.method === "GET" ? undefined : "{}",
      });
      expect(res.status, `${r.method} ${r.path}`).toBe(403);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      return ((await res.json()) as { detail: string }).detail;
    };
    for (const r of all.filter((r) => r.role === "admin" || (r.role === "analyst" && !r.suppliersToo)))
      expect(await detail(r, key), r.path).toMatch(/^This is a supplier API key \(supplier 'sup-\d+'\).*operator routes need an admin or analyst token/);
    // …and names every route a supplier key does open, so its owner knows where it goes.
    const told = await detail(all.find((r) => r.role === "admin")!, key);
    for (const r of all.filter((r) => r.role === "supplier" || r.suppliersToo)) expect(told).toContain(`${r.method} ${openApiPath(r.path)}`);
    for (const r of all.filter((r) => r.role === "supplier"))
      for (const token of [t.g.gavel.adminToken, analyst]) expect(await detail(r, token), r.path).toMatch(/^This is an operator token; lead intake needs a supplier API key/);
  });

  it("says a token shaped like a supplier key that is no live one is not valid (401)", async () => {
    const supplier = "roles-revoked-sup";
    const key = await t.g.setup({ campaign: { id: "roles-revoked" }, channels: [], supplier: { id: supplier } });
    const keys = (await t.g.admin("GET", `/v1/suppliers/${supplier}/keys`)).body.items as { id: string }[];
    for (const k of keys) expect((await t.g.admin("DELETE", `/v1/suppliers/${supplier}/keys/${k.id}`)).status).toBeLessThan(300);
    const res = await t.g.admin("GET", "/v1/campaigns", undefined, key);
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/shape of a supplier API key/);
  });

  it("creates, lists and revokes operator tokens; a revoked token stops working at once", async () => {
    const admin = await t.g.admin("POST", "/v1/tokens", { name: "second admin", role: "admin" });
    expect(admin.status).toBe(201);
    expect(admin.body).toMatchObject({ name: "second admin", role: "admin", revoked_at: null });
    expect(admin.body.token).toMatch(/^gvl_op_/);
    // The new admin can do admin things, including making tokens.
    const made = await t.g.admin("POST", "/v1/tokens", { name: "made by second", role: "analyst" }, admin.body.token);
    expect(made.status).toBe(201);
    const list = await t.g.admin("GET", "/v1/tokens");
    expect(list.body.items.map((i: any) => i.id)).toEqual(expect.arrayContaining([admin.body.id, made.body.id]));
    expect(JSON.stringify(list.body)).not.toContain(admin.body.token);

    expect((await t.g.admin("DELETE", `/v1/tokens/${admin.body.id}`)).status).toBe(204);
    expect((await t.g.admin("GET", "/v1/campaigns", undefined, admin.body.token)).status).toBe(401);
    expect((await t.g.admin("DELETE", `/v1/tokens/${admin.body.id}`)).status).toBe(404);
    expect((await t.g.admin("POST", "/v1/tokens", { name: "x", role: "root" })).status).toBe(422);
  });
});
