// Admission control: a bound on auctions running at once in one process. Past it a lead is answered
// 503 + Retry-After at once, before any ping and without recording a lead.
import { describe, expect, it } from "vitest";
import { AuctionGate } from "../src/auction/gate";
import { defaultDbPool, defaultMaxAuctions, loadConfig } from "../src/config";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

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
    const slow = await t.buyer({ ping: () => ({ json: { bid: 5 }, delayMs: 300 }) });
    const key = await t.g.setup({ campaign: { id: "admission" }, channels: [pingPost("admission-slow", slow)], supplier: { id: "admission-sup" } });
    const running = [t.g.lead(key, { campaign: "admission", data: consumer() }), t.g.lead(key, { campaign: "admission", data: consumer() })];
    // Both admitted auctions are waiting on the buyer's ping now.
    for (let i = 0; i < 100 && slow.pings.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(slow.pings).toHaveLength(2);
    const refused = await t.g.lead(key, { campaign: "admission", data: consumer() });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body).toMatchObject({ type: "urn:gavel:problem:overloaded", status: 503 });
    expect(refused.ms).toBeLessThan(250);
    // Shed before the request is read at all: not even the key is looked at.
    const unread = await fetch(`${t.g.url}/v1/leads`, { method: "POST", headers: { authorization: "Bearer nope" }, body: "{not json" });
    expect(unread.status).toBe(503);
    expect(unread.headers.get("content-type")).toBe("application/problem+json");
    expect(slow.pings).toHaveLength(2);
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

  const t = useTestGavel({ GAVEL_MAX_AUCTIONS: "1", GAVEL_ADMISSION_WAIT_MS: "2000" });

  it("lets a lead wait for a slot, and counts the wait against its deadline", async () => {
    const slow = await t.buyer({ ping: () => ({ json: { bid: 5 }, delayMs: 500 }) });
    const key = await t.g.setup({
      campaign: { id: "queued", auction: { timeout_ms: 1000, ping_timeout_ms: 800, post_reserve_ms: 100 } },
      channels: [pingPost("queued-slow", slow)],
      supplier: { id: "queued-sup" },
    });
    const first = t.g.lead(key, { campaign: "queued", data: consumer() });
    for (let i = 0; i < 100 && slow.pings.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    const second = await t.g.lead(key, { campaign: "queued", data: consumer() });
    expect((await first).body.status).toBe("sold");
    // It waited ~500 ms for the slot, so its pings had to end ~400 ms later (900 ms after it
    // arrived), before the buyer's 500 ms answer: unsold, within its deadline. Had the deadline
    // started after the wait, the ping would have had 800 ms and the lead would have sold late.
    expect(second.status).toBe(200);
    expect(second.body.status).toBe("unsold");
    expect(second.ms).toBeGreaterThan(400);
    expect(second.ms).toBeLessThan(1000 + 250); // client-side clock: HTTP and the final write on top
    const trace = (await t.g.admin("GET", second.body.trace_url)).body;
    const ping = trace.attempts.find((a: any) => a.kind === "ping");
    expect(ping).toMatchObject({ outcome: "timeout" });
    expect(ping.duration_ms).toBeLessThan(500);
  });

  it("drops a waiting lead whose client went away: it is never recorded, and the slot goes to the next lead", async () => {
    const slow = await t.buyer({ ping: () => ({ json: { bid: 5 }, delayMs: 400 }) });
    const key = await t.g.setup({
      campaign: { id: "withdrawn", auction: { timeout_ms: 2000, ping_timeout_ms: 1000 } },
      channels: [pingPost("withdrawn-slow", slow)],
      supplier: { id: "withdrawn-sup" },
    });
    const first = t.g.lead(key, { campaign: "withdrawn", data: consumer() });
    for (let i = 0; i < 100 && slow.pings.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    const gone = new AbortController();
    const abandoned = fetch(`${t.g.url}/v1/leads`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ campaign: "withdrawn", data: consumer() }),
      signal: gone.signal,
    }).catch((error: Error) => error.name);
    await new Promise((r) => setTimeout(r, 100)); // it is waiting for the slot now
    gone.abort();
    expect(await abandoned).toBe("AbortError");
    const third = t.g.lead(key, { campaign: "withdrawn", data: consumer() });
    expect((await first).body.status).toBe("sold");
    expect((await third).body.status).toBe("sold");
    expect(slow.pings).toHaveLength(2);
    expect((await t.g.admin("GET", "/v1/leads?supplier=withdrawn-sup")).body.items).toHaveLength(2);
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
