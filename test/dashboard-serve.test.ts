// The dashboard is served by Gavel itself at `/`: a page and hashed assets, nothing from elsewhere,
// cached sensibly, whether built in memory (running from source) or by `npm run build`.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { dashboardRoutes, readBuiltDashboard } from "../src/dashboard/serve";
import type { AppEnv } from "../src/http/env";
import { onError } from "../src/http/problem";
import { mountRoutes } from "../src/http/route";
import { useTestGavel } from "./helpers/gavel";

const run = promisify(execFile);

function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
}

describe("the dashboard's page and assets", () => {
  const t = useTestGavel();

  it("serves the page at / without a token, under a policy that loads nothing from elsewhere", async () => {
    const res = await fetch(`${t.g.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/https?:/);
    const html = await res.text();
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    const assets = assetsOf(html);
    expect(assets.some((a) => /^\/assets\/app-[A-Z0-9]+\.js$/.test(a))).toBe(true);
    expect(assets.some((a) => /^\/assets\/app-[A-Z0-9]+\.css$/.test(a))).toBe(true);
  });

  it("revalidates the page by its ETag and caches the hashed assets for good", async () => {
    const first = await fetch(`${t.g.url}/`);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^".+"$/);
    expect(first.headers.get("cache-control")).toBe("no-cache");
    const again = await fetch(`${t.g.url}/`, { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    for (const asset of assetsOf(await first.text())) {
      const res = await fetch(`${t.g.url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(res.headers.get("content-type")).toMatch(asset.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
  });

  it("answers an unknown asset with a problem, and never reads outside its own files", async () => {
    for (const path of ["/assets/app-NOPE.js", "/assets/..%2F..%2Fpackage.json", "/assets/index.html"]) {
      const res = await fetch(`${t.g.url}${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
  });
});

describe("the dashboard built by npm run build", () => {
  it("serves the files build-cli.ts wrote, as the in-memory build would", async () => {
    const out = await mkdtemp(join(tmpdir(), "gavel-dashboard-"));
    try {
      await run(process.execPath, ["--import", "tsx", "src/dashboard/build-cli.ts", out], { timeout: 60_000 });
      const written = await readdir(join(out, "dashboard", "assets"));
      expect(written.some((f) => /^app-[A-Z0-9]+\.js$/.test(f))).toBe(true);
      const app = new Hono<AppEnv>();
      app.onError(onError);
      mountRoutes(app, dashboardRoutes({ load: () => readBuiltDashboard(join(out, "dashboard")) }), () => async (_c, next) => next());
      const page = await app.request("/");
      expect(page.status).toBe(200);
      const html = await page.text();
      const assets = assetsOf(html);
      expect(assets.length).toBe(2);
      for (const asset of assets) {
        expect(written).toContain(asset.slice("/assets/".length));
        const plain = await app.request(asset, { headers: { "accept-encoding": "identity" } });
        expect(plain.status).toBe(200);
        expect(plain.headers.get("content-encoding")).toBeNull();
        const body = Buffer.from(await plain.arrayBuffer());
        expect(body.equals(await readFile(join(out, "dashboard", asset)))).toBe(true);
        // Gzipped for a client that takes it: the same bytes, smaller, under an ETag of its own.
        const zipped = await app.request(asset, { headers: { "accept-encoding": "gzip, br" } });
        expect(zipped.headers.get("content-encoding")).toBe("gzip");
        expect(zipped.headers.get("vary")).toBe("accept-encoding");
        expect(zipped.headers.get("etag")).not.toBe(plain.headers.get("etag"));
        const packed = Buffer.from(await zipped.arrayBuffer());
        expect(packed.length).toBeLessThan(body.length);
        expect(gunzipSync(packed).equals(body)).toBe(true);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
