// The OpenAPI document is generated from the route table: every mounted route is in it, it is a
// valid OpenAPI 3.1 document, and the reference UI at /docs is served entirely by Gavel.
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { openApiPath } from "../src/http/route";
import { useTestGavel } from "./helpers/gavel";

const METHODS = ["get", "post", "put", "patch", "delete"];

describe("OpenAPI document and API reference", () => {
  const t = useTestGavel();

  async function document() {
    const res = await fetch(`${t.g.url}/openapi.json`);
    expect(res.status).toBe(200);
    return (await res.json()) as { openapi: string; paths: Record<string, Record<string, any>>; components: any };
  }

  it("serves a valid OpenAPI 3.1 document without a token", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("documents every route the app mounts, and mounts every route it documents", async () => {
    const doc = await document();
    // app.routes lists what Hono really mounted (one entry per handler); "ALL" entries are middleware.
    const mounted = new Set(
      t.g.gavel.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => METHODS.includes(m))
          .map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    expect([...mounted].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !mounted.has(r))).toEqual([]);
    // The routes SPEC.md and the issues name are all there.
    for (const r of [
      "POST /v1/leads",
      "GET /v1/leads/{id}",
      "GET /v1/leads",
      "PATCH /v1/channels/{id}",
      "POST /v1/campaigns/{id}/explain",
      "POST /v1/tokens",
      "DELETE /v1/tokens/{id}",
      "POST /v1/suppliers/{id}/keys",
      "DELETE /v1/suppliers/{id}/keys/{key_id}",
      "GET /v1/audit",
      "POST /v1/config/apply",
      "GET /openapi.json",
      "GET /docs",
      "GET /healthz",
      "GET /readyz",
    ])
      expect(mounted).toContain(r);
  });

  it("gives every operation its role, security and error answers", async () => {
    const doc = await document();
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(["public", "supplier", "analyst", "admin", "buyer"], where).toContain(op["x-gavel-role"]);
        expect(op.operationId, where).toBeTruthy();
        if (op["x-gavel-role"] === "public") expect(op.security, where).toEqual([]);
        else expect(op.responses["401"], where).toBeDefined();
        if (op["x-gavel-role"] === "admin") expect(op.responses["403"], where).toBeDefined();
      }
    expect(doc.paths["/v1/leads"].post.responses["429"].headers["Retry-After"]).toBeDefined();
  });

  it("documents X-Request-Id on every operation and on every answer, errors included", async () => {
    const doc = await document();
    expect(doc.components.parameters.RequestId).toMatchObject({ name: "X-Request-Id", in: "header", required: false });
    expect(doc.components.headers.RequestId.description).toContain("request_id");
    let answers = 0;
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.parameters, where).toContainEqual({ $ref: "#/components/parameters/RequestId" });
        for (const [status, response] of Object.entries<any>(op.responses)) {
          expect(response.headers?.["X-Request-Id"], `${where} ${status}`).toEqual({ $ref: "#/components/headers/RequestId" });
          answers++;
        }
      }
    expect(answers).toBeGreaterThan(100);
    // A route's own headers are kept beside it.
    expect(doc.paths["/v1/leads"].post.responses["503"].headers["Retry-After"]).toBeDefined();
  });

  it("describes bodies with the zod schemas that validate them", async () => {
    const doc = await document();
    const schemas = doc.components.schemas;
    // Input form, written out in the request body (a client generator reads a `default` in a
    // shared component as "always present"): defaults are optional; only what the schema requires
    // is required, down to the nested endpoint (a channel's post is not: an email channel has none).
    const channel = doc.paths["/v1/channels"].post.requestBody.content["application/json"].schema;
    expect(channel.title).toBe("Channel");
    expect(channel.required.sort()).toEqual(["buyer_id", "campaign_id", "id", "type"]);
    expect(channel.properties.post.required).toEqual(["url"]);
    expect(JSON.stringify(doc.paths["/v1/suppliers"].post.requestBody)).not.toContain("$ref\":\"#/components/schemas/Supplier");
    expect(channel.properties.type.enum).toEqual(["ping_post", "direct_post", "email"]);
    expect(channel.additionalProperties).toBe(false);
    // Output form: what a read returns, defaults filled in, with timestamps.
    const read = schemas[doc.paths["/v1/channels/{id}"].get.responses["200"].content["application/json"].schema.$ref.split("/").pop()];
    expect(read.required).toEqual(expect.arrayContaining(["status", "filters", "priority", "created_at", "updated_at"]));
    expect(schemas.SupplierRead.properties.rate_limit).toBeDefined();
    const listQuery = doc.paths["/v1/leads"].get.parameters.map((p: any) => p.name);
    expect(listQuery).toEqual(expect.arrayContaining(["campaign", "status", "test", "from", "to", "cursor", "limit"]));
    // Query values are text on the wire, but a number or a boolean is published as one.
    const param = (path: string, name: string) => doc.paths[path].get.parameters.find((p: any) => p.name === name).schema;
    for (const path of ["/v1/leads", "/v1/audit", "/v1/campaigns", "/v1/buyers", "/v1/channels", "/v1/suppliers"])
      expect(param(path, "limit"), path).toEqual({ type: "integer", minimum: 1, maximum: 500, default: 50 });
    expect(param("/v1/leads", "test")).toEqual({ type: "boolean" });
    expect(param("/v1/reports/bids", "test").type).toBe("boolean");
  });

  it("reads a list's limit as the integer it publishes, and names it when it is not one", async () => {
    expect((await t.g.admin("GET", "/v1/buyers?limit=3")).status).toBe(200);
    for (const limit of ["0", "501", "1.5", "ten", ""]) {
      const res = await t.g.admin("GET", `/v1/leads?limit=${limit}`);
      expect(res.status, limit).toBe(422);
      expect(res.body.errors, limit).toEqual([{ path: "limit", message: "must be an integer from 1 to 500" }]);
    }
  });

  it("serves an API reference at /docs that loads nothing from outside Gavel", async () => {
    const res = await fetch(`${t.g.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await res.text();
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    for (const url of urls) {
      expect(url, "a local, absolute path").toMatch(/^\/(?!\/)/);
      const asset = await fetch(`${t.g.url}${url}`);
      expect(asset.status, url).toBe(200);
      // Scripts, styles, the icon, and the document itself (preloaded while the script loads).
      expect(asset.headers.get("content-type"), url).toMatch(/^(text\/(css|javascript)|application\/json|image\/png)/);
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(10);
    }
    const init = await (await fetch(`${t.g.url}/docs/assets/init.js`)).text();
    expect(init).toContain('"/openapi.json"');
    expect(init).toContain("validatorUrl: null");
    expect((await fetch(`${t.g.url}/docs/assets/..%2Fpackage.json`)).status).toBe(404);
  });
});
