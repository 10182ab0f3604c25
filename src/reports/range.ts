// A report's time range and how it is read: which whole UTC days come from day rows, which whole
// hours from hour rows, and which ragged edges and recent minutes from the raw leads.
import { DateTime, IANAZone } from "luxon";
import { GavelError, type FieldError } from "../errors";
import { DAY_MS } from "../time/clock";
import type { Window } from "./facts";

export const INTERVALS = ["hour", "day", "week", "month"] as const;
export type Interval = (typeof INTERVALS)[number];

export const HOUR_MS = 3_600_000;
export const WEEK_MS = 7 * DAY_MS;
export const FOUR_WEEKS_MS = 4 * WEEK_MS;
/** A Monday, 00:00 UTC: weeks of rollups start on Mondays, as `date_trunc('week', …)` does. */
export const MONDAY = Date.UTC(1970, 0, 5);

/** `t` down (up) to a whole `unit` counted from `origin`: an hour, a UTC day, a week from Monday. */
export const floorTo = (t: number, unit: number, origin = 0) => Math.floor((t - origin) / unit) * unit + origin;
export const ceilTo = (t: number, unit: number, origin = 0) => Math.ceil((t - origin) / unit) * unit + origin;

/** The longest range per interval: more periods than a person reads, or a spreadsheet holds comfortably. */
const LONGEST_DAYS: Record<Interval | "none", number> = { hour: 31, day: 731, week: 3653, month: 3653, none: 3653 };

export interface ReportRange {
  from: Date;
  to: Date;
  tz: string;
  interval: Interval | null;
}

const invalidQuery = (errors: FieldError[]) => new GavelError("validation", "Bad report query", { errors });

/**
 * The range of a report query, its bounds already read (see timeBound in http/body.ts): `to`
 * defaults to now and `from` to a day before `to`. Buckets of an
 * interval are whole hours of UTC, since rollups are kept by the hour: a zone whose offset is not a
 * whole number of hours in the range (Asia/Kolkata, +05:30) is refused for an interval (a report
 * without an interval reads any zone: its edges come from the raw leads).
 */
export function reportRange(query: { from?: Date; to?: Date; tz?: string; interval?: string }, now: number): ReportRange {
  const tz = query.tz ?? "UTC";
  if (!IANAZone.isValidZone(tz)) throw invalidQuery([{ path: "tz", message: "must be an IANA time zone such as America/New_York or UTC" }]);
  let interval: Interval | null = null;
  if (query.interval !== undefined) {
    if (!(INTERVALS as readonly string[]).includes(query.interval))
      throw invalidQuery([{ path: "interval", message: `must be one of ${INTERVALS.join(", ")} (or absent for one row per key)` }]);
    interval = query.interval as Interval;
  }
  const to = query.to ?? new Date(now);
  const from = query.from ?? new Date(to.getTime() - DAY_MS);
  if (from >= to) throw invalidQuery([{ path: "from", message: "must be before `to` (the range is from `from` up to, not including, `to`)" }]);
  const longest = LONGEST_DAYS[interval ?? "none"];
  if (to.getTime() - from.getTime() > longest * DAY_MS)
    throw invalidQuery([{ path: "to", message: `the range may span ${longest} days at most${interval ? ` with interval=${interval}` : ""}` }]);
  if (interval) {
    const zone = IANAZone.create(tz);
    for (let t = from.getTime(); ; t = Math.min(t + DAY_MS, to.getTime())) {
      const offset = zone.offset(t);
      if (offset % 60 !== 0)
        throw invalidQuery([
          { path: "tz", message: `${tz} is ${DateTime.fromMillis(t, { zone: tz }).toFormat("ZZ")} from UTC in this range: reports by interval need a zone a whole number of hours from UTC (or leave out interval)` },
        ]);
      if (t >= to.getTime()) break;
    }
  }
  return { from, to, tz, interval };
}

/** Which coarser rollup rows a report may read: each must lie wholly inside one of its buckets. */
export interface Grains {
  /** Whole UTC days from day rows. */
  days: boolean;
  /**
   * Runs of 28 and of 7 whole UTC days from four-week and week rows (the 28 and the 7 days from
   * each UTC day): anywhere in the range (`range`, a report without an interval), only inside one
   * week from Monday (`week`) or one UTC month (`month`); null: none.
   */
  weeks: "range" | "week" | "month" | null;
}

/**
 * Which rollup rows fit a report's buckets: UTC days fall wholly into one bucket without an
 * interval, and by day, week or month in a zone at UTC all along the range; so do 7 (and 28) days
 * from any UTC day without an interval, and inside one week or one month by week or month.
 */
export function grainsFor(range: ReportRange): Grains {
  if (range.interval === null) return { days: true, weeks: "range" };
  if (range.interval === "hour") return { days: false, weeks: null };
  const zone = IANAZone.create(range.tz);
  for (let t = range.from.getTime(); ; t = Math.min(t + DAY_MS, range.to.getTime())) {
    if (zone.offset(t) !== 0) return { days: false, weeks: null };
    if (t >= range.to.getTime()) return { days: true, weeks: range.interval === "day" ? null : range.interval };
  }
}

export interface Segments {
  /** Where the four-week rows read start: each holds the 28 UTC days from its start. */
  fourWeeks: Date[];
  /** Where the week rows read start: each holds the 7 UTC days from its start. */
  weeks: Date[];
  /** Whole UTC days read from day rows. */
  days: Window[];
  /** Whole hours read from hour rows (rolled up to `rolledTo`; an hour rolled in part holds that part). */
  hours: Window[];
  /** Read from the raw leads: the ragged edges of the range and what is not rolled up yet. */
  raw: Window[];
}

/** The start of the bucket after the one `t` is in: the next Monday, or the next month's first day (UTC). */
function nextBucket(t: number, bucket: "week" | "month"): number {
  if (bucket === "week") return floorTo(t, WEEK_MS, MONDAY) + WEEK_MS;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * How [from, to) is read, given that the rollups hold every lead received before `rolledTo` (null:
 * nothing is rolled up): the coarsest rows that fit, each level inside the next. Rows count leads
 * by the hour (day, week) they arrived in, so only hours wholly inside the range are read from
 * them — except the hour and the day `rolledTo` falls in, whose rows hold just their part before
 * `rolledTo`: a range going past `rolledTo` reads that day's row (or, when the range starts within
 * the day or the report's buckets are hours, that hour's row and the whole hours before it), then
 * the raw leads from `rolledTo` on. The minutes before the first whole hour, and after the last
 * when the range ends before `rolledTo`, are read raw. `grains` says which whole UTC days may come
 * from day rows, and which runs of 28 and of 7 of them from four-week and week rows: the last 30
 * days are a four-week row and a day or two, whatever day of the week they start on.
 */
export function segments(from: Date, to: Date, rolledTo: Date | null, grains: Grains): Segments {
  const f = from.getTime();
  const t = to.getTime();
  const r = rolledTo ? rolledTo.getTime() : -Infinity;
  const h0 = Math.min(ceilTo(f, HOUR_MS), t);
  // Where rows stop: at `rolledTo` when the range goes past it, else at the range's last whole hour.
  const rowsTo = Math.max(r < t ? r : floorTo(t, HOUR_MS), h0);
  const add = (list: Window[], a: number, b: number) => {
    if (a < b) list.push({ from: new Date(a), to: new Date(b) });
  };
  const raw: Window[] = [];
  add(raw, f, h0);
  add(raw, rowsTo, t);
  const hours: Window[] = [];
  const days: Window[] = [];
  const weeks: Date[] = [];
  const fourWeeks: Date[] = [];
  if (!grains.days) {
    add(hours, h0, rowsTo);
    return { fourWeeks, weeks, days, hours, raw };
  }
  // Day (and week) rows exist for the days wholly rolled up, which all end by rowsTo; and the
  // day being rolled has a row of its part, read when the range holds all of that part.
  const d0 = Math.min(ceilTo(h0, DAY_MS), rowsTo);
  let d1 = Math.max(floorTo(rowsTo, DAY_MS), d0);
  const partial = r < t && rowsTo > d1 && d1 === floorTo(rowsTo, DAY_MS);
  add(hours, h0, d0);
  // The whole days, cut where the report's buckets start, each stretch read as runs of 28 days
  // from its start, then of 7, then the days left over.
  for (let a = d0; a < d1; ) {
    const b = grains.weeks === "week" || grains.weeks === "month" ? Math.min(nextBucket(a, grains.weeks), d1) : d1;
    let w = a;
    if (grains.weeks !== null) {
      for (; w + FOUR_WEEKS_MS <= b; w += FOUR_WEEKS_MS) fourWeeks.push(new Date(w));
      for (; w + WEEK_MS <= b; w += WEEK_MS) weeks.push(new Date(w));
    }
    add(days, w, b);
    a = b;
  }
  if (partial) {
    add(days, d1, rowsTo);
    d1 = rowsTo;
  }
  add(hours, d1, rowsTo);
  return { fourWeeks, weeks, days, hours, raw };
}
