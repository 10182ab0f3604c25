// `npm run bench:reports`: how fast the reports answer over a long history. It writes a synthetic
// history (load/history.ts: by default 1,000,000 leads over 90 days with their pings and posts) into
// a fresh PostgreSQL database, rolls it up as Gavel's roller would, starts Gavel on it (built and run
// as `npm start` runs it) and times every report through HTTP with an analyst token, over the last
// day, the last 7 days and the last 30 days, and the dashboard's overview page. With --compare it does the same over
// a history a tenth as long (a tenth of the days, as many leads a day) in a second database and
// prints how much slower each report is over the long one: reports read rollups, so ten times the
// history should cost them little. --compare-traffic compares with a tenth of the leads over the
// same days instead (a report over a day then holds a tenth of the leads and keys).
// `npm run bench:reports -- --help` lists the options.
import { parseArgs } from "node:util";
import type postgres from "postgres";
import { cpus, loadavg } from "node:os";
import { DateTime } from "luxon";
import { Agent, request } from "undici";
import { connectPostgres, migrateDatabase, openDatabase } from "../src/db/client";
import { ROLLUP_TABLES, rollUp } from "../src/reports/rollup";
import { checkHistory, createConfiguration, generateHistory, type HistoryFacts } from "./history";
import { createBenchDatabase, dropAllDatabases, startGavelProcess, type BenchDatabase, type GavelProcess } from "./lab";
import { percentileSorted } from "./latency";
import { isMain } from "./main-module";
import { killAllChildren } from "./proc";

export const DEFAULT_DATABASE_URL = "postgres://postgres@localhost/postgres?host=/var/run/postgresql";
/** The issue's targets. */
export const REPORT_P95_MS = 150;
export const OVERVIEW_MS = 1000;
export const TENFOLD_RATIO = 1.5;
/** The zone the day-interval report and the overview are read in (a US business's). */
export const ZONE = "America/New_York";

export interface ReportsOptions {
  leads: number;
  days: number;
  /**
   * The second history, a tenth the size: `history` spans a tenth of the days at the same leads per
   * day (the history grown tenfold over time), `traffic` a tenth of the leads over the same days.
   */
  compare: "history" | "traffic" | null;
  reps: number;
  warmup: number;
  keep: boolean;
  databaseUrl: string;
  /** Time a history kept by an earlier run (`--keep`) instead of writing one. */
  history?: string;
}

const knobs = [
  { name: "leads", arg: "N", help: "leads in the history (default 1000000)" },
  { name: "days", arg: "D", help: "days the history spans, ending now (default 90)" },
  { name: "compare", help: "also a history a tenth as long (a tenth of the days, as many leads a day); print each report's slowdown" },
  { name: "compare-traffic", help: "the same with a tenth of the leads over the same days instead" },
  { name: "reps", arg: "N", help: "timed requests per report (default 30)" },
  { name: "warmup", arg: "N", help: "unmeasured requests per report before them (default 3)" },
  { name: "keep", help: "keep the databases (and print their URLs) instead of dropping them" },
  { name: "history", arg: "URL", help: "time the reports over a history kept by --keep (rolls up what is not yet, writes nothing)" },
  { name: "help", help: "this text" },
] as const;

export function reportsHelp(): string {
  return (
    "npm run bench:reports [-- options]\n\n" +
    "Writes a synthetic history into a fresh database on the PostgreSQL server of DATABASE_URL (default\n" +
    `${DEFAULT_DATABASE_URL}), rolls it up, starts Gavel on it and times every report.\n\n` +
    knobs.map((k) => `  ${`--${k.name}${"arg" in k ? ` <${k.arg}>` : ""}`.padEnd(16)} ${k.help}`).join("\n") +
    "\n"
  );
}

export function parseReportsArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ReportsOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(knobs.map((k) => [k.name, { type: "arg" in k ? "string" : "boolean" }])) as Record<string, { type: "string" | "boolean" }>,
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const int = (name: string, fallback: number, min: number, max: number) => {
    const text = values[name] as string | undefined;
    if (text === undefined) return fallback;
    const n = Number(text.replace(/_/g, ""));
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got '${text}'`);
    return n;
  };
  if (values.compare && values["compare-traffic"]) throw new Error("--compare and --compare-traffic: choose one second history");
  if (values.history !== undefined && (values.compare || values["compare-traffic"])) throw new Error("--history: times one kept history; --compare writes two new ones");
  return {
    leads: int("leads", 1_000_000, 100, 100_000_000),
    days: int("days", 90, 1, 3650),
    compare: values.compare ? "history" : values["compare-traffic"] ? "traffic" : null,
    reps: int("reps", 30, 1, 10_000),
    warmup: int("warmup", 3, 0, 1000),
    keep: Boolean(values.keep),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    ...(values.history !== undefined ? { history: values.history as string } : {}),
  };
}

// ---- the history -------------------------------------------------------------------------------

export interface HistorySize {
  leads: number;
  days: number;
}

/** The histories a run writes: the one asked for, and with a comparison the one a tenth its size. */
export function historySizes(options: Pick<ReportsOptions, "leads" | "days" | "compare">): HistorySize[] {
  const full = { leads: options.leads, days: options.days };
  if (options.compare === "traffic") return [full, { leads: Math.max(100, Math.round(options.leads / 10)), days: options.days }];
  if (options.compare === "history") {
    // As many leads a day over a tenth of the days (whole days, at least one).
    const days = Math.max(1, Math.round(options.days / 10));
    return [full, { leads: Math.max(100, Math.round((options.leads * days) / options.days)), days }];
  }
  return [full];
}

interface History {
  label: string;
  leads: number;
  /** The days it spans (null for a kept history: its days were chosen by the run that wrote it). */
  days: number | null;
  database: BenchDatabase;
  facts: HistoryFacts;
  /** Seconds per phase: config, generate, indexes, vacuum, check, rollup. */
  seconds: Record<string, number>;
  attempts: number;
}

/** Migrates a fresh database, writes the configuration and the history, checks it and rolls it up. */
async function buildHistory(options: ReportsOptions, size: HistorySize, label: string, end: Date, progress: (line: string) => void): Promise<History> {
  const database = await createBenchDatabase(options.databaseUrl);
  const url = database.env.DATABASE_URL;
  progress(`${label}: a fresh database, ${new URL(url).pathname.slice(1)}${options.keep ? " (kept after)" : ""}`);
  try {
    return await writeHistory(database, options, size, label, end, progress);
  } catch (error) {
    if (!options.keep) await database.drop();
    throw error;
  }
}

async function writeHistory(database: BenchDatabase, options: ReportsOptions, { leads, days }: HistorySize, label: string, end: Date, progress: (line: string) => void): Promise<History> {
  const url = database.env.DATABASE_URL;
  const seconds: Record<string, number> = {};
  const time = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const result = await work();
    seconds[phase] = (performance.now() - t) / 1000;
    return result;
  };
  // Bulk statements run for minutes: bounds far above Gavel's defaults.
  const bounds = { statementTimeoutMs: 3_600_000, queryTimeoutMs: 3_600_000 };
  await migrateDatabase({ url });
  const gavelDb = await openDatabase({ url, poolSize: 2, bounds });
  const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
  try {
    await time("config", () => createConfiguration(gavelDb.db));
    progress(`${label}: generating ${leads.toLocaleString("en-US")} leads over ${days} days …`);
    const generated = await generateHistory(sql, { leads, days, end }, (line) => progress(`${label}:${line}`));
    Object.assign(seconds, generated.seconds);
    const facts = await time("check", () => checkHistory(sql));
    const broken = Object.entries(facts.broken).filter(([, n]) => n > 0);
    if (broken.length) throw new Error(`${label}: the generated history is inconsistent: ${broken.map(([k, n]) => `${k} ${n}`).join(", ")}`);
    progress(`${label}: history checked (${seconds.check.toFixed(1)} s); rolling it up …`);
    const rolled = await time("rollup", () => rollUp(gavelDb, { until: end }));
    progress(`${label}: rolled up ${rolled.leads.toLocaleString("en-US")} leads to ${rolled.rolledTo.toISOString()} (${seconds.rollup.toFixed(1)} s)`);
    await time("analyze", () => analyzeRollups(sql));
    return { label, leads, days, database, facts, seconds, attempts: generated.attempts };
  } finally {
    await sql.end({ timeout: 5 });
    await gavelDb.close();
  }
}

/**
 * The rollups' statistics, as autovacuum would have gathered them over the months the history
 * stands for (a fresh table has none, and the planner then guesses one row for any range).
 */
async function analyzeRollups(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(`vacuum (analyze) ${ROLLUP_TABLES.join(", ")}`);
}

/** A history kept by an earlier run: checked and rolled up (whatever is not yet), never dropped. */
async function keptHistory(url: string, progress: (line: string) => void): Promise<History> {
  const database: BenchDatabase = { kind: "postgres", env: { DATABASE_URL: url }, describe: url, backendPids: async () => [], drop: async () => {} };
  const seconds: Record<string, number> = {};
  await migrateDatabase({ url });
  const gavelDb = await openDatabase({ url, poolSize: 2, bounds: { statementTimeoutMs: 3_600_000, queryTimeoutMs: 3_600_000 } });
  const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
  try {
    let t = performance.now();
    const facts = await checkHistory(sql);
    seconds.check = (performance.now() - t) / 1000;
    const leads = facts.leads + facts.testLeads;
    const label = short(leads);
    progress(`${label}: the kept history at ${url}: ${count(leads)} leads, checked (${seconds.check.toFixed(1)} s); rolling up what is not yet …`);
    t = performance.now();
    const rolled = await rollUp(gavelDb, { until: new Date(facts.lastReceivedAt.getTime() + 1) });
    seconds.rollup = (performance.now() - t) / 1000;
    progress(`${label}: rolled up ${count(rolled.leads)} leads (${seconds.rollup.toFixed(1)} s)`);
    t = performance.now();
    await analyzeRollups(sql);
    seconds.analyze = (performance.now() - t) / 1000;
    return { label, leads, days: null, database, facts, seconds, attempts: facts.pings + facts.posts };
  } finally {
    await sql.end({ timeout: 5 });
    await gavelDb.close();
  }
}

// ---- timing ------------------------------------------------------------------------------------

/** One line of the table: a report request, or a page of requests sent at once. */
interface Case {
  id: string;
  title: string;
  targetMs: number;
  /** Paths with their queries; more than one are sent at once and timed until the last answers. */
  paths: string[];
  /** The days of history the line reads (its window), when it reads a fixed window. */
  windowDays?: number;
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

/**
 * Every report over the last day, the last 7 days and the last 30 days, the day series in New York,
 * the overview page.
 */
export function reportCases(to: Date): Case[] {
  const windows = [1, 7, 30].map((days) => ({ days, name: days === 1 ? "1 day" : `${days} days`, from: new Date(to.getTime() - days * 86_400_000).toISOString() }));
  const cases: Case[] = [];
  for (const report of ["campaigns", "suppliers", "sources", "buyers", "channels", "bids", "reasons"])
    for (const w of windows)
      cases.push({
        id: `${report}-${w.name.replace(" ", "")}`,
        title: `${report}, last ${w.name}`,
        targetMs: REPORT_P95_MS,
        paths: [`/v1/reports/${report}?${q({ from: w.from, to: to.toISOString() })}`],
        windowDays: w.days,
      });
  // As the dashboard asks: bare dates, read in the zone.
  const today = DateTime.fromJSDate(to, { zone: ZONE }).startOf("day");
  const date = (d: DateTime) => d.toISODate()!;
  cases.push({
    id: "campaigns-by-day",
    title: "campaigns by day, 30 days, New York",
    targetMs: REPORT_P95_MS,
    paths: [`/v1/reports/campaigns?${q({ from: date(today.minus({ days: 29 })), to: date(today.plus({ days: 1 })), tz: ZONE, interval: "day" })}`],
    windowDays: 30,
  });
  // The overview page (src/dashboard/app/pages/overview.tsx): today by hour, yesterday, the last 7
  // days by day, and the lists its filters offer, all at once.
  cases.push({
    id: "overview",
    title: "dashboard overview (7 requests at once)",
    targetMs: OVERVIEW_MS,
    paths: [
      `/v1/reports/campaigns?${q({ from: date(today), to: date(today.plus({ days: 1 })), interval: "hour", tz: ZONE })}`,
      `/v1/reports/campaigns?${q({ from: date(today.minus({ days: 1 })), to: date(today), tz: ZONE })}`,
      `/v1/reports/campaigns?${q({ from: date(today.minus({ days: 6 })), to: date(today.plus({ days: 1 })), interval: "day", tz: ZONE })}`,
      ...["campaigns", "suppliers", "buyers", "channels"].map((kind) => `/v1/${kind}?limit=500`),
    ],
  });
  return cases;
}

interface Server {
  history: History;
  gavel: GavelProcess;
  token: string;
}

const agent = new Agent({ keepAliveTimeout: 60_000 });

async function get(server: Server, path: string): Promise<{ status: number; text: string }> {
  const res = await request(server.gavel.url + path, { dispatcher: agent, headers: { authorization: `Bearer ${server.token}`, accept: "application/json" } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Sends a case's requests at once; ms until the last whole answer is in. Any answer but 200 stops the bench. */
async function timeCase(server: Server, c: Case): Promise<number> {
  const t = performance.now();
  const answers = await Promise.all(c.paths.map((path) => get(server, path)));
  const ms = performance.now() - t;
  answers.forEach((a, i) => {
    if (a.status !== 200) throw new Error(`${server.history.label}: GET ${c.paths[i]} → ${a.status}: ${a.text.slice(0, 500)}`);
  });
  return ms;
}

export interface Timing {
  p50: number;
  p95: number;
  max: number;
}

/** Nearest-rank percentiles, in ms with one decimal. */
export function timing(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = (ms: number) => Math.round(ms * 10) / 10;
  return { p50: r(percentileSorted(sorted, 50)), p95: r(percentileSorted(sorted, 95)), max: r(sorted[sorted.length - 1]) };
}

export interface CaseResult {
  id: string;
  title: string;
  targetMs: number;
  /** By history label; the first is the full-size history. */
  timings: Record<string, Timing>;
  /** p95 of the full-size history within the target. */
  met: boolean;
  /**
   * With a comparison: p50 over the full history / p50 over the tenth, and whether ≤ TENFOLD_RATIO;
   * `ratioMet` is absent when the line's window is longer than the smaller history (over 9 days, the
   * last 30 days hold 9 days of leads against the full history's 30: not the same report).
   */
  ratio?: number;
  ratioMet?: boolean;
}

/**
 * Each case: its warm-up on every server, then its timed requests taking turns between the servers
 * (so a slow moment of the machine falls on both histories alike), one request at a time.
 */
async function timeCases(servers: Server[], cases: Case[], options: ReportsOptions, progress: (line: string) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    for (const server of servers) for (let i = 0; i < options.warmup; i++) await timeCase(server, c);
    const samples = servers.map(() => [] as number[]);
    for (let r = 0; r < options.reps; r++) for (const [i, server] of servers.entries()) samples[i].push(await timeCase(server, c));
    const timings = Object.fromEntries(servers.map((s, i) => [s.history.label, timing(samples[i])]));
    const full = timings[servers[0].history.label];
    const result: CaseResult = { id: c.id, title: c.title, targetMs: c.targetMs, timings, met: full.p95 <= c.targetMs };
    if (servers.length > 1) {
      const small = timings[servers[1].history.label];
      result.ratio = Math.round((full.p50 / Math.max(small.p50, 0.1)) * 100) / 100;
      const smallDays = servers[1].history.days;
      if (c.windowDays === undefined || smallDays === null || c.windowDays <= smallDays) result.ratioMet = result.ratio <= TENFOLD_RATIO;
    }
    progress(`  ${c.title}: ${servers.map((s) => `${s.history.label} p50 ${timings[s.history.label].p50} ms, p95 ${timings[s.history.label].p95} ms`).join("; ")}`);
    results.push(result);
  }
  return results;
}

/** The report API's totals over the whole history against the raw leads: the numbers must agree exactly. */
export interface HistoryAgreement {
  label: string;
  facts: HistoryFacts;
  api: { leads: number; sold: number; revenue: number; payout: number; testLeads: number };
  agrees: boolean;
}

async function compareWithApi(server: Server, to: Date): Promise<HistoryAgreement> {
  const start = server.history.facts.firstReceivedAt;
  const totals = async (test: boolean) => {
    const a = await get(server, `/v1/reports/campaigns?${q({ from: start.toISOString(), to: to.toISOString(), test: String(test) })}`);
    if (a.status !== 200) throw new Error(`campaigns report over the whole history → ${a.status}: ${a.text.slice(0, 500)}`);
    return (JSON.parse(a.text) as { totals: Record<string, number> }).totals;
  };
  const [real, test] = await Promise.all([totals(false), totals(true)]);
  const f = server.history.facts;
  const api = { leads: real.leads, sold: real.sold, revenue: real.revenue, payout: real.payout, testLeads: test.leads };
  const agrees = api.leads === f.leads && api.sold === f.sold && api.revenue === f.revenueCents / 100 && api.payout === f.payoutCents / 100 && api.testLeads === f.testLeads;
  return { label: server.history.label, facts: f, api, agrees };
}

// ---- the run -----------------------------------------------------------------------------------

export interface ReportsResult {
  startedAt: string;
  machine: { cpus: number; model: string; node: string; postgres: string; loadavgBefore: number[]; loadavgAfter: number[] };
  options: ReportsOptions;
  histories: { label: string; leads: number; days: number | null; attempts: number; seconds: Record<string, number>; url?: string }[];
  cases: CaseResult[];
  agreement: HistoryAgreement[];
}

export interface ReportsIo {
  progress(line: string): void;
}

const count = (n: number) => n.toLocaleString("en-US");
const short = (n: number) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n));

export async function runReportsBench(options: ReportsOptions, io: ReportsIo): Promise<{ result: ReportsResult; text: string }> {
  const t0 = performance.now();
  const progress = (line: string) => io.progress(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const loadavgBefore = loadavg();
  // The history ends now, to the second; both histories share it, so their report windows match.
  const end = new Date(Math.floor(Date.now() / 1000) * 1000);
  const sizes = historySizes(options);

  const histories: History[] = [];
  const servers: Server[] = [];
  try {
    if (options.history) histories.push(await keptHistory(options.history, progress));
    else for (const size of sizes) histories.push(await buildHistory(options, size, short(size.leads), end, progress));
    for (const history of histories) {
      progress(`${history.label}: starting Gavel …`);
      const server: Server = { history, gavel: await startGavelProcess({ database: history.database }), token: "" };
      servers.push(server); // stopped in `finally` from here on
      server.token = await analystToken(server.gavel);
    }
    // Windows end at the moment timing starts, as a person's "last day" would: after the rolled-up
    // history, so each report also reads the not-yet-rolled tail live.
    const to = new Date();
    progress(`timing ${options.reps} requests per report after ${options.warmup} unmeasured …`);
    const cases = await timeCases(servers, reportCases(to), options, progress);
    const agreement = await Promise.all(servers.map((s) => compareWithApi(s, to)));
    const [version] = await (async () => {
      const sql = connectPostgres(options.databaseUrl, { max: 1, onnotice: () => {} });
      try {
        return (await sql.unsafe<{ v: string }[]>(`select current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers') as v`)).map((r) => r.v);
      } finally {
        await sql.end({ timeout: 5 });
      }
    })();
    const result: ReportsResult = {
      startedAt: end.toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.versions.node, postgres: version, loadavgBefore, loadavgAfter: loadavg() },
      options,
      histories: histories.map((h) => ({
        label: h.label,
        leads: h.leads,
        days: h.days,
        attempts: h.attempts,
        seconds: h.seconds,
        ...(options.keep || options.history ? { url: h.database.env.DATABASE_URL } : {}),
      })),
      cases,
      agreement,
    };
    return { result, text: renderReports(result) };
  } finally {
    await Promise.all(servers.map((s) => s.gavel.stop().catch(() => {})));
    if (!options.keep) await Promise.all(histories.map((h) => h.database.drop()));
    await agent.close();
  }
}

async function analystToken(gavel: GavelProcess): Promise<string> {
  const res = await fetch(`${gavel.url}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${gavel.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "reports benchmark", role: "analyst" }),
  });
  const body = (await res.json()) as { token?: string };
  if (!res.ok || !body.token) throw new Error(`POST /v1/tokens → ${res.status}: ${JSON.stringify(body)}`);
  return body.token;
}

// ---- the table ---------------------------------------------------------------------------------

export function renderReports(result: ReportsResult): string {
  const { options, machine } = result;
  const labels = result.histories.map((h) => h.label);
  const lines: string[] = [];
  lines.push(`Reports over ${result.histories.map((h) => `${count(h.leads)} leads${h.days === null ? "" : ` over ${h.days} days`}`).join(" and ")}`);
  lines.push(`machine: ${machine.cpus} × ${machine.model}, node ${machine.node}, PostgreSQL ${machine.postgres} (same machine)`);
  for (const h of result.histories) {
    const s = h.seconds;
    const written =
      s.generate === undefined
        ? "kept from an earlier run"
        : `written in ${(s.config + s.generate + s.indexes + s.vacuum).toFixed(0)} s (rows ${s.generate.toFixed(0)} s, indexes ${s.indexes.toFixed(0)} s, vacuum ${s.vacuum.toFixed(0)} s)`;
    lines.push(`history ${h.label}: ${count(h.leads)} leads, ${count(h.attempts)} attempts; ${written}, checked in ${s.check.toFixed(0)} s, rolled up in ${s.rollup.toFixed(0)} s (then analyzed in ${s.analyze.toFixed(0)} s)`);
  }
  lines.push(`${options.reps} timed requests per line, one at a time, after ${options.warmup} unmeasured; ms from sending to the whole answer`);
  lines.push("");
  const head = ["report", ...labels.flatMap((l) => [`${l} p50`, `${l} p95`, `${l} max`]), "target", "result"];
  if (labels.length > 1) head.push(`${labels[0]}/${labels[1]}`, `≤ ${TENFOLD_RATIO}×`);
  const rows = result.cases.map((c) => {
    const row = [c.title, ...labels.flatMap((l) => [c.timings[l].p50, c.timings[l].p95, c.timings[l].max].map(String)), `p95 ≤ ${c.targetMs}`, c.met ? "PASS" : "FAIL"];
    if (labels.length > 1) row.push(`${c.ratio!.toFixed(2)}×`, c.ratioMet === undefined ? "n/a" : c.ratioMet ? "PASS" : "FAIL");
    return row;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ").trimEnd();
  lines.push(format(head), ...rows.map(format));
  lines.push("");
  const failed = result.cases.filter((c) => !c.met);
  const slower = result.cases.filter((c) => c.ratioMet === false);
  const unlike = result.cases.filter((c) => c.ratio !== undefined && c.ratioMet === undefined);
  lines.push(
    failed.length === 0
      ? `Every line within its target (p95 ≤ ${REPORT_P95_MS} ms per report, ≤ ${OVERVIEW_MS} ms for the overview).`
      : `Over target: ${failed.map((c) => `${c.title} (p95 ${c.timings[labels[0]].p95} ms, target ${c.targetMs})`).join("; ")}.`,
  );
  if (labels.length > 1)
    lines.push(
      slower.length === 0
        ? `Ten times the history costs every line at most ${TENFOLD_RATIO}× (ratio of medians).`
        : `More than ${TENFOLD_RATIO}× slower over ten times the history (ratio of medians): ${slower.map((c) => `${c.title} ${c.ratio}×`).join("; ")}.`,
    );
  if (unlike.length)
    lines.push(
      `n/a: ${unlike.length} lines read a window longer than the ${labels[1]} history (${result.histories[1].days === 1 ? "1 day" : `${result.histories[1].days} days`}), so the two histories hold different leads in it; ` +
        `their ratios are shown, not judged (--compare-traffic keeps the days).`,
    );
  for (const a of result.agreement)
    lines.push(
      a.agrees
        ? `history ${a.label}: the campaigns report over the whole history agrees with the raw leads: ${count(a.api.leads)} leads, ${count(a.api.sold)} sold, revenue $${a.api.revenue.toFixed(2)}, payout $${a.api.payout.toFixed(2)}, ${count(a.api.testLeads)} test leads apart.`
        : `history ${a.label}: the campaigns report DISAGREES with the raw leads: API ${JSON.stringify(a.api)}, raw ${JSON.stringify({ leads: a.facts.leads, sold: a.facts.sold, revenue: a.facts.revenueCents / 100, payout: a.facts.payoutCents / 100, testLeads: a.facts.testLeads })}.`,
    );
  const busy = machine.loadavgBefore[0] > machine.cpus * 0.5;
  if (busy) lines.push(`Note: load average was ${machine.loadavgBefore[0].toFixed(2)} on ${machine.cpus} cores before the run: other work shared the machine.`);
  for (const h of result.histories) if (h.url) lines.push(`kept: history ${h.label} at ${h.url} (time it again: npm run bench:reports -- --history '${h.url}')`);
  return lines.join("\n") + "\n";
}

// ---- the command line --------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let options;
  try {
    options = parseReportsArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${reportsHelp()}`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(reportsHelp());
    return;
  }
  const interrupt = (signal: string) => {
    process.stderr.write(`\n${signal}: stopping Gavel${options.keep ? "" : " and dropping the databases"} …\n`);
    killAllChildren();
    void (options.keep ? Promise.resolve() : dropAllDatabases()).finally(() => process.exit(130));
  };
  process.once("SIGINT", () => interrupt("SIGINT"));
  process.once("SIGTERM", () => interrupt("SIGTERM"));
  try {
    const { text } = await runReportsBench(options, { progress: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`\n${text}`);
  } catch (error) {
    killAllChildren();
    if (!options.keep) await dropAllDatabases();
    throw error;
  }
}

if (isMain(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
