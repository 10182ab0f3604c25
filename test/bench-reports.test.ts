// `npm run bench:reports` end to end, tiny: 2,000 leads over 10 days (and 200 over 1 day for --compare), two
// timed requests per report. It checks the machinery, the table and the generated history — never
// speed: the machines are shared and noisy. The bench writes its history with PostgreSQL's own SQL
// into databases it creates on the server, so it runs where DATABASE_URL names one (as in CI).
import { describe, expect, it } from "vitest";
import { runningChildren } from "../load/proc";
import { historySizes, parseReportsArgs, reportCases, reportsHelp, runReportsBench, timing, type ReportsOptions } from "../load/reports";
import { onPostgres } from "./helpers/db";

describe("npm run bench:reports options", () => {
  it("--help lists every option, and bad values are refused by name", () => {
    const help = reportsHelp();
    for (const option of ["--leads", "--days", "--compare", "--compare-traffic", "--reps", "--warmup", "--keep", "--history"]) expect(help).toContain(option);
    expect(parseReportsArgs(["--help"], {})).toBe("help");
    expect(parseReportsArgs([], {})).toMatchObject({ leads: 1_000_000, days: 90, reps: 30, compare: null, keep: false, databaseUrl: expect.stringContaining("/var/run/postgresql") });
    expect(parseReportsArgs(["--leads", "2_000", "--compare"], { DATABASE_URL: "postgres://x@h/db" })).toMatchObject({ leads: 2000, compare: "history", databaseUrl: "postgres://x@h/db" });
    expect(parseReportsArgs(["--compare-traffic"], {})).toMatchObject({ compare: "traffic" });
    expect(() => parseReportsArgs(["--compare", "--compare-traffic"], {})).toThrow(/choose one/);
    expect(() => parseReportsArgs(["--leads", "many"], {})).toThrow(/--leads/);
    expect(() => parseReportsArgs(["--reps", "0"], {})).toThrow(/--reps/);
    expect(() => parseReportsArgs(["--history", "postgres://x@h/db", "--compare"], {})).toThrow(/--history/);
    expect(() => parseReportsArgs(["--lead", "5"], {})).toThrow(/lead/);
  });

  it("compares with a history a tenth as long at the same leads a day, or a tenth of the leads over the same days", () => {
    expect(historySizes({ leads: 1_000_000, days: 90, compare: null })).toEqual([{ leads: 1_000_000, days: 90 }]);
    expect(historySizes({ leads: 1_000_000, days: 90, compare: "history" })).toEqual([{ leads: 1_000_000, days: 90 }, { leads: 100_000, days: 9 }]);
    expect(historySizes({ leads: 1_000_000, days: 90, compare: "traffic" })).toEqual([{ leads: 1_000_000, days: 90 }, { leads: 100_000, days: 90 }]);
    expect(historySizes({ leads: 2000, days: 3, compare: "history" })).toEqual([{ leads: 2000, days: 3 }, { leads: 667, days: 1 }]);
  });

  it("reads percentiles by nearest rank", () => {
    const samples = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(timing(samples)).toEqual({ p50: 10, p95: 19, max: 20 });
    expect(timing([7.25])).toEqual({ p50: 7.3, p95: 7.3, max: 7.3 });
  });
});

describe.skipIf(!onPostgres)("npm run bench:reports on PostgreSQL (skipped on PGlite: the bench writes its history into databases it creates on a PostgreSQL server)", () => {
  it("writes a consistent history, times every report over it and the overview, and cleans up", { timeout: 300_000 }, async () => {
    const options = parseReportsArgs(["--leads", "2000", "--days", "10", "--reps", "2", "--warmup", "1", "--compare"]) as ReportsOptions;
    const progress: string[] = [];
    const { result, text } = await runReportsBench(options, { progress: (line) => progress.push(line) });

    expect(runningChildren()).toEqual([]);
    expect(result.histories.map((h) => [h.leads, h.days])).toEqual([[2000, 10], [200, 1]]);
    expect(result.histories.every((h) => h.url === undefined)).toBe(true);

    // Every report, over the three windows, and the overview: a line each with its figures and
    // verdicts. The small history holds one day: lines over 7 and 30 days read different leads in
    // the two histories, so their ratio is shown and not judged.
    const titles = reportCases(new Date()).map((c) => c.title);
    expect(titles).toHaveLength(23);
    expect(result.cases.map((c) => c.title)).toEqual(titles);
    for (const title of titles) {
      const escaped = title.replace(/[()]/g, "\\$&");
      const verdict = /last (7|30) days|30 days, New York/.test(title) ? "n/a" : "(PASS|FAIL)";
      expect(text).toMatch(new RegExp(`^${escaped}(\\s+[\\d.]+){6}\\s+p95 ≤ \\d+\\s+(PASS|FAIL)\\s+[\\d.]+×\\s+${verdict}$`, "m"));
    }
    for (const c of result.cases) expect(c.ratioMet === undefined, c.title).toBe(/last (7|30) days|30 days, New York/.test(c.title));
    expect(text).toMatch(/^n\/a: 15 lines read a window longer than the 200 history \(1 day\)/m);
    for (const c of result.cases) {
      const t = c.timings["2k"];
      expect(t.p50).toBeGreaterThan(0);
      expect(t.max).toBeGreaterThanOrEqual(t.p95);
      expect(t.p95).toBeGreaterThanOrEqual(t.p50);
      expect(c.met).toBe(t.p95 <= c.targetMs);
    }
    expect(text).toMatch(/^report\s+2k p50\s+2k p95\s+2k max\s+200 p50\s+200 p95\s+200 max\s+target\s+result\s+2k\/200\s+≤ 1.5×$/m);

    // The history is one Gavel could have written, and the report API agrees with it to the cent.
    for (const a of result.agreement) {
      expect(Object.values(a.facts.broken)).toEqual(Object.values(a.facts.broken).map(() => 0));
      expect(a.facts.leads + a.facts.testLeads).toBe(a.label === "2k" ? 2000 : 200);
      expect(a.api.leads).toBe(a.facts.leads);
      expect(a.api.testLeads).toBe(a.facts.testLeads);
      expect(a.api.sold).toBe(a.facts.sold);
      expect(a.api.revenue).toBe(a.facts.revenueCents / 100);
      expect(a.api.payout).toBe(a.facts.payoutCents / 100);
      expect(a.agrees).toBe(true);
    }
    const big = result.agreement[0].facts;
    expect(big.sold).toBeGreaterThan(big.leads * 0.3);
    expect(big.sold).toBeLessThan(big.leads * 0.6);
    // About ten pings per auctioned lead (a few channels excluded) and one and a half posts per lead with bids.
    expect(big.pings / big.leads).toBeGreaterThan(8);
    expect(big.pings / big.leads).toBeLessThan(10);
    expect(text).toMatch(/history 2k: the campaigns report over the whole history agrees with the raw leads/);
    expect(progress.some((line) => /rolled up [\d,]+ leads/.test(line))).toBe(true);
  });
});
