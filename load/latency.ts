// Latency models of simulated buyers, and the small statistics the lab needs.

export type Latency = { kind: "fixed"; ms: number } | { kind: "lognormal"; median: number; p99: number };

/** z of the 99th percentile of the standard normal distribution. */
const Z99 = 2.326347874;

/** "0", "fixed:20", "20", "lognormal:20:100" (median 20 ms, p99 100 ms). */
export function parseLatency(text: string): Latency {
  const parts = text.split(":");
  if (parts[0] === "lognormal" && parts.length === 3) {
    const median = Number(parts[1]);
    const p99 = Number(parts[2]);
    if (!(median > 0) || !(p99 >= median)) throw new Error(`bad latency '${text}': lognormal needs 0 < median <= p99`);
    return { kind: "lognormal", median, p99 };
  }
  const ms = Number(parts[0] === "fixed" ? parts[1] : parts[0]);
  if (!Number.isFinite(ms) || ms < 0 || parts.length > (parts[0] === "fixed" ? 2 : 1)) throw new Error(`bad latency '${text}': use 20, fixed:20 or lognormal:20:100`);
  return { kind: "fixed", ms };
}

export function describeLatency(latency: Latency): string {
  if (latency.kind === "fixed") return latency.ms === 0 ? "instant" : `${latency.ms} ms`;
  return `lognormal median ${latency.median} ms / p99 ${latency.p99} ms`;
}

/** One standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  let u = 0;
  while (u === 0) u = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * A sampler: for lognormal, ln(X) ~ N(mu, sigma) with e^mu = median and e^(mu + z99·sigma) = p99.
 */
export function latencySampler(latency: Latency, random: () => number = Math.random): () => number {
  if (latency.kind === "fixed") return () => latency.ms;
  const mu = Math.log(latency.median);
  const sigma = Math.log(latency.p99 / latency.median) / Z99;
  return () => Math.exp(mu + sigma * normal(random));
}

/** Nearest-rank percentile of a sorted array. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
