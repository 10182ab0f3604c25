// Just enough of the Prometheus text format to read Gavel's histograms: parse a scrape, subtract an
// earlier one, and estimate quantiles the way PromQL's histogram_quantile does (linear inside the
// bucket that holds the rank).

/** Series value by its full name with labels, e.g. `gavel_lead_overhead_seconds_bucket{le="0.005"}`. */
export type Scrape = Map<string, number>;

export function parseScrape(text: string): Scrape {
  const values: Scrape = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

export interface Buckets {
  /** Upper bounds (seconds), ascending, +Inf last. */
  bounds: number[];
  /** Cumulative counts per bound. */
  counts: number[];
}

/** A histogram's buckets in `after`, minus those in `before` (when given). */
export function histogram(name: string, after: Scrape, before?: Scrape): Buckets {
  const rows: { bound: number; count: number }[] = [];
  const prefix = `${name}_bucket{le="`;
  for (const [key, value] of after) {
    if (!key.startsWith(prefix)) continue;
    const le = key.slice(prefix.length, key.indexOf('"', prefix.length));
    rows.push({ bound: le === "+Inf" ? Infinity : Number(le), count: value - (before?.get(key) ?? 0) });
  }
  rows.sort((a, b) => a.bound - b.bound);
  return { bounds: rows.map((r) => r.bound), counts: rows.map((r) => r.count) };
}

/** The q-quantile (0..1), in the histogram's unit; NaN without observations. */
export function quantile(h: Buckets, q: number): number {
  const total = h.counts.at(-1) ?? 0;
  if (!total) return NaN;
  const rank = q * total;
  for (let i = 0; i < h.counts.length; i++) {
    if (h.counts[i] < rank) continue;
    const upper = h.bounds[i];
    const lower = i === 0 ? 0 : h.bounds[i - 1];
    if (upper === Infinity) return lower;
    const below = i === 0 ? 0 : h.counts[i - 1];
    const inBucket = h.counts[i] - below;
    return inBucket ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
  }
  return h.bounds.at(-2) ?? NaN;
}

/** How many observations were above `x`; exact when `x` is a bucket bound, else interpolated. */
export function countAbove(h: Buckets, x: number): number {
  const total = h.counts.at(-1) ?? 0;
  for (let i = 0; i < h.bounds.length; i++) {
    if (h.bounds[i] < x) continue;
    const lower = i === 0 ? 0 : h.bounds[i - 1];
    const below = i === 0 ? 0 : h.counts[i - 1];
    if (h.bounds[i] === x || h.bounds[i] === Infinity) return total - (h.bounds[i] === x ? h.counts[i] : below);
    const share = (x - lower) / (h.bounds[i] - lower);
    return total - (below + share * (h.counts[i] - below));
  }
  return 0;
}

export function total(h: Buckets): number {
  return h.counts.at(-1) ?? 0;
}
