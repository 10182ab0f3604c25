// Prometheus metrics of one Gavel process, served at GET /metrics. Each Gavel gets its own registry
// (no prom-client global), so several instances in one process — the tests — never collide.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export interface LeadTiming {
  /** Intake to answer, ms. */
  elapsedMs: number;
  /** Time spent in Gavel: total minus time waiting on buyers (the trace's `overhead_ms`), ms. */
  overheadMs: number;
  /** Longest ping of the lead (the ping phase), ms; null when nothing was pinged. */
  pingPhaseMs: number | null;
}

/** One ping or post of an auction, as the trace records it. */
export interface AttemptSample {
  kind: "ping" | "post";
  channelId: string;
  outcome: string;
  durationMs: number;
}

export interface Metrics {
  registry: Registry;
  /** One decided lead (never a test lead): counted by status; auctioned ones also observed in the histograms. */
  recordLead(status: string, timing?: LeadTiming): void;
  /** The pings and posts of one auction (never a test lead's), per channel: counted by outcome, timed. */
  recordAttempts(campaign: string, attempts: readonly AttemptSample[]): void;
  /** A lead answered 503 by admission control, before anything was recorded or pinged. */
  recordOverloaded(): void;
}

// Fine around the ping timeouts people use (300–800 ms), so a bound like "ping phase ≤ timeout +
// 50 ms" can be read straight off a bucket.
const SECONDS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.325, 0.35, 0.4, 0.5, 0.6, 0.8, 0.85, 1, 1.05, 1.5, 2, 2.05, 3, 5, 10];

export function createMetrics(options: { auctionsInFlight: () => number }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const leads = new Counter({ name: "gavel_leads_total", help: "Leads decided, by status", labelNames: ["status"], registers: [registry] });
  const overloaded = new Counter({
    name: "gavel_leads_overloaded_total",
    help: "Leads answered 503 at the bound of concurrent auctions (no lead recorded)",
    registers: [registry],
  });
  const duration = new Histogram({
    name: "gavel_lead_duration_seconds",
    help: "Auctioned leads: intake to answer",
    buckets: SECONDS,
    registers: [registry],
  });
  const overhead = new Histogram({
    name: "gavel_lead_overhead_seconds",
    help: "Auctioned leads: time spent in Gavel, i.e. total minus time waiting on buyers (overhead_ms in the trace)",
    buckets: SECONDS,
    registers: [registry],
  });
  const pingPhase = new Histogram({
    name: "gavel_ping_phase_seconds",
    help: "Auctioned leads with pings: the longest ping, i.e. how long the ping phase held the lead",
    buckets: SECONDS,
    registers: [registry],
  });
  const channelPings = new Counter({
    name: "gavel_channel_pings_total",
    help: "Pings sent to each channel, by outcome (bid, no_bid, below_floor, timeout, error, invalid_response)",
    labelNames: ["channel", "campaign", "outcome"],
    registers: [registry],
  });
  const channelPosts = new Counter({
    name: "gavel_channel_posts_total",
    help: "Posts to each channel, by outcome (accepted, rejected, error, unknown, invalid_response; skipped: the bid had expired, nothing sent)",
    labelNames: ["channel", "campaign", "outcome"],
    registers: [registry],
  });
  const channelPingSeconds = new Histogram({
    name: "gavel_channel_ping_duration_seconds",
    help: "Each channel's pings: request to answer (or to its timeout)",
    labelNames: ["channel", "campaign"],
    buckets: SECONDS,
    registers: [registry],
  });
  const channelPostSeconds = new Histogram({
    name: "gavel_channel_post_duration_seconds",
    help: "Each channel's posts that were sent: request to answer (or to its timeout)",
    labelNames: ["channel", "campaign"],
    buckets: SECONDS,
    registers: [registry],
  });
  // On the hot path: each channel's labelled children are resolved once and kept, so an attempt
  // builds no label object and looks its series up in two small maps. (prom-client still checks
  // and hashes a child's labels on each call: about 1 µs per attempt, some 10 µs for a lead pinged
  // to ten channels, against the 0.5-0.8 ms of CPU a lead costs in all.)
  const campaigns = new Map<string, Map<string, ChannelSeries>>();
  const seriesOf = (campaign: string, channel: string): ChannelSeries => {
    let channels = campaigns.get(campaign);
    if (!channels) campaigns.set(campaign, (channels = new Map()));
    let series = channels.get(channel);
    if (!series) {
      const labels = { channel, campaign };
      series = {
        ping: { counts: new Map(), seconds: channelPingSeconds.labels(labels), counter: channelPings, labels },
        post: { counts: new Map(), seconds: channelPostSeconds.labels(labels), counter: channelPosts, labels },
      };
      channels.set(channel, series);
    }
    return series;
  };

  new Gauge({
    name: "gavel_auctions_in_flight",
    help: "Auctions running now in this process",
    registers: [registry],
    collect() {
      this.set(options.auctionsInFlight());
    },
  });

  return {
    registry,
    recordLead(status, timing) {
      leads.inc({ status });
      if (!timing) return;
      duration.observe(timing.elapsedMs / 1000);
      overhead.observe(timing.overheadMs / 1000);
      if (timing.pingPhaseMs !== null) pingPhase.observe(timing.pingPhaseMs / 1000);
    },
    recordAttempts(campaign, attempts) {
      for (const a of attempts) {
        const kind = seriesOf(campaign, a.channelId)[a.kind];
        let count = kind.counts.get(a.outcome);
        if (!count) kind.counts.set(a.outcome, (count = kind.counter.labels({ ...kind.labels, outcome: a.outcome })));
        count.inc();
        // A skipped post never left Gavel: it has no latency.
        if (a.outcome !== "skipped") kind.seconds.observe(a.durationMs / 1000);
      }
    },
    recordOverloaded: () => overloaded.inc(),
  };
}

/** One channel's series for pings or posts, resolved once (see seriesOf). */
interface KindSeries {
  counter: Counter;
  labels: { channel: string; campaign: string };
  /** By outcome; outcomes are a closed set, so this stays small. */
  counts: Map<string, { inc(): void }>;
  seconds: { observe(value: number): void };
}

interface ChannelSeries {
  ping: KindSeries;
  post: KindSeries;
}

/** The ping phase of a lead as its longest ping; null when nothing was pinged. */
export function longestPingMs(attempts: readonly { kind: string; durationMs: number }[]): number | null {
  let longest: number | null = null;
  for (const a of attempts) if (a.kind === "ping" && (longest === null || a.durationMs > longest)) longest = a.durationMs;
  return longest;
}
