// The bench's output: one table (Gavel, baseline, Gavel/baseline per step), the load generator's
// own CPU, the soak's memory series and the issue's targets — as plain text for the terminal and
// as markdown for load/results/<timestamp>.md.
import type { Measurement } from "./measure";

export interface Ratio {
  leadsPerS: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  cpuMsPerLead: number;
  peakRssMb: number;
}

export interface StepResult {
  scenario: string;
  step: string;
  /** How the step was driven, in words. */
  load: string;
  /** Open loop: the arrival rate used (leads/s). */
  rate?: number;
  gavel?: Measurement;
  baseline?: Measurement;
  ratio?: Ratio;
}

export interface ScenarioResult {
  id: string;
  title: string;
  description: string;
  steps: StepResult[];
}

export interface TargetCheck {
  scenario: string;
  target: string;
  measured: string;
  /** null: could not be judged in this run (a scenario or server did not run). */
  met: boolean | null;
}

export interface BenchResult {
  startedAt: string;
  wallS: number;
  machine: { cpus: number; model: string; memoryGb: number; node: string; loadavgBefore: number[]; loadavgAfter: number[] };
  database: "pglite" | "postgres";
  databaseDescription: string;
  gitCommit: string | null;
  argv: string[];
  gavelEnv: Record<string, string>;
  gavelNodeFlags?: string[];
  /** Seconds of unmeasured load each server had before the first step. */
  processWarmupS?: number;
  /** Loopback addresses the simulator listened on: 1 = every buyer behind one origin. */
  buyerHosts: number;
  scenarios: ScenarioResult[];
  targets: TargetCheck[];
  notes: string[];
}

export function ratioOf(g: Measurement, b: Measurement): Ratio {
  const r = (x: number, y: number) => (y > 0 && Number.isFinite(x) ? Math.round((x / y) * 100) / 100 : NaN);
  return {
    leadsPerS: r(g.leadsPerS, b.leadsPerS),
    p50: r(g.latencyMs.p50, b.latencyMs.p50),
    p90: r(g.latencyMs.p90, b.latencyMs.p90),
    p99: r(g.latencyMs.p99, b.latencyMs.p99),
    max: r(g.latencyMs.max, b.latencyMs.max),
    cpuMsPerLead: r(g.cpuMsPerLead, b.cpuMsPerLead),
    peakRssMb: r(g.peakRssMb, b.peakRssMb),
  };
}

// ---- targets -----------------------------------------------------------------------------------

const find = (r: BenchResult, scenario: string, step?: string) =>
  r.scenarios.find((s) => s.id === scenario)?.steps.find((st) => step === undefined || st.step === step);

export function checkTargets(r: BenchResult, deadlineMs: number, pingTimeoutMs: number): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (scenario: string, target: string, measured: string | null, met: boolean | null) =>
    checks.push({ scenario, target, measured: measured ?? "not run", met: measured === null ? null : met });

  const s1 = find(r, "S1");
  add("S1", "throughput ≥ 0.5× baseline", s1?.ratio ? `${fmt(s1.ratio.leadsPerS, 2)}×` : null, s1?.ratio ? s1.ratio.leadsPerS >= 0.5 : null);
  add(
    "S1",
    "Gavel CPU/lead ≤ 1.5 ms",
    s1?.gavel ? `${fmt(s1.gavel.cpuMsPerLead, 2)} ms${s1.gavel.pgCpuMsPerLead !== null ? ` (+ PostgreSQL ${fmt(s1.gavel.pgCpuMsPerLead, 2)} ms)` : ""}` : null,
    s1?.gavel ? s1.gavel.cpuMsPerLead <= 1.5 : null,
  );
  const s2 = find(r, "S2", "c16");
  const both2 = s2?.gavel && s2.baseline ? { g: s2.gavel, b: s2.baseline } : null;
  add(
    "S2",
    "c16 p50 ≤ baseline p50 + 5 ms",
    both2 ? `${fmt(both2.g.latencyMs.p50)} vs ${fmt(both2.b.latencyMs.p50)} ms (+${fmt(both2.g.latencyMs.p50 - both2.b.latencyMs.p50)})` : null,
    both2 ? both2.g.latencyMs.p50 <= both2.b.latencyMs.p50 + 5 : null,
  );
  add(
    "S2",
    "c16 p99 ≤ baseline p99 + 25 ms",
    both2 ? `${fmt(both2.g.latencyMs.p99)} vs ${fmt(both2.b.latencyMs.p99)} ms (+${fmt(both2.g.latencyMs.p99 - both2.b.latencyMs.p99)})` : null,
    both2 ? both2.g.latencyMs.p99 <= both2.b.latencyMs.p99 + 25 : null,
  );
  const s3 = find(r, "S3")?.gavel;
  add("S3", `zero answers later than timeout_ms + 50 ms (${deadlineMs + 50} ms)`, s3 ? `${s3.late} late of ${s3.sent}` : null, s3 ? s3.late === 0 : null);
  add(
    "S3",
    `ping phase ≤ ping timeout + 50 ms (${pingTimeoutMs + 50} ms) at p99.9`,
    s3?.pingPhaseMs ? `p99.9 ${fmt(s3.pingPhaseMs.p999)} ms; ${s3.pingPhaseMs.over} of ${s3.pingPhaseMs.count} leads over` : null,
    s3?.pingPhaseMs ? s3.pingPhaseMs.over <= s3.pingPhaseMs.count * 0.001 : null,
  );
  const s4 = find(r, "S4")?.gavel;
  const s1g = s1?.gavel;
  add(
    "S4",
    "≥ 80 % of S1 peak throughput",
    // Unsold answers count as throughput here; the share sold says whether it was useful work.
    s4 && s1g
      ? `${fmt(s4.leadsPerS)} vs ${fmt(s1g.leadsPerS)} leads/s (${fmt((100 * s4.leadsPerS) / s1g.leadsPerS, 0)} %); sold ${soldPct(s4)} vs ${soldPct(s1g)}`
      : null,
    s4 && s1g ? s4.leadsPerS >= 0.8 * s1g.leadsPerS : null,
  );
  add("S4", `p99 ≤ deadline (${deadlineMs} ms)`, s4 ? `p99 ${fmt(s4.latencyMs.p99)} ms` : null, s4 ? s4.latencyMs.p99 <= deadlineMs : null);
  add("S4", "excess answered 503 + Retry-After", s4 ? `${s4.non2xx["503"] ?? 0} answered 503` : null, s4 ? (s4.non2xx["503"] ?? 0) > 0 : null);
  const s5 = find(r, "S5")?.gavel;
  add("S5", "RSS ≤ 300 MB", s5 ? `peak ${fmt(s5.peakRssMb, 0)} MB` : null, s5 ? s5.peakRssMb <= 300 : null);
  const growth = s5?.rssSeries ? rssGrowth(s5.rssSeries) : null;
  add(
    "S5",
    "RSS growth ≤ 10 % from minute 1 to minute 2",
    growth ? `${fmt(growth.from, 0)} → ${fmt(growth.to, 0)} MB (${growth.pct >= 0 ? "+" : ""}${fmt(growth.pct)} %, ${growth.fromS} s → ${growth.toS} s)` : null,
    growth ? growth.pct <= 10 : null,
  );
  return checks;
}

function soldPct(m: Measurement): string {
  const total = Object.values(m.outcomes).reduce((a, b) => a + b, 0);
  return total ? `${Math.round(((m.outcomes.sold ?? 0) * 100) / total)} %` : "-";
}

/** RSS at the sample nearest the soak's midpoint (minute 1 of 2) against the last sample. */
export function rssGrowth(series: [number, number][]): { from: number; to: number; pct: number; fromS: number; toS: number } | null {
  if (series.length < 3) return null;
  const last = series[series.length - 1];
  const mid = series.reduce((best, s) => (Math.abs(s[0] - last[0] / 2) < Math.abs(best[0] - last[0] / 2) ? s : best));
  return { from: mid[1], to: last[1], pct: ((last[1] - mid[1]) / mid[1]) * 100, fromS: mid[0], toS: last[0] };
}

// ---- formatting --------------------------------------------------------------------------------

export function fmt(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  return n.toFixed(digits);
}

const x = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : `${n.toFixed(2)}×`);

function mix(m: Measurement): string {
  const o = m.outcomes;
  const total = Object.values(o).reduce((a, b) => a + b, 0);
  if (!total) return "-";
  const p = (k: string) => Math.round(((o[k] ?? 0) * 100) / total);
  return `${p("sold")}/${p("unsold")}/${p("duplicate")}/${p("error")}`;
}

function non2xx(m: Measurement): string {
  const parts = Object.entries(m.non2xx).map(([code, n]) => `${n}×${code}`);
  if (m.failures) parts.push(`${m.failures}×none`);
  return parts.length ? parts.join(" ") : "0";
}

export const COLUMNS = [
  "step",
  "server",
  "leads/s",
  "p50 ms",
  "p90 ms",
  "p99 ms",
  "max ms",
  "CPU ms/lead",
  "PG ms/lead",
  "peak RSS MB",
  "sold/unsold/dup/err %",
  "non-2xx",
  "late",
  "overhead p50/p99 ms",
];

function rows(result: BenchResult): string[][] {
  const out: string[][] = [];
  for (const s of result.scenarios) {
    for (const st of s.steps) {
      const name = `${s.id} ${st.step}`;
      for (const m of [st.gavel, st.baseline]) {
        if (!m) continue;
        out.push([
          name,
          m.target,
          fmt(m.leadsPerS),
          fmt(m.latencyMs.p50),
          fmt(m.latencyMs.p90),
          fmt(m.latencyMs.p99),
          fmt(m.latencyMs.max),
          fmt(m.cpuMsPerLead, 2),
          m.pgCpuMsPerLead === null ? "-" : fmt(m.pgCpuMsPerLead, 2),
          fmt(m.peakRssMb, 0),
          mix(m),
          non2xx(m),
          String(m.late),
          m.overheadMs ? `${fmt(m.overheadMs.p50, 2)} / ${fmt(m.overheadMs.p99, 2)}` : "-",
        ]);
      }
      if (st.ratio) {
        const r = st.ratio;
        out.push([name, "gavel/baseline", x(r.leadsPerS), x(r.p50), x(r.p90), x(r.p99), x(r.max), x(r.cpuMsPerLead), "", x(r.peakRssMb), "", "", "", ""]);
      }
    }
  }
  return out;
}

const NUMERIC = COLUMNS.map((_, i) => i >= 2);

export function textTable(headers: string[], body: string[][], numeric: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? (c ?? "").padStart(widths[i]) : (c ?? "").padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n") + "\n";
}

export function markdownTable(headers: string[], body: string[][], numeric: boolean[]): string {
  const esc = (c: string) => c.replace(/\|/g, "\\|");
  return (
    `| ${headers.map(esc).join(" | ")} |\n` +
    `|${numeric.map((n) => (n ? "---:" : "---")).join("|")}|\n` +
    body.map((r) => `| ${r.map(esc).join(" | ")} |`).join("\n") +
    "\n"
  );
}

function loadRows(result: BenchResult): string[][] {
  const out: string[][] = [];
  for (const s of result.scenarios)
    for (const st of s.steps)
      for (const m of [st.gavel, st.baseline])
        if (m)
          out.push([
            `${s.id} ${st.step}`,
            m.target,
            st.load,
            String(m.sent),
            fmt(m.seconds, 1),
            fmt(m.cpuPct.server, 0),
            m.cpuPct.postgres === null ? "-" : fmt(m.cpuPct.postgres, 0),
            fmt(m.cpuPct.sim, 0),
            fmt(m.cpuPct.driver, 0),
            String(m.sim.pings),
            String(m.sim.connections),
            m.pingPhaseMs ? `${fmt(m.pingPhaseMs.p99, 0)} / ${fmt(m.pingPhaseMs.p999, 0)}` : "-",
          ]);
  return out;
}
const LOAD_COLUMNS = ["step", "server", "load", "sent", "s", "server CPU %", "PG CPU %", "sim CPU %", "driver CPU %", "pings", "new buyer conns", "ping phase p99/p99.9 ms"];
const LOAD_NUMERIC = [false, false, false, true, true, true, true, true, true, true, true, true];

function targetRows(result: BenchResult): string[][] {
  return result.targets.map((t) => [t.scenario, t.target, t.measured, t.met === null ? "n/a" : t.met ? "met" : "MISSED"]);
}

function header(result: BenchResult): string[] {
  const m = result.machine;
  return [
    `Gavel load lab — ${result.startedAt}${result.gitCommit ? ` — commit ${result.gitCommit}` : ""}`,
    `database: ${result.databaseDescription}`,
    `buyers: ${result.buyerHosts === 1 ? "one loopback origin shared by every simulated buyer (one connection pool in Gavel and the baseline)" : `spread over ${result.buyerHosts} loopback origins (127.0.0.1 … 127.0.0.${result.buyerHosts}), one pool each`}` +
      (Object.keys(result.gavelEnv).length ? `; Gavel env ${Object.entries(result.gavelEnv).map(([k, v]) => `${k}=${v}`).join(" ")}` : "") +
      (result.gavelNodeFlags?.length ? `; Gavel node flags ${result.gavelNodeFlags.join(" ")} (after npm start's)` : ""),
    `machine: ${m.cpus} × ${m.model}, ${m.memoryGb} GB, Node ${m.node}; load average before ${m.loadavgBefore.map((l) => l.toFixed(2)).join(" ")}, after ${m.loadavgAfter.map((l) => l.toFixed(2)).join(" ")}`,
    `whole run: ${result.wallS.toFixed(0)} s${result.processWarmupS ? `, each server warmed up for ${result.processWarmupS} s before the first step` : ""}. Figures are for the whole measured window of each step; ratios are Gavel/baseline in the same run.`,
  ];
}

const LEGEND = [
  "leads/s: 200 answers per second. p50…max: latency of 200 answers as the supplier sees it (open loop: from the lead's scheduled send time).",
  "CPU ms/lead: user+sys CPU of the server process per 200 answer (/proc); PG ms/lead: the same for the PostgreSQL backends of Gavel's database.",
  "peak RSS: highest resident memory sampled every 250 ms. sold/unsold/dup/err: lead statuses in the 200 answers, in %.",
  "non-2xx: other answers by HTTP status (none = no answer). late: answers after deadline + 50 ms, and requests never answered.",
  "overhead: time spent in Gavel (duration minus waiting on buyers), p50/p99 interpolated from Gavel's /metrics histogram over the step.",
];

export function renderText(result: BenchResult): string {
  let out = header(result).join("\n") + "\n\n";
  for (const s of result.scenarios) out += `  ${s.description}\n`;
  out += "\n" + textTable(COLUMNS, rows(result), NUMERIC);
  out += LEGEND.map((l) => `  ${l}`).join("\n") + "\n\n";
  out += "Load generation (CPU % of one core over each step; the simulator and driver must not be the bottleneck)\n";
  out += textTable(LOAD_COLUMNS, loadRows(result), LOAD_NUMERIC);
  for (const s of result.scenarios)
    for (const st of s.steps)
      if (st.gavel?.rssSeries) out += `\n${s.id} Gavel RSS (s: MB): ${st.gavel.rssSeries.map(([t, mb]) => `${t}:${fmt(mb, 0)}`).join(" ")}\n`;
  out += "\nTargets of issue #6 (informational; the tuning comes later)\n";
  out += textTable(["scenario", "target", "measured", ""], targetRows(result), [false, false, false, false]);
  if (result.notes.length) out += "\n" + result.notes.map((n) => `note: ${n}`).join("\n") + "\n";
  return out;
}

export function renderMarkdown(result: BenchResult): string {
  let out = `# ${header(result)[0]}\n\n` + header(result).slice(1).map((l) => `- ${l}`).join("\n") + "\n\n";
  out += "## Scenarios\n\n" + result.scenarios.map((s) => `- ${s.description}`).join("\n") + "\n\n";
  out += "## Results\n\n" + markdownTable(COLUMNS, rows(result), NUMERIC) + "\n" + LEGEND.map((l) => `- ${l}`).join("\n") + "\n\n";
  out += "## Load generation\n\n" + markdownTable(LOAD_COLUMNS, loadRows(result), LOAD_NUMERIC);
  for (const s of result.scenarios)
    for (const st of s.steps)
      if (st.gavel?.rssSeries) out += `\n${s.id} Gavel RSS (s: MB): ${st.gavel.rssSeries.map(([t, mb]) => `${t}:${fmt(mb, 0)}`).join(" ")}\n`;
  out += "\n## Targets\n\n" + markdownTable(["scenario", "target", "measured", ""], targetRows(result), [false, false, false, false]);
  if (result.notes.length) out += "\n## Notes\n\n" + result.notes.map((n) => `- ${n}`).join("\n") + "\n";
  return out;
}
