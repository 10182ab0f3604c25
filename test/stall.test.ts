// When Gavel's own event loop stalls past a request's deadline, an answer that arrived in time is
// still read, and a timeout Gavel caused is no mark against the buyer's health.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuctionGate, LoopMonitor } from "../src/auction/gate";
import { ChannelHealth, settleHealth } from "../src/channels/health";
import { createBuyerTransport, STALL_MS, type BuyerResponse } from "../src/channels/transport";
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
    // The buyer lives in another process, so it answers while this one is stalled. It says on its
    // stdout when it has the request, then answers only when told to, through a file, and says in
    // another file when its answer is in the kernel: files this process reads while its loop is held.
    const dir = mkdtempSync(join(tmpdir(), "gavel-stall-"));
    const flag = (name: string) => join(dir, name);
    const child = spawn(process.execPath, [
      "-e",
      `const fs = require("node:fs"); const dir = ${JSON.stringify(dir)}; let n = 0;
       const s = require("node:http").createServer((q, r) => { q.resume(); q.on("end", () => {
         const i = ++n; if (i === 2) console.log("received");
         const answer = () => r.end('{"bid":3}', () => fs.writeFileSync(dir + "/answered-" + i, ""));
         if (i === 1) return answer();
         const wait = setInterval(() => { if (fs.existsSync(dir + "/go")) { clearInterval(wait); answer(); } }, 2);
       }); });
       s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
    ]);
    try {
      const port = await new Promise<number>((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
      const request = { url: `http://127.0.0.1:${port}/ping`, method: "POST" as const, headers: {}, body: "{}", maxBodyBytes: 1024 };
      // A warm keep-alive connection first.
      expect(await transport.send({ ...request, timeoutMs: 20_000 })).toMatchObject({ kind: "response", status: 200 });
      const timeoutMs = 1500;
      const started = performance.now();
      const received = new Promise((resolve) => child.stdout.once("data", resolve));
      const sent = transport.send({ ...request, timeoutMs });
      // Resumed from an I/O callback, as Gavel's own work is: after the stall the loop's timers
      // phase (the late deadline) comes before it polls the socket that holds the answer.
      await received;
      // The buyer has it before the deadline (after a few ms on a quiet machine).
      expect(performance.now() - started, "the request reached the buyer before the deadline").toBeLessThan(timeoutMs);
      // Hold this process's loop from here: the buyer answers meanwhile, and the deadline timer
      // cannot fire until the answer is in the socket and the deadline is past by far more than
      // STALL_MS. Which comes first is decided here, not by the machine's speed.
      writeFileSync(flag("go"), "");
      let answeredAt: number | undefined;
      while (answeredAt === undefined || performance.now() - started < timeoutMs + 4 * STALL_MS) {
        if (answeredAt === undefined && existsSync(flag("answered-2"))) answeredAt = performance.now() - started;
        if (performance.now() - started > 30_000) throw new Error("the buyer never answered");
      }
      expect(answeredAt).toBeLessThan(timeoutMs); // it arrived before the deadline
      expect(await sent).toMatchObject({ kind: "response", status: 200, body: '{"bid":3}' });
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("marks a timeout whose timer fired late as stalled, and health ignores it", async () => {
    const buyer = await startBuyer({ ping: () => ({ hang: true }) });
    try {
      const sent = transport.send({ url: buyer.pingUrl, method: "POST", headers: {}, body: "{}", timeoutMs: 50, maxBodyBytes: 1024 });
      stall(50 + 4 * STALL_MS); // at once, so the 50 ms timer cannot fire before the stall: it fires late by design
      expect(await sent).toMatchObject({ kind: "timeout", stalled: true });
      // A timer that fires on time is not a stall. Whether it does is up to the machine (a busy one
      // runs timers late), so look until one is on time, and check every one seen on the way.
      let punctual: BuyerResponse | undefined;
      for (let i = 0; i < 20 && !punctual; i++) {
        const timeoutMs = 500;
        const answer = await transport.send({ url: buyer.pingUrl, method: "POST", headers: {}, body: "{}", timeoutMs, maxBodyBytes: 1024 });
        expect(answer).toMatchObject({ kind: "timeout", durationMs: expect.any(Number) });
        if (answer.kind !== "timeout") break;
        // Stalled only when it really was late (its duration also counts one more turn of the loop).
        if (answer.stalled) expect(answer.durationMs).toBeGreaterThan(timeoutMs + STALL_MS - 1);
        else punctual = answer;
      }
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
      // A busy machine may keep the loop's timers late for a while: up to 20 s (a backstop, about
      // 100 samples on a quiet machine) for three punctual samples in a row.
      const settled = async () => {
        const until = performance.now() + 20_000;
        while (loop.saturated() && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
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
