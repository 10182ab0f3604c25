// The circuit breaker of one channel, on a hand-driven clock: closed → open after N consecutive
// failures → half-open with exactly one probe after the cool-down → closed or open again.
import { describe, expect, it } from "vitest";
import { ChannelHealth, HealthRegistry, settleHealth } from "../src/channels/health";

const settings = { failures: 3, cooldown_ms: 1000 };

function failTimes(h: ChannelHealth, n: number, at: number) {
  for (let i = 0; i < n; i++) h.report(i % 2 ? "timeout" : "error", at, `lead-${i}`);
}

describe("circuit breaker", () => {
  it("opens after N consecutive failures, not after N failures with a success between", () => {
    const h = new ChannelHealth(settings);
    failTimes(h, 2, 0);
    h.report("no_bid", 1, "ok");
    failTimes(h, 2, 2);
    expect(h.view(2)).toMatchObject({ state: "closed", consecutive_failures: 2 });
    h.report("unknown", 3, "lead-x");
    expect(h.view(3)).toMatchObject({ state: "open", consecutive_failures: 3, opened_at: new Date(3).toISOString() });
    expect(h.view(3).history).toEqual([{ state: "open", at: new Date(3).toISOString(), reason: "3 consecutive failures (last: unknown)", lead_id: "lead-x" }]);
  });

  it("skips leads while open, then lets exactly one probe through after the cool-down", () => {
    const h = new ChannelHealth(settings);
    failTimes(h, 3, 0);
    expect(h.admit({}, 500)).toBe(false);
    expect(h.admit({}, 999)).toBe(false);
    const probe = {};
    expect(h.admit(probe, 1000)).toBe(true);
    expect(h.view(1000).state).toBe("half_open");
    expect(h.admit({}, 1001)).toBe(false);
    expect(h.admit({}, 1500)).toBe(false);
  });

  it("closes when the probe gets an answer, and opens again when it fails", () => {
    const h = new ChannelHealth(settings);
    failTimes(h, 3, 0);
    expect(h.admit({}, 1000)).toBe(true);
    h.report("timeout", 1100, "probe-1");
    expect(h.view(1100)).toMatchObject({ state: "open", opened_at: new Date(1100).toISOString() });
    expect(h.admit({}, 1500)).toBe(false);
    expect(h.admit({}, 2100)).toBe(true);
    h.report("below_floor", 2200, "probe-2");
    expect(h.view(2200)).toMatchObject({ state: "closed", consecutive_failures: 0, opened_at: null });
    expect(h.admit({}, 2201)).toBe(true);
    expect(h.view(2201).history.map((t) => [t.state, t.lead_id])).toEqual([
      ["open", "lead-2"],
      ["half_open", null],
      ["open", "probe-1"],
      ["half_open", null],
      ["closed", "probe-2"],
    ]);
  });

  it("a probe lead that never reached the buyer gives the probe back", () => {
    const h = new ChannelHealth(settings);
    failTimes(h, 3, 0);
    const lead = {};
    expect(h.admit(lead, 1000)).toBe(true);
    h.release({});
    expect(h.admit({}, 1001)).toBe(false);
    h.release(lead);
    expect(h.admit({}, 1002)).toBe(true);
  });

  it("skipped attempts say nothing about health", () => {
    const h = new ChannelHealth(settings);
    failTimes(h, 2, 0);
    h.report("skipped", 1, "x");
    h.report("error", 2, "y");
    expect(h.view(2).state).toBe("open");
  });

  it("keeps a bounded history", () => {
    const h = new ChannelHealth({ failures: 1, cooldown_ms: 1 });
    for (let t = 0; t < 100; t += 2) {
      h.admit({}, t);
      h.report("error", t, `l${t}`);
    }
    expect(h.view(100).history.length).toBe(20);
  });

  it("settleHealth reports each attempt to its channel and releases unused probes", () => {
    const registry = new HealthRegistry();
    const a = registry.for("a", settings);
    const b = registry.for("b", settings);
    failTimes(b, 3, 0);
    const lead = {};
    expect(b.admit(lead, 1000)).toBe(true);
    settleHealth([{ id: "a", health: a }, { id: "b", health: b }], [{ channelId: "a", outcome: "error" }], lead, "L", 1001);
    expect(registry.view("a", settings, 1001).consecutive_failures).toBe(1);
    expect(b.admit({}, 1002)).toBe(true);
    expect(registry.for("b", { failures: 5, cooldown_ms: 10 })).toBe(b);
    expect(registry.view("unknown", settings, 0)).toMatchObject({ state: "closed", history: [] });
  });
});
