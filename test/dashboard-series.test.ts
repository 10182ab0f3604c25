// How the dashboard places a report's figures on a time axis: every period of the range, in the
// zone's calendar; the overall line is the API's `periods` as answered; a period the API left out
// (no leads) is 0 for a sum and a gap for a rate, and a period still to come is a gap.
import { describe, expect, it } from "vitest";
import { periodStarts } from "../src/dashboard/app/dates";
import { periodSeries } from "../src/dashboard/app/series";
import type { Report } from "../src/dashboard/app/types";

const s = (iso: string) => Date.parse(iso) / 1000;

describe("the periods of a range on a time axis", () => {
  it("counts hours as whole hours, from the range's first", () => {
    const { starts, end } = periodStarts("2026-11-28T21:00:00.000Z", "2026-11-29T21:00:00.000Z", "Etc/GMT-3", "hour");
    expect(starts.length).toBe(24);
    expect(starts[0]).toBe(s("2026-11-28T21:00:00Z"));
    expect(starts[23]).toBe(s("2026-11-29T20:00:00Z"));
    expect(end).toBe(s("2026-11-29T21:00:00Z"));
  });

  it("starts each day at the zone's midnight, a day of 25 hours included", () => {
    // New York leaves summer time on Sunday 1 November 2026.
    const { starts, end } = periodStarts("2026-11-01T04:00:00.000Z", "2026-11-03T05:00:00.000Z", "America/New_York", "day");
    expect(starts).toEqual([s("2026-11-01T04:00:00Z"), s("2026-11-02T05:00:00Z")]);
    expect(end).toBe(s("2026-11-03T05:00:00Z"));
  });

  it("starts weeks on Monday and months on the 1st, taking in the period the range starts inside", () => {
    expect(periodStarts("2026-11-25T00:00:00.000Z", "2026-12-01T00:00:00.000Z", "UTC", "week").starts).toEqual([s("2026-11-23T00:00:00Z"), s("2026-11-30T00:00:00Z")]);
    const months = periodStarts("2026-11-15T00:00:00.000Z", "2027-01-10T00:00:00.000Z", "UTC", "month");
    expect(months.starts).toEqual([s("2026-11-01T00:00:00Z"), s("2026-12-01T00:00:00Z"), s("2027-01-01T00:00:00Z")]);
    expect(months.end).toBe(s("2027-02-01T00:00:00Z"));
  });
});

/** A week by day in UTC, as the API answers it: leads on the 25th (two campaigns) and the 27th (one). */
function week(): Report {
  return {
    from: "2026-11-23T00:00:00.000Z",
    to: "2026-11-30T00:00:00.000Z",
    tz: "UTC",
    interval: "day",
    // (The type of a row, a key beside figures, takes a cast to write out.)
    rows: [
      { key: { campaign: "auto" }, period: "2026-11-25T00:00:00+00:00", revenue: 10, accept_rate: 1 },
      { key: { campaign: "home" }, period: "2026-11-25T00:00:00+00:00", revenue: 0.5, accept_rate: 0 },
      { key: { campaign: "auto" }, period: "2026-11-27T00:00:00+00:00", revenue: 3, accept_rate: 0.5 },
    ] as unknown as Report["rows"],
    totals: { revenue: 13.5, accept_rate: 0.7 },
    // A rate over every key is the pooled one (4 of 5 posts accepted), not an average of the rows'.
    periods: [
      { period: "2026-11-25T00:00:00+00:00", revenue: 10.5, accept_rate: 0.8 },
      { period: "2026-11-27T00:00:00+00:00", revenue: 3, accept_rate: 0.5 },
    ] as unknown as Report["periods"],
  };
}

describe("a report's figure over its periods", () => {
  const now = s("2026-11-28T12:00:00Z");
  const days = ["23", "24", "25", "26", "27", "28", "29"].map((d) => s(`2026-11-${d}T00:00:00Z`));

  it("draws the API's periods as the overall line, 0 in a past day without leads, nothing in days to come", () => {
    const data = periodSeries(week(), "revenue", { overall: "All campaigns", absentIsZero: true, now });
    expect(data.x).toEqual(days);
    expect(data.series).toEqual([{ label: "All campaigns", overall: true, values: [0, 0, 10.5, 0, 3, 0, null] }]);
    expect(data.answered).toBe(2);
    expect(data.end).toBe(s("2026-11-30T00:00:00Z"));
  });

  it("leaves a rate's days without leads as gaps, and takes each day's rate over every key from the API", () => {
    const data = periodSeries(week(), "accept_rate", { overall: "Total", absentIsZero: false, now });
    expect(data.series[0].values).toEqual([null, null, 0.8, null, 0.5, null, null]);
  });

  it("draws a line per key beside the overall one when there are two keys or more", () => {
    const data = periodSeries(week(), "revenue", { overall: "All campaigns", absentIsZero: true, now, keyName: (k) => k.campaign ?? "(none)" });
    expect(data.series.map((l) => l.label)).toEqual(["All campaigns", "auto", "home"]);
    expect(data.series[1].values).toEqual([0, 0, 10, 0, 3, 0, null]);
    expect(data.series[2].values).toEqual([0, 0, 0.5, 0, 0, 0, null]);

    const one = week();
    one.rows = one.rows.filter((r) => r.key.campaign === "auto");
    expect(periodSeries(one, "revenue", { overall: "auto", absentIsZero: true, now, keyName: (k) => k.campaign! }).series.length).toBe(1);

    const capped = periodSeries(week(), "revenue", { overall: "All", absentIsZero: true, now, keyName: (k) => k.campaign!, maxKeys: 1 });
    expect(capped.series.map((l) => l.label)).toEqual(["All", "auto"]);
    expect(capped.unshown).toBe(1);
  });

  it("keeps a period the API answered even where the zone's calendar would not have put one", () => {
    const odd = week();
    odd.periods = [{ period: "2026-11-25T06:00:00+00:00", revenue: 2 }] as unknown as Report["periods"];
    const data = periodSeries(odd, "revenue", { overall: "All", absentIsZero: true, now });
    const i = data.x.indexOf(s("2026-11-25T06:00:00Z"));
    expect(i).toBe(3);
    expect(data.series[0].values[i]).toBe(2);
  });

  it("has nothing to draw for a range without leads", () => {
    const empty = { ...week(), rows: [], periods: [] };
    expect(periodSeries(empty, "revenue", { overall: "All", absentIsZero: true, now }).answered).toBe(0);
  });
});
