// Routes anyone may call: liveness, readiness, the OpenAPI document and the API reference UI.
// The reference UI is Swagger UI from the swagger-ui-dist package, served by Gavel itself, so
// /docs works with no internet; its Content-Security-Policy lets it load nothing from elsewhere.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { AuctionGate } from "../auction/gate";
import { ping, type Database } from "../db/client";
import { GavelError } from "../errors";
import { openApiDocument, type ApiInfo } from "./openapi";
import { route, type AnyRoute } from "./route";

export interface SystemRouteDeps {
  database: Database;
  gate: AuctionGate;
  isReady(): boolean;
  info: ApiInfo;
}

const swaggerDir = () => dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

const INIT_JS = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Gavel API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
`;

// Nothing but Gavel itself: a page that tried to reach a CDN would fail here as it would offline.
const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'";

const assets: Record<string, { type: string; load: () => string | Buffer }> = {
  "swagger-ui.css": { type: "text/css; charset=utf-8", load: () => readFileSync(join(swaggerDir(), "swagger-ui.css")) },
  "swagger-ui-bundle.js": { type: "text/javascript; charset=utf-8", load: () => readFileSync(join(swaggerDir(), "swagger-ui-bundle.js")) },
  "init.js": { type: "text/javascript; charset=utf-8", load: () => INIT_JS },
};

export function systemRoutes(deps: SystemRouteDeps, allRoutes: () => readonly AnyRoute[]): AnyRoute[] {
  let document: string | undefined;
  const loaded = new Map<string, string | Buffer>();
  return [
    route({
      method: "get",
      path: "/healthz",
      access: "public",
      operationId: "health",
      summary: "Liveness",
      tags: ["System"],
      responses: { 200: { description: "The process is up", schema: z.object({ status: z.literal("ok") }) } },
      handler: (c) => c.json({ status: "ok" }),
    }),
    route({
      method: "get",
      path: "/readyz",
      access: "public",
      operationId: "ready",
      summary: "Readiness: the database answers and the process is not draining",
      tags: ["System"],
      responses: {
        200: {
          description: "Ready",
          schema: z.object({ status: z.literal("ready"), database: z.enum(["postgres", "pglite"]), auctions_in_flight: z.number().int() }),
        },
        503: { description: "Draining, or the database is unreachable", schema: z.object({ status: z.enum(["draining", "database_unreachable"]) }), contentType: "application/json" },
      },
      async handler(c) {
        if (!deps.isReady()) return c.json({ status: "draining" }, 503);
        try {
          // A load balancer asks often and wants a quick answer: a database that cannot say
          // "1" within a second is not one to send leads to.
          await ping(deps.database, 1000);
          return c.json({ status: "ready", database: deps.database.kind, auctions_in_flight: deps.gate.inFlight });
        } catch {
          return c.json({ status: "database_unreachable" }, 503);
        }
      },
    }),
    route({
      method: "get",
      path: "/openapi.json",
      access: "public",
      operationId: "openapi",
      summary: "This OpenAPI 3.1 document",
      tags: ["System"],
      responses: { 200: { description: "The document", contentType: "application/json" } },
      handler(c) {
        document ??= JSON.stringify(openApiDocument(allRoutes(), deps.info));
        return c.body(document, 200, { "content-type": "application/json; charset=utf-8" });
      },
    }),
    route({
      method: "get",
      path: "/docs",
      access: "public",
      operationId: "docs",
      summary: "Interactive API reference (served by Gavel; works offline)",
      tags: ["System"],
      responses: { 200: { description: "The reference page", contentType: "text/html" } },
      handler: (c) => c.body(DOCS_HTML, 200, { "content-type": "text/html; charset=utf-8", "content-security-policy": DOCS_CSP }),
    }),
    route({
      method: "get",
      path: "/docs/assets/{file}",
      access: "public",
      operationId: "docsAsset",
      summary: "The reference page's scripts and styles",
      tags: ["System"],
      responses: { 200: { description: "The asset", contentType: "text/javascript" } },
      handler(c, { params }) {
        const asset = Object.hasOwn(assets, params.file) ? assets[params.file] : undefined;
        if (!asset) throw new GavelError("not_found", `No asset '${params.file}'`);
        let body = loaded.get(params.file);
        if (body === undefined) loaded.set(params.file, (body = asset.load()));
        return c.body(typeof body === "string" ? body : new Uint8Array(body), 200, {
          "content-type": asset.type,
          "cache-control": "public, max-age=3600",
        });
      },
    }),
  ];
}
