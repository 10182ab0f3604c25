// One measured step against one server: warm up, snapshot CPU and metrics, drive the load while
// sampling memory (and PostgreSQL's backends), snapshot again, and reduce it all to one row.
import { closedLoop, openLoop, type LoadResult, type LoadTarget, type WindowHooks } from "./drive";
import { percentileSorted } from "./latency";
import { cpuMs, memoryMb } from "./proc";
import { countAbove, histogram, quantile, total, type Scrape } from "./prom";
import type { Step } from "./scenarios";

export interface Measurement {
  target: "gavel" | "baseline";
  seconds: number;
  sent: number;
  /** 200 answers (auctioned or duplicate leads) that arrived inside the measurement window. */
  leads: number;
  leadsPerS: number;
  /** Latency of the 200 answers to the window's requests (see LoadResult), ms. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Server process CPU (user + sys) per 200 answer, ms. */
  cpuMsPerLead: number;
  /** PostgreSQL backends of this database, CPU per 200 answer, ms; null on PGlite or for the baseline. */
  pgCpuMsPerLead: number | null;
  /** Highest RSS sampled during the step (every 250 ms), MB. */
  peakRssMb: number;
  /** Lead statuses in the 200 answers. */
  outcomes: Record<string, number>;
  /** Answers other than 200, by HTTP status; `failures` had no answer at all. */
  non2xx: Record<string, number>;
  failures: number;
  /** Answers (any status) later than deadline + 50 ms, and requests never answered. */
  late: number;
  /** From Gavel's /metrics histograms (difference over the step); null for the baseline. */
  overheadMs: { p50: number; p99: number } | null;
  pingPhaseMs: { p99: number; p999: number; over: number; count: number } | null;
  /** CPU use in percent of one core over the step: the server, the buyer simulator, this driver. */
  cpuPct: { server: number; sim: number; driver: number; postgres: number | null };
  /** What the buyer simulator saw during the step: pings, posts, new TCP connections, abandoned requests. */
  sim: { pings: number; posts: number; connections: number; abandoned: number };
  /** RSS every `rssEveryS` seconds (the soak): [seconds since start, MB]. */
  rssSeries?: [number, number][];
}

export interface Probe {
  kind: "gavel" | "baseline";
  target: LoadTarget;
  pid: number;
  simPid: number;
  simStats: () => Promise<Record<string, number>>;
  /** Gavel's /metrics, read with an operator token. */
  scrape?: () => Promise<Scrape>;
  /** PostgreSQL backends serving Gavel's database (empty on PGlite). */
  backendPids?: () => Promise<number[]>;
}

interface Snapshot {
  at: number;
  server: number;
  sim: number;
  driver: NodeJS.CpuUsage;
  metrics?: Promise<Scrape | undefined>;
  simStats: Promise<Record<string, number>>;
}

class Sampler {
  peakRss = 0;
  series: [number, number][] = [];
  private pg = new Map<number, { first: number; last: number }>();
  private timers: NodeJS.Timeout[] = [];
  private started = performance.now();

  constructor(
    private pid: number,
    private backendPids?: () => Promise<number[]>,
  ) {}

  start(rssEveryS?: number): void {
    this.started = performance.now();
    this.sampleRss();
    void this.samplePg(true);
    this.timers.push(setInterval(() => this.sampleRss(), 250));
    if (this.backendPids) this.timers.push(setInterval(() => void this.samplePg(false), 500));
    if (rssEveryS) {
      this.series.push([0, this.rss()]);
      this.timers.push(setInterval(() => this.series.push([Math.round((performance.now() - this.started) / 1000), this.rss()]), rssEveryS * 1000));
    }
  }

  private rss(): number {
    return Math.round((memoryMb(this.pid)?.rss ?? 0) * 10) / 10;
  }

  private sampleRss(): void {
    this.peakRss = Math.max(this.peakRss, this.rss());
  }

  /** Backends seen at the start count from then; backends born later count from zero. */
  private async samplePg(initial: boolean): Promise<void> {
    if (!this.backendPids) return;
    const pids = await this.backendPids().catch(() => [] as number[]);
    for (const pid of pids) {
      const cpu = cpuMs(pid);
      if (cpu === null) continue;
      const seen = this.pg.get(pid);
      if (seen) seen.last = cpu;
      else this.pg.set(pid, { first: initial ? cpu : 0, last: cpu });
    }
  }

  async stop(): Promise<{ pgCpuMs: number | null }> {
    for (const t of this.timers) clearInterval(t);
    this.sampleRss();
    if (!this.backendPids) return { pgCpuMs: null };
    await this.samplePg(false);
    let sum = 0;
    for (const { first, last } of this.pg.values()) sum += last - first;
    return { pgCpuMs: sum };
  }
}

function drive(step: Step, target: LoadTarget, durationS: number, rate: number | undefined, window: WindowHooks): Promise<LoadResult> {
  if (step.mode === "closed") return closedLoop(target, step.connections ?? 64, step.warmupS, durationS, window);
  if (!rate) throw new Error(`step ${step.id}: open loop without a rate`);
  return openLoop(target, rate, step.warmupS, durationS, window);
}

export async function measureStep(
  probe: Probe,
  step: Step,
  settings: { deadlineMs: number; pingTimeoutMs: number; rate?: number },
): Promise<Measurement> {
  const durationS = probe.kind === "baseline" ? (step.baselineDurationS ?? step.durationS) : step.durationS;
  const sampler = new Sampler(probe.pid, probe.backendPids);
  // CPU times are read synchronously at the window's edges; scrapes are started there and awaited later.
  const snapshot = (): Snapshot => ({
    at: performance.now(),
    server: cpuMs(probe.pid) ?? 0,
    sim: cpuMs(probe.simPid) ?? 0,
    driver: process.cpuUsage(),
    metrics: probe.scrape?.().catch(() => undefined),
    simStats: probe.simStats().catch(() => ({})),
  });
  let first: Snapshot | undefined;
  let last: Snapshot | undefined;
  let pgDone: Promise<{ pgCpuMs: number | null }> | undefined;
  const window: WindowHooks = {
    start() {
      first = snapshot();
      sampler.start(probe.kind === "gavel" ? step.rssEveryS : undefined);
    },
    end() {
      last = snapshot();
      pgDone = sampler.stop();
    },
  };
  const load = await drive(step, probe.target, durationS, settings.rate, window);
  if (!first || !last || !pgDone) throw new Error("the load driver did not mark its measurement window");
  const wallMs = last.at - first.at;
  const { pgCpuMs } = await pgDone;
  const serverCpu = last.server - first.server;
  const simCpu = last.sim - first.sim;
  const driverCpu = (last.driver.user - first.driver.user + last.driver.system - first.driver.system) / 1000;
  const [metricsBefore, metricsAfter, simBefore, simAfter] = await Promise.all([first.metrics, last.metrics, first.simStats, last.simStats]);
  const simDelta = (k: string) => (simAfter[k] ?? 0) - (simBefore[k] ?? 0);

  const ok: number[] = [];
  const non2xx: Record<string, number> = {};
  const lateAfter = settings.deadlineMs + 50;
  let late = load.failures;
  for (let i = 0; i < load.latencies.length; i++) {
    const status = load.httpStatuses[i];
    if (load.latencies[i] > lateAfter) late++;
    if (status === 200) ok.push(load.latencies[i]);
    else non2xx[status] = (non2xx[status] ?? 0) + 1;
  }
  const sorted = Float64Array.from(ok).sort();
  const leads = load.okInWindow;
  const pct = (ms: number) => Math.round((ms / wallMs) * 1000) / 10;
  const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : NaN);

  let overheadMs: Measurement["overheadMs"] = null;
  let pingPhaseMs: Measurement["pingPhaseMs"] = null;
  if (metricsBefore && metricsAfter) {
    const overhead = histogram("gavel_lead_overhead_seconds", metricsAfter, metricsBefore);
    overheadMs = { p50: round(quantile(overhead, 0.5) * 1000, 2), p99: round(quantile(overhead, 0.99) * 1000, 2) };
    const pings = histogram("gavel_ping_phase_seconds", metricsAfter, metricsBefore);
    pingPhaseMs = {
      p99: round(quantile(pings, 0.99) * 1000),
      p999: round(quantile(pings, 0.999) * 1000),
      over: Math.round(countAbove(pings, (settings.pingTimeoutMs + 50) / 1000)),
      count: total(pings),
    };
  }

  return {
    target: probe.kind,
    seconds: round(wallMs / 1000, 2),
    sent: load.sent,
    leads,
    leadsPerS: round(leads / (wallMs / 1000)),
    latencyMs: {
      p50: round(percentileSorted(sorted, 50)),
      p90: round(percentileSorted(sorted, 90)),
      p99: round(percentileSorted(sorted, 99)),
      max: round(sorted.length ? sorted[sorted.length - 1] : NaN),
    },
    cpuMsPerLead: round(serverCpu / Math.max(1, leads), 3),
    pgCpuMsPerLead: pgCpuMs === null ? null : round(pgCpuMs / Math.max(1, leads), 3),
    peakRssMb: sampler.peakRss,
    outcomes: load.outcomes,
    non2xx,
    failures: load.failures,
    late,
    overheadMs,
    pingPhaseMs,
    cpuPct: {
      server: pct(serverCpu),
      sim: pct(simCpu),
      driver: pct(driverCpu),
      postgres: pgCpuMs === null ? null : pct(pgCpuMs),
    },
    sim: { pings: simDelta("pings"), posts: simDelta("posts"), connections: simDelta("connections"), abandoned: simDelta("abandoned") },
    ...(sampler.series.length ? { rssSeries: sampler.series } : {}),
  };
}
