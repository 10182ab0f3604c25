// /docs without a long script-loading pause: Swagger UI's 1.7 MB script, its stylesheet and the
// OpenAPI document go gzipped with ETags, the assets under versioned URLs cached for good, and the
// page preloads the document so it downloads while the script loads. Checked over HTTP, then in a
// real browser (Debian's Chromium through playwright-core, as test/dashboard.test.ts does): what it
// fetched, how many bytes, and that a second visit fetches the script from nowhere. No timings are
// asserted; the shape of the loading is.
import { existsSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestGavel } from "./helpers/gavel";

const CHROMIUM = "/usr/bin/chromium";
const missing = !existsSync(CHROMIUM);
if (missing && !process.env.CI) console.warn(`docs.test.ts: browser part skipped: no Chromium at ${CHROMIUM} (apt-get install chromium); CI runs it`);
// A busy machine's worst for a page of this size, five times over.
const STEP_MS = 60_000;

describe("the API reference at /docs", () => {
  const t = useTestGavel();
  const get = (path: string) => fetch(`${t.g.url}${path}`);

  /** The asset URLs /docs links, and the document it preloads. */
  async function links() {
    const html = await (await get("/docs")).text();
    return [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  }

  it("links its assets under one versioned URL each, and preloads the document before the scripts", async () => {
    const page = await get("/docs");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    const urls = await links();
    expect(urls[0]).toBe("/openapi.json");
    expect(html).toMatch(/<link rel="preload" href="\/openapi.json" as="fetch" crossorigin>/);
    const assets = urls.slice(1);
    expect(assets.map((u) => u.replace(/\?v=.*/, ""))).toEqual([
      "/docs/assets/favicon-32x32.png",
      "/docs/assets/swagger-ui.css",
      "/docs/assets/swagger-ui-bundle.js",
      "/docs/assets/init.js",
    ]);
    const versions = new Set(assets.map((u) => new URL(u, t.g.url).searchParams.get("v")));
    expect(versions.size).toBe(1);
    expect([...versions][0]).toMatch(/^[0-9a-f]{12}$/);
    // The scripts do not hold up the page, and say something while they load.
    expect(html).toMatch(/<script defer src="\/docs\/assets\/swagger-ui-bundle.js\?v=/);
    expect(html).toContain("Loading the Gavel API reference");
  });

  it("sends the script, the stylesheet and the document gzipped to clients that take it, with ETags and 304s", async () => {
    const [, ...assets] = await links();
    for (const url of [...assets, "/openapi.json"]) {
      // Read as sent: node's fetch would ask for gzip and unzip it on its own.
      const plain = await rawGet(`${t.g.url}${url}`, {});
      expect(plain.headers["content-encoding"], url).toBeUndefined();
      expect(plain.headers.vary, url).toBe("accept-encoding");

      const zipped = await rawGet(`${t.g.url}${url}`, { "accept-encoding": "gzip, deflate, br" });
      expect(zipped.headers["content-encoding"], url).toBe("gzip");
      expect(gunzipSync(zipped.body).equals(plain.body), url).toBe(true);
      if (plain.body.length > 100_000) expect(zipped.body.length, url).toBeLessThan(plain.body.length * 0.4);

      // Each representation has its own ETag, and answers 304 to it.
      const etag = zipped.headers.etag as string;
      expect(etag).toMatch(/^"[\w-]+-gz"$/);
      expect(plain.headers.etag).not.toBe(etag);
      expect((await rawGet(`${t.g.url}${url}`, { "accept-encoding": "gzip", "if-none-match": etag })).status, url).toBe(304);
      expect((await rawGet(`${t.g.url}${url}`, { "if-none-match": plain.headers.etag as string })).status, url).toBe(304);
    }
  });

  it("caches the versioned URLs for good, and revalidates anything else", async () => {
    const css = (await links()).find((u) => u.startsWith("/docs/assets/swagger-ui.css?v="))!;
    expect((await get(css)).headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await get("/docs/assets/swagger-ui.css")).headers.get("cache-control")).toBe("no-cache");
    expect((await get("/docs/assets/swagger-ui.css?v=0123456789ab")).headers.get("cache-control")).toBe("no-cache");
    expect((await get("/openapi.json")).headers.get("cache-control")).toBe("no-cache");
  });

  describe.skipIf(missing && !process.env.CI)("in a real browser", () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    }, STEP_MS);
    afterAll(async () => {
      await browser?.close();
    });

    it("renders every operation having fetched the document once, gzipped, and on a second visit the script from its cache", async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const requested: string[] = [];
      const failed: string[] = [];
      page.on("request", (r) => requested.push(new URL(r.url()).pathname));
      page.on("requestfailed", (r) => failed.push(r.url()));
      page.on("console", (m) => m.type() === "error" && failed.push(m.text()));

      await page.goto(`${t.g.url}/docs`, { timeout: STEP_MS });
      await page.locator(".opblock").first().waitFor({ timeout: STEP_MS });
      expect(await page.locator(".opblock").count()).toBeGreaterThan(30);
      expect(failed).toEqual([]);
      // The preload is the fetch Swagger UI makes: the document is asked for once.
      expect(requested.filter((p) => p === "/openapi.json")).toHaveLength(1);
      const first = await transfers(page);
      const bundle = first.get("/docs/assets/swagger-ui-bundle.js")!;
      expect(bundle.transferSize).toBeGreaterThan(0);
      expect(bundle.transferSize).toBeLessThan(bundle.decodedBodySize * 0.4);

      await page.goto(`${t.g.url}/docs`, { timeout: STEP_MS });
      await page.locator(".opblock").first().waitFor({ timeout: STEP_MS });
      const second = await transfers(page);
      // Served from the browser's cache: no bytes over the wire.
      expect(second.get("/docs/assets/swagger-ui-bundle.js")!.transferSize).toBe(0);
      expect(second.get("/docs/assets/swagger-ui.css")!.transferSize).toBe(0);
      await context.close();
    }, STEP_MS * 3);
  });
});

/** Resource timings of the page's last load, by path. */
async function transfers(page: import("playwright-core").Page) {
  const entries = await page.evaluate(() =>
    (performance.getEntriesByType("resource") as unknown as { name: string; transferSize: number; decodedBodySize: number }[]).map((e) => ({
      path: new URL(e.name).pathname,
      transferSize: e.transferSize,
      decodedBodySize: e.decodedBodySize,
    })),
  );
  return new Map(entries.map((e) => [e.path, e]));
}

/** A GET whose body is read as sent (node's fetch decodes gzip itself). */
async function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}
