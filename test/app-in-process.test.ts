// The app in-process: createApp with real dependencies and app.request(), no server and no socket,
// for the routes whose answers depend on neither: health, who may call what (401/403 problem+json),
// validation errors, configuration as code, and a lead that no buyer is asked about.
import { describe, expect, it } from "vitest";
import { useInProcessApp } from "./helpers/app";
import { ADMIN, consumer } from "./helpers/gavel";

describe("the app in-process", () => {
  const t = useInProcessApp();

  describe("health", () => {
    it("is live and ready without a token", async () => {
      expect(await t.a.call("GET", "/healthz", { token: "" })).toMatchObject({ status: 200, body: { status: "ok" } });
      const ready = await t.a.call("GET", "/readyz", { token: "" });
      expect(ready).toMatchObject({ status: 200, body: { status: "ready", database: t.a.database.kind, auctions_in_flight: 0 } });
    });

    it("answers an unknown route 404 problem+json naming it", async () => {
      const res = await t.a.call("GET", "/v1/nothing-here");
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body).toMatchObject({ type: "urn:gavel:problem:not_found", status: 404, detail: "No route GET /v1/nothing-here" });
    });
  });

  describe("authentication", () => {
    it("refuses an operator route without a token, or with one that is not valid: 401 with WWW-Authenticate", async () => {
      for (const token of ["", "not-a-token", "gvl_op_nothing"]) {
        const res = await t.a.call("GET", "/v1/campaigns", { token });
        expect(res.status, token).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe('Bearer realm="gavel"');
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(res.body).toMatchObject({ type: "urn:gavel:problem:unauthorized", status: 401 });
      }
    });

    it("refuses a write to an analyst token (403) and lets it read", async () => {
      const created = await t.a.call("POST", "/v1/tokens", { body: { name: "reader", role: "analyst" } });
      expect(created.status).toBe(201);
      const analyst = created.body.token as string;
      expect((await t.a.call("GET", "/v1/campaigns", { token: analyst })).status).toBe(200);
      const write = await t.a.call("POST", "/v1/buyers", { token: analyst, body: { id: "analyst-buyer", name: "B" } });
      expect(write.status).toBe(403);
      expect(write.body).toMatchObject({ type: "urn:gavel:problem:forbidden", detail: "This needs an admin token; analyst tokens are read-only" });
    });

    it("tells a supplier key on an operator route, and an operator token on lead intake, what they are (403)", async () => {
      const key = await t.a.supplier("auth-mixup", "auth-mixup-sup");
      const asOperator = await t.a.call("GET", "/v1/leads", { token: key });
      expect(asOperator.status).toBe(403);
      expect(asOperator.body.detail).toMatch(/^This is a supplier API key \(supplier 'auth-mixup-sup'\)/);
      const asSupplier = await t.a.call("POST", "/v1/leads", { body: { campaign: "auth-mixup", data: consumer() } });
      expect(asSupplier.status).toBe(403);
      expect(asSupplier.body.detail).toMatch(/^This is an operator token; lead intake needs a supplier API key/);
    });

    it("refuses a lead without a key, with a key that is not live, or from a paused supplier", async () => {
      const key = await t.a.supplier("auth-lead", "auth-lead-sup");
      const lead = { campaign: "auth-lead", data: consumer() };
      const none = await t.a.call("POST", "/v1/leads", { token: "", body: lead });
      expect(none).toMatchObject({ status: 401, body: { detail: "Send the supplier API key as 'Authorization: Bearer <key>'" } });
      // The right shape, a wrong secret.
      const forged = `${key.slice(0, -4)}AAAA` === key ? `${key.slice(0, -4)}BBBB` : `${key.slice(0, -4)}AAAA`;
      expect(await t.a.call("POST", "/v1/leads", { token: forged, body: lead })).toMatchObject({ status: 401, body: { detail: "The API key is not valid" } });
      expect((await t.a.call("PATCH", "/v1/suppliers/auth-lead-sup", { body: { status: "paused" } })).status).toBe(200);
      // The pause applies to the very next lead: the write cleared this process's cached keys.
      expect(await t.a.call("POST", "/v1/leads", { token: key, body: lead })).toMatchObject({ status: 403, body: { detail: "Supplier 'auth-lead-sup' is paused" } });
    });
  });

  describe("validation", () => {
    it("answers a body that is not JSON 400, and invalid fields 422 with every error by path", async () => {
      const notJson = await t.a.call("POST", "/v1/buyers", { body: "{not json" });
      expect(notJson.status).toBe(400);
      expect(notJson.body.type).toBe("urn:gavel:problem:bad_request");
      const invalid = await t.a.call("POST", "/v1/buyers", { body: { id: "Not A Slug", name: "" } });
      expect(invalid.status).toBe(422);
      expect(invalid.body.type).toBe("urn:gavel:problem:validation");
      expect(invalid.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["id", "name"]);
    });

    it("answers bad query parameters 422 naming each", async () => {
      const res = await t.a.call("GET", "/v1/leads?limit=lots&status=sideways");
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["limit", "status"]);
    });

    it("answers a lead with invalid fields 422 naming each field", async () => {
      const key = await t.a.supplier("valid-lead", "valid-lead-sup");
      const res = await t.a.call("POST", "/v1/leads", { token: key, body: { campaign: "valid-lead", data: consumer({ email: "not an email", age: "old" }) } });
      expect(res.status).toBe(422);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["data.age", "data.email"]);
    });
  });

  describe("configuration as code", () => {
    it("exports the configuration, and a dry run of the same file changes nothing", async () => {
      await t.a.supplier("cfg-in-process", "cfg-in-process-sup");
      const exported = await t.a.app.request("/v1/config/export", { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(exported.status).toBe(200);
      expect(exported.headers.get("content-type")).toMatch(/^application\/yaml/);
      const file = await exported.text();
      expect(file).toContain("cfg-in-process");
      const dryRun = await t.a.call("POST", "/v1/config/apply?dry_run=true", { body: file, headers: { "content-type": "application/yaml" } });
      expect(dryRun.status).toBe(200);
      expect(dryRun.body).toMatchObject({ dry_run: true, applied: false, changes: { created: [], changed: [] } });
    });

    it("refuses a file with an error whole, 422 with its line", async () => {
      const file = "campaigns:\n  - id: cfg-bad\n    name: Bad\n    fields: nope\n";
      const res = await t.a.call("POST", "/v1/config/apply", { body: file, headers: { "content-type": "application/yaml" } });
      expect(res.status).toBe(422);
      expect(res.body.errors.some((e: { line?: number }) => e.line === 4)).toBe(true);
      expect((await t.a.call("GET", "/v1/campaigns/cfg-bad")).status).toBe(404);
    });
  });

  describe("lead intake", () => {
    it("sells nothing for a campaign without channels: 200 unsold, with a trace an operator can read", async () => {
      const key = await t.a.supplier("no-channels", "no-channels-sup");
      const res = await t.a.call("POST", "/v1/leads", { token: key, body: { campaign: "no-channels", data: consumer() } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "unsold", price: 0, sold_to: 0 });
      const trace = await t.a.call("GET", res.body.trace_url);
      expect(trace).toMatchObject({ status: 200, body: { id: res.body.lead_id, status: "unsold", supplier: "no-channels-sup", attempts: [] } });
      expect(t.a.gate.inFlight).toBe(0); // its slot was given back
    });
  });
});
