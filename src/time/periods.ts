// Cap periods in the owner's time zone (SPEC.md "Cap periods"). Calendar arithmetic across
// daylight-saving changes is done by luxon over the IANA database, never by hand: a "day" in
// America/New_York is 23 or 25 hours twice a year, and the repeated 01:00 hour in November is two
// different hours.
import { DateTime } from "luxon";

export const capPeriods = ["hour", "day", "week", "month", "total"] as const;
export type CapPeriod = (typeof capPeriods)[number];

export interface PeriodWindow {
  /** The instant the period began (epoch ms); 0 for `total`. Usage rows are keyed by it. */
  start: number;
  /** The instant the next period begins (epoch ms); null for `total`, which never resets. */
  resetsAt: number | null;
}

const unit = { hour: "hour", day: "day", week: "week", month: "month" } as const;

/** The period of kind `period` that contains instant `at`, in time zone `zone`. Weeks start on Monday (ISO). */
export function periodWindow(period: CapPeriod, zone: string, at: number): PeriodWindow {
  if (period === "total") return { start: 0, resetsAt: null };
  const start = DateTime.fromMillis(at, { zone }).startOf(unit[period]);
  // `plus` on hours is elapsed time; on days, weeks and months it is calendar time in the zone, so a
  // day that is 23 hours long ends at the next local midnight.
  const next = start.plus({ [`${unit[period]}s`]: 1 });
  return { start: start.toMillis(), resetsAt: next.toMillis() };
}

/**
 * Pacing windows: `leads_per_minute` becomes whole leads per fixed window aligned to the epoch.
 * A rate under 1 per minute widens the window (0.2 per minute: 1 lead per 5 minutes); a fractional
 * rate above 1 is rounded down, so pacing never lets more through than asked.
 */
export function paceWindow(leadsPerMinute: number, at: number): { start: number; resetsAt: number; allowance: number } {
  const minutes = leadsPerMinute >= 1 ? 1 : Math.ceil(1 / leadsPerMinute - 1e-9);
  const allowance = Math.max(1, Math.floor(leadsPerMinute * minutes + 1e-9));
  const size = minutes * 60_000;
  const start = Math.floor(at / size) * size;
  return { start, resetsAt: start + size, allowance };
}
