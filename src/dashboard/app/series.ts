// A report's figures over time, reshaped for a chart: each line a value per period of the range.
// Pure (no browser), so it is tested on its own (test/dashboard-series.test.ts).
import { periodStarts } from "./dates";
import type { Report } from "./types";

/** A report's figure over time: one value per period on the axis, for each line drawn. */
export interface PeriodSeries {
  /** Each period's start (Unix seconds), every period of the range, in order. */
  x: number[];
  /** The overall line first (the API's `periods`), then a line per key. */
  series: { label: string; values: (number | null)[]; overall?: boolean }[];
  /** The end of the last period. */
  end: number;
  /** How many periods the API answered (0: no leads in the range). */
  answered: number;
  /** Keys in the rows that have no line of their own (more than `maxKeys`). */
  unshown: number;
  interval: Report["interval"];
}

/**
 * A report's figure over its periods. The overall line is the API's `periods` (each period's SUM row
 * over every key, as answered); with `keyName`, each key's rows make a line beside it when there are
 * two keys or more. The API leaves out a period without leads: there a count or a sum reads 0 (it is
 * placed, not computed), a rate, an average or a percentile is a gap, and a period still to come
 * (after `now`, Unix seconds) is a gap whatever the figure.
 */
export function periodSeries(
  report: Report,
  metric: string,
  opts: { overall: string; absentIsZero: boolean; now: number; keyName?: (key: Record<string, string | null>) => string; maxKeys?: number },
): PeriodSeries {
  const at = (iso: string) => Date.parse(iso) / 1000;
  const periods = report.periods ?? [];
  const axis = report.interval ? periodStarts(report.from, report.to, report.tz, report.interval) : { starts: [], end: at(report.to) };
  // The API's own periods are on the axis even should a zone's calendar place one unexpectedly.
  const x = [...new Set([...axis.starts, ...periods.map((p) => at(p.period)), ...report.rows.flatMap((r) => (r.period ? [at(r.period)] : []))])].sort((a, b) => a - b);
  const absent = (t: number) => (opts.absentIsZero && t <= opts.now ? 0 : null);
  const line = (points: Map<number, unknown>) =>
    x.map((t) => {
      if (!points.has(t)) return absent(t);
      const v = points.get(t);
      return typeof v === "number" ? v : null;
    });
  const series: PeriodSeries["series"] = [{ label: opts.overall, overall: true, values: line(new Map(periods.map((p) => [at(p.period), p[metric]]))) }];
  let unshown = 0;
  if (opts.keyName) {
    // Keys in the order the API gave them (by period, then revenue).
    const byKey = new Map<string, Map<number, unknown>>();
    for (const row of report.rows) {
      if (!row.period) continue;
      const name = opts.keyName(row.key);
      if (!byKey.has(name)) byKey.set(name, new Map());
      byKey.get(name)!.set(at(row.period), row[metric]);
    }
    const maxKeys = opts.maxKeys ?? 8;
    if (byKey.size >= 2) {
      for (const [label, points] of [...byKey].slice(0, maxKeys)) series.push({ label, values: line(points) });
      unshown = Math.max(0, byKey.size - maxKeys);
    }
  }
  return { x, series, end: axis.end, answered: periods.length, unshown, interval: report.interval };
}
