// The lab's processes: the buyer simulator, Gavel (its real entry, src/main.ts, on a fresh database)
// and the baseline, each a child process whose CPU and memory are read from /proc; plus configuring
// Gavel through its own API, as an operator would.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { autoInsuranceFields } from "../src/demo/fields";
import { connectPostgres } from "../src/db/client";
import type { BaselineSettings } from "./baseline";
import { freePort, jsonReadyLine, spawnChild, type Child } from "./proc";
import { buyerOrigin, type SimSettings } from "./sim";

export interface Sim {
  child: Child;
  /** http://127.0.0.1:<port>: /stats, /settings. */
  origin: string;
  port: number;
  hosts: number;
  /** Where buyer i is reached. */
  buyerOrigin(i: number): string;
  stats(): Promise<Record<string, number>>;
  configure(settings: SimSettings): Promise<void>;
}

async function put(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`PUT ${url} → ${res.status}: ${await res.text()}`);
}

export async function startSim(settings: SimSettings, hosts = 1): Promise<Sim> {
  const { child, ready } = await spawnChild("buyer simulator", {
    script: "load/sim.ts",
    env: { SIM_SETTINGS: JSON.stringify(settings), SIM_HOSTS: String(hosts) },
    readyLine: jsonReadyLine,
  });
  const port = (ready as { port: number }).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    child,
    origin,
    port,
    hosts,
    buyerOrigin: (i) => buyerOrigin(port, hosts, i),
    stats: async () => (await fetch(`${origin}/stats`)).json() as Promise<Record<string, number>>,
    configure: (next) => put(`${origin}/settings`, next),
  };
}

export interface Baseline {
  child: Child;
  url: string;
  configure(settings: Omit<BaselineSettings, "simPort" | "simHosts">): Promise<void>;
}

export async function startBaselineServer(settings: BaselineSettings): Promise<Baseline> {
  const { child, ready } = await spawnChild("baseline", {
    script: "load/baseline.ts",
    env: { BASELINE_SETTINGS: JSON.stringify(settings) },
    readyLine: jsonReadyLine,
  });
  const url = `http://127.0.0.1:${(ready as { port: number }).port}`;
  return { child, url, configure: (next) => put(`${url}/settings`, next) };
}

// ---- the database ------------------------------------------------------------------------------

export interface BenchDatabase {
  kind: "pglite" | "postgres";
  /** What to tell Gavel: GAVEL_DATA_DIR or DATABASE_URL. */
  env: Record<string, string>;
  describe: string;
  /** PostgreSQL backends serving this database now (empty for PGlite, which lives inside Gavel). */
  backendPids(): Promise<number[]>;
  drop(): Promise<void>;
}

const live = new Set<BenchDatabase>();

/** Drops every bench database not dropped yet (on an error or Ctrl-C). */
export async function dropAllDatabases(): Promise<void> {
  await Promise.all([...live].map((d) => d.drop().catch(() => {})));
}

/** A fresh database for one Gavel: a new PostgreSQL database when `url` is given, else a PGlite folder. */
export async function createBenchDatabase(url: string | undefined): Promise<BenchDatabase> {
  const database = await create(url);
  live.add(database);
  let dropping: Promise<void> | undefined;
  const drop = database.drop;
  database.drop = () => {
    live.delete(database);
    return (dropping ??= drop());
  };
  return database;
}

async function create(url: string | undefined): Promise<BenchDatabase> {
  if (!url) {
    const dir = await mkdtemp(join(tmpdir(), "gavel-bench-"));
    return {
      kind: "pglite",
      env: { GAVEL_DATA_DIR: dir },
      describe: `embedded PGlite inside the Gavel process, fresh data folder ${dir} (deleted after)`,
      backendPids: async () => [],
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const name = `gavel_bench_${randomBytes(5).toString("hex")}`;
  const admin = connectPostgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    kind: "postgres",
    env: { DATABASE_URL: target.toString() },
    describe: `PostgreSQL at ${target.searchParams.get("host") ?? target.host}, fresh database ${name} (dropped after)`,
    backendPids: async () => (await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${name}`).map((r) => r.pid),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end({ timeout: 5 });
    },
  };
}

// ---- Gavel -------------------------------------------------------------------------------------

export interface GavelProcess {
  child: Child;
  url: string;
  adminToken: string;
  database: BenchDatabase;
  stop(): Promise<void>;
}

/**
 * Gavel as `npm start` runs it: built by `npm run build` into one bundle, run by plain node with
 * source maps, no TypeScript loader at run time. Built afresh for every process the bench starts.
 */
const gavelEntry = "dist/main.js";
/** The node flags of `npm start`, read from package.json so the bench runs Gavel exactly so. */
const gavelNodeFlags: string[] = (() => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((word) => word.startsWith("--"));
})();

function buildGavel(): void {
  execFileSync("npm", ["run", "-s", "build"], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: ["ignore", "ignore", "inherit"] });
}

/** Held while one process builds dist/ and starts a Gavel from it; a holder that died leaves it stale. */
const startLock = join(tmpdir(), `gavel-bench-start-${createHash("sha256").update(fileURLToPath(import.meta.url)).digest("hex").slice(0, 12)}.lock`);
const STALE_LOCK_MS = 120_000;
let holdingStartLock = false;
process.on("exit", () => {
  if (holdingStartLock) rmSync(startLock, { recursive: true, force: true });
});

/**
 * `npm run build` rewrites dist/ in place, so a second process building while a Gavel loads
 * dist/main.js (two bench test files at once) would start it on half a file. Builds and starts
 * take turns across processes, through a lock directory.
 */
async function oneStartAtATime<T>(work: () => Promise<T>): Promise<T> {
  const waitUntil = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      mkdirSync(startLock);
      holdingStartLock = true;
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const age = Date.now() - (statSync(startLock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(startLock, { recursive: true, force: true });
      else if (Date.now() > waitUntil) throw new Error(`another bench held ${startLock} for 5 minutes`);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(startLock, { recursive: true, force: true });
    holdingStartLock = false;
  }
}

/**
 * Builds and starts Gavel on a fresh database (dropped when it stops), or on `database` when given
 * (which is then the caller's to drop).
 */
export function startGavelProcess(options: { databaseUrl?: string; database?: BenchDatabase; env?: Record<string, string>; nodeArgs?: string[] }): Promise<GavelProcess> {
  return oneStartAtATime(() => {
    buildGavel();
    return startBuilt(options);
  });
}

async function startBuilt(options: { databaseUrl?: string; database?: BenchDatabase; env?: Record<string, string>; nodeArgs?: string[] }): Promise<GavelProcess> {
  const owned = !options.database;
  const database = options.database ?? (await createBenchDatabase(options.databaseUrl));
  const dropOwned = () => (owned ? database.drop() : Promise.resolve());
  const adminToken = `bench-${randomBytes(18).toString("base64url")}`;
  const port = await freePort();
  // Gavel logs as in production, one line per lead at info, into a file of its own (a pipe nobody
  // reads would fill up and block it).
  const logDir = await mkdtemp(join(tmpdir(), "gavel-bench-log-"));
  let child: Child | undefined;
  try {
    ({ child } = await spawnChild("gavel", {
      script: gavelEntry,
      nodeArgs: [...gavelNodeFlags, ...(options.nodeArgs ?? [])],
      stdoutFile: join(logDir, "gavel.log"),
      // A short drain: the bench stops Gavel once its steps are measured, and waits for nothing.
      env: { PORT: String(port), HOST: "127.0.0.1", ADMIN_TOKEN: adminToken, LOG_LEVEL: "info", GAVEL_DRAIN_SECONDS: "2", ...database.env, ...options.env },
    }));
    const url = `http://127.0.0.1:${port}`;
    const started = Date.now();
    for (;;) {
      if (child.process.exitCode !== null) throw new Error(`gavel exited during start-up: ${child.stderr.slice(-10).join("\n")}`);
      const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() - started > 60_000) throw new Error("gavel did not answer /healthz within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const running = child;
    return {
      child: running,
      url,
      adminToken,
      database,
      async stop() {
        await running.stop(10_000);
        await dropOwned();
        await rm(logDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await child?.stop(1000);
    await dropOwned();
    await rm(logDir, { recursive: true, force: true });
    throw error;
  }
}


export const benchFields = autoInsuranceFields;
export const publicFields = benchFields.filter((f) => !f.pii).map((f) => f.name);
export const PAYOUT_PERCENT = 70;

export interface AuctionSettings {
  pingTimeoutMs: number;
  postTimeoutMs: number;
  deadlineMs: number;
  /** Sold shared to up to this many buyers (`mode: "shared"`); absent: exclusive. */
  maxSells?: number;
}

/** Gavel's default post reserve: what the baseline keeps after its ping phase too. */
export const postReserveMs = (a: AuctionSettings) => Math.min(500, Math.floor(a.deadlineMs / 2));

async function post(gavel: GavelProcess, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(gavel.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${gavel.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const parsed = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`POST ${path} → ${res.status}: ${JSON.stringify(parsed)}`);
  return parsed;
}

/** The simulated buyer and a supplier for every campaign, through Gavel's API. Returns the API key. */
export async function setupGavel(gavel: GavelProcess): Promise<string> {
  await post(gavel, "/v1/buyers", { id: "sim", name: "Simulated buyers" });
  const supplier = await post(gavel, "/v1/suppliers", { id: "bench", name: "Load lab supplier", campaigns: null });
  return supplier.api_key as string;
}

/** A campaign with one channel per simulated buyer (`/b/<i>/ping`, `/b/<i>/post`), through Gavel's API. */
export async function addCampaign(gavel: GavelProcess, campaignId: string, sim: Pick<Sim, "buyerOrigin">, buyers: number, auction: AuctionSettings): Promise<void> {
  const api = (path: string, body: unknown) => post(gavel, path, body);
  await api("/v1/campaigns", {
    id: campaignId,
    name: "Load lab",
    fields: benchFields,
    auction: {
      timeout_ms: auction.deadlineMs,
      ping_timeout_ms: auction.pingTimeoutMs,
      post_timeout_ms: auction.postTimeoutMs,
      ...(auction.maxSells ? { mode: "shared", max_sells: auction.maxSells } : {}),
    },
    dedup: { fields: ["email", "phone"], match: "any", lookback_days: 30 },
    payout: { type: "revshare", percent: PAYOUT_PERCENT },
  });
  for (let i = 0; i < buyers; i++) {
    // A shared lead goes to a buyer once: each simulated buyer is a buyer of its own, buying shared
    // sales (its plain bid is its shared price).
    const buyer = auction.maxSells ? `${campaignId}-buyer-${i}` : "sim";
    if (auction.maxSells) await api("/v1/buyers", { id: buyer, name: `Simulated buyer ${i}` });
    await api("/v1/channels", {
      id: `${campaignId}-${i}`,
      buyer_id: buyer,
      campaign_id: campaignId,
      type: "ping_post",
      ...(auction.maxSells ? { buys: ["shared"] } : {}),
      ping: { url: `${sim.buyerOrigin(i)}/b/${i}/ping` },
      post: { url: `${sim.buyerOrigin(i)}/b/${i}/post` },
    });
  }
}

// ---- leads -------------------------------------------------------------------------------------

const AREAS = [512, 214, 469, 713, 281, 832, 210, 737, 972, 817];
const STATES = ["TX", "CA", "FL", "NY", "OH"];

/** Lead bodies for a bench campaign, every one a different consumer (email and phone). */
export function leadBodies(campaignId: string): () => string {
  const tag = randomBytes(3).toString("hex");
  let n = 0;
  return () => {
    n++;
    // 10 area codes × 800 exchanges × 10 000 lines: unique for 80 million leads.
    const phone = `+1${AREAS[n % 10]}${200 + (Math.floor(n / 10) % 800)}${String(Math.floor(n / 8000) % 10000).padStart(4, "0")}`;
    return (
      `{"campaign":"${campaignId}","data":{"zip":"75001","state":"${STATES[n % 5]}","age":${18 + (n % 60)},` +
      `"coverage":"auto","email":"lead${n}.${tag}@example.com","phone":"${phone}"}}`
    );
  };
}
