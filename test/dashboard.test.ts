// The dashboard in a real browser: Debian's Chromium driven by playwright-core against a real Gavel
// with loopback buyers. An analyst signs in, and every figure checked on screen is compared with
// what the report API answers for the same request. Screenshots of every page go to
// test-results/dashboard/ for a person to look at.
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join("test-results", "dashboard");
// Each step takes well under a second on a quiet machine; 5x a busy machine's worst is the bound.
const STEP_MS = 15_000;

const missing = !existsSync(CHROMIUM);
if (missing && !process.env.CI) console.warn(`dashboard.test.ts: skipped: no Chromium at ${CHROMIUM} (apt-get install chromium); CI runs it`);

/**
 * A fixed-offset zone where it is around noon now, so "today" in the browser and in the API is
 * the day the leads were sold in, however close to midnight UTC the test runs.
 */
function noonZone(now = new Date()): string {
  const offset = 12 - now.getUTCHours(); // -11 … 12 hours east of UTC
  return offset === 0 ? "Etc/GMT" : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

const money = (v: number) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2 }).format(v);
const day = (tz: string, shift = 0) => {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  const [y, m, d] = today.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + shift)).toISOString().slice(0, 10);
};

describe.skipIf(missing && !process.env.CI)("the dashboard in a real browser", () => {
  const t = useTestGavel();
  const tz = noonZone();
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let analyst: string;
  const problems: string[] = [];
  /** Lead ids by what happened to them. */
  const sold: string[] = [];
  let fellBack = "";
  /** When every lead had been decided (Unix seconds): a chart's periods up to here are past. */
  let soldBy = 0;

  async function api(path: string): Promise<any> {
    const res = await t.g.admin("GET", path, undefined, analyst);
    expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
    return res.body;
  }

  /**
   * A time chart's overall line, as the page drew it (its data-drawn), against the report the API
   * answers: on an axis of every period of the range, each of the API's `periods` at its own start
   * with its figure as answered, and every period the API left out (no leads) 0 when past, a gap when
   * still to come.
   */
  async function expectOverallLine(testId: string, report: any, metric: string, periodSeconds: number, label: string) {
    const shownAt = Date.now() / 1000;
    const chart = page.getByTestId(testId);
    await chart.locator("canvas").waitFor();
    const drawn = JSON.parse((await chart.getAttribute("data-drawn"))!);
    const from = Date.parse(report.from) / 1000;
    const count = (Date.parse(report.to) / 1000 - from) / periodSeconds;
    expect(drawn.x).toEqual(Array.from({ length: count }, (_, i) => from + i * periodSeconds));
    const overall = drawn.series.find((s: any) => s.overall);
    expect(overall.label).toBe(label);
    expect(report.periods.length).toBeGreaterThan(0);
    const answered = new Map<number, number>(report.periods.map((p: any) => [Date.parse(p.period) / 1000, p[metric]]));
    for (const [at, value] of answered) expect(overall.values[drawn.x.indexOf(at)], `${testId} at ${new Date(at * 1000).toISOString()}`).toBe(value);
    drawn.x.forEach((at: number, i: number) => {
      if (answered.has(at)) return;
      if (at <= soldBy) expect(overall.values[i], `${testId}: a past period without leads`).toBe(0);
      if (at > shownAt) expect(overall.values[i], `${testId}: a period still to come`).toBeNull();
    });
    return drawn;
  }

  async function shot(name: string) {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    // Three buyers: acme buys Texas, bolt buys Oklahoma for less, cobra bids high on young drivers
    // and then refuses them at the post; nobody bids on drivers over 60.
    const tooOld = (r: { body: any }) => Number(r.body.data?.age) >= 60;
    const acme = await t.buyer({ ping: (r) => (tooOld(r) ? { json: { bid: 0, reason: "age not served" } } : { json: { bid: 12.5 } }) });
    const bolt = await t.buyer({ ping: (r) => (tooOld(r) ? { json: { bid: 0, reason: "age not served" } } : { json: { bid: 8.25 } }) });
    const cobra = await t.buyer({
      ping: (r) => (Number(r.body.data?.age) < 25 ? { json: { bid: 20 } } : { json: { bid: 0, reason: "young drivers only" } }),
      post: () => ({ json: { accepted: false, reason: "already in our system" } }),
    });
    const campaign = { id: "auto-insurance", payout: { type: "revshare", percent: 80 } };
    const channels = [
      pingPost("acme-tx", acme, { buyer_id: "acme", filters: [{ field: "state", op: "in", value: ["TX"] }], caps: [{ period: "day", leads: 100 }] }),
      pingPost("bolt-ok", bolt, { buyer_id: "bolt", filters: [{ field: "state", op: "in", value: ["OK"] }] }),
      pingPost("cobra-young", cobra, { buyer_id: "cobra", caps: [{ period: "month", spend: 500 }] }),
    ];
    const web = await t.g.setup({ campaign, channels, supplier: { id: "webleads", name: "Web Leads" } });
    const calls = await t.g.setup({ campaign, channels, supplier: { id: "callcenter", name: "Call Center" } });

    const sell = async (key: string, data: Record<string, unknown>, tracking: Record<string, string>) => {
      const res = await t.g.lead(key, { campaign: "auto-insurance", data, ...tracking });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { lead_id: string; status: string };
    };
    const google1 = { source: "google", sub_id: "kw-1" };
    const facebook = { source: "facebook" };
    const leads: [string, Record<string, unknown>, Record<string, string>][] = [
      [web, consumer({ age: 30 }), google1],
      [web, consumer({ age: 35 }), { source: "google", sub_id: "kw-2" }],
      [web, consumer({ age: 41 }), facebook],
      [calls, consumer({ age: 50 }), {}],
      [web, consumer({ age: 22 }), google1], // cobra wins, then refuses it at the post: acme buys
      [calls, consumer({ age: 23 }), {}], // the same
      [web, consumer({ age: 65 }), facebook], // nobody bids: unsold
      [calls, consumer({ age: 70, state: "OK", zip: "73301" }), {}], // unsold
      [web, consumer({ age: 40, state: "OK", zip: "73301" }), facebook], // bolt buys
      [calls, consumer({ age: 45, state: "OK", zip: "73301" }), {}], // bolt buys
    ];
    for (const [key, data, tracking] of leads) {
      const answer = await sell(key, data, tracking);
      if (answer.status === "sold") sold.push(answer.lead_id);
      if (data.age === 22) fellBack = answer.lead_id;
    }
    expect(sold.length).toBe(8);
    soldBy = Date.now() / 1000;

    const token = await t.g.admin("POST", "/v1/tokens", { name: "dashboard test", role: "analyst" });
    expect(token.status).toBe(201);
    analyst = token.body.token;

    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      timeout: 60_000,
    });
    context = await browser.newContext({ timezoneId: tz, viewport: { width: 1440, height: 900 }, acceptDownloads: true, locale: "en-US" });
    context.setDefaultTimeout(STEP_MS);
    page = await context.newPage();
    page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("signs in with an analyst token after refusing a wrong one", async () => {
    await page.goto(`${t.g.url}/`);
    await page.getByLabel("Operator token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: STEP_MS }).toContain("not valid");
    await shot("01-sign-in-refused");
    // The browser logs the refused token's 401 as a failed load: that one was asked for.
    expect(problems.every((p) => p.includes("401"))).toBe(true);
    problems.length = 0;
    await page.getByLabel("Operator token").fill(analyst);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("gavel.token")')).toBe(analyst);
  });

  it("shows today's revenue on the overview as the API's totals", async () => {
    const today = await api(`/v1/reports/campaigns?from=${day(tz)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}&interval=hour`);
    const yesterday = await api(`/v1/reports/campaigns?from=${day(tz, -1)}&to=${day(tz)}&tz=${encodeURIComponent(tz)}`);
    expect(today.totals.revenue).toBe(6 * 12.5 + 2 * 8.25);
    const revenue = page.getByTestId("kpi-revenue-today");
    await expect.poll(() => revenue.textContent(), { timeout: STEP_MS }).toBe(money(today.totals.revenue));
    expect(await page.getByTestId("kpi-margin-today").textContent()).toBe(money(today.totals.margin));
    expect(await page.getByTestId("kpi-revenue-yesterday").textContent()).toBe(money(yesterday.totals.revenue));

    // The charts' overall lines are the API's periods, placed on every hour and day of the range.
    const week = await api(`/v1/reports/campaigns?from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}&interval=day`);
    const hourly = await expectOverallLine("chart-revenue-hourly", today, "revenue", 3600, "All campaigns");
    await expectOverallLine("chart-leads-hourly", today, "leads", 3600, "All campaigns");
    await expectOverallLine("chart-revenue-daily", week, "revenue", 86_400, "All campaigns");
    await expectOverallLine("chart-leads-daily", week, "leads", 86_400, "All campaigns");
    // One campaign: its line would be the overall one again, so there is none.
    expect(hourly.series.length).toBe(1);
    await shot("02-overview");
  });

  it("changes the date range of a report, and goes back to the previous one", async () => {
    await page.getByRole("link", { name: "Reports" }).click();
    const table = page.getByTestId("report-table");
    await table.waitFor();
    const campaigns = await api(`/v1/reports/campaigns?from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}`);
    expect(await table.locator('tfoot [data-col="revenue"]').textContent()).toBe(money(campaigns.totals.revenue));
    await shot("03-reports-campaigns");

    await page.getByRole("button", { name: "Yesterday" }).click();
    await page.getByText("No leads in this range").waitFor();
    expect(page.url()).toContain(`from=${day(tz, -1)}`);
    await page.locator('input[name="from"]').fill(day(tz, -3));
    await page.locator('input[name="from"]').dispatchEvent("change");
    await expect.poll(() => page.url(), { timeout: STEP_MS }).toContain(`from=${day(tz, -3)}`);
    await page.getByText("No leads in this range").waitFor();
    await page.goBack();
    await page.goBack();
    await table.waitFor();
    expect(await table.locator('tfoot [data-col="revenue"]').textContent()).toBe(money(campaigns.totals.revenue));
  });

  it("drills down from a campaign to its channels, with each channel's figures as the API's", async () => {
    await page.locator('a.drill[data-drill="auto-insurance"]').click();
    await expect.poll(() => page.url(), { timeout: STEP_MS }).toContain("dimension=channels");
    const table = page.getByTestId("report-table");
    await table.locator('a.drill[data-drill="acme-tx"]').waitFor();
    const channels = await api(`/v1/reports/channels?from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}&campaign=auto-insurance`);
    for (const row of channels.rows) {
      const tr = table.locator("tbody tr", { has: page.locator(`a.drill[data-drill="${row.key.channel}"]`) });
      expect(await tr.locator('[data-col="revenue"]').textContent()).toBe(money(row.revenue));
    }
    expect(await table.locator('tfoot [data-col="revenue"]').textContent()).toBe(money(channels.totals.revenue));
    await shot("04-reports-channels");

    // Sorting orders the API's rows, both ways, and lives in the URL.
    const firstChannel = () => table.locator("tbody tr a.drill").first().getAttribute("data-drill");
    const byRevenue = [...channels.rows].sort((a: any, b: any) => b.revenue - a.revenue).map((r: any) => r.key.channel);
    await table.getByRole("button", { name: "Revenue" }).click();
    await expect.poll(firstChannel, { timeout: STEP_MS }).toBe(byRevenue[0]);
    expect(page.url()).toContain("sort=revenue");
    await table.getByRole("button", { name: "Revenue" }).click();
    await expect.poll(firstChannel, { timeout: STEP_MS }).toBe(byRevenue[byRevenue.length - 1]);
    expect(page.url()).toContain("dir=asc");
  });

  it("downloads the report's CSV exactly as the API serves it", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-csv").click()]);
    const file = await readFile((await download.path())!, "utf8");
    const res = await fetch(
      `${t.g.url}/v1/reports/channels?from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}&campaign=auto-insurance&format=csv`,
      { headers: { authorization: `Bearer ${analyst}` } },
    );
    expect(res.status).toBe(200);
    const csv = await res.text();
    expect(csv.split("\n").length).toBeGreaterThan(3);
    expect(file).toBe(csv);
    expect(download.suggestedFilename()).toMatch(/^gavel-channels-.*\.csv$/);
  });

  it("drills down from a channel to its leads and opens a lead's waterfall", async () => {
    await page.locator('a.drill[data-drill="acme-tx"]').click();
    const leads = page.getByTestId("leads-table");
    await leads.waitFor();
    expect(page.url()).toContain("channel=acme-tx");
    // The report's range as it was asked (dates in its zone), and its real leads only.
    expect(page.url()).toContain(`from=${day(tz, -6)}`);
    expect(page.url()).toContain("test=false");
    expect(await page.locator('input[name="from"]').inputValue()).toBe(day(tz, -6));
    const listed = await api(`/v1/leads?channel=acme-tx&limit=50`);
    expect(listed.items.length).toBe(6);
    expect(await leads.locator("tbody tr").count()).toBe(listed.items.length);
    await shot("05-leads");

    await leads.locator(`a[data-lead="${fellBack}"]`).click();
    const waterfall = page.getByTestId("waterfall");
    await waterfall.waitFor();
    const trace = await api(`/v1/leads/${fellBack}`);
    const rows = waterfall.locator(".wf-row");
    expect(await rows.count()).toBe(trace.attempts.length);
    const shown = await rows.evaluateAll((els) => els.map((e) => `${e.getAttribute("data-kind")} ${e.getAttribute("data-outcome")}`));
    expect(shown).toEqual(trace.attempts.map((a: any) => `${a.kind} ${a.outcome}`));
    expect(shown).toContain("post rejected");
    expect(shown).toContain("post accepted");
    // Reasons read as the API gives them: the code, and the detail beside it.
    expect(trace.attempts.find((a: any) => a.outcome === "rejected")).toMatchObject({ reason: "rejected", detail: "already in our system" });
    const refused = waterfall.locator('.wf-row[data-outcome="rejected"] .why');
    expect(await refused.locator(".why-code").textContent()).toBe("rejected");
    expect(await refused.locator(".why-detail").textContent()).toBe("already in our system");
    expect(trace.excluded).toEqual([{ channel_id: "bolt-ok", reason: "filtered", detail: "state" }]);
    const excluded = page.getByTestId("exclusions").locator("tbody .why");
    expect(await excluded.locator(".why-code").textContent()).toBe("filtered");
    expect(await excluded.locator(".why-detail").textContent()).toBe("state");
    if (trace.deadline_at) await waterfall.getByTestId("deadline").waitFor({ state: "attached" });
    // Analysts see pii masked, as the API masks it.
    expect(trace.data.email).toBe("***");
    await page.getByTestId("lead-data").getByText("***").first().waitFor();
    await page.getByTestId("history").waitFor();
    await shot("06-lead-waterfall");
    if (trace.deadline_at) {
      await waterfall.getByLabel(/Zoom to the pings and posts/).check();
      await waterfall.getByText("the deadline is further right", { exact: false }).waitFor();
      expect(await rows.count()).toBe(trace.attempts.length);
      await shot("06b-lead-waterfall-zoomed");
    }
  });

  it("shows a report the API refuses with its problem, field by field", async () => {
    // By the hour, buckets are whole UTC hours: a zone 5:30 from UTC is refused with a 422.
    await page.goto(`${t.g.url}/#/reports?dimension=campaigns&interval=hour&tz=Asia/Kolkata&from=${day(tz)}&to=${day(tz, 1)}`);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-status")).toBe("422");
    const direct = await t.g.admin("GET", `/v1/reports/campaigns?interval=hour&tz=Asia/Kolkata&from=${day(tz)}&to=${day(tz, 1)}`, undefined, analyst);
    expect(direct.status).toBe(422);
    for (const e of direct.body.errors) await alert.locator("li", { hasText: e.message }).locator("code", { hasText: e.path }).waitFor();
    await shot("07-reports-422");

    // The overview in such a zone still shows its figures (asked without a series), and says why
    // it has no charts.
    await page.goto(`${t.g.url}/#/overview?tz=Asia/Kolkata`);
    await page.getByRole("alert").waitFor();
    const kolkata = await api(`/v1/reports/campaigns?from=${day("Asia/Kolkata")}&to=${day("Asia/Kolkata", 1)}&tz=Asia/Kolkata`);
    expect(await page.getByTestId("kpi-revenue-today").textContent()).toBe(money(kolkata.totals.revenue));
    // The browser logs the refused request as a failed load: that one was asked for.
    expect(problems.every((p) => p.includes("422"))).toBe(true);
    problems.length = 0;
  });

  it("shows why leads were not taken, orphans counted, as the reasons report says", async () => {
    await page.getByRole("link", { name: "Reports" }).click();
    await page.getByRole("link", { name: "Reasons" }).click();
    const table = page.getByTestId("report-table");
    await table.getByText("no_bid").first().waitFor();
    const reasons = await api(`/v1/reports/reasons?from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}`);
    expect(reasons.totals.orphans).toBeGreaterThan(0);
    expect(await table.locator('tfoot [data-col="count"]').textContent()).toBe(String(reasons.totals.count));
    expect(await table.locator('tfoot [data-col="orphans"]').textContent()).toBe(String(reasons.totals.orphans));
    expect(await table.locator("tbody tr").count()).toBe(reasons.rows.length);
    await shot("07b-reports-reasons");
  });

  it("charts a report by day: its Total line is the API's periods, a line per channel beside it", async () => {
    const range = `from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}`;
    await page.goto(`${t.g.url}/#/reports?dimension=channels&campaign=auto-insurance&interval=day&${range}`);
    const channels = await api(`/v1/reports/channels?campaign=auto-insurance&interval=day&${range}`);
    const drawn = await expectOverallLine("report-chart", channels, "revenue", 86_400, "Total");
    expect(drawn.series.filter((s: any) => !s.overall).map((s: any) => s.label).sort()).toEqual(["acme-tx / acme", "bolt-ok / bolt", "cobra-young / cobra"]);
    await shot("07c-reports-channels-by-day");

    // A rate has nothing to read in a day without leads: a gap there, not a 0.
    await page.locator('select[name="chart"]').selectOption("accept_rate");
    await expect.poll(() => page.url(), { timeout: STEP_MS }).toContain("chart=accept_rate");
    await expect.poll(() => page.getByTestId("report-chart").locator("figcaption").textContent(), { timeout: STEP_MS }).toContain("Accept rate per day");
    const rates = JSON.parse((await page.getByTestId("report-chart").getAttribute("data-drawn"))!);
    const total = rates.series.find((s: any) => s.overall);
    const answered = new Map<number, number>(channels.periods.map((p: any) => [Date.parse(p.period) / 1000, p.accept_rate]));
    rates.x.forEach((at: number, i: number) => expect(total.values[i]).toBe(answered.has(at) ? answered.get(at) : null));

    // Today by the month is one period: a bar of the API's figure for it, not a lone dot.
    const today = `from=${day(tz)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}`;
    await page.goto(`${t.g.url}/#/reports?dimension=channels&campaign=auto-insurance&interval=month&${today}`);
    const month = await api(`/v1/reports/channels?campaign=auto-insurance&interval=month&${today}`);
    expect(month.periods.length).toBe(1);
    const chart = page.getByTestId("report-chart");
    await chart.getByText("One period in this range").waitFor();
    const one = JSON.parse((await chart.getAttribute("data-drawn"))!);
    expect(one.x).toEqual([Date.parse(month.periods[0].period) / 1000]);
    expect(one.series).toEqual([{ label: "Total", overall: true, values: [month.periods[0].revenue] }]);
    await shot("07d-reports-channels-by-month");
  });

  it("shows the bid landscape and channel health", async () => {
    await page.getByRole("link", { name: "Bid landscape" }).click();
    await page.getByTestId("bids-chart").locator("canvas").waitFor();
    const bids = await api(`/v1/reports/bids?from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}`);
    expect(await page.getByTestId("bids-table").locator('tfoot [data-col="bids"]').textContent()).toBe(String(bids.totals.bids));
    await page.locator('select[name="campaign"]').selectOption("auto-insurance");
    await page.getByRole("heading", { name: "Per channel" }).waitFor();
    await shot("08-bid-landscape");

    await page.getByRole("link", { name: "Channel health" }).click();
    const health = page.getByTestId("health-table");
    await health.waitFor();
    expect(await health.locator("tbody tr").count()).toBe(3);
    await health.getByText("resets").first().waitFor();
    await shot("09-channel-health");
  });

  it("downloads a buyer's invoice and a supplier's payout statement from their report rows, as the API serves them", async () => {
    const range = `from=${day(tz, -6)}&to=${day(tz, 1)}&tz=${encodeURIComponent(tz)}`;
    for (const [dimension, id] of [["buyers", "acme"], ["suppliers", "webleads"]] as const) {
      await page.goto(`${t.g.url}/#/reports?dimension=${dimension}&${range}`);
      const button = page.locator(`[data-testid="download-statement"][data-owner="${id}"]`);
      await button.waitFor();
      const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
      const file = await readFile((await download.path())!, "utf8");
      const res = await fetch(`${t.g.url}/v1/statements/${dimension}/${id}?${range}&format=csv`, { headers: { authorization: `Bearer ${analyst}` } });
      expect(res.status).toBe(200);
      expect(file).toBe(await res.text());
      expect(download.suggestedFilename()).toBe(`gavel-statement-${id}-${day(tz, -6)}-${day(tz, 1)}.csv`);
      // The statement is the row's: its leads and gross are the row's sold and revenue (payout).
      const statement = await api(`/v1/statements/${dimension}/${id}?${range}`);
      const row = (await api(`/v1/reports/${dimension}?${range}`)).rows.find((r: any) => r.key[dimension === "buyers" ? "buyer" : "supplier"] === id);
      expect(statement.totals.leads).toBe(row.sold);
      expect(statement.totals.leads).toBeGreaterThan(0);
      expect(statement.totals.gross).toBe(dimension === "buyers" ? row.revenue : row.payout);
    }
    await shot("10-reports-suppliers-statements");
  });

  it("signs out, and loads nothing from outside Gavel without a console error", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Operator token").waitFor();
    expect(await page.evaluate('sessionStorage.getItem("gavel.token")')).toBeNull();
    expect(problems).toEqual([]);
  });
}, 180_000);
