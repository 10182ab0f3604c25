// Schedules, pacing and max_concurrency against a real Gavel and loopback buyers. The wall clock
// is the test's: schedules and pacing windows read it, timeouts do not.
import { beforeAll, describe, expect, it } from "vitest";
import type { Behaviour } from "./helpers/buyers";
import { consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";
import { latch } from "./helpers/latch";

// Monday 1 June 2026, 10:00 in Chicago (UTC-5).
const clock = testClock("2026-06-01T15:00:00Z");

describe("schedules, pacing and concurrency limits", () => {
  const fixture = useTestGavel({}, { clock });
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const bidding = (bid: number, delayMs = 0): Behaviour => () => ({ json: { bid }, delayMs });
  const trace = async (leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;
  const reasonFor = (t: any, channel: string) => t.excluded.find((e: any) => e.channel_id === channel)?.reason;

  it("excludes a channel outside its opening hours with reason schedule, overnight ranges and blackout dates included", async () => {
    const night = await buyer({ ping: bidding(9) });
    const always = await buyer({ ping: bidding(2) });
    const key = await g.setup({
      campaign: { id: "sched", timezone: "America/Chicago" },
      channels: [
        pingPost("sched-night", night, { schedule: { hours: { "mon-fri": "22:00-02:00", sat: ["09:00-12:00", "13:00-15:00"] }, blackout: ["2026-06-05"] } }),
        pingPost("sched-always", always),
      ],
    });
    const sellAt = async (iso: string) => {
      clock.set(iso);
      const res = await g.lead(key, { campaign: "sched", data: consumer() });
      return { price: res.body.price, reason: reasonFor(await trace(res.body.lead_id), "sched-night") };
    };
    expect(await sellAt("2026-06-01T15:00:00Z")).toEqual({ price: 2, reason: "schedule" }); // Mon 10:00
    expect(await sellAt("2026-06-02T03:30:00Z")).toEqual({ price: 9, reason: undefined }); // Mon 22:30
    expect(await sellAt("2026-06-02T06:59:00Z")).toEqual({ price: 9, reason: undefined }); // Tue 01:59, Monday's night
    expect(await sellAt("2026-06-02T07:00:00Z")).toEqual({ price: 2, reason: "schedule" }); // Tue 02:00
    expect(await sellAt("2026-06-06T04:00:00Z")).toEqual({ price: 2, reason: "schedule" }); // Fri 23:00, a blackout date
    expect(await sellAt("2026-06-06T17:30:00Z")).toEqual({ price: 2, reason: "schedule" }); // Sat 12:30, lunch
    expect(await sellAt("2026-06-06T18:00:00Z")).toEqual({ price: 9, reason: undefined }); // Sat 13:00
    expect(night.pings.length).toBe(3);
    clock.set("2026-06-01T15:00:00Z");
  });

  it("uses the channel's own time zone over its campaign's", async () => {
    const b = await buyer({ ping: bidding(4) });
    const key = await g.setup({
      campaign: { id: "sched-tz", timezone: "America/Chicago" },
      channels: [pingPost("sched-tz-berlin", b, { timezone: "Europe/Berlin", schedule: { hours: { "mon-fri": "09:00-17:00" } } })],
    });
    clock.set("2026-06-01T14:00:00Z"); // 16:00 in Berlin, 09:00 in Chicago
    expect((await g.lead(key, { campaign: "sched-tz", data: consumer() })).body.status).toBe("sold");
    clock.set("2026-06-01T15:30:00Z"); // 17:30 in Berlin
    const closed = await g.lead(key, { campaign: "sched-tz", data: consumer() });
    expect(closed.body.status).toBe("unsold");
    expect(reasonFor(await trace(closed.body.lead_id), "sched-tz-berlin")).toBe("schedule");
    clock.set("2026-06-01T15:00:00Z");
  });

  it("paces a channel to its leads per minute with reason paced, and lets it sell again in the next window", async () => {
    const paced = await buyer({ ping: bidding(7) });
    const next = await buyer({ ping: bidding(3) });
    const key = await g.setup({
      campaign: { id: "pace" },
      channels: [pingPost("pace-a", paced, { pacing: { leads_per_minute: 3 }, caps: [{ period: "day", leads: 100 }] }), pingPost("pace-b", next)],
    });
    clock.set("2026-06-01T15:00:10Z");
    const prices: number[] = [];
    const reasons: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await g.lead(key, { campaign: "pace", data: consumer() });
      prices.push(res.body.price);
      reasons.push(reasonFor(await trace(res.body.lead_id), "pace-a"));
    }
    expect(prices).toEqual([7, 7, 7, 3, 3]);
    expect(reasons.slice(3)).toEqual(["paced", "paced"]);
    expect(paced.posts).toHaveLength(3);
    clock.set("2026-06-01T15:01:00Z");
    expect((await g.lead(key, { campaign: "pace", data: consumer() })).body.price).toBe(7);
    // Pacing spreads the daily cap; the cap still counts every sale.
    expect((await g.admin("GET", "/v1/channels/pace-a")).body.caps[0].used.leads).toBe(4);
    clock.set("2026-06-01T15:00:00Z");
  });

  it("keeps pings to a channel within max_concurrency and leaves the excess out as throttled, never queued", async () => {
    // The slow buyer holds every bid until the other four leads have been answered: throttled leads
    // that waited for a slot would never be answered before it lets go (a deadlock the 15 s ping
    // timeout would end, with the wrong prices), so no clock is needed to tell waiting from not.
    const fourAnswered = latch();
    let inFlight = 0;
    let peak = 0;
    const slow = await buyer({
      ping: () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        return { held: fourAnswered.promise.then(() => (inFlight--, { json: { bid: 8 } })) };
      },
    });
    const fast = await buyer({ ping: bidding(1) });
    const key = await g.setup({
      campaign: { id: "throttle", auction: { timeout_ms: 20_000, ping_timeout_ms: 15_000 } },
      channels: [pingPost("throttle-slow", slow, { max_concurrency: 2 }), pingPost("throttle-fast", fast)],
    });
    let answeredMeanwhile = 0;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        g.lead(key, { campaign: "throttle", data: consumer() }).then((a) => {
          if (!fourAnswered.isOpen && ++answeredMeanwhile === 4) fourAnswered.open();
          return a;
        }),
      ),
    );
    expect(answers.every((a) => a.body.status === "sold")).toBe(true);
    expect(slow.pings.length).toBe(2);
    expect(peak).toBeLessThanOrEqual(2);
    const prices = answers.map((a) => a.body.price).sort();
    expect(prices).toEqual([1, 1, 1, 1, 8, 8]);
    const reasons = await Promise.all(answers.map(async (a) => reasonFor(await trace(a.body.lead_id), "throttle-slow")));
    expect(reasons.filter((r) => r === "throttled")).toHaveLength(4);
    // Throttled leads did not wait for a slot: all four were answered while both slow pings were out.
    expect(answeredMeanwhile).toBe(4);

    // Slots are given back: once the slow pings are done the channel takes leads again.
    expect((await g.lead(key, { campaign: "throttle", data: consumer() })).body.price).toBe(8);
  });
});
