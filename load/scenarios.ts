// The standard scenarios of issue #6 and every knob of `npm run bench`. A knob given on the command
// line overrides the matching setting of every scenario that runs.
import { parseArgs } from "node:util";
import { describeLatency, parseLatency } from "./latency";
import type { AuctionSettings } from "./lab";
import { defaultSimSettings, type SimSettings } from "./sim";

export interface Step {
  /** e.g. "c16", "open". */
  id: string;
  mode: "closed" | "open";
  /** Closed loop: leads in flight. */
  connections?: number;
  /** Open loop: leads per second, or a share of Gavel's S1 capacity measured earlier in the run. */
  rate?: number | { ofS1: number };
  durationS: number;
  warmupS: number;
  /** The baseline's duration when it differs (the soak measures Gavel's memory over time). */
  baselineDurationS?: number;
  /** Sample Gavel's RSS this often into a series (the soak). */
  rssEveryS?: number;
}

export interface Scenario {
  id: string;
  title: string;
  sim: SimSettings;
  auction: AuctionSettings;
  steps: Step[];
  /** Suppliers that ping first: each lead pinged, and this share of those quoted a price posted (load/drive.ts). */
  pingFirst?: { postShare: number };
}

export interface BenchOptions {
  scenarios: Scenario[];
  targets: ("gavel" | "baseline")[];
  /** PostgreSQL server to create a fresh database on; undefined: PGlite. */
  databaseUrl?: string;
  /** Extra environment for Gavel. */
  gavelEnv: Record<string, string>;
  /** Node flags for Gavel after npm start's own (a later flag wins): to try GC settings, say. */
  gavelNodeFlags: string[];
  /** Unmeasured load on each freshly started server before the first step: its JIT warm-up. */
  processWarmupS: number;
  /** Gavel's S1 capacity (leads/s) to use when S1 is not part of the run. */
  s1Capacity?: number;
  /** Loopback addresses the simulator listens on (1: every buyer shares one origin). */
  buyerHosts: number;
  outDir: string;
  cpuProfile: boolean;
  /** Write nothing to outDir. */
  noWrite: boolean;
}

const common = {
  auction: { pingTimeoutMs: 300, postTimeoutMs: 500, deadlineMs: 1000 },
  sim: { ...defaultSimSettings, noBidRate: 0.2, rejectRate: 0.1 },
};

export function standardScenarios(durationS = 5, warmupS = 1.5, soakS = 120, soakBaselineS = 10, rssEveryS = 5): Scenario[] {
  const realistic = { ping: parseLatency("lognormal:20:100"), post: parseLatency("lognormal:20:100") };
  return [
    {
      id: "S1",
      title: "capacity",
      sim: { ...common.sim, buyers: 10 },
      auction: common.auction,
      steps: [{ id: "c64", mode: "closed", connections: 64, durationS, warmupS }],
    },
    {
      id: "S2",
      title: "realistic",
      sim: { ...common.sim, buyers: 10, ...realistic },
      auction: common.auction,
      steps: [
        { id: "c16", mode: "closed", connections: 16, durationS, warmupS },
        { id: "c64", mode: "closed", connections: 64, durationS, warmupS },
        { id: "open", mode: "open", rate: { ofS1: 0.7 }, durationS, warmupS },
      ],
    },
    {
      id: "S3",
      title: "hostile",
      sim: { ...common.sim, buyers: 20, ping: parseLatency("20"), post: parseLatency("20"), hangFraction: 0.2, trickleFraction: 0.1 },
      auction: common.auction,
      steps: [{ id: "open", mode: "open", rate: { ofS1: 0.7 }, durationS, warmupS }],
    },
    {
      id: "S4",
      title: "overload",
      sim: { ...common.sim, buyers: 10 },
      auction: common.auction,
      steps: [{ id: "c256", mode: "closed", connections: 256, durationS, warmupS }],
    },
    {
      id: "S5",
      title: "soak",
      sim: { ...common.sim, buyers: 10, ...realistic },
      auction: common.auction,
      steps: [{ id: "c64", mode: "closed", connections: 64, durationS: soakS, warmupS: 0, baselineDurationS: soakBaselineS, rssEveryS }],
    },
    {
      // S1's load, sold shared: each lead to up to three buyers (one per simulated buyer), posted at
      // once and refilled down the ranking on each reject, as the baseline does too.
      id: "S6",
      title: "shared k=3",
      sim: { ...common.sim, buyers: 10 },
      auction: { ...common.auction, maxSells: 3 },
      steps: [{ id: "c64", mode: "closed", connections: 64, durationS, warmupS }],
    },
    {
      // S1's buyers and auction, with suppliers that ping first: each lead is pinged (its public
      // fields), and half of those quoted a price are posted whole, 64 suppliers in a closed loop.
      // The baseline keeps a ping's ranked bids in memory and sells its post down them, as Gavel does.
      id: "S7",
      title: "ping then post",
      sim: { ...common.sim, buyers: 10 },
      auction: common.auction,
      pingFirst: { postShare: 0.5 },
      steps: [{ id: "c64", mode: "closed", connections: 64, durationS, warmupS }],
    },
  ];
}

export function describeScenario(s: Scenario): string {
  const sim = s.sim;
  const faults = [
    sim.hangFraction ? `${Math.round(sim.buyers * sim.hangFraction)} hang` : "",
    sim.trickleFraction ? `${Math.round(sim.buyers * sim.trickleFraction)} trickle` : "",
  ].filter(Boolean);
  const latency = sim.ping.kind === "fixed" && sim.post.kind === "fixed" && sim.ping.ms === sim.post.ms ? describeLatency(sim.ping) : `ping ${describeLatency(sim.ping)}, post ${describeLatency(sim.post)}`;
  return (
    `${s.id} ${s.title}: N=${sim.buyers} buyers, ${latency}, bids $${sim.bid[0]}–${sim.bid[1]}, ` +
    `${Math.round(sim.noBidRate * 100)}% no-bid, ${Math.round(sim.rejectRate * 100)}% post reject` +
    (faults.length ? `, ${faults.join(" + ")}` : "") +
    `; ping timeout ${s.auction.pingTimeoutMs} ms, post timeout ${s.auction.postTimeoutMs} ms, deadline ${s.auction.deadlineMs} ms` +
    (s.auction.maxSells ? `; shared, max_sells ${s.auction.maxSells}` : "") +
    (s.pingFirst ? `; suppliers ping first and post ${Math.round(s.pingFirst.postShare * 100)}% of the pings quoted a price (a lead: its ping and its post, if any)` : "")
  );
}

/** "closed, 64 in flight" or "open, 120 leads/s". */
export function shortStep(step: Step, rate?: number): string {
  return step.mode === "closed" ? `closed, ${step.connections} in flight` : `open, ${rate === undefined ? "?" : rate.toFixed(0)} leads/s`;
}

export function describeStep(step: Step, rate?: number): string {
  const load = step.mode === "closed" ? `closed loop, ${step.connections} connections` : `open loop, ${rate === undefined ? "?" : rate.toFixed(0)} leads/s`;
  return `${load}, ${step.durationS} s${step.warmupS ? ` after ${step.warmupS} s warm-up` : ""}`;
}

// ---- knobs -------------------------------------------------------------------------------------

interface Knob {
  name: string;
  type: "string" | "boolean";
  arg?: string;
  help: string;
}

export const knobs: Knob[] = [
  { name: "scenario", type: "string", arg: "S1,S2,…", help: "scenarios to run (default: all seven, S1 S2 S3 S4 S5 S6 S7)" },
  { name: "duration", type: "string", arg: "s", help: "measured seconds per step, per server (default 5)" },
  { name: "warmup", type: "string", arg: "s", help: "unmeasured warm-up at the start of each step's run (default 1.5)" },
  { name: "process-warmup", type: "string", arg: "s", help: "unmeasured load on each freshly started server before the first step, 64 in flight (default 5; 0: none)" },
  { name: "soak", type: "string", arg: "s", help: "S5 duration for Gavel (default 120)" },
  { name: "soak-baseline", type: "string", arg: "s", help: "S5 duration for the baseline (default 10; its memory is not the question)" },
  { name: "rss-every", type: "string", arg: "s", help: "S5 RSS sampling interval (default 5)" },
  { name: "buyers", type: "string", arg: "n", help: "N, simulated buyers (= Gavel channels)" },
  { name: "concurrency", type: "string", arg: "c[,c…]", help: "closed loop: leads in flight; one step per value (replaces closed-loop steps)" },
  { name: "rate", type: "string", arg: "leads/s", help: "open loop: arrival rate (replaces the share of S1 capacity)" },
  { name: "s1-capacity", type: "string", arg: "leads/s", help: "Gavel's S1 capacity to derive open-loop rates from when S1 does not run (default 100)" },
  { name: "ping-latency", type: "string", arg: "spec", help: "buyer ping latency: 0 | 20 | fixed:20 | lognormal:<median>:<p99>" },
  { name: "post-latency", type: "string", arg: "spec", help: "buyer post latency, same forms (default: as the scenario)" },
  { name: "bid", type: "string", arg: "min:max", help: "bids uniform in [min, max] dollars (default 1:20)" },
  { name: "no-bid", type: "string", arg: "0..1", help: "share of pings answered without a bid (default 0.2)" },
  { name: "reject", type: "string", arg: "0..1", help: "share of posts rejected (default 0.1)" },
  { name: "hang", type: "string", arg: "0..1", help: "share of buyers that never answer (S3: 0.2)" },
  { name: "trickle", type: "string", arg: "0..1", help: "share of buyers that send headers, then a byte every 50 ms (S3: 0.1)" },
  { name: "trickle-every", type: "string", arg: "ms", help: "trickle interval (default 50)" },
  { name: "ping-timeout", type: "string", arg: "ms", help: "campaign ping timeout, also the baseline's (default 300)" },
  { name: "post-timeout", type: "string", arg: "ms", help: "campaign post timeout, also the baseline's (default 500)" },
  { name: "deadline", type: "string", arg: "ms", help: "campaign timeout_ms, also the baseline's (default 1000)" },
  {
    name: "buyer-hosts",
    type: "string",
    arg: "n",
    help: "simulator also listens on 127.0.0.2 … 127.0.0.n, same port; buyer i at 127.0.0.(1 + i mod n) (default 1: one origin, one shared pool)",
  },
  { name: "targets", type: "string", arg: "gavel,baseline", help: "servers to measure (default both)" },
  { name: "pglite", type: "boolean", help: "use embedded PGlite even when DATABASE_URL is set" },
  { name: "max-auctions", type: "string", arg: "n", help: "GAVEL_MAX_AUCTIONS for Gavel (default: Gavel's own, 32 per core)" },
  { name: "gavel-env", type: "string", arg: "K=V[,K=V…]", help: "more environment for the Gavel process" },
  { name: "gavel-node-flags", type: "string", arg: "'--f=v …'", help: "more node flags for Gavel, after npm start's own (a later one wins); write it --gavel-node-flags='--f=v …'" },
  { name: "cpu-prof", type: "boolean", help: "run Gavel with node --cpu-prof; profiles go to the results folder" },
  { name: "out", type: "string", arg: "dir", help: "results folder (default load/results)" },
  { name: "no-write", type: "boolean", help: "print only; write no result files" },
  { name: "help", type: "boolean", help: "this list" },
];

export function helpText(): string {
  const lines = knobs.map((k) => {
    const flag = `--${k.name}${k.arg ? ` <${k.arg}>` : ""}`;
    return `  ${flag.padEnd(30)} ${k.help}`;
  });
  return (
    "npm run bench [-- knobs]\n\n" +
    "Runs Gavel and the ideal fan-out baseline side by side under identical load and prints one table\n" +
    "(Gavel, baseline, Gavel/baseline). PostgreSQL when DATABASE_URL is set (a fresh database per\n" +
    "run, dropped after), embedded PGlite otherwise.\n\n" +
    "Knobs (each overrides that setting in every scenario that runs):\n" +
    lines.join("\n") +
    "\n\nExamples:\n" +
    "  npm run bench -- --scenario S1 --duration 10\n" +
    "  npm run bench -- --scenario S2 --concurrency 8,32 --ping-latency lognormal:50:200\n" +
    "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- --scenario S1,S4\n"
  );
}

const num = (name: string, text: string, min = 0, max = Infinity) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name}: expected a number in [${min}, ${max}], got '${text}'`);
  return n;
};
const share = (name: string, text: string) => num(name, text, 0, 1);

/** Parses the command line. Returns "help" when --help was asked. */
export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(knobs.map((k) => [k.name, { type: k.type }])),
    strict: true,
    allowPositionals: false,
  });
  const v = values as Record<string, string | boolean | undefined>;
  const str = (name: string) => v[name] as string | undefined;
  if (v.help) return "help";

  const duration = str("duration") ? num("duration", str("duration")!, 0.5) : 5;
  const warmup = str("warmup") ? num("warmup", str("warmup")!) : 1.5;
  const soak = str("soak") ? num("soak", str("soak")!, 1) : 120;
  const soakBaseline = str("soak-baseline") ? num("soak-baseline", str("soak-baseline")!, 0.5) : 10;
  const rssEvery = str("rss-every") ? num("rss-every", str("rss-every")!, 0.25) : 5;
  let scenarios = standardScenarios(duration, warmup, soak, soakBaseline, rssEvery);
  if (str("scenario")) {
    const wanted = str("scenario")!.split(",").map((s) => s.trim().toUpperCase());
    for (const id of wanted) if (!scenarios.some((s) => s.id === id)) throw new Error(`--scenario: unknown '${id}' (S1…S7)`);
    scenarios = scenarios.filter((s) => wanted.includes(s.id));
  }

  for (const s of scenarios) {
    const sim = s.sim;
    if (str("buyers")) sim.buyers = num("buyers", str("buyers")!, 1, 1000);
    if (str("ping-latency")) sim.ping = parseLatency(str("ping-latency")!);
    if (str("post-latency")) sim.post = parseLatency(str("post-latency")!);
    else if (str("ping-latency")) sim.post = sim.ping;
    if (str("bid")) {
      const [lo, hi] = str("bid")!.split(":").map((x) => num("bid", x, 0.01));
      if (hi === undefined || hi < lo) throw new Error("--bid: expected min:max");
      sim.bid = [lo, hi];
    }
    if (str("no-bid")) sim.noBidRate = share("no-bid", str("no-bid")!);
    if (str("reject")) sim.rejectRate = share("reject", str("reject")!);
    if (str("hang")) sim.hangFraction = share("hang", str("hang")!);
    if (str("trickle")) sim.trickleFraction = share("trickle", str("trickle")!);
    if (str("trickle-every")) sim.trickleEveryMs = num("trickle-every", str("trickle-every")!, 1);
    const a = { ...s.auction };
    if (str("ping-timeout")) a.pingTimeoutMs = num("ping-timeout", str("ping-timeout")!, 1);
    if (str("post-timeout")) a.postTimeoutMs = num("post-timeout", str("post-timeout")!, 1);
    if (str("deadline")) a.deadlineMs = num("deadline", str("deadline")!, 1);
    s.auction = a;
    if (str("concurrency")) {
      const closed = s.steps.filter((st) => st.mode === "closed");
      if (closed.length) {
        const template = closed[0];
        const values = str("concurrency")!.split(",").map((c) => num("concurrency", c, 1, 10_000));
        const replaced = values.map((c) => ({ ...template, id: `c${c}`, connections: c }));
        s.steps = [...replaced, ...s.steps.filter((st) => st.mode === "open")];
      }
    }
    if (str("rate")) for (const st of s.steps) if (st.mode === "open") st.rate = num("rate", str("rate")!, 0.1);
  }

  const targets = (str("targets") ?? "gavel,baseline").split(",").map((t) => t.trim());
  for (const t of targets) if (t !== "gavel" && t !== "baseline") throw new Error(`--targets: unknown '${t}'`);
  const gavelEnv: Record<string, string> = {};
  if (str("max-auctions")) gavelEnv.GAVEL_MAX_AUCTIONS = String(num("max-auctions", str("max-auctions")!, 1));
  for (const pair of (str("gavel-env") ?? "").split(",").filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw new Error(`--gavel-env: expected K=V, got '${pair}'`);
    gavelEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const gavelNodeFlags = (str("gavel-node-flags") ?? "").split(/\s+/).filter(Boolean);
  for (const flag of gavelNodeFlags) if (!flag.startsWith("--")) throw new Error(`--gavel-node-flags: expected flags like --max-semi-space-size=16, got '${flag}'`);
  return {
    scenarios,
    targets: targets as BenchOptions["targets"],
    databaseUrl: v.pglite ? undefined : env.DATABASE_URL || undefined,
    gavelEnv,
    gavelNodeFlags,
    processWarmupS: str("process-warmup") ? num("process-warmup", str("process-warmup")!) : 5,
    s1Capacity: str("s1-capacity") ? num("s1-capacity", str("s1-capacity")!, 0.1) : undefined,
    buyerHosts: str("buyer-hosts") ? num("buyer-hosts", str("buyer-hosts")!, 1, 254) : 1,
    outDir: str("out") ?? "load/results",
    cpuProfile: Boolean(v["cpu-prof"]),
    noWrite: Boolean(v["no-write"]),
  };
}
