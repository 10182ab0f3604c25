// Prometheus metrics of one Gavel process, served at GET /metrics. Each Gavel gets its own registry
// (no prom-client global), so several instances in one process — the tests — never collide.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";

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
  const channelPings = new LabelledCounter(
    "gavel_channel_pings_total",
    "Pings sent to each channel, by outcome (bid, no_bid, below_floor, timeout, error, invalid_response)",
  );
  const channelPosts = new LabelledCounter(
    "gavel_channel_posts_total",
    "Posts to each channel, by outcome (accepted, rejected, error, unknown, invalid_response; skipped: the bid had expired, nothing sent)",
  );
  const channelPingSeconds = new LabelledHistogram("gavel_channel_ping_duration_seconds", "Each channel's pings: request to answer (or to its timeout)", SECONDS);
  const channelPostSeconds = new LabelledHistogram("gavel_channel_post_duration_seconds", "Each channel's posts that were sent: request to answer (or to its timeout)", SECONDS);
  for (const metric of [channelPings, channelPosts, channelPingSeconds, channelPostSeconds]) registry.registerMetric(metric as unknown as Metric);
  // On the hot path: each channel's series are found once and kept, so an attempt adds to numbers
  // it already holds (prom-client's own labelled metrics check and hash the labels on every call:
  // about 8 µs for a lead pinged to ten channels).
  const campaigns = new Map<string, Map<string, ChannelSeries>>();
  const seriesOf = (campaign: string, channel: string): ChannelSeries => {
    let channels = campaigns.get(campaign);
    if (!channels) campaigns.set(campaign, (channels = new Map()));
    let series = channels.get(channel);
    if (!series) {
      const labels = { channel, campaign };
      series = {
        ping: { counts: new Map(), seconds: channelPingSeconds.series(labels), counter: channelPings, labels },
        post: { counts: new Map(), seconds: channelPostSeconds.series(labels), counter: channelPosts, labels },
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
        if (!count) kind.counts.set(a.outcome, (count = kind.counter.series({ ...kind.labels, outcome: a.outcome })));
        count.value++;
        // A skipped post never left Gavel: it has no latency.
        if (a.outcome !== "skipped") kind.seconds.observe(a.durationMs / 1000);
      }
    },
    recordOverloaded: () => overloaded.inc(),
  };
}

/** One channel's series for pings or posts, resolved once (see seriesOf). */
interface KindSeries {
  counter: LabelledCounter;
  labels: { channel: string; campaign: string };
  /** By outcome; outcomes are a closed set, so this stays small. */
  counts: Map<string, { value: number }>;
  seconds: HistogramSeries;
}

type Labels = Record<string, string>;

/** A counter whose series are plain numbers, read only when scraped (what a registry reads of a metric: `get()`). */
class LabelledCounter {
  readonly type = "counter";
  private readonly all: { labels: Labels; value: number }[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  /** A new series: keep it, and add to its `value`. */
  series(labels: Labels): { value: number } {
    const cell = { labels, value: 0 };
    this.all.push(cell);
    return cell;
  }
  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: "sum", values: this.all.map((c) => ({ labels: c.labels, value: c.value })) };
  }
}

class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/** A histogram (cumulative `le` buckets, `_sum`, `_count`) whose series are plain numbers, read only when scraped. */
class LabelledHistogram {
  readonly type = "histogram";
  private readonly all: HistogramSeries[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}
  series(labels: Labels): HistogramSeries {
    const series = new HistogramSeries(labels, this.bounds);
    this.all.push(series);
    return series;
  }
  get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const s of this.all) {
      if (s.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: "sum", values };
  }
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
