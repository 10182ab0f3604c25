// The load driver: sends POST /v1/leads to a server, closed loop (a fixed number of connections,
// each sending its next lead when the last is answered — autocannon) or open loop (a fixed arrival
// rate whatever the server does — a paced sender of our own). Records every answer's latency, HTTP
// status and, for 200s, the lead status in the body.
//
// The warm-up is the first part of the same run, so the measurement window starts in steady state
// (no leftover auctions from a stopped warm-up, no cold connections); `window.start()` and
// `window.end()` are called at its edges, where the caller snapshots CPU time and metrics.
//
// Why not autocannon's `overallRate` for the open loop: it caps connections at the rate and lets
// each connection send its quota back to back at the start of every second, still waiting for each
// answer before the next — a bursty closed loop that hides queueing. The paced sender schedules
// lead i at t0 + i/rate on a pool big enough never to wait for a free connection, and measures each
// latency from the lead's scheduled time, so any delay — the server's or the driver's — counts.
import autocannon from "autocannon";
import { Pool } from "undici";

export interface LoadTarget {
  /** Origin, e.g. http://127.0.0.1:3000. */
  url: string;
  headers: Record<string, string>;
  /** A fresh lead body for each request. */
  body(): string;
  /**
   * Suppliers that ping first: each lead is pinged (POST /v1/pings, its `publicFields` only) and a
   * share of those quoted a price is posted whole (POST /v1/posts); absent: POST /v1/leads.
   */
  pingFirst?: { publicFields: readonly string[]; postShare: number };
}

export interface WindowHooks {
  start(): void;
  end(): void;
}

export interface LoadResult {
  mode: "closed" | "open";
  /** The measurement window (after the warm-up), ms. */
  windowMs: number;
  /** Requests in the window: closed loop, answered in it; open loop, scheduled in it. */
  sent: number;
  /** Latency (ms) and HTTP status of each of those requests that got an answer, index for index. */
  latencies: number[];
  httpStatuses: number[];
  /** Lead statuses in their 200 bodies: sold, unsold, duplicate, error. */
  outcomes: Record<string, number>;
  /** Those requests without an HTTP answer (connection errors, 10 s timeouts). */
  failures: number;
  /** 200 answers that arrived inside the window: the throughput. */
  okInWindow: number;
}

const STATUS = /"status":"(\w+)"/;
/** No request waits longer than this for its answer. */
const REQUEST_TIMEOUT_S = 10;

function countOutcome(outcomes: Record<string, number>, status: number, body: string | undefined): void {
  if (status !== 200 || !body) return;
  const m = STATUS.exec(body);
  const key = m ? m[1] : "unreadable";
  outcomes[key] = (outcomes[key] ?? 0) + 1;
}

const emptyResult = (mode: LoadResult["mode"]): LoadResult => ({
  mode,
  windowMs: 0,
  sent: 0,
  latencies: [],
  httpStatuses: [],
  outcomes: {},
  failures: 0,
  okInWindow: 0,
});

/** `connections` leads in flight at all times for `warmupS + durationS` seconds. */
export async function closedLoop(target: LoadTarget, connections: number, warmupS: number, durationS: number, window: WindowHooks): Promise<LoadResult> {
  if (target.pingFirst) return pingFirstLoop(target, target.pingFirst, connections, warmupS, durationS, window);
  const result = emptyResult("closed");
  let inWindow = warmupS <= 0;
  let windowStart = performance.now();
  if (inWindow) window.start();
  const timer = inWindow
    ? undefined
    : setTimeout(() => {
        inWindow = true;
        windowStart = performance.now();
        window.start();
      }, warmupS * 1000);
  // Without a callback autocannon returns its instance, which is also a promise of the summary.
  const instance = autocannon({
    url: `${target.url}/v1/leads`,
    connections,
    duration: warmupS + durationS,
    pipelining: 1,
    timeout: REQUEST_TIMEOUT_S,
    requests: [
      {
        method: "POST",
        headers: { ...target.headers, "content-type": "application/json" },
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: target.body() }),
        onResponse: (status: number, body: string) => {
          if (inWindow) countOutcome(result.outcomes, status, body);
        },
      } as never,
    ],
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (!inWindow) return;
    result.latencies.push(ms);
    result.httpStatuses.push(status);
    if (status === 200) result.okInWindow++;
  });
  // Connection errors and 10 s timeouts.
  instance.on("reqError", () => {
    if (inWindow) result.failures++;
  });
  await instance;
  window.end();
  clearTimeout(timer);
  result.windowMs = performance.now() - windowStart;
  result.sent = result.latencies.length + result.failures;
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `rate` leads per second, evenly spaced, for `warmupS + durationS` seconds; then waits for every answer. */
export async function openLoop(target: LoadTarget, rate: number, warmupS: number, durationS: number, window: WindowHooks): Promise<LoadResult> {
  const result = emptyResult("open");
  // Enough connections for every lead that can be in flight: the rate times the longest wait.
  const connections = Math.min(4096, Math.ceil(rate * 2) + 64);
  const pool = new Pool(target.url, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const headers = { ...target.headers, "content-type": "application/json" };
  const spacing = 1000 / rate;
  const first = Math.round(rate * warmupS);
  const total = first + Math.max(1, Math.round(rate * durationS));
  const pending = new Set<Promise<void>>();
  let windowOpen = false;

  const fire = (due: number, measured: boolean) => {
    const p = pool
      .request({
        path: "/v1/leads",
        method: "POST",
        headers,
        body: target.body(),
        headersTimeout: REQUEST_TIMEOUT_S * 1000,
        bodyTimeout: REQUEST_TIMEOUT_S * 1000,
      })
      .then(async (res) => {
        const body = await res.body.text();
        if (windowOpen && res.statusCode === 200) result.okInWindow++;
        if (!measured) return;
        result.latencies.push(performance.now() - due);
        result.httpStatuses.push(res.statusCode);
        countOutcome(result.outcomes, res.statusCode, body);
      })
      .catch(() => {
        if (measured) result.failures++;
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  };

  const t0 = performance.now();
  const windowStart = t0 + first * spacing;
  const windowEnd = t0 + total * spacing;
  let i = 0;
  while (i < total) {
    const now = performance.now();
    if (!windowOpen && now >= windowStart) {
      windowOpen = true;
      window.start();
    }
    while (i < total && t0 + i * spacing <= now) {
      fire(t0 + i * spacing, i >= first);
      i++;
    }
    if (i < total) await sleep(Math.min(5, Math.max(1, t0 + i * spacing - performance.now())));
  }
  if (!windowOpen) window.start();
  const wait = windowEnd - performance.now();
  if (wait > 0) await sleep(wait);
  windowOpen = false;
  window.end();
  result.windowMs = performance.now() - Math.min(windowStart, performance.now());
  result.sent = total - first;
  while (pending.size) await Promise.all([...pending]);
  await pool.close();
  return result;
}

/** A small deterministic PRNG (mulberry32): which quoted pings are posted is the same on every run and server. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The closed loop of suppliers that ping first: `connections` suppliers, each pinging a lead's
 * public fields, then posting the whole lead for `postShare` of the pings quoted a price (seeded),
 * then the next lead. A lead is one ping and its post if any: its latency is theirs together, its
 * outcome the post's lead status, or `no_bid` / `not_posted`; a request failing or answered other
 * than 200 ends the lead there.
 */
async function pingFirstLoop(
  target: LoadTarget,
  flow: NonNullable<LoadTarget["pingFirst"]>,
  connections: number,
  warmupS: number,
  durationS: number,
  window: WindowHooks,
): Promise<LoadResult> {
  const result = emptyResult("closed");
  const pool = new Pool(target.url, { connections, pipelining: 1 });
  const headers = { ...target.headers, "content-type": "application/json" };
  const coin = seeded(16);
  const request = async (path: string, body: string): Promise<{ status: number; body: string }> => {
    const res = await pool.request({ path, method: "POST", headers, body, headersTimeout: REQUEST_TIMEOUT_S * 1000, bodyTimeout: REQUEST_TIMEOUT_S * 1000 });
    return { status: res.statusCode, body: await res.body.text() };
  };
  const started = performance.now();
  const measureFrom = started + warmupS * 1000;
  const stopAt = measureFrom + durationS * 1000;
  let inWindow = false;
  const opening = setTimeout(() => {
    inWindow = true;
    window.start();
  }, Math.max(0, warmupS * 1000));
  const worker = async () => {
    while (performance.now() < stopAt) {
      const lead = JSON.parse(target.body()) as { campaign: string; data: Record<string, unknown> };
      const pingData = Object.fromEntries(flow.publicFields.filter((f) => f in lead.data).map((f) => [f, lead.data[f]]));
      const t0 = performance.now();
      const counted = inWindow;
      let status = 0;
      let outcome: string | undefined;
      try {
        const ping = await request("/v1/pings", JSON.stringify({ campaign: lead.campaign, data: pingData }));
        status = ping.status;
        if (ping.status === 200) {
          const answer = JSON.parse(ping.body) as { ping_id: string; status: string };
          if (answer.status !== "bid") outcome = "no_bid";
          else if (coin() >= flow.postShare) outcome = "not_posted";
          else {
            const post = await request("/v1/posts", JSON.stringify({ ping_id: answer.ping_id, data: lead.data }));
            status = post.status;
            outcome = post.status === 200 ? (STATUS.exec(post.body)?.[1] ?? "unreadable") : undefined;
          }
        }
      } catch {
        if (counted) result.failures++;
        continue;
      }
      if (!counted) continue;
      result.latencies.push(performance.now() - t0);
      result.httpStatuses.push(status);
      if (status === 200) {
        if (performance.now() <= stopAt) result.okInWindow++;
        if (outcome) result.outcomes[outcome] = (result.outcomes[outcome] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  clearTimeout(opening);
  if (!inWindow) window.start();
  window.end();
  result.windowMs = performance.now() - Math.max(started, measureFrom);
  result.sent = result.latencies.length + result.failures;
  await pool.close();
  return result;
}
