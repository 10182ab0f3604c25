// The clock every part of Gavel reads wall-clock time through, so that tests can pass their own
// instead of sleeping or racing the real one.

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A UTC day: 24 hours of elapsed time (a day in a time zone is calendar time: see periods.ts). */
export const DAY_MS = 86_400_000;
