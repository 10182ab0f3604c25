// Latency percentiles from rollups. A rollup row cannot keep every duration, but it can keep how
// many fell in each of a fixed set of buckets: such counts merge by adding, so any number of rows
// (hours, channels, suppliers) sum to the histogram of all their leads, and a percentile is read off
// the merged counts. The buckets are narrow where buyers' timeouts sit (100 ms to 1 s), so a p95 is
// within a bucket's width of the exact one; the report says the bucket it falls in, interpolated.

/** Each bucket's lower bound in ms; the last is open above. */
export const HISTOGRAM_MS = [
  0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 250, 300, 350, 400, 500, 600, 800, 1000, 1500, 2000, 3000, 5000, 10000,
] as const;

export const BUCKETS = HISTOGRAM_MS.length;

/**
 * SQL for the 1-based bucket of a duration in ms. `width_bucket` counts the bounds at or below the
 * value, which is that bucket's index; a negative duration (a clock step) counts in the first.
 */
export function bucketSql(ms: string): string {
  return `greatest(1, width_bucket(${ms}, '{${HISTOGRAM_MS.join(",")}}'::int[]))`;
}

/**
 * SQL building a histogram (int[] of BUCKETS counts) from rows where `when` holds, by `bucket`. The
 * bucket is compared first: each row is tested against every bucket, and an integer comparison
 * that fails skips `when` (a text comparison) for all buckets but its own.
 */
export function countsSql(bucket: string, when: string): string {
  const counts = HISTOGRAM_MS.map((_, i) => `count(*) filter (where ${bucket} = ${i + 1} and ${when})::int`);
  return `array[${counts.join(", ")}]`;
}

/** SQL summing a histogram column over the rows of a group, as text ("3,0,12,…") both drivers read alike. */
export function sumSql(column: string): string {
  return `array_to_string(array[${HISTOGRAM_MS.map((_, i) => `coalesce(sum(${column}[${i + 1}]), 0)::bigint`).join(", ")}], ',')`;
}

/**
 * SQL adding two histograms element by element (for a rollup row that grows), bucket by bucket: a
 * subquery over unnest() cost five times as much (14 µs a row), and the roller adds a step's rows
 * to its day's rows at every step.
 */
export function addSql(a: string, b: string): string {
  return `array[${HISTOGRAM_MS.map((_, i) => `${a}[${i + 1}] + ${b}[${i + 1}]`).join(", ")}]`;
}

/**
 * `length` counts from their text ("3,0,12,…": a histogram, or a row's sums), digit by digit: a
 * long report reads thousands of them.
 */
export function parseCounts(text: string | null | undefined, length: number = BUCKETS): number[] {
  const counts = new Array<number>(length).fill(0);
  if (!text) return counts;
  let i = 0;
  let sign = 1;
  for (let at = 0; at < text.length; at++) {
    const c = text.charCodeAt(at);
    if (c === 44) {
      // ","
      counts[i] *= sign;
      sign = 1;
      i++;
    } else if (c === 45) sign = -1; // "-"
    else counts[i] = counts[i] * 10 + (c - 48);
  }
  counts[i] *= sign;
  return counts;
}

export function addCounts(into: number[], from: readonly number[]): number[] {
  for (let i = 0; i < BUCKETS; i++) into[i] += from[i] ?? 0;
  return into;
}

/**
 * The q-quantile (0 < q ≤ 1) of the durations counted, in whole ms; null when nothing was counted.
 * Within its bucket the value is interpolated as if durations were spread evenly; in the last,
 * open bucket it is that bucket's lower bound.
 */
export function quantile(counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const c = counts[i];
    if (c > 0 && below + c >= rank) {
      const low = HISTOGRAM_MS[i];
      if (i === BUCKETS - 1) return low;
      const high = HISTOGRAM_MS[i + 1];
      return Math.round(low + ((rank - below) / c) * (high - low));
    }
    below += c;
  }
  return HISTOGRAM_MS[BUCKETS - 1];
}
