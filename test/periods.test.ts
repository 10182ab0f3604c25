// Cap periods in an owner's time zone: hour, day, week and month edges in two zones, across both
// daylight-saving transitions of each. Instants are passed in explicitly: the clock is injected.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capPeriods, paceWindow, periodWindow } from "../src/time/periods";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const window = (period: Parameters<typeof periodWindow>[0], zone: string, instant: string) => {
  const w = periodWindow(period, zone, at(instant));
  return { start: iso(w.start), resetsAt: iso(w.resetsAt) };
};

const NY = "America/New_York";
const BERLIN = "Europe/Berlin";

describe("cap periods in America/New_York", () => {
  it("a day is 23 hours on the spring-forward Sunday and 25 on the fall-back one", () => {
    expect(window("day", NY, "2026-03-08T16:00:00Z")).toEqual({ start: "2026-03-08T05:00:00.000Z", resetsAt: "2026-03-09T04:00:00.000Z" });
    expect(window("day", NY, "2026-11-01T16:00:00Z")).toEqual({ start: "2026-11-01T04:00:00.000Z", resetsAt: "2026-11-02T05:00:00.000Z" });
  });

  it("the repeated 01:00 hour in November is two different hours", () => {
    // 01:30 EDT, then 01:30 EST an hour later.
    expect(window("hour", NY, "2026-11-01T05:30:00Z")).toEqual({ start: "2026-11-01T05:00:00.000Z", resetsAt: "2026-11-01T06:00:00.000Z" });
    expect(window("hour", NY, "2026-11-01T06:30:00Z")).toEqual({ start: "2026-11-01T06:00:00.000Z", resetsAt: "2026-11-01T07:00:00.000Z" });
  });

  it("the hour before the skipped 02:00 in March ends at 03:00 EDT", () => {
    expect(window("hour", NY, "2026-03-08T06:59:59.999Z")).toEqual({ start: "2026-03-08T06:00:00.000Z", resetsAt: "2026-03-08T07:00:00.000Z" });
    expect(window("hour", NY, "2026-03-08T07:00:00Z").start).toBe("2026-03-08T07:00:00.000Z");
  });

  it("a day begins exactly at local midnight: the last millisecond belongs to the day before", () => {
    expect(window("day", NY, "2026-01-15T04:59:59.999Z").start).toBe("2026-01-14T05:00:00.000Z");
    expect(window("day", NY, "2026-01-15T05:00:00.000Z").start).toBe("2026-01-15T05:00:00.000Z");
  });

  it("weeks start on Monday, and the week of the March change is an hour short", () => {
    // Sunday 8 March 2026 belongs to the week of Monday 2 March.
    expect(window("week", NY, "2026-03-08T16:00:00Z")).toEqual({ start: "2026-03-02T05:00:00.000Z", resetsAt: "2026-03-09T04:00:00.000Z" });
    expect(window("week", NY, "2026-03-09T04:00:00Z").start).toBe("2026-03-09T04:00:00.000Z");
  });

  it("months run from local midnight on the 1st, whatever the offset at either end", () => {
    expect(window("month", NY, "2026-03-20T12:00:00Z")).toEqual({ start: "2026-03-01T05:00:00.000Z", resetsAt: "2026-04-01T04:00:00.000Z" });
    expect(window("month", NY, "2026-11-20T12:00:00Z")).toEqual({ start: "2026-11-01T04:00:00.000Z", resetsAt: "2026-12-01T05:00:00.000Z" });
    expect(window("month", NY, "2026-03-01T04:59:59.999Z").start).toBe("2026-02-01T05:00:00.000Z");
  });
});

describe("cap periods in Europe/Berlin", () => {
  it("a day is 23 hours on 29 March and 25 hours on 25 October", () => {
    expect(window("day", BERLIN, "2026-03-29T12:00:00Z")).toEqual({ start: "2026-03-28T23:00:00.000Z", resetsAt: "2026-03-29T22:00:00.000Z" });
    expect(window("day", BERLIN, "2026-10-25T12:00:00Z")).toEqual({ start: "2026-10-24T22:00:00.000Z", resetsAt: "2026-10-25T23:00:00.000Z" });
  });

  it("the repeated 02:00 hour in October is two different hours", () => {
    expect(window("hour", BERLIN, "2026-10-25T00:30:00Z")).toEqual({ start: "2026-10-25T00:00:00.000Z", resetsAt: "2026-10-25T01:00:00.000Z" });
    expect(window("hour", BERLIN, "2026-10-25T01:30:00Z")).toEqual({ start: "2026-10-25T01:00:00.000Z", resetsAt: "2026-10-25T02:00:00.000Z" });
  });

  it("the same instant falls in different days in different zones", () => {
    // 23:30 UTC on 31 January: still January in New York, already February in Berlin.
    expect(window("month", NY, "2026-01-31T23:30:00Z").start).toBe("2026-01-01T05:00:00.000Z");
    expect(window("month", BERLIN, "2026-01-31T23:30:00Z").start).toBe("2026-01-31T23:00:00.000Z");
    expect(window("week", BERLIN, "2026-10-25T12:00:00Z")).toEqual({ start: "2026-10-18T22:00:00.000Z", resetsAt: "2026-10-25T23:00:00.000Z" });
  });
});

describe("period invariants", () => {
  const zones = ["UTC", NY, BERLIN, "Australia/Sydney", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham"];
  it("every instant lies in exactly one period, and periods follow each other without gaps", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...capPeriods.filter((p) => p !== "total")),
        fc.constantFrom(...zones),
        fc.integer({ min: Date.parse("2020-01-01"), max: Date.parse("2035-01-01") }),
        (period, zone, instant) => {
          const w = periodWindow(period, zone, instant);
          expect(w.start).toBeLessThanOrEqual(instant);
          expect(w.resetsAt!).toBeGreaterThan(instant);
          expect(periodWindow(period, zone, w.start).start).toBe(w.start);
          expect(periodWindow(period, zone, w.resetsAt!).start).toBe(w.resetsAt);
          expect(periodWindow(period, zone, w.resetsAt! - 1).start).toBe(w.start);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("total never resets", () => {
    expect(periodWindow("total", NY, Date.now())).toEqual({ start: 0, resetsAt: null });
  });
});

describe("pacing windows", () => {
  it("gives whole leads per minute, widening the window for rates under one a minute", () => {
    const t = at("2026-05-05T10:00:30Z");
    expect(paceWindow(3, t)).toMatchObject({ start: at("2026-05-05T10:00:00Z"), resetsAt: at("2026-05-05T10:01:00Z"), allowance: 3 });
    expect(paceWindow(2.7, t).allowance).toBe(2);
    const slow = paceWindow(0.2, t);
    expect(slow.allowance).toBe(1);
    expect(slow.resetsAt - slow.start).toBe(5 * 60_000);
    expect(paceWindow(0.17, t).resetsAt - paceWindow(0.17, t).start).toBe(6 * 60_000);
  });
});
