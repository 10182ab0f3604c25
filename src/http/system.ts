// Routes anyone may call: liveness, readiness, the OpenAPI document and the API reference UI.
// The reference UI is Swagger UI from the swagger-ui-dist package, served by Gavel itself, so
// /docs works with no internet; its Content-Security-Policy lets it load nothing from elsewhere.
// Its 1.7 MB script, its stylesheet and the document are sent gzipped (a quarter of their size or
// less) with ETags, the assets under versioned URLs cached for good, and the page fetches the document
// while the script is still loading, instead of after it has run.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { z } from "zod";
import type { AuctionGate } from "../auction/gate";
import { etagOf, type DashboardFile } from "../dashboard/build";
import { sendFile } from "../dashboard/serve";
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

// Deferred after the bundle, so it runs as soon as the page is parsed, not at the window's load.
const INIT_JS = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

/** The document is preloaded, so it downloads (and is built, on a first request) while the script loads. */
const docsHtml = (version: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Gavel API reference</title>
  <link rel="preload" href="/openapi.json" as="fetch" crossorigin>
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png?v=${version}">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css?v=${version}">
  <script defer src="/docs/assets/swagger-ui-bundle.js?v=${version}"></script>
  <script defer src="/docs/assets/init.js?v=${version}"></script>
</head>
<body>
  <div id="swagger-ui"><p style="font-family: sans-serif; margin: 2em">Loading the Gavel API reference…</p></div>
</body>
</html>
`;

// Nothing but Gavel itself: a page that tried to reach a CDN would fail here as it would offline.
const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'";

const assets: Record<string, { type: string; load: () => string | Buffer }> = {
  "swagger-ui.css": { type: "text/css; charset=utf-8", load: () => readFileSync(join(swaggerDir(), "swagger-ui.css")) },
  "swagger-ui-bundle.js": { type: "text/javascript; charset=utf-8", load: () => readFileSync(join(swaggerDir(), "swagger-ui-bundle.js")) },
  "init.js": { type: "text/javascript; charset=utf-8", load: () => INIT_JS },
  "favicon-32x32.png": { type: "image/png", load: () => readFileSync(join(swaggerDir(), "favicon-32x32.png")) },
};

/** A body sent as it is or gzipped, whichever the client takes, with an ETag for each: a dashboard file's shape. */
type Representation = Omit<DashboardFile, "name">;

const gzip = promisify(gzipCallback);

/** Gzipped off the event loop (the script takes tens of ms), once per process. */
async function representation(type: string, content: string | Buffer): Promise<Representation> {
  const body = typeof content === "string" ? Buffer.from(content) : content;
  return { type, body, gzip: await gzip(body, { level: 9 }), etag: etagOf(body) };
}

/** What the asset URLs carry, so a new Swagger UI or a new init script is a new URL. */
const assetsVersion = () =>
  createHash("sha256")
    .update(`${JSON.parse(readFileSync(join(swaggerDir(), "package.json"), "utf8")).version}\n${INIT_JS}`)
    .digest("hex")
    .slice(0, 12);

export function systemRoutes(deps: SystemRouteDeps, allRoutes: () => readonly AnyRoute[]): AnyRoute[] {
  let document: Promise<Representation> | undefined;
  let version: string | undefined;
  const loaded = new Map<string, Promise<Representation>>();
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
      responses: {
        200: { description: "The document (gzipped for clients that take it)", contentType: "application/json" },
        304: { description: "Not modified (ETag)" },
      },
      async handler(c) {
        document ??= representation("application/json; charset=utf-8", JSON.stringify(openApiDocument(allRoutes(), deps.info)));
        // Revalidated on each load (a new Gavel may document more), a 304 when unchanged.
        return sendFile(c, await document, "no-cache");
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
      handler(c) {
        version ??= assetsVersion();
        return c.body(docsHtml(version), 200, { "content-type": "text/html; charset=utf-8", "content-security-policy": DOCS_CSP, "cache-control": "no-cache" });
      },
    }),
    route({
      method: "get",
      path: "/docs/assets/{file}",
      access: "public",
      operationId: "docsAsset",
      summary: "The reference page's scripts and styles",
      tags: ["System"],
      query: z.object({ v: z.string().optional().meta({ description: "The assets' version, as /docs links them: that URL is cached for good" }) }),
      responses: {
        200: { description: "The asset (gzipped for clients that take it)", contentType: "text/javascript" },
        304: { description: "Not modified (ETag)" },
      },
      async handler(c, { params, query }) {
        const asset = Object.hasOwn(assets, params.file) ? assets[params.file] : undefined;
        if (!asset) throw new GavelError("not_found", `No asset '${params.file}'`);
        let file = loaded.get(params.file);
        if (file === undefined) loaded.set(params.file, (file = representation(asset.type, asset.load())));
        version ??= assetsVersion();
        // The page asks for this version's URL: cached for good. Any other URL is revalidated.
        const current = query.v === version;
        return sendFile(c, await file, current ? "public, max-age=31536000, immutable" : "no-cache");
      },
    }),
  ];
}
