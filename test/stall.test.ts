// When Gavel's own event loop stalls past a request's deadline, an answer that arrived in time is
// still read, and a timeout Gavel caused is no mark against the buyer's health.
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { AuctionGate, LoopMonitor } from "../src/auction/gate";
import { ChannelHealth, settleHealth } from "../src/channels/health";
import { createBuyerTransport } from "../src/channels/transport";
import { startBuyer } from "./helpers/buyers";

/** Blocks the event loop, as a burst of CPU work in Gavel would. */
const stall = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe("a stalled event loop", () => {
  const transport = createBuyerTransport();
  afterAll(() => transport.close());

  it("reads an answer that arrived before the deadline even though the deadline timer fired late", async () => {
    // The buyer lives in another process, so it answers while this one is stalled.
    const child = spawn(process.execPath, [
      "-e",
      `const s = require("node:http").createServer((q, r) => { q.resume(); q.on("end", () => { console.log("got"); setTimeout(() => r.end('{"bid":3}'), 30); }); });
       s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
    ]);
    try {
      const port = await new Promise<number>((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
      const request = { url: `http://127.0.0.1:${port}/ping`, method: "POST" as const, headers: {}, body: "{}", timeoutMs: 100, maxBodyBytes: 1024 };
      await transport.send(request); // a warm keep-alive connection
      const got = new Promise((resolve) => child.stdout.once("data", resolve));
      const sent = transport.send(request);
      await got; // the buyer has the request and answers 30 ms later
      stall(400); // the answer arrives meanwhile; the 100 ms timer fires ~300 ms late
      expect(await sent).toMatchObject({ kind: "response", status: 200, body: '{"bid":3}' });
    } finally {
      child.kill();
    }
  });

  it("marks a timeout whose timer fired late as stalled, and health ignores it", async () => {
    const buyer = await startBuyer({ ping: () => ({ hang: true }) });
    try {
      const sent = transport.send({ url: buyer.pingUrl, method: "POST", headers: {}, body: "{}", timeoutMs: 50, maxBodyBytes: 1024 });
      await new Promise((r) => setTimeout(r, 1));
      stall(200);
      expect(await sent).toMatchObject({ kind: "timeout", stalled: true });
      const punctual = await transport.send({ url: buyer.pingUrl, method: "POST", headers: {}, body: "{}", timeoutMs: 50, maxBodyBytes: 1024 });
      expect(punctual).toEqual({ kind: "timeout", durationMs: expect.any(Number), sent: true });
    } finally {
      await buyer.close();
    }
    const health = new ChannelHealth({ failures: 1, cooldown_ms: 1000 });
    const channel = [{ id: "c", health }];
    settleHealth(channel, [{ channelId: "c", outcome: "timeout", reason: "gavel_stalled" }], {}, "lead-1", 0);
    expect(health.view(0).state).toBe("closed");
    // While Gavel is overloaded, a request that never reached its socket waited in Gavel's own
    // queue: it does not count. Without overload it does (the buyer may not accept connections).
    settleHealth(channel, [{ channelId: "c", outcome: "timeout", reason: "ping_not_sent" }], {}, "lead-2", 0, true);
    settleHealth(channel, [{ channelId: "c", outcome: "error", reason: "post_not_sent" }], {}, "lead-3", 0, true);
    expect(health.view(0).state).toBe("closed");
    settleHealth(channel, [{ channelId: "c", outcome: "timeout", reason: "ping_not_sent" }], {}, "lead-4", 0);
    expect(health.view(0).state).toBe("open");
    // A buyer that had the request on time and let the deadline pass counts even while Gavel is
    // overloaded: a hanging buyer is cut off under load too.
    const hanging = new ChannelHealth({ failures: 2, cooldown_ms: 1000 });
    settleHealth([{ id: "h", health: hanging }], [{ channelId: "h", outcome: "timeout", reason: "ping_timeout" }], {}, "lead-6", 0, true);
    settleHealth([{ id: "h", health: hanging }], [{ channelId: "h", outcome: "unknown", reason: "post_timeout" }], {}, "lead-7", 0, true);
    expect(hanging.view(0).state).toBe("open");
    const other = new ChannelHealth({ failures: 1, cooldown_ms: 1000 });
    settleHealth([{ id: "d", health: other }], [{ channelId: "d", outcome: "error", reason: "http_500" }], {}, "lead-5", 0, true);
    expect(other.view(0).state).toBe("open");
  });

  it("counts itself overloaded for a second after refusing a lead, or while its event loop is saturated", () => {
    let t = 0;
    let saturated = false;
    const gate = new AuctionGate(1, () => t, () => saturated);
    expect(gate.tryEnter()).toBe(true);
    expect(gate.overloaded()).toBe(false);
    expect(gate.tryEnter()).toBe(false);
    t = 999;
    expect(gate.overloaded()).toBe(true);
    t = 1000;
    expect(gate.overloaded()).toBe(false);
    saturated = true;
    expect(gate.overloaded()).toBe(true);
    saturated = false;
    gate.refused(); // the server's early 503
    expect(gate.overloaded()).toBe(true);
    gate.leave();
    expect(gate.inFlight).toBe(0);
  });

  it("sees its event loop saturated while it is held, and for a few samples after, then recovers", async () => {
    const loop = new LoopMonitor(20, 3);
    try {
      const settled = async () => {
        for (let i = 0; i < 100 && loop.saturated(); i++) await new Promise((r) => setTimeout(r, 20));
        return !loop.saturated();
      };
      await new Promise((r) => setTimeout(r, 100));
      expect(await settled()).toBe(true);
      const until = performance.now() + 150;
      while (performance.now() < until); // the loop is held: its timer cannot fire
      expect(loop.saturated()).toBe(true);
      await new Promise((r) => setTimeout(r, 5));
      expect(loop.saturated()).toBe(true); // the late sample is still in the window
      expect(await settled()).toBe(true);
    } finally {
      loop.stop();
    }
  });
});
