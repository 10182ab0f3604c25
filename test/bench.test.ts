// The load lab end to end, tiny: one scenario with 2 buyers, a closed-loop and an open-loop step of
// about two seconds each, on this suite's database choice (PGlite, or a fresh PostgreSQL database
// when DATABASE_URL is set). It checks the machinery and the shape of what it reports — never
// speed: the machines are shared and noisy.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBench } from "../load/bench";
import { runningChildren } from "../load/proc";
import { COLUMNS } from "../load/report";
import { helpText, knobs, parseBenchArgs, type BenchOptions } from "../load/scenarios";

describe("npm run bench", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("--help lists every knob", () => {
    const help = helpText();
    for (const knob of knobs) expect(help).toContain(`--${knob.name}`);
    expect(parseBenchArgs(["--help"])).toBe("help");
    expect(() => parseBenchArgs(["--scenario", "S9"])).toThrow(/unknown 'S9'/);
    expect(() => parseBenchArgs(["--no-bid", "2"])).toThrow(/--no-bid/);
  });

  it("applies knobs to every scenario that runs", () => {
    const options = parseBenchArgs(["--scenario", "S2,S3", "--buyers", "7", "--concurrency", "8,32", "--hang", "0.5", "--deadline", "1500"], {}) as BenchOptions;
    expect(options.scenarios.map((s) => s.id)).toEqual(["S2", "S3"]);
    expect(options.databaseUrl).toBeUndefined();
    for (const s of options.scenarios) {
      expect(s.sim.buyers).toBe(7);
      expect(s.sim.hangFraction).toBe(0.5);
      expect(s.auction.deadlineMs).toBe(1500);
    }
    expect(options.scenarios[0].steps.map((st) => st.id)).toEqual(["c8", "c32", "open"]);
    expect(options.scenarios[1].steps.map((st) => st.id)).toEqual(["open"]);
  });

  it("takes node flags for Gavel, and refuses words that are not flags", () => {
    const options = parseBenchArgs(["--scenario", "S1", "--gavel-node-flags=--max-semi-space-size=16  --heap-growing-percent=0"], {}) as BenchOptions;
    expect(options.gavelNodeFlags).toEqual(["--max-semi-space-size=16", "--heap-growing-percent=0"]);
    expect((parseBenchArgs(["--scenario", "S1"], {}) as BenchOptions).gavelNodeFlags).toEqual([]);
    expect((parseBenchArgs(["--scenario", "S1"], {}) as BenchOptions).processWarmupS).toBe(5);
    expect(() => parseBenchArgs(["--gavel-node-flags=semi=16"], {})).toThrow(/--gavel-node-flags/);
  });

  it("measures Gavel and the baseline side by side and writes the table, JSON and markdown", { timeout: 120_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), "gavel-bench-test-"));
    const options = parseBenchArgs(["--scenario", "S1", "--buyers", "2", "--concurrency", "4", "--duration", "1.5", "--warmup", "0.5", "--process-warmup", "1", "--out", dir]) as BenchOptions;
    options.scenarios[0].steps.push({ id: "open", mode: "open", rate: 20, durationS: 1.5, warmupS: 0.5 });
    const progress: string[] = [];
    const { result, text, files } = await runBench(options, { progress: (line) => progress.push(line) });

    // Every child process is gone.
    expect(runningChildren()).toEqual([]);

    // The table: its columns, a gavel, a baseline and a ratio row per step.
    const header = text.split("\n").find((l) => l.startsWith("step "));
    for (const column of COLUMNS) expect(header).toContain(column);
    for (const step of ["S1 c4", "S1 open"]) {
      expect(text).toMatch(new RegExp(`^${step}\\s+gavel\\s+\\d`, "m"));
      expect(text).toMatch(new RegExp(`^${step}\\s+baseline\\s+\\d`, "m"));
      expect(text).toMatch(new RegExp(`^${step}\\s+gavel/baseline\\s+[\\d.]+×`, "m"));
    }
    expect(text).toContain(`database: ${process.env.DATABASE_URL ? "PostgreSQL" : "embedded PGlite"}`);
    expect(text).toMatch(/Targets of issue #6/);
    // Each server was warmed up once, unmeasured, before the first step.
    expect(progress.filter((line) => /warming up (gavel|baseline): 1 s/.test(line))).toHaveLength(2);
    expect(text).toContain("each server warmed up for 1 s before the first step");

    // The files.
    expect(files).not.toBeNull();
    expect(existsSync(files!.md)).toBe(true);
    expect(readFileSync(files!.md, "utf8")).toMatch(/^\| step \| server \| leads\/s \|/m);
    const json = JSON.parse(readFileSync(files!.json, "utf8"));
    expect(json.database).toBe(process.env.DATABASE_URL ? "postgres" : "pglite");
    expect(json.scenarios).toHaveLength(1);
    const steps = result.scenarios[0].steps;
    expect(steps.map((s) => s.step)).toEqual(["c4", "open"]);

    // Sane numbers.
    for (const step of steps) {
      for (const m of [step.gavel!, step.baseline!]) {
        expect(m.leadsPerS).toBeGreaterThan(0);
        expect(m.latencyMs.p50).toBeGreaterThan(0);
        expect(m.latencyMs.max).toBeGreaterThanOrEqual(m.latencyMs.p99);
        expect(m.latencyMs.p99).toBeGreaterThanOrEqual(m.latencyMs.p50);
        expect(m.cpuMsPerLead).toBeGreaterThan(0);
        expect(m.peakRssMb).toBeGreaterThan(10);
        expect(m.sim.pings).toBeGreaterThan(0);
        expect((m.outcomes.sold ?? 0) + (m.outcomes.unsold ?? 0)).toBeGreaterThan(0);
        // Late answers are those past the deadline + 50 ms, and requests never answered.
        expect(m.late > 0).toBe(m.latencyMs.max > 1050 || m.failures > 0);
      }
      // Gavel's own time per lead is never nothing, and its p99 is at least its p50.
      expect(step.gavel!.overheadMs!.p50).toBeGreaterThan(0);
      expect(step.gavel!.overheadMs!.p99).toBeGreaterThanOrEqual(step.gavel!.overheadMs!.p50);
      expect(step.gavel!.pingPhaseMs!.count).toBeGreaterThan(0);
      expect(step.gavel!.pgCpuMsPerLead === null).toBe(!process.env.DATABASE_URL);
      expect(step.baseline!.overheadMs).toBeNull();
      expect(step.ratio!.leadsPerS).toBeGreaterThan(0);
    }
    expect(steps[1].rate).toBe(20);
    expect(result.targets.find((t) => t.scenario === "S1" && t.target.startsWith("throughput"))!.met).not.toBeNull();
    expect(result.targets.find((t) => t.scenario === "S5")!.met).toBeNull();
  });
});

describe("npm run bench: S7 ping then post", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("pings each lead and posts half of those quoted a price, on Gavel and the baseline alike", { timeout: 120_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), "gavel-bench-s7-"));
    const options = parseBenchArgs(["--scenario", "S7", "--buyers", "2", "--concurrency", "4", "--duration", "1.5", "--warmup", "0.5", "--process-warmup", "0", "--out", dir]) as BenchOptions;
    expect(options.scenarios[0].pingFirst).toEqual({ postShare: 0.5 });
    const { result, text } = await runBench(options, { progress: () => {} });
    expect(runningChildren()).toEqual([]);
    expect(text).toContain("suppliers ping first and post 50% of the pings quoted a price");
    const step = result.scenarios[0].steps[0];
    for (const m of [step.gavel!, step.baseline!]) {
      expect(m.leadsPerS).toBeGreaterThan(0);
      const posted = (m.outcomes.sold ?? 0) + (m.outcomes.unsold ?? 0);
      const quoted = posted + (m.outcomes.not_posted ?? 0);
      // Seeded: about half of the quoted pings are posted (at least a few dozen leads in 1.5 s).
      expect(quoted).toBeGreaterThan(10);
      expect(posted / quoted).toBeGreaterThan(0.2);
      expect(posted / quoted).toBeLessThan(0.8);
      expect(m.sim.pings).toBeGreaterThan(0);
    }
  });
});
