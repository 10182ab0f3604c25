// Channel schedules: weekly hours in the channel's zone, several ranges a day, overnight ranges,
// blackout dates, daylight-saving days, and the field errors a bad schedule gets.
import { describe, expect, it } from "vitest";
import { compileSchedule, isOpen, type ScheduleSpec } from "../src/time/schedule";
import { Channel } from "../src/channels/config";

const CHICAGO = "America/Chicago";
function opener(spec: ScheduleSpec, zone = CHICAGO) {
  const { schedule, issues } = compileSchedule(spec);
  expect(issues).toEqual([]);
  return (instant: string) => isOpen(schedule, zone, Date.parse(instant));
}

describe("schedules", () => {
  // 2026-06-01 is a Monday; Chicago is UTC-5 in June.
  it("opens at the start of a range and closes at its end, on the listed days only", () => {
    const open = opener({ hours: { "mon-fri": "08:00-18:00", sat: "09:00-13:00" } });
    expect(open("2026-06-01T12:59:59Z")).toBe(false); // Mon 07:59:59
    expect(open("2026-06-01T13:00:00Z")).toBe(true); // Mon 08:00
    expect(open("2026-06-01T22:59:00Z")).toBe(true); // Mon 17:59
    expect(open("2026-06-01T23:00:00Z")).toBe(false); // Mon 18:00
    expect(open("2026-06-06T14:30:00Z")).toBe(true); // Sat 09:30
    expect(open("2026-06-06T18:00:00Z")).toBe(false); // Sat 13:00
    expect(open("2026-06-07T15:00:00Z")).toBe(false); // Sun 10:00
  });

  it("takes several ranges a day, as a list or comma-separated", () => {
    for (const hours of [{ tue: "09:00-12:00,13:00-17:00" }, { tue: ["09:00-12:00", "13:00-17:00"] }]) {
      const open = opener({ hours });
      expect(open("2026-06-02T16:30:00Z")).toBe(true); // Tue 11:30
      expect(open("2026-06-02T17:30:00Z")).toBe(false); // Tue 12:30 (lunch)
      expect(open("2026-06-02T18:00:00Z")).toBe(true); // Tue 13:00
    }
  });

  it("runs an overnight range past midnight into the next day, Sunday into Monday too", () => {
    const open = opener({ hours: { fri: "22:00-02:00", sun: "23:00-01:00" } });
    expect(open("2026-06-06T02:59:00Z")).toBe(false); // Fri 21:59
    expect(open("2026-06-06T03:00:00Z")).toBe(true); // Fri 22:00
    expect(open("2026-06-06T06:59:00Z")).toBe(true); // Sat 01:59
    expect(open("2026-06-06T07:00:00Z")).toBe(false); // Sat 02:00
    expect(open("2026-06-05T04:00:00Z")).toBe(false); // Thu 23:00
    expect(open("2026-06-08T05:30:00Z")).toBe(true); // Mon 00:30, from Sunday's range
    expect(open("2026-06-08T06:00:00Z")).toBe(false); // Mon 01:00
  });

  it("closes all day on a blackout date, including the tail of the night before", () => {
    const open = opener({ hours: { "mon-sun": "20:00-04:00" }, blackout: ["2026-12-25"] });
    expect(open("2026-12-25T04:00:00Z")).toBe(true); // Dec 24 22:00
    expect(open("2026-12-25T07:00:00Z")).toBe(false); // Dec 25 01:00, Christmas
    expect(open("2026-12-26T03:00:00Z")).toBe(false); // Dec 25 21:00
    expect(open("2026-12-26T07:00:00Z")).toBe(true); // Dec 26 01:00
  });

  it("without hours is open all day except on blackout dates", () => {
    const open = opener({ blackout: ["2026-07-04"] });
    expect(open("2026-07-03T12:00:00Z")).toBe(true);
    expect(open("2026-07-04T12:00:00Z")).toBe(false);
    expect(open("2026-07-05T04:59:00Z")).toBe(false); // still July 4 in Chicago
  });

  it("keeps local hours on both daylight-saving days", () => {
    const open = opener({ hours: { "mon-sun": "08:00-18:00" } }, "America/New_York");
    expect(open("2026-03-08T11:59:00Z")).toBe(false); // 07:59 EDT
    expect(open("2026-03-08T12:00:00Z")).toBe(true); // 08:00 EDT
    expect(open("2026-03-07T12:59:00Z")).toBe(false); // 07:59 EST the day before
    expect(open("2026-11-01T12:59:00Z")).toBe(false); // 07:59 EST
    expect(open("2026-11-01T13:00:00Z")).toBe(true); // 08:00 EST
  });

  it("reads the same instant in the channel's own zone", () => {
    const hours = { "mon-fri": "09:00-17:00" };
    expect(opener({ hours }, "Europe/Berlin")("2026-06-01T14:00:00Z")).toBe(true); // 16:00 in Berlin
    expect(opener({ hours }, "America/Los_Angeles")("2026-06-01T14:00:00Z")).toBe(false); // 07:00 in LA
  });

  it("accepts 00:00-24:00 as a whole day and wrapping day ranges", () => {
    const open = opener({ hours: { "sat-mon": "00:00-24:00" } });
    expect(open("2026-06-06T05:00:00Z")).toBe(true); // Sat 00:00
    expect(open("2026-06-09T04:59:00Z")).toBe(true); // Mon 23:59
    expect(open("2026-06-09T05:00:00Z")).toBe(false); // Tue 00:00
  });

  it("reports every bad day, range and date as a field error of the channel", () => {
    const parsed = Channel.safeParse({
      id: "c",
      buyer_id: "b",
      campaign_id: "k",
      type: "direct_post",
      fixed_price: 1,
      post: { url: "http://127.0.0.1:1/post" },
      schedule: { hours: { funday: "08:00-09:00", mon: "8am-5pm", tue: "10:00-10:00", wed: "09:00-25:00" }, blackout: ["2026-02-30", "soon"] },
    });
    expect(parsed.success).toBe(false);
    const paths = parsed.error!.issues.map((i) => i.path.join("."));
    expect(paths.sort()).toEqual([
      "schedule.blackout.0",
      "schedule.blackout.1",
      "schedule.hours.funday",
      "schedule.hours.mon",
      "schedule.hours.tue",
      "schedule.hours.wed",
    ]);
  });
});
