// `npm run demo`: a whole Gavel on one machine with nothing installed. It starts Gavel on an embedded
// PGlite database in a fresh temporary folder, starts simulated buyers on loopback, configures a
// campaign, buyers, channels and a supplier through Gavel's own HTTP API (as an operator would),
// sends a batch of leads (a few at a time, with duplicates and an invalid one among them), then
// prints what happened per lead and per channel — the latter computed from the lead traces
// (`GET /v1/leads/{id}`) — and shuts everything down; or, with `keep`, leaves Gavel, its database
// and the buyers up and says how to look a lead up, until the caller closes them.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";
import { loadConfig } from "../config";
import type { DatabaseTarget } from "../db/client";
import { startGavel, type Gavel } from "../server";
import { autoInsuranceFields } from "./fields";
import { startBuyers, type BuyerProfile, type SimulatedBuyers } from "./buyers";
import { table } from "./table";

export type DemoOut = ((text: string) => void) | { write(chunk: string): unknown };

export interface DemoOptions {
  /** How many leads to send, duplicates and the invalid one included (default 50). */
  leads?: number;
  /** Where the tables go: a writable stream (process.stdout) or a function taking text. */
  out?: DemoOut;
  /** Database to run on; default: embedded PGlite in a fresh temporary folder, deleted afterwards. */
  target?: DatabaseTarget;
  /** Leads in flight at once (default 5). */
  concurrency?: number;
  /** Gavel's log level (default "warn", so the tables stay readable). */
  logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /**
   * Leave Gavel, its database and the buyers up after the run (`npm run demo -- --keep`), so the
   * leads can be looked up; the summary's `close()` then shuts them down.
   */
  keep?: boolean;
}

export type LeadKind = "new" | "duplicate" | "invalid";
export type LeadOutcome = "sold" | "unsold" | "duplicate" | "rejected" | "error";

export interface DemoLead {
  n: number;
  kind: LeadKind;
  leadId: string | null;
  httpStatus: number | null;
  status: LeadOutcome;
  /** What the supplier was paid. */
  price: number;
  /** What the winning buyer paid (from the trace). */
  revenue: number | null;
  /** The channel that bought it (the trace's `sold_channel`). */
  winner: string | null;
  /** The supplier's tracking strings, as Gavel recorded them (from the trace). */
  source: string | null;
  subId: string | null;
  reason: string | null;
  durationMs: number;
}

export interface DemoChannelStats {
  channel: string;
  type: "ping_post" | "direct_post";
  pings: number;
  bids: number;
  noBids: number;
  timeouts: number;
  errors: number;
  posts: number;
  rejects: number;
  wins: number;
  excluded: number;
  /** Ping latency for ping_post channels, post latency for direct_post ones (never pinged). */
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface DemoSummary {
  database: string;
  gavelUrl: string;
  buyerUrls: Record<string, string>;
  leads: DemoLead[];
  channels: DemoChannelStats[];
  counts: Record<LeadOutcome, number>;
  revenue: number;
  payout: number;
  wallMs: number;
  /** This run's operator token (generated; printed only with `keep`). */
  adminToken: string;
  /** True once Gavel and every buyer server are closed (and the temporary folder removed). */
  closed: boolean;
  /** Shuts down what `keep` left up (and removes the temporary folder); nothing to do otherwise. */
  close(): Promise<void>;
}

export interface DemoChannel {
  profile: BuyerProfile;
  type: "ping_post" | "direct_post";
  /** Only for direct_post. */
  fixedPrice?: number;
  /** Any extra channel settings (filters, priority, …) in the API's spelling. */
  extra?: Record<string, unknown>;
  blurb: string;
}

export const DEMO_CAMPAIGN = "auto-insurance";

/** The demo's buyers: one channel each. */
export const demoChannels: readonly DemoChannel[] = [
  {
    profile: { name: "acme", latencyMs: [20, 80], bid: [8, 14], noBidRate: 0.1, rejectRate: 0.1 },
    type: "ping_post",
    blurb: "fast, bids $8-14, 10% no-bid, 10% rejects",
  },
  {
    profile: { name: "bluebird", latencyMs: [120, 380], postLatencyMs: [40, 150], bid: [10, 16], noBidRate: 0.2, rejectRate: 0.2 },
    type: "ping_post",
    extra: { filters: [{ field: "age", op: "gte", value: 25 }] },
    blurb: "slow (some pings miss the 300 ms timeout), bids $10-16, age >= 25 only",
  },
  {
    profile: { name: "budget", latencyMs: [5, 30], bid: [3, 7], noBidRate: 0.4 },
    type: "ping_post",
    extra: { min_bid: 4 },
    blurb: "very fast, bids $3-7 (min_bid $4), 40% no-bid",
  },
  {
    profile: { name: "picky", latencyMs: [30, 90], bid: [17, 22], rejectRate: 1 },
    type: "ping_post",
    blurb: "bids highest ($17-22) but rejects every post",
  },
  {
    profile: { name: "sleepy", latencyMs: [0, 0], bid: [0, 0], hang: true },
    type: "ping_post",
    blurb: "never answers (hangs)",
  },
  {
    profile: { name: "flatrate", latencyMs: [20, 50], bid: [0, 0] },
    type: "direct_post",
    fixedPrice: 6,
    blurb: "direct_post at a fixed $6.00, accepts everything",
  },
];

export const channelId = (buyer: string) => `${buyer}-auto`;

const campaign = {
  id: DEMO_CAMPAIGN,
  name: "Auto insurance (demo)",
  fields: autoInsuranceFields,
  auction: { timeout_ms: 1000, ping_timeout_ms: 300, post_timeout_ms: 400 },
  dedup: { fields: ["email", "phone"], match: "any", lookback_days: 30 },
  payout: { type: "revshare", percent: 70 },
};

const STATES = ["TX", "CA", "FL", "NY", "OH", "Georgia", "texas", "il"];
const ZIPS = ["75001", "90210", "33101", "10001", "44101", "30301", "78701-1234", "60601"];

function makeLead(n: number, tag: string): Record<string, unknown> {
  const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)];
  return {
    zip: pick(ZIPS),
    state: pick(STATES),
    age: 18 + Math.floor(Math.random() * 55),
    coverage: pick(["auto", "home"]),
    email: ` Demo.${tag}.${n}@Example.com `,
    phone: `(512) 555-${String(1000 + n).slice(-4)}`,
  };
}

const INVALID_LEAD = { zip: "ABCDE", state: "Atlantis", age: 7, email: "not-an-email", phone: "123" };

interface PlannedLead {
  n: number;
  kind: LeadKind;
  data: Record<string, unknown>;
  source: string;
  subId: string | null;
  /** For a duplicate: the lead it repeats (sent only once that one has been answered). */
  repeats?: number;
}

/** The leads to send: mostly new consumers, a couple of repeats of earlier ones, one invalid. */
/** Where the demo supplier says its leads come from: the `source` and `sub_id` of each submission, in turn. */
const DEMO_SOURCES: readonly { source: string; subIds?: readonly string[] }[] = [
  { source: "quotes-site", subIds: ["kw-cheap-auto", "kw-sr22", "kw-young-driver"] },
  { source: "comparison-app", subIds: ["banner-top", "banner-side"] },
  { source: "email-list" },
];

function planLeads(count: number): PlannedLead[] {
  const tag = randomBytes(3).toString("hex");
  const plan: PlannedLead[] = [];
  const invalidAt = count >= 3 ? Math.floor(count / 2) : -1;
  const duplicates = new Map<number, number>(); // position -> repeated lead
  if (count >= 6) {
    duplicates.set(Math.floor(count * 0.75), 1);
    duplicates.set(count - 1, 0);
  }
  for (let n = 0; n < count; n++) {
    const repeats = duplicates.get(n);
    const origin = DEMO_SOURCES[n % DEMO_SOURCES.length];
    const tracking = { source: origin.source, subId: origin.subIds ? origin.subIds[Math.floor(n / DEMO_SOURCES.length) % origin.subIds.length] : null };
    if (repeats !== undefined) plan.push({ n, kind: "duplicate", data: plan[repeats].data, repeats, ...tracking });
    else if (n === invalidAt) plan.push({ n, kind: "invalid", data: INVALID_LEAD, ...tracking });
    else plan.push({ n, kind: "new", data: makeLead(n, tag), ...tracking });
  }
  return plan;
}

function describeTarget(target: DatabaseTarget, temporary: boolean): string {
  if ("memory" in target) return "embedded PGlite, in memory";
  if ("dataDir" in target)
    return temporary ? `embedded PGlite in a fresh temporary folder ${target.dataDir} (deleted at the end)` : `embedded PGlite in ${target.dataDir}`;
  const url = new URL(target.url);
  return `PostgreSQL at ${url.host}${url.pathname}`;
}

// ---- formatting --------------------------------------------------------------------------------

const money = (v: number | null | undefined) => (v === null || v === undefined ? "-" : `$${v.toFixed(2)}`);
const num = (v: number | null) => (v === null ? "-" : String(v));

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- traces ------------------------------------------------------------------------------------

interface Attempt {
  kind: "ping" | "post";
  channel_id: string;
  duration_ms: number;
  outcome: string;
  reason: string | null;
}

interface Trace {
  id: string;
  status: string;
  reason: string | null;
  revenue: number | null;
  sold_channel: string | null;
  source: string | null;
  sub_id: string | null;
  excluded: { channel_id: string; reason: string }[] | null;
  attempts: Attempt[];
}

export function channelStats(channels: readonly DemoChannel[], traces: readonly Trace[]): DemoChannelStats[] {
  return channels.map(({ profile, type }) => {
    const id = channelId(profile.name);
    const stats: DemoChannelStats = {
      channel: id,
      type,
      pings: 0,
      bids: 0,
      noBids: 0,
      timeouts: 0,
      errors: 0,
      posts: 0,
      rejects: 0,
      wins: 0,
      excluded: 0,
      p50Ms: null,
      p95Ms: null,
    };
    const latencies: number[] = [];
    for (const trace of traces) {
      if (trace.excluded?.some((e) => e.channel_id === id)) stats.excluded++;
      for (const a of trace.attempts) {
        if (a.channel_id !== id) continue;
        if (a.kind === (type === "ping_post" ? "ping" : "post")) latencies.push(a.duration_ms);
        if (a.kind === "ping") {
          stats.pings++;
          if (a.outcome === "bid") stats.bids++;
          else if (a.outcome === "no_bid" || a.outcome === "below_floor") stats.noBids++;
          else if (a.outcome === "timeout") stats.timeouts++;
          else stats.errors++;
        } else {
          stats.posts++;
          if (a.outcome === "accepted") stats.wins++;
          else if (a.outcome === "rejected") stats.rejects++;
          else if (a.outcome === "unknown" && a.reason === "post_timeout") stats.timeouts++;
          else stats.errors++;
        }
      }
    }
    stats.p50Ms = percentile(latencies, 50);
    stats.p95Ms = percentile(latencies, 95);
    return stats;
  });
}

// ---- the run -----------------------------------------------------------------------------------

async function readJson(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const count = options.leads ?? 50;
  const concurrency = options.concurrency ?? 5;
  const out = options.out ?? process.stdout;
  const write = (text: string) => (typeof out === "function" ? out(text) : out.write(text));
  const started = performance.now();

  let tempDir: string | undefined;
  let target = options.target;
  if (!target) {
    tempDir = await mkdtemp(join(tmpdir(), "gavel-demo-"));
    target = { dataDir: tempDir };
  }
  const database = describeTarget(target, tempDir !== undefined);

  let gavel: Gavel | undefined;
  let buyers: SimulatedBuyers | undefined;
  try {
    write(`Gavel demo\n  database : ${database}\n`);
    buyers = await startBuyers(demoChannels.map((c) => c.profile));
    const buyerUrls = Object.fromEntries(demoChannels.map((c) => [channelId(c.profile.name), buyers!.byName(c.profile.name).url]));
    const adminToken = randomBytes(24).toString("base64url"); // 32 characters
    const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", ADMIN_TOKEN: adminToken, LOG_LEVEL: options.logLevel ?? "warn" });
    const startingAt = performance.now();
    gavel = await startGavel({ config, target });
    const gavelUrl = gavel.url;
    const startupS = ((performance.now() - startingAt) / 1000).toFixed(1);
    write(`  gavel    : ${gavelUrl} (started in ${startupS} s; admin token generated for this run)\n`);

    // Configuration, through Gavel's own API.
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(gavelUrl + path, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const parsed = await readJson(res);
      if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(parsed)}`);
      return parsed;
    };
    await api("POST", "/v1/campaigns", campaign);
    for (const ch of demoChannels) {
      const buyer = buyers.byName(ch.profile.name);
      await api("POST", "/v1/buyers", { id: ch.profile.name, name: `${ch.profile.name} (simulated)` });
      await api("POST", "/v1/channels", {
        id: channelId(ch.profile.name),
        buyer_id: ch.profile.name,
        campaign_id: DEMO_CAMPAIGN,
        type: ch.type,
        ...(ch.type === "ping_post" ? { ping: { url: buyer.pingUrl } } : { fixed_price: ch.fixedPrice }),
        post: { url: buyer.postUrl },
        ...ch.extra,
      });
    }
    const supplier = await api("POST", "/v1/suppliers", { id: "demo-supplier", name: "Demo supplier", campaigns: [DEMO_CAMPAIGN] });
    const apiKey = supplier.api_key as string;

    write(`  buyers   : ${demoChannels.length} simulated buyers on 127.0.0.1, one channel each\n`);
    const nameWidth = Math.max(...demoChannels.map((c) => channelId(c.profile.name).length));
    for (const ch of demoChannels) {
      const buyer = buyers.byName(ch.profile.name);
      write(`    ${channelId(ch.profile.name).padEnd(nameWidth)}  ${ch.type.padEnd(11)}  ${buyer.url.padEnd(22)}  ${ch.blurb}\n`);
    }
    const a = campaign.auction;
    write(`  campaign : ${DEMO_CAMPAIGN}, deadline ${a.timeout_ms} ms, ping timeout ${a.ping_timeout_ms} ms, supplier paid 70% of revenue\n`);

    // The leads.
    const plan = planLeads(count);
    const kinds = { new: 0, duplicate: 0, invalid: 0 };
    for (const p of plan) kinds[p.kind]++;
    write(
      `  sending  : ${count} leads, ${concurrency} in flight (${kinds.new} new, ${kinds.duplicate} duplicates, ${kinds.invalid} invalid)\n\n`,
    );

    const limit = pLimit(concurrency);
    const results: Promise<DemoLead>[] = [];
    const send = async (p: PlannedLead): Promise<DemoLead> => {
      if (p.repeats !== undefined) await results[p.repeats];
      const t0 = performance.now();
      const row: DemoLead = {
        n: p.n,
        kind: p.kind,
        leadId: null,
        httpStatus: null,
        status: "error",
        price: 0,
        revenue: null,
        winner: null,
        source: null,
        subId: null,
        reason: null,
        durationMs: 0,
      };
      try {
        const res = await fetch(`${gavelUrl}/v1/leads`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ campaign: DEMO_CAMPAIGN, data: p.data, source: p.source, ...(p.subId && { sub_id: p.subId }) }),
        });
        const body = await readJson(res);
        row.durationMs = Math.round(performance.now() - t0);
        row.httpStatus = res.status;
        row.leadId = typeof body?.lead_id === "string" ? body.lead_id : null;
        if (res.status === 200 && ["sold", "unsold", "duplicate", "error"].includes(body.status)) {
          row.status = body.status;
          row.price = body.price ?? 0;
        } else if (res.status === 422 && row.leadId) {
          row.status = "rejected";
          row.reason = "invalid: " + (body.errors ?? []).map((e: { path: string }) => e.path.replace(/^data\./, "")).join(",");
        } else {
          row.reason = `http ${res.status}: ${body?.detail ?? body?.title ?? "?"}`;
        }
      } catch (error) {
        row.durationMs = Math.round(performance.now() - t0);
        row.reason = `request failed: ${(error as Error).message}`;
      }
      return row;
    };
    const sendingAt = performance.now();
    for (const p of plan) results.push(limit(() => send(p)));
    const leads = await Promise.all(results);
    const sendingMs = Math.round(performance.now() - sendingAt);

    // Every decision is in the traces: read them back like an analyst would.
    const traceLimit = pLimit(concurrency);
    const traces = (
      await Promise.all(leads.map((l) => (l.leadId ? traceLimit(() => api("GET", `/v1/leads/${l.leadId}`) as Promise<Trace>) : null)))
    ).filter((t): t is Trace => t !== null);
    const byId = new Map(traces.map((t) => [t.id, t]));
    for (const lead of leads) {
      const trace = lead.leadId ? byId.get(lead.leadId) : undefined;
      if (!trace) continue;
      lead.winner = trace.sold_channel;
      lead.source = trace.source;
      lead.subId = trace.sub_id;
      lead.revenue = lead.status === "sold" ? trace.revenue : null;
      if (!lead.reason && lead.status !== "sold") lead.reason = trace.reason;
    }

    // Table 1: per lead.
    write(`Leads\n`);
    write(
      table(
        ["#", "lead", "kind", "status", "http", "payout", "revenue", "winner", "ms", "source", "note"],
        leads.map((l) => [
          l.n + 1,
          l.leadId ?? "-",
          l.kind,
          l.status,
          l.httpStatus ?? "-",
          l.status === "sold" ? money(l.price) : "-",
          money(l.revenue),
          l.winner ?? "-",
          l.durationMs,
          l.subId ? `${l.source}/${l.subId}` : (l.source ?? "-"),
          l.kind === "duplicate" ? `repeats #${(plan[l.n].repeats ?? 0) + 1}${l.reason ? ` (${l.reason})` : ""}` : (l.reason ?? ""),
        ]),
        [true, false, false, false, true, true, true, false, true, false, false],
      ),
    );

    // Table 2: per channel, from the traces.
    const channels = channelStats(demoChannels, traces);
    write(`\nChannels (from ${traces.length} lead traces, GET /v1/leads/{id})\n`);
    write(
      table(
        ["channel", "type", "pings", "bids", "no-bid", "timeouts", "errors", "posts", "rejects", "wins", "excluded", "p50 ms", "p95 ms"],
        channels.map((c) => [
          c.channel,
          c.type,
          c.type === "ping_post" ? c.pings : "-",
          c.type === "ping_post" ? c.bids : "-",
          c.type === "ping_post" ? c.noBids : "-",
          c.timeouts,
          c.errors,
          c.posts,
          c.rejects,
          c.wins,
          c.excluded,
          num(c.p50Ms),
          num(c.p95Ms),
        ]),
        [false, false, true, true, true, true, true, true, true, true, true, true, true],
      ),
    );
    write(`  latency: ping duration for ping_post channels, post duration for direct_post ones\n`);

    const counts: Record<LeadOutcome, number> = { sold: 0, unsold: 0, duplicate: 0, rejected: 0, error: 0 };
    let revenueCents = 0;
    let payoutCents = 0;
    for (const l of leads) {
      counts[l.status]++;
      if (l.status === "sold") {
        revenueCents += Math.round((l.revenue ?? 0) * 100);
        payoutCents += Math.round(l.price * 100);
      }
    }
    const durations = leads.map((l) => l.durationMs);
    write(
      `\nTotals: ${Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(", ")}; revenue ${money(revenueCents / 100)}, paid to supplier ${money(payoutCents / 100)}, ` +
        `margin ${money((revenueCents - payoutCents) / 100)}\n` +
        `Timing: ${count} leads in ${(sendingMs / 1000).toFixed(1)} s; lead round trip p50 ${percentile(durations, 50)} ms, p95 ${percentile(durations, 95)} ms\n`,
    );

    // One lead to look up: a sold one says the most (who bought, every ping and post).
    const example = (leads.find((l) => l.status === "sold") ?? leads.find((l) => l.leadId))?.leadId ?? "<lead id>";
    const kept = { gavel, buyers, tempDir };
    const shutDown = async () => {
      const closingAt = performance.now();
      await kept.gavel.close();
      await kept.buyers.close();
      if (kept.tempDir) await rm(kept.tempDir, { recursive: true, force: true });
      summary.closed = true;
      const removed = kept.tempDir ? ", temporary folder removed" : "";
      const closeS = ((performance.now() - closingAt) / 1000).toFixed(1);
      return `Shut down in ${closeS} s: Gavel closed, ${demoChannels.length} buyer servers closed${removed}.`;
    };
    const summary: DemoSummary = {
      database,
      gavelUrl,
      buyerUrls,
      leads,
      channels,
      counts,
      revenue: revenueCents / 100,
      payout: payoutCents / 100,
      wallMs: 0,
      adminToken,
      closed: false,
      close: async () => {},
    };
    if (options.keep) {
      // From here what runs is the summary's to close, not this function's.
      gavel = undefined;
      buyers = undefined;
      tempDir = undefined;
      let closing: Promise<void> | undefined;
      summary.close = () => (closing ??= shutDown().then((line) => void write(`${line}\n`)));
      summary.wallMs = Math.round(performance.now() - started);
      write(
        `\nKept up (--keep) until Ctrl-C: Gavel at ${gavelUrl} (${database}) and the ${demoChannels.length} buyers above.\n` +
          `Look a lead up — who bought it, its history, every ping and post — from another terminal:\n\n` +
          `  export GAVEL=${gavelUrl} ADMIN_TOKEN=${adminToken}\n` +
          `  curl -s -H "Authorization: Bearer $ADMIN_TOKEN" $GAVEL/v1/leads/${example}\n\n` +
          `or sign in to the dashboard at ${gavelUrl}/ with that token.\n`,
      );
      return summary;
    }
    const line = await shutDown();
    gavel = undefined;
    buyers = undefined;
    tempDir = undefined;
    summary.wallMs = Math.round(performance.now() - started);
    write(`${line} Whole demo: ${(summary.wallMs / 1000).toFixed(1)} s.\n`);
    write(`To look leads up (GET /v1/leads/{id}) after the run, run it with --keep: npm run demo -- --keep\n`);
    return summary;
  } finally {
    // On failure, still release everything; errors here must not hide the original one.
    if (gavel) await gavel.close().catch(() => {});
    if (buyers) await buyers.close().catch(() => {});
    if (tempDir) await rm(tempDir, { recursive: true, force: true }).catch(() => {});
  }
}
