// Calendar dates in the report's time zone, for the ranges the pages ask for. The API reads a bare
// date as midnight in `tz`, so a page names days and never works out a range's instants itself.
// The one place instants are worked out is a chart's time axis: where each period of a report sits.
import { DateTime } from "luxon";
import type { Interval } from "./types";

/** Today's date (YYYY-MM-DD) in `tz`. */
export function today(tz: string, now = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

/** The calendar date `days` after `date` (negative: before). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

export function allZones(): string[] {
  const zones = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

export interface Preset {
  id: string;
  label: string;
  range(tz: string): { from: string; to: string };
}

/** Ranges are half-open: `to` is the first day not included. */
export const presets: Preset[] = [
  { id: "today", label: "Today", range: (tz) => ({ from: today(tz), to: addDays(today(tz), 1) }) },
  { id: "yesterday", label: "Yesterday", range: (tz) => ({ from: addDays(today(tz), -1), to: today(tz) }) },
  { id: "7d", label: "Last 7 days", range: (tz) => ({ from: addDays(today(tz), -6), to: addDays(today(tz), 1) }) },
  { id: "30d", label: "Last 30 days", range: (tz) => ({ from: addDays(today(tz), -29), to: addDays(today(tz), 1) }) },
];

/**
 * Where the periods of a report over [from, to) sit on a time axis: the start of each period as the
 * API buckets them (periods of `tz`, weeks from Monday), in Unix seconds, and the end of the last.
 * A chart places the API's points on these; a period with no point is one the API left out because
 * it had no leads. Nothing here is a figure.
 */
export function periodStarts(from: string, to: string, tz: string, interval: Interval): { starts: number[]; end: number } {
  const end = DateTime.fromISO(to, { zone: tz });
  let at = DateTime.fromISO(from, { zone: tz }).startOf(interval);
  const starts: number[] = [];
  // The API's longest range by the hour is 31 days, by the day 2 years: well under this bound.
  while (at < end && starts.length < 5000) {
    starts.push(at.toSeconds());
    at = at.plus({ [interval]: 1 });
  }
  return { starts, end: at.toSeconds() };
}
