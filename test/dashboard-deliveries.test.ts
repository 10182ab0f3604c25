// The dashboard's Deliveries page in a real browser (Debian's Chromium, playwright-core): the dead
// letters the API lists, and the Replay button, which an analyst's token may not use and an admin's
// does; the notification is then pending again, and delivered by the next sweep. A screenshot of
// the page goes to test-results/dashboard/ for a person to look at.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { ADMIN, consumer, pingPost, useTestGavel } from "./helpers/gavel";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join("test-results", "dashboard");
const STEP_MS = 15_000;
const missing = !existsSync(CHROMIUM);

describe.skipIf(missing && !process.env.CI)("dead letters on the dashboard", () => {
  // One attempt: the first failure is a dead letter. No background sweep: the test sweeps.
  const t = useTestGavel({ GAVEL_DELIVERY_MAX_ATTEMPTS: "1", GAVEL_DELIVERY_POLL_MS: "3600000" });
  let browser: Browser;
  let page: Page;
  let receiver: TestBuyer;
  let up = false;
  let leadId = "";
  let analyst = "";

  beforeAll(async () => {
    receiver = await startBuyer({ post: () => (up ? { status: 200, json: { ok: true } } : { status: 503, json: { error: "maintenance" } }) });
    const buyer = await t.buyer({ ping: () => ({ json: { bid: 10 } }) });
    const key = await t.g.setup({
      campaign: { id: "dl-camp" },
      channels: [pingPost("dl-ch", buyer, { buyer_id: "dl-buyer" })],
      supplier: { id: "dl-sup", postback_url: receiver.postUrl },
    });
    const res = await t.g.lead(key, { campaign: "dl-camp", data: consumer() });
    expect(res.body.status).toBe("sold");
    leadId = res.body.lead_id;
    expect(await t.g.gavel.deliverNotifications()).toBe(1);
    analyst = (await t.g.admin("POST", "/v1/tokens", { name: "dead letters", role: "analyst" })).body.token;

    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      timeout: 60_000,
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    context.setDefaultTimeout(STEP_MS);
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
  });

  async function signIn(token: string) {
    await page.goto(`${t.g.url}/#/deliveries`);
    await page.evaluate(`sessionStorage.setItem("gavel.token", ${JSON.stringify(token)})`);
    // The page reads its token when it loads.
    await page.reload();
  }

  it("lists the dead letter as the API does; an analyst's replay is refused", async () => {
    const api = (await t.g.admin("GET", "/v1/deliveries?state=dead")).body.items;
    expect(api).toHaveLength(1);
    await signIn(analyst);
    const table = page.getByTestId("deliveries-table");
    await table.waitFor();
    const row = table.locator("tbody tr");
    expect(await row.count()).toBe(1);
    const text = await row.first().textContent();
    for (const shown of ["lead.sold", leadId, "supplier:dl-sup", "HTTP 503", "dead"]) expect(text).toContain(shown);
    await page.getByRole("button", { name: "Replay" }).click();
    await expect.poll(() => page.getByRole("alert").getAttribute("data-status"), { timeout: STEP_MS }).toBe("403");
    expect((await t.g.admin("GET", `/v1/deliveries/${api[0].id}`)).body.state).toBe("dead");
  });

  it("replays it with an admin's token: it leaves the dead letters, and the next sweep delivers it", async () => {
    await signIn(ADMIN);
    await page.getByTestId("deliveries-table").waitFor();
    await page.screenshot({ path: join(SHOTS, "deliveries-dead-letters.png"), fullPage: true });
    await page.getByRole("button", { name: "Replay" }).click();
    await page.getByText("No dead letters").waitFor();
    const [row] = (await t.g.admin("GET", `/v1/deliveries?lead_id=${leadId}`)).body.items;
    expect(row).toMatchObject({ state: "pending", attempts: 0 });
    const audit = (await t.g.admin("GET", `/v1/audit?resource=deliveries/${row.id}`)).body.items;
    expect(audit).toMatchObject([{ action: "delivery.replay" }]);
    up = true;
    expect(await t.g.gavel.deliverNotifications()).toBe(1);
    await page.locator('select[name="state"]').selectOption("delivered");
    const delivered = page.getByTestId("deliveries-table").locator("tbody tr");
    await expect.poll(() => delivered.first().textContent(), { timeout: STEP_MS }).toContain("delivered");
    await page.screenshot({ path: join(SHOTS, "deliveries-delivered.png"), fullPage: true });
    expect(receiver.posts.map((r) => r.headers["x-gavel-event-id"])).toEqual([`lead.sold:${leadId}`, `lead.sold:${leadId}`]);
  });
});
