// Builds the dashboard (src/dashboard/app) into a handful of files: index.html and its hashed
// assets. `npm run build` writes them to dist/dashboard/ (build-cli.ts); a Gavel running from
// source (tests, `npm run demo`) builds them in memory on its first dashboard request instead.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface DashboardFile {
  /** The name under /assets/ (hashed, so it can be cached for good), or "index.html". */
  name: string;
  type: string;
  body: Uint8Array;
  etag: string;
  /** The same, gzipped once at load (the script is a third of its size so), for clients that take it. */
  gzip: Uint8Array;
}

export interface DashboardBundle {
  index: DashboardFile;
  assets: Map<string, DashboardFile>;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
};

export const typeOf = (name: string) => TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream";
export const etagOf = (body: Uint8Array) => `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;

export function dashboardFile(name: string, body: Uint8Array): DashboardFile {
  return { name, type: typeOf(name), body, etag: etagOf(body), gzip: gzipSync(body, { level: 9 }) };
}

/**
 * The app's entry. From source this module sits beside app/; bundled into dist/main.js it does
 * not, and the sources are under src/ next to dist/.
 */
function entryPoint(): string {
  for (const candidate of ["./app/main.tsx", "../src/dashboard/app/main.tsx"]) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error("the dashboard's sources (src/dashboard/app) are not here: run `npm run build` to build it into dist/dashboard");
}

export function indexHtml(script: string, stylesheet: string | undefined): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Gavel</title>
  <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23334'/%3E%3Cpath d='M4 11h8v2H4zM6 3h4v6H6z' fill='%23fc6'/%3E%3C/svg%3E">
${stylesheet ? `  <link rel="stylesheet" href="/assets/${stylesheet}">\n` : ""}  <script type="module" src="/assets/${script}"></script>
</head>
<body>
  <div id="app"></div>
  <noscript>The Gavel dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}

/** Bundles the app with esbuild, in memory: one script, one stylesheet and their source maps. */
export async function buildDashboard(): Promise<DashboardBundle> {
  const esbuild = await import("esbuild");
  const outdir = "/assets";
  const result = await esbuild.build({
    entryPoints: { app: entryPoint() },
    bundle: true,
    write: false,
    outdir,
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: true,
    sourcemap: "linked",
    metafile: true,
    logLevel: "silent",
  });
  const assets = new Map<string, DashboardFile>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf("/") + 1);
    assets.set(name, dashboardFile(name, file.contents));
  }
  const [entryOut, entryMeta] = Object.entries(result.metafile.outputs).find(([, meta]) => meta.entryPoint !== undefined)!;
  const base = (path: string) => path.slice(path.lastIndexOf("/") + 1);
  const html = indexHtml(base(entryOut), entryMeta.cssBundle ? base(entryMeta.cssBundle) : undefined);
  return { index: dashboardFile("index.html", new TextEncoder().encode(html)), assets };
}
