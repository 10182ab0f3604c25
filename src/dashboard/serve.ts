// The dashboard at `/`: one page and its assets, served by Gavel itself so it works offline. The
// assets have hashed names and are cached for good; the page is revalidated by its ETag, so a new
// build shows at the next load. `npm run build` writes them beside the bundled server
// (dist/dashboard/); a Gavel running from source builds them in memory on its first request.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "hono";
import { GavelError } from "../errors";
import { route, type AnyRoute } from "../http/route";
import { buildDashboard, dashboardFile, type DashboardBundle, type DashboardFile } from "./build";

// The page talks to Gavel's own API and loads nothing from anywhere else.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** dist/dashboard/ when this module runs bundled as dist/main.js; from source it does not exist. */
const builtDir = () => fileURLToPath(new URL("./dashboard/", import.meta.url));

/** The files `npm run build` wrote to `dir` (build-cli.ts). */
export async function readBuiltDashboard(dir: string): Promise<DashboardBundle> {
  const assets = new Map<string, DashboardFile>();
  for (const name of await readdir(join(dir, "assets"))) assets.set(name, dashboardFile(name, await readFile(join(dir, "assets", name))));
  return { index: dashboardFile("index.html", await readFile(join(dir, "index.html"))), assets };
}

/**
 * A file as this request takes it: gzipped when the client accepts gzip, else as is. Each encoding
 * is its own representation, with its own ETag; a matching If-None-Match is a 304. The API
 * reference's files (http/system.ts) are sent the same way.
 */
export function sendFile(c: Context, file: Omit<DashboardFile, "name">, cacheControl: string): Response {
  const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
  const etag = gzip ? `${file.etag.slice(0, -1)}-gz"` : file.etag;
  const headers = { etag, "cache-control": cacheControl, vary: "accept-encoding" };
  if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
  const body = (gzip ? file.gzip : file.body) as Uint8Array<ArrayBuffer>;
  return c.body(body, 200, { ...headers, "content-type": file.type, ...(gzip ? { "content-encoding": "gzip" } : {}) });
}

export interface DashboardOptions {
  /** Where the bundle comes from (default: dist/dashboard/ when built, else an in-memory build). */
  load?: () => Promise<DashboardBundle>;
}

export function dashboardRoutes(options: DashboardOptions = {}): AnyRoute[] {
  const load =
    options.load ??
    (() => {
      const dir = builtDir();
      return existsSync(join(dir, "index.html")) ? readBuiltDashboard(dir) : buildDashboard();
    });
  // Loaded once, on the first request; a failed build is tried again on the next one.
  let bundle: Promise<DashboardBundle> | undefined;
  const loaded = () => {
    bundle ??= load().catch((error) => {
      bundle = undefined;
      throw error;
    });
    return bundle;
  };

  return [
    route({
      method: "get",
      path: "/",
      access: "public",
      operationId: "dashboard",
      summary: "The dashboard (served by Gavel; works offline; sign in with an operator token)",
      tags: ["System"],
      responses: { 200: { description: "The dashboard page", contentType: "text/html" }, 304: { description: "Not modified (ETag)" } },
      async handler(c) {
        const { index } = await loaded();
        c.header("content-security-policy", CSP);
        c.header("x-content-type-options", "nosniff");
        c.header("referrer-policy", "no-referrer");
        return sendFile(c, index, "no-cache");
      },
    }),
    route({
      method: "get",
      path: "/assets/{file}",
      access: "public",
      operationId: "dashboardAsset",
      summary: "The dashboard's scripts and styles (hashed names, cached for good)",
      tags: ["System"],
      responses: { 200: { description: "The asset", contentType: "text/javascript" }, 304: { description: "Not modified (ETag)" } },
      async handler(c, { params }) {
        const { assets } = await loaded();
        const file = assets.get(params.file);
        if (!file) throw new GavelError("not_found", `No dashboard asset '${params.file}'`);
        c.header("x-content-type-options", "nosniff");
        return sendFile(c, file, "public, max-age=31536000, immutable");
      },
    }),
  ];
}
