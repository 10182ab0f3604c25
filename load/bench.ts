// `npm run bench`: Gavel against the ideal fan-out baseline, side by side, in one run. It starts
// three processes once — the buyer simulator, Gavel (src/main.ts on a fresh database) and the
// baseline — and for each scenario reconfigures the simulator and the baseline and gives Gavel a
// campaign of its own (through Gavel's API, one channel per simulated buyer). For each step it
// drives Gavel and then the baseline under identical load; at the end it prints one table and
// writes load/results/<timestamp>.json and .md. `npm run bench -- --help` lists every knob.
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { isAbsolute, join } from "node:path";
import { parseScrape } from "./prom";
import {
  addCampaign,
  dropAllDatabases,
  leadBodies,
  PAYOUT_PERCENT,
  postReserveMs,
  publicFields,
  setupGavel,
  startBaselineServer,
  startGavelProcess,
  startSim,
  type Baseline,
  type GavelProcess,
  type Sim,
} from "./lab";
import { closedLoop, type LoadTarget } from "./drive";
import { isMain } from "./main-module";
import { measureStep, type Probe } from "./measure";
import { killAllChildren, repoRoot } from "./proc";
import { checkTargets, ratioOf, renderMarkdown, renderText, type BenchResult, type ScenarioResult } from "./report";
import { describeScenario, describeStep, helpText, shortStep, parseBenchArgs, type BenchOptions, type Scenario, type Step } from "./scenarios";

export interface BenchIo {
  /** Progress lines (stderr for the CLI). */
  progress(text: string): void;
  argv?: string[];
}

const DEFAULT_S1_CAPACITY = 100;

function gitCommit(): string | null {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repoRoot, encoding: "utf8" }).trim();
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return null;
  }
}

function openRate(step: Step, s1Capacity: number | undefined): number | undefined {
  if (step.mode !== "open" || step.rate === undefined) return undefined;
  if (typeof step.rate === "number") return step.rate;
  return Math.max(1, Math.round(step.rate.ofS1 * (s1Capacity ?? DEFAULT_S1_CAPACITY)));
}

interface Lab {
  sim: Sim;
  gavel?: GavelProcess;
  apiKey?: string;
  baseline?: Baseline;
}

interface RunState {
  s1Capacity?: number;
  notes: string[];
  profileDir?: string;
}

function baselineSettings(scenario: Scenario) {
  return {
    buyers: scenario.sim.buyers,
    pingTimeoutMs: scenario.auction.pingTimeoutMs,
    postTimeoutMs: scenario.auction.postTimeoutMs,
    deadlineMs: scenario.auction.deadlineMs,
    postReserveMs: postReserveMs(scenario.auction),
    // Gavel's buyer transport keeps up to 256 connections per origin.
    connections: 256,
    publicFields,
    payoutPercent: PAYOUT_PERCENT,
    maxSells: scenario.auction.maxSells ?? 1,
  };
}

/** Starts the simulator, Gavel and the baseline side by side; stops whatever started if one fails. */
async function startLab(first: Scenario, options: BenchOptions, state: RunState): Promise<Lab> {
  const nodeArgs = [...options.gavelNodeFlags, ...(state.profileDir ? ["--cpu-prof", "--cpu-prof-dir", state.profileDir] : [])];
  let sim: Sim | undefined;
  let gavel: GavelProcess | undefined;
  const started = await Promise.allSettled([
    startSim(first.sim, options.buyerHosts).then((s) => (sim = s)),
    options.targets.includes("gavel") ? startGavelProcess({ databaseUrl: options.databaseUrl, env: options.gavelEnv, nodeArgs }).then((g) => (gavel = g)) : null,
  ]);
  const lab: Lab = { sim: sim! };
  lab.gavel = gavel;
  try {
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [apiKey, baseline] = await Promise.all([
      lab.gavel ? setupGavel(lab.gavel) : undefined,
      options.targets.includes("baseline") ? startBaselineServer({ simPort: lab.sim.port, simHosts: lab.sim.hosts, ...baselineSettings(first) }) : undefined,
    ]);
    lab.apiKey = apiKey;
    lab.baseline = baseline;
    return lab;
  } catch (error) {
    await stopLab(lab);
    throw error;
  }
}

/**
 * A freshly started server runs its first seconds cold: V8 compiles the hot path on the process's
 * own CPU and the database's caches are empty. Measured as the first step, that made S1 (always
 * first) show Gavel at 1.5-1.7 ms of CPU per lead, and 0.8 ms when S4 measured the same work later
 * in the same run. Each server gets the same unmeasured load first: the first scenario's buyers,
 * 64 leads in flight, on a campaign of its own.
 */
async function warmUp(lab: Lab, scenario: Scenario, seconds: number, io: BenchIo): Promise<void> {
  const targets = await prepareScenario(lab, scenario, "bench-warm-up");
  for (const [name, target] of [["gavel", targets.gavel], ["baseline", targets.baseline]] as const) {
    if (!target) continue;
    io.progress(`warming up ${name}: ${seconds} s at 64 leads in flight, not measured …`);
    await closedLoop(target, 64, 0, seconds, { start() {}, end() {} });
  }
}

/**
 * Sets the simulator and the baseline to a scenario and gives Gavel a campaign for it; returns what
 * to drive on each server (the same lead bodies for both).
 */
async function prepareScenario(lab: Lab, scenario: Scenario, campaignId: string): Promise<{ gavel?: LoadTarget; baseline?: LoadTarget }> {
  await lab.sim.configure(scenario.sim);
  await lab.baseline?.configure(baselineSettings(scenario));
  if (lab.gavel) await addCampaign(lab.gavel, campaignId, lab.sim, scenario.sim.buyers, scenario.auction);
  const body = leadBodies(campaignId);
  const pingFirst = scenario.pingFirst && { publicFields, postShare: scenario.pingFirst.postShare };
  return {
    gavel: lab.gavel && { url: lab.gavel.url, headers: { authorization: `Bearer ${lab.apiKey}` }, body, pingFirst },
    baseline: lab.baseline && { url: lab.baseline.url, headers: {}, body, pingFirst },
  };
}

async function stopLab(lab: Partial<Lab>): Promise<void> {
  await Promise.all([lab.gavel?.stop(), lab.baseline?.child.stop(), lab.sim?.child.stop()].map((p) => p?.catch(() => {})));
}

async function runScenario(scenario: Scenario, lab: Lab, options: BenchOptions, io: BenchIo, state: RunState): Promise<ScenarioResult> {
  const result: ScenarioResult = { id: scenario.id, title: scenario.title, description: describeScenario(scenario), steps: [] };
  const targets = await prepareScenario(lab, scenario, `bench-${scenario.id.toLowerCase()}`);
  const sim = lab.sim;
  const probes: Probe[] = [];
  if (lab.gavel) {
    const g: GavelProcess = lab.gavel;
    probes.push({
      kind: "gavel",
      target: targets.gavel!,
      pid: g.child.pid,
      simPid: sim.child.pid,
      simStats: sim.stats,
      scrape: async () => parseScrape(await (await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${g.adminToken}` } })).text()),
      backendPids: g.database.kind === "postgres" ? () => g.database.backendPids() : undefined,
    });
  }
  if (lab.baseline) {
    const b: Baseline = lab.baseline;
    probes.push({ kind: "baseline", target: targets.baseline!, pid: b.child.pid, simPid: sim.child.pid, simStats: sim.stats });
  }

  for (const step of scenario.steps) {
    if (step.mode === "open" && typeof step.rate === "object" && state.s1Capacity === undefined && options.s1Capacity === undefined)
      state.notes.push(`${scenario.id} ${step.id}: S1 did not run, so the open-loop rate assumes an S1 capacity of ${DEFAULT_S1_CAPACITY} leads/s (set --s1-capacity or --rate)`);
    const rate = openRate(step, state.s1Capacity ?? options.s1Capacity);
    const load = describeStep(step, rate);
    const row: ScenarioResult["steps"][number] = { scenario: scenario.id, step: step.id, load: shortStep(step, rate), ...(rate !== undefined ? { rate } : {}) };
    for (const probe of probes) {
      const seconds = probe.kind === "baseline" ? (step.baselineDurationS ?? step.durationS) : step.durationS;
      io.progress(`${scenario.id} ${step.id} ${probe.kind}: ${load.replace(/, [\d.]+ s/, `, ${seconds} s`)} …`);
      const m = await measureStep(probe, step, { deadlineMs: scenario.auction.deadlineMs, pingTimeoutMs: scenario.auction.pingTimeoutMs, rate });
      io.progress(`  ${m.leadsPerS} leads/s, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, ${m.cpuMsPerLead} CPU ms/lead, sim CPU ${m.cpuPct.sim} %`);
      row[probe.kind] = m;
      if (m.cpuPct.sim > 85)
        state.notes.push(`${scenario.id} ${step.id} ${probe.kind}: the buyer simulator used ${m.cpuPct.sim} % of a core — it may have limited this step`);
    }
    if (row.gavel && row.baseline) row.ratio = ratioOf(row.gavel, row.baseline);
    result.steps.push(row);
  }
  if (scenario.id === "S1") {
    const s1 = result.steps[0];
    state.s1Capacity = s1?.gavel?.leadsPerS ?? s1?.baseline?.leadsPerS;
  }
  return result;
}

export async function runBench(options: BenchOptions, io: BenchIo): Promise<{ result: BenchResult; text: string; files: { json: string; md: string } | null }> {
  const started = new Date();
  const t0 = performance.now();
  const loadavgBefore = loadavg();
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  const outDir = isAbsolute(options.outDir) ? options.outDir : join(repoRoot, options.outDir);
  const state: RunState = { notes: [] };
  if (options.cpuProfile) {
    state.profileDir = join(outDir, `${stamp}-profiles`);
    await mkdir(state.profileDir, { recursive: true });
  }
  const cores = cpus().length;
  if (loadavgBefore[0] > cores * 0.5)
    state.notes.push(`load average was ${loadavgBefore[0].toFixed(2)} on ${cores} cores before the run: other work shared the machine, so the figures are noisy`);

  // S1 first when it runs: later steps take their open-loop rate from its capacity.
  const ordered = [...options.scenarios].sort((a, b) => (a.id === "S1" ? -1 : b.id === "S1" ? 1 : 0));
  const scenarios: ScenarioResult[] = [];
  const timed: BenchIo = { ...io, progress: (line) => io.progress(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`) };
  timed.progress("starting the buyer simulator, Gavel and the baseline …");
  const lab = await startLab(ordered[0], options, state);
  let databaseDescription: string | undefined;
  try {
    databaseDescription = lab.gavel?.database.describe;
    if (options.processWarmupS > 0) await warmUp(lab, ordered[0], options.processWarmupS, timed);
    for (const scenario of ordered) {
      timed.progress(describeScenario(scenario));
      scenarios.push(await runScenario(scenario, lab, options, timed, state));
    }
  } finally {
    timed.progress("stopping the lab's processes …");
    await stopLab(lab);
  }

  const result: BenchResult = {
    startedAt: started.toISOString(),
    wallS: Math.round((performance.now() - t0) / 100) / 10,
    machine: {
      cpus: cores,
      model: cpus()[0]?.model ?? "unknown",
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.versions.node,
      loadavgBefore,
      loadavgAfter: loadavg(),
    },
    database: options.databaseUrl ? "postgres" : "pglite",
    databaseDescription: databaseDescription ?? (options.databaseUrl ? "PostgreSQL" : "embedded PGlite (inside the Gavel process)"),
    gitCommit: gitCommit(),
    argv: io.argv ?? [],
    gavelEnv: options.gavelEnv,
    gavelNodeFlags: options.gavelNodeFlags,
    processWarmupS: options.processWarmupS,
    buyerHosts: options.buyerHosts,
    scenarios,
    targets: [],
    notes: state.notes,
  };
  const first = options.scenarios[0]?.auction;
  result.targets = first ? checkTargets(result, first.deadlineMs, first.pingTimeoutMs) : [];
  if (state.profileDir) state.notes.push(`Gavel CPU profile of the whole run (the largest file is the main thread): ${state.profileDir}`);

  const text = renderText(result);
  let files: { json: string; md: string } | null = null;
  if (!options.noWrite) {
    await mkdir(outDir, { recursive: true });
    files = { json: join(outDir, `${stamp}.json`), md: join(outDir, `${stamp}.md`) };
    await writeFile(files.json, JSON.stringify(result, null, 2) + "\n");
    await writeFile(files.md, renderMarkdown(result));
  }
  return { result, text, files };
}

// ---- the command line --------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${helpText()}`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(helpText());
    return;
  }
  let interrupted = false;
  const interrupt = (signal: string) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the lab's processes …\n`);
    killAllChildren();
    void dropAllDatabases().finally(() => process.exit(130));
  };
  process.once("SIGINT", () => interrupt("SIGINT"));
  process.once("SIGTERM", () => interrupt("SIGTERM"));

  process.stderr.write(`database: ${options.databaseUrl ? "PostgreSQL (DATABASE_URL), a fresh database for this run" : "embedded PGlite, a fresh data folder for this run"}\n`);
  try {
    const { text, files } = await runBench(options, { progress: (line) => process.stderr.write(`${line}\n`), argv });
    process.stdout.write(`\n${text}`);
    if (files) process.stdout.write(`\nwritten: ${files.json}\n         ${files.md}\n`);
  } catch (error) {
    killAllChildren();
    await dropAllDatabases();
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
