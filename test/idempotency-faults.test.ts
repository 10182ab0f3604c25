// A lead recorded under an Idempotency-Key keeps that key whatever the database does afterwards: when
// its outcome cannot be written, the supplier hears 503 with the lead's id, every retry answers 409
// or 503 until the outcome is written, then replays it, and no retry ever starts a second auction.
// The database is taken away through a TCP proxy: PostgreSQL only (PGlite runs in this process).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { onPostgres } from "./helpers/db";
import { consumer, pingPost, type TestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";
import { startGavelBehindProxy, type TcpProxy } from "./helpers/tcp-proxy";

describe.skipIf(!onPostgres)("an Idempotency-Key when the database fails after its lead was recorded (PostgreSQL)", () => {
  let proxy: TcpProxy;
  let g: TestGavel;
  let close: () => Promise<void>;
  const buyers: TestBuyer[] = [];

  beforeAll(async () => {
    ({ g, proxy, close } = await startGavelBehindProxy({ GAVEL_ANSWER_GRACE_MS: "500" }, { statementTimeoutMs: 500, queryTimeoutMs: 1000 }));
  });
  afterAll(async () => {
    await close?.();
    await Promise.all(buyers.map((b) => b.close()));
  });

  it("answers 503 with the lead, then 409 or 503 while it is unsettled, then replays the sale; the buyer is posted once", async () => {
    const accept = latch();
    const buyer = await startBuyer({ ping: () => ({ json: { bid: 6 } }), post: () => ({ held: accept.promise.then(() => ({ json: { accepted: true } })) }) });
    buyers.push(buyer);
    const apiKey = await g.setup({ campaign: { id: "keyed", auction: { timeout_ms: 2000 } }, channels: [pingPost("keyed-ch", buyer)] });
    const body = { campaign: "keyed", data: consumer() };
    const headers = { "idempotency-key": "keyed-1" };

    const first = g.lead(apiKey, body, headers);
    await eventually(() => buyer.posts.length === 1, "the post to reach the buyer");
    // The buyer takes the lead just as the database goes silent: the sale cannot be written.
    proxy.silence();
    accept.open();
    const answer = await first;
    expect(answer.status).toBe(503);
    expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
    const leadId = answer.body.lead_id;
    expect(leadId).toBeTruthy();

    // While the database is away, a retry cannot be answered, and starts nothing.
    const during = await g.lead(apiKey, body, headers);
    expect(during.status).toBe(503);

    proxy.cut();
    proxy.heal();
    // Back: the outcome kept in the process is written, and the key replays it.
    const seen: number[] = [];
    let replay: Awaited<ReturnType<TestGavel["lead"]>> | undefined;
    for (let attempt = 0; attempt < 200 && replay?.status !== 200; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 100));
      replay = await g.lead(apiKey, body, headers);
      seen.push(replay.status);
    }
    expect(seen.every((s) => s === 200 || s === 409 || s === 503), seen.join(" ")).toBe(true);
    expect(replay!.status).toBe(200);
    expect(replay!.body).toMatchObject({ lead_id: leadId, status: "sold", price: 6 });
    expect(replay!.headers.get("idempotent-replayed")).toBe("true");
    // One auction: one ping, one post.
    expect(buyer.pings).toHaveLength(1);
    expect(buyer.posts).toHaveLength(1);
    const trace = (await g.admin("GET", `/v1/leads/${leadId}`)).body;
    expect(trace).toMatchObject({ status: "sold", revenue: 6 });
    expect(trace.attempts.map((a: any) => a.kind)).toEqual(["ping", "post"]);
  });
});
