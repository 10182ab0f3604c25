// Real faults against real Gavel processes on one PostgreSQL database: a process killed with
// SIGKILL while posts are out, its database connections killed, its database unreachable. Whatever
// fails, a lead is never sold twice, every answer agrees with the record, and Gavel recovers alone.
// Several processes and a database to take away: PostgreSQL only (PGlite is one process's).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres, migrateDatabase } from "../src/db/client";
import type { TestBuyer } from "./helpers/buyers";
import { freshDatabase, onPostgres } from "./helpers/db";
import { eventually } from "./helpers/latch";
import {
  acceptingBuyers,
  configure,
  expectNoSecondSale,
  leadRequests,
  retryUntilSettled,
  send,
  terminateBackends,
  untilNoneAuctioning,
  type SupplierRequest,
} from "./helpers/faults";
import { startChildGavel, type ChildGavel } from "./helpers/process";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

/**
 * Short bounds so the test settles in seconds: a statement is cut off after 1 s on the server and
 * 2 s here, an interrupted lead is settled 3 s after its deadline, and the sweep runs twice a second.
 */
const FAST_SETTLING = {
  GAVEL_DB_STATEMENT_TIMEOUT_MS: "1000",
  GAVEL_DB_TIMEOUT_MS: "2000",
  GAVEL_SETTLE_AFTER_MS: "3000",
  GAVEL_SWEEP_MS: "500",
};

/** Resolves once the buyers together have received `count` posts. */
const postsReceived = (buyers: TestBuyer[], count: number) =>
  eventually(() => buyers.reduce((n, b) => n + b.posts.length, 0) >= count, `${count} posts to reach the buyers`, 60_000);

/**
 * Polls a server until `probe` holds: a latch on the outside world, not a sleep. Gives up with the
 * end of the process's log, which says what it saw of the database.
 */
const until = (gavel: ChildGavel, what: string, probe: () => Promise<boolean>) =>
  eventually(probe, what, 60_000, 100).catch((error: Error) => {
    throw new Error(`${error.message}\n--- the end of its log ---\n${gavel.output().split("\n").slice(-60).join("\n")}`);
  });

/** Each scenario takes 10–20 s on a quiet machine; its waits are bounded well inside this. */
const FAULT_TEST_MS = 300_000;

const readyz = async (url: string) => (await fetch(`${url}/readyz`).catch(() => null))?.status ?? 0;

describe.skipIf(!onPostgres)("faults (PostgreSQL: several processes on one database)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let url: string;
  const children: ChildGavel[] = [];
  const buyers: TestBuyer[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    url = (db.target as { url: string }).url;
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill("SIGKILL")));
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(buyers.map((b) => b.close()));
    await db?.drop();
  });

  async function child(databaseUrl = url, env: Record<string, string> = {}) {
    const started = await startChildGavel(databaseUrl, { ...FAST_SETTLING, ...env });
    children.push(started);
    return started;
  }
  async function someBuyers(count: number) {
    const started = await acceptingBuyers(count);
    buyers.push(...started);
    return started;
  }

  it("two processes sweeping at once settle each interrupted lead exactly once", async () => {
    await migrateDatabase({ url });
    const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
    try {
      // 300 leads a dead process left in auction ten minutes ago, each under an Idempotency-Key.
      await sql.unsafe(`insert into campaigns (id, status, config) values ('swept', 'active', '{}') on conflict do nothing`);
      await sql.unsafe(`insert into suppliers (id, status, config) values ('swept-sup', 'active', '{}') on conflict do nothing`);
      await sql.unsafe(`insert into leads (id, campaign_id, supplier_id, status, data, received_at, deadline_at)
        select 'swept-' || g, 'swept', 'swept-sup', 'auctioning', '{}', now() - interval '10 minutes', now() - interval '10 minutes'
        from generate_series(1, 300) g`);
      await sql.unsafe(`insert into idempotency_keys (supplier_id, key, request_hash, lead_id, state)
        select 'swept-sup', 'swept-key-' || g, 'h', 'swept-' || g, 'running' from generate_series(1, 300) g`);
      // Both start (and sweep) at once, then sweep every 100 ms.
      await Promise.all([child(url, { GAVEL_SWEEP_MS: "100" }), child(url, { GAVEL_SWEEP_MS: "100" })]);
      await untilNoneAuctioning(url);
      const events = await sql.unsafe<{ n: number; leads: number }[]>(
        `select count(*)::int as n, count(distinct lead_id)::int as leads from lead_events where lead_id like 'swept-%' and status = 'error'`,
      );
      expect(events[0]).toEqual({ n: 300, leads: 300 });
      const keys = await sql.unsafe<{ state: string; n: number }[]>(
        `select state, count(*)::int as n from idempotency_keys where supplier_id = 'swept-sup' group by state`,
      );
      expect(keys).toEqual([{ state: "done", n: 300 }]);
      const settled = await sql.unsafe<{ reason: string; n: number }[]>(
        `select reason, count(*)::int as n from leads where id like 'swept-%' group by reason`,
      );
      expect(settled).toEqual([{ reason: "post_outcome_unknown", n: 300 }]);
    } finally {
      await sql.end();
      await Promise.all(children.splice(0).map((c) => c.stop()));
    }
  }, FAULT_TEST_MS);

  it("SIGKILL while posts are out: a new process settles the interrupted leads once, and retries never sell a consumer twice", async () => {
    const first = await child();
    const theBuyers = await someBuyers(3);
    const apiKey = await configure(first.url, "fault-kill", theBuyers);
    const requests = leadRequests("kill", "fault-kill", 40);
    const sending = Promise.all(requests.map((r) => send(first.url, apiKey, r)));
    // Killed while posts are out: some buyers have accepted, and no answer has reached them yet.
    await postsReceived(theBuyers, 10);
    await first.kill("SIGKILL");
    await sending;
    expect(requests.some((r) => r.answers[0].status === 0)).toBe(true);

    const second = await child();
    await retryUntilSettled(second.url, apiKey, requests);
    await untilNoneAuctioning(url);
    const { unknown } = await expectNoSecondSale(url, requests, theBuyers);
    // The posts that were out when the process died are unknown: a buyer may have taken them.
    expect(unknown).toBeGreaterThan(0);
    // The new process sells as usual.
    const [fresh] = leadRequests("kill-after", "fault-kill", 1);
    expect((await send(second.url, apiKey, fresh)).body).toMatchObject({ status: "sold" });
  }, FAULT_TEST_MS);

  it("database connections killed while posts are out: 503 with Retry-After, never 500, no second sale, and Gavel recovers alone", async () => {
    const gavel = await child();
    const theBuyers = await someBuyers(3);
    const apiKey = await configure(gavel.url, "fault-terminate", theBuyers);
    const requests = leadRequests("terminate", "fault-terminate", 40);
    const sending = Promise.all(requests.map((r) => send(gavel.url, apiKey, r)));
    await postsReceived(theBuyers, 10);
    // Three times in 20 ms or so, as a failover or an operator's script would.
    for (let k = 0; k < 3; k++) await terminateBackends(url);
    await sending;
    // Every lead is answered by its deadline plus the grace (2 s + 1 s); the bound asserted is 5x that.
    expect(Math.max(...requests.map((r) => r.answers[0].ms))).toBeLessThan(15_000);

    // Recovered alone: ready, and a new lead sells, within seconds.
    await until(gavel, "ready again", async () => (await readyz(gavel.url)) === 200);
    const [probe] = leadRequests("terminate-after", "fault-terminate", 1);
    await until(gavel, "a new lead sells", async () => (await send(gavel.url, apiKey, probe)).body?.status === "sold");

    await retryUntilSettled(gavel.url, apiKey, requests);
    await untilNoneAuctioning(url);
    await expectNoSecondSale(url, requests, theBuyers);
  }, FAULT_TEST_MS);

  it("database unreachable for a few seconds (silent, then refused): /readyz says so, leads get 503 by their deadline, and Gavel recovers alone", async () => {
    const pg = new URL(url);
    const proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    proxies.push(proxy);
    const gavel = await child(proxy.url(url));
    const theBuyers = await someBuyers(3);
    const apiKey = await configure(gavel.url, "fault-outage", theBuyers);
    // One lead first, so the process has its configuration and usage in hand as in production.
    const [warm] = leadRequests("outage-warm", "fault-outage", 1);
    expect((await send(gavel.url, apiKey, warm)).body).toMatchObject({ status: "sold" });

    const requests = leadRequests("outage", "fault-outage", 40);
    const sending = Promise.all(requests.map((r) => send(gavel.url, apiKey, r)));
    await postsReceived(theBuyers, 11);
    proxy.silence();
    await until(gavel, "/readyz reports the outage", async () => (await readyz(gavel.url)) === 503);
    // A lead sent during the outage is answered 503 + Retry-After by its deadline plus the grace
    // (2 s + 1 s), not left hanging; the bound asserted is five times that.
    const [during]: SupplierRequest[] = leadRequests("outage-during", "fault-outage", 1);
    const started = performance.now();
    const answer = await send(gavel.url, apiKey, during);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(answer.status).toBe(503);
    expect(answer.contentType).toMatch(/^application\/problem\+json/);
    expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    await sending;
    expect(Math.max(...requests.map((r) => r.answers[0].ms))).toBeLessThan(15_000);
    proxy.cut();
    await until(gavel, "/readyz still reports the outage once connections are refused", async () => (await readyz(gavel.url)) === 503);
    proxy.heal();

    await until(gavel, "ready again", async () => (await readyz(gavel.url)) === 200);
    const [probe] = leadRequests("outage-after", "fault-outage", 1);
    await until(gavel, "a new lead sells", async () => (await send(gavel.url, apiKey, probe)).body?.status === "sold");

    requests.push(during);
    await retryUntilSettled(gavel.url, apiKey, requests);
    await untilNoneAuctioning(url);
    await expectNoSecondSale(url, requests, theBuyers);
  }, FAULT_TEST_MS);
});
