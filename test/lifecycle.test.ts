import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDatabase, openDatabase } from "../src/db/client";
import { settleInterruptedLeads } from "../src/db/leads";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { freshDatabase } from "./helpers/db";
import { consumer, pingPost, startTestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";

/**
 * Each test starts a Gavel, migrates a database and waits on real shutdown: 3–4 s on a quiet
 * machine, 16 s with the load average at 15; the bound is well past that.
 */
const LIFECYCLE_TEST_MS = 120_000;

describe("process lifecycle", () => {
  const buyers: TestBuyer[] = [];
  afterAll(async () => {
    await Promise.all(buyers.map((b) => b.close()));
  });

  it("lets running auctions finish on shutdown, then stops accepting", async () => {
    const g = await startTestGavel();
    // The bid waits until shutdown has begun, so the auction is surely running across it.
    const shuttingDown = latch();
    const slow = await startBuyer({ ping: () => ({ held: shuttingDown.promise.then(() => ({ json: { bid: 9 } })) }) });
    buyers.push(slow);
    const key = await g.setup({ campaign: { id: "drain", auction: { timeout_ms: 20_000, ping_timeout_ms: 15_000 } }, channels: [pingPost("slow", slow)] });
    const inFlight = g.lead(key, { campaign: "drain", data: consumer() });
    await eventually(() => slow.pings.length === 1, "the auction's ping");
    const closing = g.gavel.close();
    // It stops accepting at once, and keeps the running auction past the 1 s it gives answers being
    // written (up to GAVEL_DRAIN_SECONDS, 15 s, for running auctions): a longer wait here on a busy
    // machine cannot fail the test, only a shutdown that does not wait for the auction can.
    await expect(fetch(`${g.url}/healthz`)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 1500));
    shuttingDown.open();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe("sold");
    await closing;
    await expect(fetch(`${g.url}/healthz`)).rejects.toThrow();
    await g.close();
  }, LIFECYCLE_TEST_MS);

  it("settles leads a dead process left mid-auction as error (post outcome unknown), replays that to their idempotency key, and frees keys that never got a lead", async () => {
    const db = await freshDatabase();
    const database = await openDatabase(db.target);
    try {
      await migrateDatabase(db.target, database);
      const rows = (q: ReturnType<typeof sql>) => database.rows<any>(q);
      await rows(sql`insert into campaigns (id, status, config) values ('c', 'active', '{}')`);
      await rows(sql`insert into suppliers (id, status, config) values ('s', 'active', '{}')`);
      await rows(sql`insert into leads (id, campaign_id, supplier_id, status, data, received_at, deadline_at)
                     values ('old', 'c', 's', 'auctioning', '{}', now() - interval '10 minutes', now() - interval '10 minutes'),
                            ('fresh', 'c', 's', 'auctioning', '{}', now(), now() + interval '2 seconds')`);
      await rows(sql`insert into idempotency_keys (supplier_id, key, request_hash, lead_id, state, created_at) values
                     ('s', 'k', 'h', 'old', 'running', now() - interval '10 minutes'),
                     ('s', 'orphan', 'h', null, 'running', now() - interval '10 minutes'),
                     ('s', 'young', 'h', null, 'running', now())`);
      expect(await settleInterruptedLeads(database, new Date(Date.now() - 60_000), 60_000)).toEqual({ leads: 1, keys: 1 });
      const leads = await rows(sql`select id, status, reason from leads order by id`);
      expect(leads).toEqual([
        { id: "fresh", status: "auctioning", reason: null },
        { id: "old", status: "error", reason: "post_outcome_unknown" },
      ]);
      const history = await rows(sql`select status, reason from lead_events where lead_id = 'old'`);
      expect(history).toEqual([{ status: "error", reason: "interrupted" }]);
      const keys = await rows(sql`select key, state, response from idempotency_keys order by key`);
      expect(keys.map((k: any) => [k.key, k.state])).toEqual([["k", "done"], ["young", "running"]]);
      expect(keys[0].response).toMatchObject({ lead_id: "old", status: "error" });
      // A second sweep, as another process would run it, finds nothing left to settle.
      expect(await settleInterruptedLeads(database, new Date(Date.now() - 60_000), 60_000)).toEqual({ leads: 0, keys: 0 });
    } finally {
      await database.close();
      await db.drop();
    }
  }, LIFECYCLE_TEST_MS);
});
