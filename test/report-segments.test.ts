// How a report's range is cut into rollup rows (segments in src/reports/range.ts): the pieces must
// cover the range exactly once, each row lying wholly inside one of the report's buckets, and a
// month must be a few coarse rows rather than weeks of days.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FOUR_WEEKS_MS, HOUR_MS, MONDAY, WEEK_MS, segments, type Grains, type Segments } from "../src/reports/range";
import { DAY_MS } from "../src/time/clock";

const T0 = Date.parse("2026-01-01T00:00:00Z");

/** Every instant's piece, as [start, end) in ms, whatever it is read from. */
function pieces(seg: Segments): [number, number][] {
  return [
    ...seg.fourWeeks.map((w): [number, number] => [w.getTime(), w.getTime() + FOUR_WEEKS_MS]),
    ...seg.weeks.map((w): [number, number] => [w.getTime(), w.getTime() + WEEK_MS]),
    ...[...seg.days, ...seg.hours, ...seg.raw].map((w): [number, number] => [w.from.getTime(), w.to.getTime()]),
  ].sort((a, b) => a[0] - b[0]);
}

const bucketOf = (t: number, bucket: "week" | "month") => {
  if (bucket === "week") return Math.floor((t - MONDAY) / WEEK_MS);
  const d = new Date(t);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};

describe("a report's range in rollup rows", () => {
  it("reads the last 30 days as a four-week row, a day and the day being rolled, whatever day of the week they start on", () => {
    for (let day = 0; day < 7; day++) {
      const to = T0 + 40 * DAY_MS + day * DAY_MS + 14 * HOUR_MS + 38 * 60_000;
      const from = to - 30 * DAY_MS;
      const rolled = to - 5 * 60_000;
      const seg = segments(new Date(from), new Date(to), new Date(rolled), { days: true, weeks: "range" });
      // Four weeks from the first whole day.
      const firstDay = Math.ceil(from / DAY_MS) * DAY_MS;
      expect(seg.fourWeeks.map((w) => w.getTime())).toEqual([firstDay]);
      expect(seg.weeks).toEqual([]);
      const today = Math.floor(to / DAY_MS) * DAY_MS;
      expect(seg.days.map((w) => [w.from.getTime(), w.to.getTime()])).toEqual([
        [today - DAY_MS, today],
        [today, rolled], // the day being rolled: its row holds what is rolled of it
      ]);
      // Whole hours only before the first whole day; raw only the ragged start and past `rolledTo`.
      expect(seg.hours.map((w) => [w.from.getTime(), w.to.getTime()])).toEqual([[Math.ceil(from / HOUR_MS) * HOUR_MS, firstDay]]);
      expect(seg.raw.map((w) => [w.from.getTime(), w.to.getTime()])).toEqual([
        [from, Math.ceil(from / HOUR_MS) * HOUR_MS],
        [rolled, to],
      ]);
    }
  });

  it("reads the day being rolled by the hour when the range starts within it, or ends before where it is rolled to", () => {
    const rolled = new Date("2026-03-18T13:37:00Z");
    const within = segments(new Date("2026-03-18T09:20:00Z"), new Date("2026-03-18T13:50:00Z"), rolled, { days: true, weeks: "range" });
    expect(within.days).toEqual([]);
    expect(within.hours).toEqual([{ from: new Date("2026-03-18T10:00:00Z"), to: rolled }]);
    const before = segments(new Date("2026-03-17T09:20:00Z"), new Date("2026-03-18T12:50:00Z"), rolled, { days: true, weeks: "range" });
    expect(before.days).toEqual([]);
    expect(before.hours).toEqual([
      { from: new Date("2026-03-17T10:00:00Z"), to: new Date("2026-03-18T00:00:00Z") },
      { from: new Date("2026-03-18T00:00:00Z"), to: new Date("2026-03-18T12:00:00Z") },
    ]);
    const past = segments(new Date("2026-03-17T09:20:00Z"), new Date("2026-03-18T13:50:00Z"), rolled, { days: true, weeks: "range" });
    expect(past.days).toEqual([{ from: new Date("2026-03-18T00:00:00Z"), to: rolled }]);
  });

  it("keeps week and four-week rows inside one week from Monday by week, and inside one UTC month by month", () => {
    const month = segments(new Date("2026-02-01T00:00:00Z"), new Date("2026-05-01T00:00:00Z"), new Date("2026-06-01T00:00:00Z"), { days: true, weeks: "month" });
    expect(month.fourWeeks.map((w) => w.toISOString().slice(0, 10))).toEqual(["2026-02-01", "2026-03-01", "2026-04-01"]);
    expect(month.weeks).toEqual([]);
    expect(month.days.map((w) => [w.from.toISOString().slice(0, 10), w.to.toISOString().slice(0, 10)])).toEqual([
      ["2026-03-29", "2026-04-01"],
      ["2026-04-29", "2026-05-01"],
    ]);
    const weeksInMonth = segments(new Date("2026-03-05T00:00:00Z"), new Date("2026-04-01T00:00:00Z"), new Date("2026-06-01T00:00:00Z"), { days: true, weeks: "month" });
    expect(weeksInMonth.fourWeeks).toEqual([]);
    expect(weeksInMonth.weeks.map((w) => w.toISOString().slice(0, 10))).toEqual(["2026-03-05", "2026-03-12", "2026-03-19"]);
    const week = segments(new Date("2026-03-04T00:00:00Z"), new Date("2026-03-26T00:00:00Z"), new Date("2026-06-01T00:00:00Z"), { days: true, weeks: "week" });
    expect(week.weeks.map((w) => w.toISOString().slice(0, 10))).toEqual(["2026-03-09", "2026-03-16"]); // Mondays
    expect(week.fourWeeks).toEqual([]);
  });

  it("covers every range exactly once, each row inside one bucket, rows only where rolled up", () => {
    const grains = fc.constantFrom<Grains>(
      { days: true, weeks: "range" },
      { days: true, weeks: "week" },
      { days: true, weeks: "month" },
      { days: true, weeks: null },
      { days: false, weeks: null },
    );
    const minute = 60_000;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400 * 24 * 60 }),
        fc.integer({ min: 1, max: 120 * 24 * 60 }),
        fc.option(fc.integer({ min: -10 * 24 * 60, max: 130 * 24 * 60 }), { nil: undefined }),
        grains,
        (start, length, rolledAt, g) => {
          const from = T0 + start * minute;
          const to = from + length * minute;
          const rolled = rolledAt === undefined ? null : from + rolledAt * minute;
          const seg = segments(new Date(from), new Date(to), rolled === null ? null : new Date(rolled), g);
          // Exactly once: the pieces follow each other from `from` to `to`.
          let at = from;
          for (const [a, b] of pieces(seg)) {
            expect(a).toBe(at);
            expect(b).toBeGreaterThan(a);
            at = b;
          }
          expect(at).toBe(to);
          // Rows hold what is rolled up: none reaches past `rolledTo` but the hour it falls in.
          const rowsEnd = Math.max(
            ...[...seg.fourWeeks.map((w) => w.getTime() + FOUR_WEEKS_MS), ...seg.weeks.map((w) => w.getTime() + WEEK_MS), ...[...seg.days, ...seg.hours].map((w) => w.to.getTime()), -Infinity],
          );
          if (rowsEnd > -Infinity) expect(rowsEnd).toBeLessThanOrEqual(Math.ceil(rolled! / HOUR_MS) * HOUR_MS);
          // Day rows of whole days, but for the day being rolled, read up to `rolledTo` when the range goes past it.
          for (const w of seg.days)
            if (w.to.getTime() > Math.floor(rolled! / DAY_MS) * DAY_MS) {
              expect(w.to.getTime()).toBe(rolled);
              expect(to).toBeGreaterThan(rolled!);
            }
          // Coarse rows only where the buckets allow them, starting on whole UTC days.
          if (!g.days) expect(seg.days).toEqual([]);
          if (g.weeks === null) expect([...seg.weeks, ...seg.fourWeeks]).toEqual([]);
          for (const [starts, length] of [[seg.weeks, WEEK_MS], [seg.fourWeeks, FOUR_WEEKS_MS]] as const)
            for (const w of starts) {
              expect(w.getTime() % DAY_MS).toBe(0);
              if (g.weeks === "week" || g.weeks === "month") expect(bucketOf(w.getTime(), g.weeks)).toBe(bucketOf(w.getTime() + length - 1, g.weeks));
            }
          for (const w of [...seg.days, ...seg.hours]) expect(w.from.getTime() % (seg.days.includes(w) ? DAY_MS : HOUR_MS)).toBe(0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
