// A lead's page in the dashboard shows its ranking (README "Pricing and ranking") as the trace
// answers it: the campaign's pricing and ranking, the floor and clearing price, and each bid as made,
// adjusted and charged. Debian's Chromium through playwright-core, as test/dashboard.test.ts.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

const CHROMIUM = "/usr/bin/chromium";
// Well under a second on a quiet machine; 5x a busy machine's worst is the bound.
const STEP_MS = 15_000;
const missing = !existsSync(CHROMIUM);
if (missing && !process.env.CI) console.warn(`dashboard-ranking.test.ts: skipped: no Chromium at ${CHROMIUM} (apt-get install chromium); CI runs it`);

describe.skipIf(missing && !process.env.CI)("a lead's ranking in the dashboard", () => {
  const t = useTestGavel();
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it("lists every bid as made, adjusted and charged, with the clearing price", async () => {
    const top = await t.buyer({ ping: () => ({ json: { bid: 10 } }) });
    const next = await t.buyer({ ping: () => ({ json: { bid: 9 } }) });
    const key = await t.g.setup({
      campaign: { id: "dash-second", auction: { pricing: "second", floor: 2 } },
      channels: [pingPost("dash-top", top, { buyer_id: "dash-top" }), pingPost("dash-next", next, { buyer_id: "dash-next", bid_adjustment: { multiplier: 0.5 } })],
    });
    const sold = await t.g.lead(key, { campaign: "dash-second", data: consumer() });
    // dash-next ranks at 4.50: dash-top pays 4.51.
    expect(sold.body).toMatchObject({ status: "sold", price: 4.51 });
    const trace = (await t.g.admin("GET", `/v1/leads/${sold.body.lead_id}`)).body;
    expect(trace.ranking.clearing_price).toBe(4.51);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      timeout: 60_000,
    });
    const context = await browser.newContext({ locale: "en-US" });
    context.setDefaultTimeout(STEP_MS);
    // Signed in as an operator before the page loads (the sign-in form is test/dashboard.test.ts's).
    await context.addInitScript(`sessionStorage.setItem("gavel.token", ${JSON.stringify(t.g.gavel.adminToken)})`);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${t.g.url}/#/lead/${sold.body.lead_id}`);

    const table = page.getByTestId("ranking");
    await table.waitFor();
    expect(await page.getByTestId("ranking-settings").textContent()).toBe("second price · ranked by price · floor $2.00 · clearing price $4.51");
    const rows = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("th, td")].map((td) => td.textContent)));
    expect(rows).toEqual([
      ["dash-top", "$10.00", "$10.00", "$4.51"],
      ["dash-next", "$9.00", "$4.50", "$2.00"],
    ]);
    expect(problems).toEqual([]);
  }, 120_000);
});
