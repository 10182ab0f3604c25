// Pings are pruned by the background sweeper: a day past its expiry (the replay margin) a ping keeps
// only what the pings report reads, and past GAVEL_RETENTION_DAYS it is deleted. The sweep is called
// with the test's clock, moved by hand; the process's own sweep is set an hour apart so it never runs
// in between.
import { describe, expect, it } from "vitest";
import { PING_REPLAY_MARGIN_MS, prunePings } from "../src/db/pings";
import { consumer, pingPost, testClock, useTestGavel } from "./helpers/gavel";

const clock = testClock("2026-06-01T15:00:00Z");
const t = useTestGavel({ GAVEL_SWEEP_MS: "3600000", GAVEL_RETENTION_DAYS: "30" }, { clock });
const DAY = 86_400_000;

const PUBLIC = ["zip", "state", "age", "coverage"];
const publicOf = (lead: Record<string, unknown>) => Object.fromEntries(PUBLIC.map((k) => [k, lead[k]]));

async function call(key: string, path: string, body: unknown) {
  const res = await fetch(t.g.url + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe("pruning pings", () => {
  it("keeps a ping's post and replays for a day past its expiry, then keeps only its report's figures, and deletes it past retention", async () => {
    const buyer = await t.buyer({ ping: () => ({ json: { bid: 10, ping_ref: "r-1" } }) });
    const key = await t.g.setup({ campaign: { id: "pruned", payout: { type: "revshare", percent: 50 }, inbound: { ping_ttl_seconds: 60 } }, channels: [pingPost("pruned-ch", buyer)] });
    const from = new Date(clock.now()).toISOString();
    const posted = consumer();
    const pinged = [await call(key, "/v1/pings", { campaign: "pruned", data: publicOf(posted), source: "s" }), await call(key, "/v1/pings", { campaign: "pruned", data: publicOf(consumer()), source: "s" })];
    expect(pinged.map((p) => p.body.status)).toEqual(["bid", "bid"]);
    const sold = await call(key, "/v1/posts", { ping_id: pinged[0].body.ping_id, data: posted });
    expect(sold.body).toMatchObject({ status: "sold", price: 5 });
    const to = new Date(clock.now() + 1000).toISOString();
    const report = async () => (await t.g.admin("GET", `/v1/reports/pings?from=${from}&to=${to}&campaign=pruned`)).body.rows;
    const figures = [expect.objectContaining({ source: "s", pings: 2, bids: 2, posts: 1, sold: 1, quoted: 10, payout: 5 })];
    expect(await report()).toEqual(figures);

    // Expired, within the margin: nothing is pruned, and a replayed post still reads its answer.
    clock.advance(60_000 + PING_REPLAY_MARGIN_MS - 1000);
    expect(await prunePings(t.g.gavel.database, clock.now(), 30, 100)).toEqual({ pruned: 0, deleted: 0 });
    const replay = await call(key, "/v1/posts", { ping_id: pinged[0].body.ping_id, data: posted });
    expect(replay).toMatchObject({ status: 200, body: { status: "sold", price: 5 } });

    // Past the margin: both are pruned (a batch of one at a time, so the bound is kept), and a post of either is 410.
    clock.advance(2000);
    expect(await prunePings(t.g.gavel.database, clock.now(), 30, 1)).toEqual({ pruned: 1, deleted: 0 });
    expect(await prunePings(t.g.gavel.database, clock.now(), 30, 1)).toEqual({ pruned: 1, deleted: 0 });
    expect(await prunePings(t.g.gavel.database, clock.now(), 30, 1)).toEqual({ pruned: 0, deleted: 0 });
    for (const [i, data] of [[0, posted], [1, consumer()]] as const) {
      const late = await call(key, "/v1/posts", { ping_id: pinged[i].body.ping_id, data });
      expect(late.status).toBe(410);
      expect(late.body.type).toBe("urn:gavel:problem:ping_expired");
    }
    expect(buyer.posts).toHaveLength(1);
    const record = (await t.g.admin("GET", `/v1/pings/${pinged[0].body.ping_id}`)).body;
    expect(record).toMatchObject({ pruned_at: new Date(clock.now()).toISOString(), bids: [], attempts: [], history: [], price: 5, lead_url: `/v1/leads/${pinged[0].body.ping_id}` });
    // The report still counts them, and the sold lead keeps its own trace of the ping phase.
    expect(await report()).toEqual(figures);
    const trace = (await t.g.admin("GET", `/v1/leads/${pinged[0].body.ping_id}`)).body;
    expect(trace.attempts.map((a: { kind: string }) => a.kind).sort()).toEqual(["ping", "post"]);

    // Past the retention (30 days from arrival): deleted.
    clock.advance(30 * DAY);
    expect(await prunePings(t.g.gavel.database, clock.now(), 30, 100)).toEqual({ pruned: 0, deleted: 2 });
    expect(await report()).toEqual([]);
    expect((await t.g.admin("GET", `/v1/pings/${pinged[1].body.ping_id}`)).status).toBe(404);
  });
});
