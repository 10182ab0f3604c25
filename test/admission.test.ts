// Admission control: a bound on auctions running at once in one process. Past it a lead is answered
// 503 + Retry-After at once, before any ping and without recording a lead.
import { describe, expect, it } from "vitest";
import { AuctionGate } from "../src/auction/gate";
import { defaultDbPool, defaultMaxAuctions, loadConfig } from "../src/config";
import { consumer, leadArrivals, pingPost, useTestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";

describe("admission control", () => {
  it("defaults to 32 auctions per core", () => {
    expect(defaultMaxAuctions(2)).toBe(64);
    expect(defaultMaxAuctions(0)).toBe(32);
    expect(loadConfig({}).GAVEL_MAX_AUCTIONS).toBe(defaultMaxAuctions());
    expect(loadConfig({ GAVEL_MAX_AUCTIONS: "5" }).GAVEL_MAX_AUCTIONS).toBe(5);
    expect(defaultDbPool(1)).toBe(4);
    expect(defaultDbPool(8)).toBe(16);
    expect(loadConfig({}).GAVEL_DB_POOL).toBe(defaultDbPool());
  });

  const t = useTestGavel({ GAVEL_MAX_AUCTIONS: "2", GAVEL_ADMISSION_WAIT_MS: "0" });

  it("answers leads past the bound 503 + Retry-After before any ping, records none, and admits again after", async () => {
    // The buyer holds its bids until the test has seen the refusals: both slots stay taken till then.
    const release = latch();
    const slow = await t.buyer({ ping: () => ({ held: release.promise.then(() => ({ json: { bid: 5 } })) }) });
    const key = await t.g.setup({
      campaign: { id: "admission", auction: { timeout_ms: 20_000, ping_timeout_ms: 15_000 } },
      channels: [pingPost("admission-slow", slow)],
      supplier: { id: "admission-sup" },
    });
    let ended = 0;
    const running = [t.g.lead(key, { campaign: "admission", data: consumer() }), t.g.lead(key, { campaign: "admission", data: consumer() })];
    for (const r of running) void r.then(() => ended++);
    // Both admitted auctions are waiting on the buyer's ping now.
    await eventually(() => slow.pings.length === 2, "both admitted auctions to ping the buyer");
    const refused = await t.g.lead(key, { campaign: "admission", data: consumer() });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body).toMatchObject({ type: "urn:gavel:problem:overloaded", status: 503 });
    // At once: both admitted auctions are still waiting on the buyer.
    expect(ended).toBe(0);
    // Shed before the request is read at all: not even the key is looked at.
    const unread = await fetch(`${t.g.url}/v1/leads`, { method: "POST", headers: { authorization: "Bearer nope" }, body: "{not json" });
    expect(unread.status).toBe(503);
    expect(unread.headers.get("content-type")).toBe("application/problem+json");
    expect(slow.pings).toHaveLength(2);
    expect(ended).toBe(0);
    release.open();
    expect((await Promise.all(running)).map((a) => a.body.status)).toEqual(["sold", "sold"]);
    expect((await t.g.admin("GET", "/v1/leads?supplier=admission-sup")).body.items).toHaveLength(2);
    expect((await t.g.lead(key, { campaign: "admission", data: consumer() })).body.status).toBe("sold");
  });
});

describe("admission queue", () => {
  it("hands slots to waiting leads first come, first served, refuses past the wait or the queue bound, and drops a lead whose client left", async () => {
    let t = 0;
    const gate = new AuctionGate(1, () => t, undefined, 2);
    expect(gate.enter(50)).toBe(true);
    const order: string[] = [];
    const first = (gate.enter(1000) as Promise<boolean>).then((ok) => order.push(`first:${ok}`));
    let withdraw = () => {};
    const leaving = (gate.enter(1000, (w) => (withdraw = w)) as Promise<boolean>).then((ok) => order.push(`leaving:${ok}`));
    expect(gate.queued).toBe(2);
    expect(gate.enter(1000)).toBe(false); // the queue is full
    expect(gate.overloaded()).toBe(true);
    withdraw();
    await leaving;
    const third = (gate.enter(1000) as Promise<boolean>).then((ok) => order.push(`third:${ok}`));
    gate.leave(); // hands the slot to the oldest waiter, not to a newcomer
    await first;
    expect(gate.enter(0)).toBe(false);
    gate.leave();
    await third;
    expect(order).toEqual(["leaving:false", "first:true", "third:true"]);
    expect(gate.inFlight).toBe(1);
    const late = await gate.enter(20); // nobody leaves: refused when its wait is over
    expect(late).toBe(false);
    gate.leave();
    expect(gate.inFlight).toBe(0);
    t = 5000;
    expect(gate.overloaded()).toBe(false);
  });

  // Waiting leads may wait up to 10 s here (the most allowed): far more than the tests below keep them waiting.
  const t = useTestGavel({ GAVEL_MAX_AUCTIONS: "1", GAVEL_ADMISSION_WAIT_MS: "10000" });

  it("lets a lead wait for a slot, and counts the wait against its deadline", async () => {
    // The first lead (its own campaign, with deadlines far off) holds the one slot until the test
    // releases its bid. The second waits meanwhile; the buyer never answers its ping.
    const release = latch();
    const slow = await t.buyer({
      ping: (r) => (r.body.campaign === "queued-holder" ? { held: release.promise.then(() => ({ json: { bid: 5 } })) } : { hang: true }),
    });
    const holderKey = await t.g.setup({
      campaign: { id: "queued-holder", auction: { timeout_ms: 30_000, ping_timeout_ms: 25_000 } },
      channels: [pingPost("queued-holder-slow", slow)],
      supplier: { id: "queued-holder-sup" },
    });
    const key = await t.g.setup({
      campaign: { id: "queued", auction: { timeout_ms: 4000, ping_timeout_ms: 3500, post_reserve_ms: 100 } },
      channels: [pingPost("queued-slow", { pingUrl: `${slow.url}/ping/queued`, postUrl: slow.postUrl })],
      supplier: { id: "queued-sup" },
    });
    const first = t.g.lead(holderKey, { campaign: "queued-holder", data: consumer() });
    await eventually(() => slow.pings.length === 1, "the first lead's ping");
    const arrivals = leadArrivals(t.g.gavel);
    let second: ReturnType<typeof t.g.lead>;
    try {
      second = t.g.lead(key, { campaign: "queued", data: consumer() });
      await eventually(() => arrivals.list.length === 1, "the second lead to reach Gavel");
    } finally {
      arrivals.stop();
    }
    // It waits for the slot 2 s (longer on a busy machine), half its 4 s deadline.
    const waitMs = 2000;
    await new Promise((r) => setTimeout(r, waitMs));
    expect(slow.pings).toHaveLength(1); // it did wait: not pinged yet
    release.open();
    expect((await first).body.status).toBe("sold");
    // Its pings then had what was left of its deadline (under 1.9 s), cut before its own 3.5 s ping
    // timeout. Had its deadline started after the wait, the ping would have had the whole 3.5 s.
    const answer = await second;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe("unsold");
    expect(answer.ms).toBeGreaterThanOrEqual(waitMs);
    const trace = (await t.g.admin("GET", answer.body.trace_url)).body;
    const ping = trace.attempts.find((a: any) => a.kind === "ping");
    expect(ping).toMatchObject({ outcome: "timeout" });
    expect(ping.duration_ms).toBeLessThan(3500);
  });

  it("drops a waiting lead whose client went away: it is never recorded, and the slot goes to the next lead", async () => {
    const release = latch();
    const slow = await t.buyer({ ping: () => ({ held: release.promise.then(() => ({ json: { bid: 5 } })) }) });
    const key = await t.g.setup({
      campaign: { id: "withdrawn", auction: { timeout_ms: 20_000, ping_timeout_ms: 15_000 } },
      channels: [pingPost("withdrawn-slow", slow)],
      supplier: { id: "withdrawn-sup" },
    });
    const arrivals = leadArrivals(t.g.gavel);
    try {
      const first = t.g.lead(key, { campaign: "withdrawn", data: consumer() });
      await eventually(() => slow.pings.length === 1, "the first lead's ping");
      const gone = new AbortController();
      const abandoned = fetch(`${t.g.url}/v1/leads`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ campaign: "withdrawn", data: consumer() }),
        signal: gone.signal,
      }).catch((error: Error) => error.name);
      await eventually(() => arrivals.list.length === 2, "the second lead to reach Gavel"); // it is waiting for the slot now
      gone.abort();
      expect(await abandoned).toBe("AbortError");
      await arrivals.list[1].closed; // Gavel saw its client go
      const third = t.g.lead(key, { campaign: "withdrawn", data: consumer() });
      await eventually(() => arrivals.list.length === 3, "the third lead to reach Gavel");
      release.open();
      expect((await first).body.status).toBe("sold");
      expect((await third).body.status).toBe("sold");
      expect(slow.pings).toHaveLength(2);
      expect((await t.g.admin("GET", "/v1/leads?supplier=withdrawn-sup")).body.items).toHaveLength(2);
    } finally {
      arrivals.stop();
    }
  });
});

describe("the real event-loop monitor", () => {
  const t = useTestGavel({}, { realLoopMonitor: true });

  it("runs a Gavel that judges its own loop: a lead sells and the process closes cleanly", async () => {
    const buyer = await t.buyer({ ping: () => ({ json: { bid: 3 } }) });
    const key = await t.g.setup({ campaign: { id: "monitored" }, channels: [pingPost("monitored-ch", buyer)], supplier: { id: "monitored-sup" } });
    expect((await t.g.lead(key, { campaign: "monitored", data: consumer() })).body.status).toBe("sold");
  });
});
