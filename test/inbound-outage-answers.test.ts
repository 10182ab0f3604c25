// Pings and posts are answered as leads are: by the campaign's deadline plus GAVEL_ANSWER_GRACE_MS
// at the latest, whatever the database does — past it 503 with Retry-After, the work settling in the
// background (a post's later twin reads its outcome; the buyer is posted once). The database is taken
// away through a TCP proxy, with statement bounds far above the deadline, so only that rule can answer
// in time: PostgreSQL only (PGlite runs in this process).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { onPostgres } from "./helpers/db";
import { consumer, pingPost, type TestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";
import { startGavelBehindProxy, type TcpProxy } from "./helpers/tcp-proxy";

const PUBLIC = ["zip", "state", "age", "coverage"];
const publicOf = (lead: Record<string, unknown>) => Object.fromEntries(PUBLIC.map((k) => [k, lead[k]]));

describe.skipIf(!onPostgres)("pings and posts during a database outage (PostgreSQL)", () => {
  let proxy: TcpProxy;
  let g: TestGavel;
  let close: () => Promise<void>;
  const buyers: TestBuyer[] = [];

  beforeAll(async () => {
    ({ g, proxy, close } = await startGavelBehindProxy({ GAVEL_ANSWER_GRACE_MS: "500" }, { statementTimeoutMs: 60_000, queryTimeoutMs: 120_000 }));
  });
  afterAll(async () => {
    await close?.();
    await Promise.all(buyers.map((b) => b.close()));
  });

  async function call(key: string, path: string, body: unknown, headers: Record<string, string> = {}) {
    const started = performance.now();
    const res = await fetch(g.url + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers, ms: performance.now() - started };
  }

  it("answers a ping 503 with Retry-After by its deadline plus the grace when its quote cannot be recorded", async () => {
    const bid = latch();
    const buyer = await startBuyer({ ping: () => ({ held: bid.promise.then(() => ({ json: { bid: 9 } })) }) });
    buyers.push(buyer);
    const key = await g.setup({ campaign: { id: "ping-outage", auction: { timeout_ms: 1000 } }, channels: [pingPost("ping-outage-ch", buyer)] });
    const lead = consumer();
    const ping = call(key, "/v1/pings", { campaign: "ping-outage", data: publicOf(lead) }, { "idempotency-key": "ping-outage-1" });
    await eventually(() => buyer.pings.length === 1, "the ping to reach the buyer");
    // The buyer bids just as the database goes silent: the quote cannot be written.
    proxy.silence();
    bid.open();
    const answer = await ping;
    expect(answer.status).toBe(503);
    expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
    // Deadline 1 s plus grace 0.5 s; five times that, forty times below the statement bound.
    expect(answer.ms).toBeLessThan(7_500);
    proxy.cut();
    proxy.heal();
    // Back: a ping is quoted again.
    const again = await call(key, "/v1/pings", { campaign: "ping-outage", data: publicOf(consumer()) });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "bid", price: 9 });
  });

  it("answers a post 503 with its lead by the deadline plus the grace, settles the sale behind it, and the next post reads it; the buyer is posted once", async () => {
    const accept = latch();
    const buyer = await startBuyer({ ping: () => ({ json: { bid: 6 } }), post: () => ({ held: accept.promise.then(() => ({ json: { accepted: true } })) }) });
    buyers.push(buyer);
    const key = await g.setup({ campaign: { id: "post-outage", auction: { timeout_ms: 1000 } }, channels: [pingPost("post-outage-ch", buyer)] });
    const lead = consumer();
    const ping = await call(key, "/v1/pings", { campaign: "post-outage", data: publicOf(lead) });
    expect(ping.body).toMatchObject({ status: "bid", price: 6 });
    const post = call(key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    await eventually(() => buyer.posts.length === 1, "the post to reach the buyer");
    proxy.silence();
    accept.open();
    const answer = await post;
    expect(answer.status).toBe(503);
    expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(answer.body.lead_id).toBe(ping.body.ping_id);
    expect(answer.ms).toBeLessThan(7_500);

    // A post of a ping whose row the database cannot read is answered by the grace too (five times it).
    const reading = await call(key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(reading.status).toBe(503);
    expect(reading.ms).toBeLessThan(2_500);

    proxy.cut();
    proxy.heal();
    const seen: number[] = [];
    let replay: Awaited<ReturnType<typeof call>> | undefined;
    for (let attempt = 0; attempt < 200 && replay?.status !== 200; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 100));
      replay = await call(key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
      seen.push(replay.status);
    }
    expect(seen.every((s) => s === 200 || s === 409 || s === 503), seen.join(" ")).toBe(true);
    expect(replay!.status).toBe(200);
    expect(replay!.body).toMatchObject({ lead_id: ping.body.ping_id, status: "sold", price: 6 });
    expect(buyer.pings).toHaveLength(1);
    expect(buyer.posts).toHaveLength(1);
  });
});
