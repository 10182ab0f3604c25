// Channel opening hours (SPEC.md `schedule`): weekly hours in the channel's time zone, several
// ranges a day, overnight ranges, and blackout dates. Wall-clock times are read through luxon, so a
// schedule means the same local hours on both sides of a daylight-saving change.
import { DateTime } from "luxon";

export interface ScheduleSpec {
  /** `{ "mon-fri": "08:00-18:00", "sat": ["09:00-12:00", "13:00-15:00"], "sun": "22:00-02:00" }`. */
  hours?: Record<string, string | string[]>;
  /** Local dates (YYYY-MM-DD) on which the channel is closed all day. */
  blackout?: string[];
}

export interface CompiledSchedule {
  /** Index 1..7 (Monday..Sunday): minute ranges [start, end); an overnight range ends past 1440. */
  days: [number, number][][];
  blackout: Set<string>;
  /** False when the schedule gives no hours: open all day, every day, except blackout dates. */
  hasHours: boolean;
}

const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** `mon-fri`, `sat`, `sat,sun`, `fri-mon` (wraps) → ISO weekdays 1..7. */
function parseDays(key: string): number[] | string {
  const days = new Set<number>();
  for (const part of key.toLowerCase().split(",")) {
    const [from, to, extra] = part.trim().split("-");
    const a = DAY_NAMES.indexOf(from ?? "");
    const b = to === undefined ? a : DAY_NAMES.indexOf(to);
    if (a < 0 || b < 0 || extra !== undefined) return `'${key}' is not a day or day range such as mon-fri, sat or sat,sun`;
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d + 1);
      if (d === b) break;
    }
  }
  return [...days];
}

function parseTime(text: string): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return undefined;
  return h * 60 + min;
}

/** `08:00-18:00`; an end before the start runs past midnight (`22:00-02:00`); `00:00-24:00` is all day. */
function parseRange(text: string): [number, number] | string {
  const [a, b, extra] = text.split("-");
  const start = a === undefined ? undefined : parseTime(a);
  const end = b === undefined ? undefined : parseTime(b);
  if (start === undefined || end === undefined || extra !== undefined || start === 1440)
    return `'${text}' is not a time range such as 08:00-18:00`;
  if (start === end) return `'${text}' is empty: use 00:00-24:00 for a whole day`;
  return [start, end > start ? end : end + 1440];
}

export interface ScheduleIssue {
  path: (string | number)[];
  message: string;
}

export function compileSchedule(spec: ScheduleSpec): { schedule: CompiledSchedule; issues: ScheduleIssue[] } {
  const days: [number, number][][] = Array.from({ length: 8 }, () => []);
  const issues: ScheduleIssue[] = [];
  for (const [key, value] of Object.entries(spec.hours ?? {})) {
    const weekdays = parseDays(key);
    if (typeof weekdays === "string") {
      issues.push({ path: ["hours", key], message: weekdays });
      continue;
    }
    const ranges = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(","));
    ranges.forEach((text) => {
      const range = parseRange(text);
      if (typeof range === "string") issues.push({ path: ["hours", key], message: range });
      else for (const d of weekdays) days[d].push(range);
    });
  }
  const blackout = new Set<string>();
  (spec.blackout ?? []).forEach((date, i) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !DateTime.fromISO(date, { zone: "UTC" }).isValid)
      issues.push({ path: ["blackout", i], message: `'${date}' is not a date (YYYY-MM-DD)` });
    else blackout.add(date);
  });
  return { schedule: { days, blackout, hasHours: spec.hours !== undefined }, issues };
}

/** Whether the schedule is open at instant `at` (epoch ms) in time zone `zone`. */
export function isOpen(schedule: CompiledSchedule, zone: string, at: number): boolean {
  const local = DateTime.fromMillis(at, { zone });
  // A blackout date closes the whole local day, including the tail of the night before's range.
  if (schedule.blackout.has(local.toISODate()!)) return false;
  if (!schedule.hasHours) return true;
  const minute = local.hour * 60 + local.minute + local.second / 60;
  for (const [start, end] of schedule.days[local.weekday]) if (minute >= start && minute < end) return true;
  const yesterday = local.weekday === 1 ? 7 : local.weekday - 1;
  for (const [, end] of schedule.days[yesterday]) if (end > 1440 && minute + 1440 < end) return true;
  return false;
}
