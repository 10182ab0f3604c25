// Every statement Gavel sends to PostgreSQL is bounded, and a pool that lost its server is replaced:
// a killed connection, a silent network or a statement the server cannot finish fails with
// DatabaseUnavailable (never a hang), and the next statement works as soon as the database does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { connectPostgres, DatabaseUnavailable, openDatabase, wroteNothing, type Database } from "../src/db/client";
import { freshDatabase, onPostgres } from "./helpers/db";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

// PGlite runs in this process: there is no connection to lose.
describe.skipIf(!onPostgres)("database bounds (PostgreSQL: connections that die or go silent)", () => {
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let url: string;
  beforeAll(async () => {
    fresh = await freshDatabase();
    url = (fresh.target as { url: string }).url;
  });
  afterAll(async () => {
    await fresh.drop();
  });

  /** Terminates every server process connected to the test database through `name`. */
  async function terminate(name: string) {
    const admin = connectPostgres(url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [name]);
    } finally {
      await admin.end();
    }
  }

  it("settles every statement when its connections are killed mid-query, and the next statements work", async () => {
    const name = `gavel-bounds-${process.pid}`;
    const database = await openDatabase({ url: `${url}?application_name=${name}`, poolSize: 4, bounds: { statementTimeoutMs: 20_000, queryTimeoutMs: 30_000 } });
    try {
      let stop = false;
      let started = 0;
      const outcomes = { ok: 0, wrong: 0, unavailable: 0, other: [] as unknown[] };
      let firstWave!: () => void;
      const wave = new Promise<void>((resolve) => (firstWave = resolve));
      const loop = async () => {
        while (!stop) {
          const i = started++;
          if (started === 32) firstWave();
          try {
            const [row] = await database.query<{ i: number }>("select pg_sleep(0.01), $1::int as i", [i]);
            if (row.i === i) outcomes.ok++;
            else outcomes.wrong++;
          } catch (error) {
            if (error instanceof DatabaseUnavailable) outcomes.unavailable++;
            else outcomes.other.push(error);
          }
        }
      };
      const loops = Array.from({ length: 16 }, loop);
      await wave;
      // Three times in quick succession, as an operator's script or a failover would.
      for (let k = 0; k < 3; k++) await terminate(name);
      const killedAt = outcomes.ok;
      // Every loop goes on: statements after the kill answer (none is stranded on a dead connection).
      while (outcomes.ok < killedAt + 100) await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await Promise.all(loops);
      expect(outcomes.other).toEqual([]);
      expect(outcomes.wrong).toBe(0);
      expect(outcomes.unavailable).toBeGreaterThan(0);
      const [row] = await database.query<{ n: number }>("select 1 as n", []);
      expect(row.n).toBe(1);
    } finally {
      await database.close();
    }
  });

  it("survives a transaction whose connection is killed mid-statement: it fails as unavailable, and the process does not crash", async () => {
    // postgres.js 3.4.9 answers the failed statement by writing its ROLLBACK to the connection it
    // has just nulled, from a setImmediate: an uncaught TypeError that ended the whole process
    // (porsager/postgres#1208). src/db/patches/ guards that write; without it vitest reports the
    // uncaught error and this file fails.
    const name = `gavel-tx-kill-${process.pid}`;
    const database = await openDatabase({ url: `${url}?application_name=${name}`, poolSize: 2, bounds: { statementTimeoutMs: 20_000, queryTimeoutMs: 30_000 } });
    try {
      for (let round = 0; round < 3; round++) {
        let inside!: () => void;
        const sleeping = new Promise<void>((resolve) => (inside = resolve));
        const transaction = database.db.transaction(async (tx) => {
          await tx.execute(sql`select 1`);
          inside();
          await tx.execute(sql`select pg_sleep(10)`);
        });
        const failure = transaction.then(
          () => "committed",
          (error: unknown) => error,
        );
        await sleeping;
        // The sleep is on the server once pg_stat_activity shows it.
        const admin = connectPostgres(url, { max: 1, onnotice: () => {} });
        try {
          for (let seen = 0; seen === 0; ) {
            seen = (await admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and query like '%pg_sleep%'`, [name]))
              .length;
          }
        } finally {
          await admin.end();
        }
        expect(await failure).toBeInstanceOf(DatabaseUnavailable);
        // Give the driver's deferred writes their turn before the next round: the crash came from one.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const [row] = await database.query<{ n: number }>("select 1 as n", []);
      expect(row.n).toBe(1);
    } finally {
      await database.close();
    }
  });

  it("fails a statement whose connection went silent within the client bound, then works once the network heals", async () => {
    const proxy: TcpProxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(url).port || 5432) });
    const database = await openDatabase({ url: proxy.url(url), poolSize: 2, bounds: { statementTimeoutMs: 300, queryTimeoutMs: 500 } });
    try {
      await database.query("select 1", []);
      proxy.silence();
      const failure = await database.query("select 1", []).catch((e) => e);
      expect(failure).toBeInstanceOf(DatabaseUnavailable);
      expect(failure.committed).toBe("unknown");
      // Statements through drizzle are bounded the same way.
      const viaDrizzle = await database.rows(sql`select 1`).catch((e) => e);
      expect(viaDrizzle).toBeInstanceOf(DatabaseUnavailable);
      proxy.cut();
      expect(await database.query("select 1", []).catch((e) => e)).toBeInstanceOf(DatabaseUnavailable);
      proxy.heal();
      // Healed: a fresh pool connects (a statement or two may still meet the old one's last failure).
      let answer: unknown;
      for (let attempt = 0; attempt < 50 && answer === undefined; attempt++) {
        answer = await database.query<{ n: number }>("select 2 as n", []).then(
          (rows) => rows[0].n,
          () => new Promise((r) => setTimeout(r, 100)).then(() => undefined),
        );
      }
      expect(answer).toBe(2);
      expect(((await database.rows<{ n: number }>(sql`select 3 as n`))[0] as { n: number }).n).toBe(3);
    } finally {
      await database.close();
      await proxy.close();
    }
  });

  it("cuts off a statement the server cannot finish: it certainly wrote nothing", async () => {
    const database: Database = await openDatabase({ url, poolSize: 1, bounds: { statementTimeoutMs: 200, queryTimeoutMs: 5000 } });
    try {
      const failure = await database.query("select pg_sleep(5)", []).catch((e) => e);
      expect(failure).toBeInstanceOf(DatabaseUnavailable);
      expect(failure.committed).toBe(false);
      expect(wroteNothing(failure)).toBe(true);
      // A statement the server refused for its content is not the database's absence.
      const refused = await database.query("select 1/0", []).catch((e) => e);
      expect(refused).not.toBeInstanceOf(DatabaseUnavailable);
      expect(wroteNothing(refused)).toBe(true);
    } finally {
      await database.close();
    }
  });
});
