// Retention of raw attempts: `attempts` is partitioned by UTC day of `started_at`, the partitions
// of the days ahead are made before any ping needs them, and days past GAVEL_RETENTION_DAYS are
// dropped whole, never deleted row by row. Runs on PGlite and, with DATABASE_URL, on PostgreSQL.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, eq, sql, type SQL } from "drizzle-orm";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres, migrateDatabase, migrationsFolder, openDatabase, type Database, type DatabaseTarget } from "../src/db/client";
import { sqlState } from "../src/db/caps";
import { finishLeads, type AttemptRow, type LeadOutcome } from "../src/db/leads";
import { keepAttemptPartitions, listPartitions, partitionName, PARTITION_DAYS_AHEAD } from "../src/db/partitions";
import { attempts } from "../src/db/schema";
import { leadAttempts } from "../src/db/trace";
import { freshDatabase, onPostgres } from "./helpers/db";
import { consumer, pingPost, startTestGavel, testClock } from "./helpers/gavel";
import { startBuyer } from "./helpers/buyers";
import { eventually } from "./helpers/latch";

const DAY = 86_400_000;
const NOW = Date.parse("2031-06-10T12:00:00Z");
const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);
/** The names of the partitions of `count` days from `first` on. */
const days = (first: number, count: number) => Array.from({ length: count }, (_, i) => partitionName(first + i * DAY));

interface Fresh {
  target: DatabaseTarget;
  database: Database;
  close(): Promise<void>;
}

async function migrated(): Promise<Fresh> {
  const fresh = await freshDatabase();
  const database = await openDatabase(fresh.target);
  await migrateDatabase(fresh.target, database);
  return {
    target: fresh.target,
    database,
    async close() {
      await database.close();
      await fresh.drop();
    },
  };
}

const rows = <T = any>(database: Database, query: SQL) => database.rows<T>(query);

/** Where each attempt is, by id: its partition and its started_at. */
const placed = (database: Database) =>
  rows<{ id: number; part: string; ms: number }>(
    database,
    sql`select id::int as id, tableoid::regclass::text as part, (extract(epoch from started_at) * 1000)::float8 as ms from attempts order by id`,
  );

async function seedResources(database: Database) {
  await rows(database, sql`insert into campaigns (id, status, config) values ('c', 'active', '{}')`);
  await rows(database, sql`insert into suppliers (id, status, config) values ('s', 'active', '{}')`);
}

/** A lead in auction, finished by the group commit's statement with one ping per instant given. */
async function leadWithAttempts(database: Database, id: string, at: readonly number[]) {
  await rows(
    database,
    sql`insert into leads (id, campaign_id, supplier_id, status, data, received_at) values (${id}, 'c', 's', 'auctioning', '{}', ${new Date(at[0]).toISOString()}::timestamptz)`,
  );
  const tried: AttemptRow[] = at.map((ms) => ({
    kind: "ping",
    channelId: "ch",
    startedAt: new Date(ms),
    durationMs: 5,
    httpStatus: 200,
    outcome: "bid",
    priceCents: 100,
    reason: null,
    pingRef: null,
  }));
  const outcome: LeadOutcome = {
    leadId: id,
    status: "unsold",
    reason: "no_bids",
    decidedAt: new Date(at[at.length - 1]),
    priceCents: 0,
    revenueCents: 0,
    soldTo: 0,
    soldChannelId: null,
    soldBuyerId: null,
    excluded: [],
    overheadMs: 1,
    attempts: tried,
    events: [{ status: "unsold", at: new Date(at[at.length - 1]), reason: "no_bids" }],
  };
  expect(await finishLeads(database, [outcome])).toEqual(new Set([id]));
}

describe("attempts partitioned by day", () => {
  it("the conversion keeps the attempts written before it, with their ids, key, foreign key and indexes", async () => {
    const fresh = await freshDatabase();
    const database = await openDatabase(fresh.target);
    // The migrations before the conversion, as an install of the previous version ran them.
    const before = mkdtempSync(join(tmpdir(), "gavel-migrations-"));
    try {
      cpSync(migrationsFolder, before, { recursive: true });
      const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8"));
      const upTo = journal.entries.findIndex((e: { tag: string }) => e.tag === "0003_attempts_partitions");
      expect(upTo).toBeGreaterThan(0);
      writeFileSync(join(before, "meta", "_journal.json"), JSON.stringify({ ...journal, entries: journal.entries.slice(0, upTo) }));
      if ("url" in fresh.target) {
        const client = connectPostgres(fresh.target.url, { max: 1, onnotice: () => {} });
        await migratePostgres(drizzlePostgres(client), { migrationsFolder: before }).finally(() => client.end());
      } else await migratePglite(database.db as never, { migrationsFolder: before });

      await seedResources(database);
      await rows(database, sql`insert into leads (id, campaign_id, supplier_id, status, data, received_at) values ('old', 'c', 's', 'sold', '{}', '2031-03-01T23:59:59Z')`);
      await rows(
        database,
        sql`insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, http_status, outcome, price_cents, reason, ping_ref) values
            ('old', 'ping', 'ch', '2031-03-01T23:59:59.999Z', 12, 200, 'bid', 250, null, 'r-1'),
            ('old', 'post', 'ch', '2031-03-02T00:00:00Z', 30, 200, 'accepted', 250, null, 'r-1'),
            ('old', 'ping', 'other', '2031-03-04T08:00:00Z', 7, null, 'timeout', null, 'timeout', null)`,
      );
      const written = await rows(database, sql`select * from attempts order by id`);
      expect(written.map((a) => Number(a.id))).toEqual([1, 2, 3]);

      await migrateDatabase(fresh.target, database);

      // The same rows, each in the partition of its UTC day.
      expect(await rows(database, sql`select * from attempts order by id`)).toEqual(written);
      expect((await placed(database)).map((a) => a.part)).toEqual(["attempts_20310301", "attempts_20310302", "attempts_20310304"]);
      expect(await listPartitions(database)).toEqual(["attempts_20310301", "attempts_20310302", "attempts_20310304"]);
      const [parent] = await rows(database, sql`select relkind::text as kind from pg_class where relname = 'attempts'`);
      expect(parent.kind).toBe("p");
      const [fallback] = await rows(
        database,
        sql`select count(*)::int as n from pg_partitioned_table p join pg_class c on c.oid = p.partdefid where p.partrelid = 'attempts'::regclass and c.relname = 'attempts_default'`,
      );
      expect(fallback.n).toBe(1);
      const indexes = await rows<{ name: string }>(
        database,
        sql`select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'attempts'::regclass order by 1`,
      );
      expect(indexes.map((i) => i.name)).toEqual(["attempts_channel_id_started_at_index", "attempts_id_started_at_pk", "attempts_lead_id_index"]);

      // Identity goes on after the old ids; the foreign key to leads still holds.
      await leadWithAttempts(database, "new", [Date.parse("2031-03-02T10:00:00Z")]);
      expect((await placed(database)).at(-1)).toMatchObject({ id: 4, part: "attempts_20310302" });
      const orphan = await rows(
        database,
        sql`insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, outcome) values ('nobody', 'ping', 'ch', now(), 1, 'bid')`,
      ).catch((error: unknown) => error);
      expect(sqlState(orphan)).toBe("23503");
    } finally {
      rmSync(before, { recursive: true, force: true });
      await database.close();
      await fresh.drop();
    }
  });

  describe("upkeep", () => {
    let db: Fresh;
    beforeAll(async () => {
      db = await migrated();
      await seedResources(db.database);
    });
    afterAll(async () => {
      await db?.close();
    });

    it("makes the partitions of today and the week ahead, and the group commit's attempts land in their day's", async () => {
      const done = await keepAttemptPartitions(db.database, NOW, 90);
      expect(done).toEqual({ created: days(day("2031-06-10"), PARTITION_DAYS_AHEAD + 1), dropped: [], moved: 0, deferred: [] });
      expect(await listPartitions(db.database)).toEqual(days(day("2031-06-10"), 8));

      await leadWithAttempts(db.database, "l-0610", [
        Date.parse("2031-06-10T12:00:00Z"),
        Date.parse("2031-06-10T23:59:59.999Z"),
        Date.parse("2031-06-11T00:00:00Z"),
        Date.parse("2031-06-17T23:00:00Z"),
      ]);
      expect((await placed(db.database)).map((a) => a.part)).toEqual(["attempts_20310610", "attempts_20310610", "attempts_20310611", "attempts_20310617"]);
    });

    it("changes nothing when run again", async () => {
      expect(await keepAttemptPartitions(db.database, NOW + 3_600_000, 90)).toEqual({ created: [], dropped: [], moved: 0, deferred: [] });
      expect(await listPartitions(db.database)).toEqual(days(day("2031-06-10"), 8));
    });

    it("drops only the partitions whose whole day is past the retention, and keeps the attempts of later days", async () => {
      const later = NOW + 95 * DAY; // 2031-09-13T12:00Z: 90 days back is 2031-06-15T12:00Z
      await leadWithAttempts(db.database, "l-0615", [Date.parse("2031-06-15T00:00:00Z"), Date.parse("2031-06-15T23:59:59.999Z")]);
      await leadWithAttempts(db.database, "l-0616", [Date.parse("2031-06-16T00:00:00Z")]);

      // 0 keeps every day.
      const kept = await keepAttemptPartitions(db.database, later, 0);
      expect(kept.dropped).toEqual([]);
      expect(kept.created).toEqual(days(day("2031-09-13"), 8));

      const done = await keepAttemptPartitions(db.database, later, 90);
      // 2031-06-14 ended before 2031-06-15T12:00Z; 2031-06-15 did not, though half of it is older.
      expect(done).toEqual({ created: [], dropped: days(day("2031-06-10"), 5), moved: 0, deferred: [] });
      expect(await listPartitions(db.database)).toEqual([...days(day("2031-06-15"), 3), ...days(day("2031-09-13"), 8)]);
      const gone = await rows(db.database, sql`select relname from pg_class where relname in ('attempts_20310610', 'attempts_20310611', 'attempts_20310614')`);
      expect(gone).toEqual([]);
      expect((await placed(db.database)).map((a) => a.part)).toEqual(["attempts_20310617", "attempts_20310615", "attempts_20310615", "attempts_20310616"]);
      // The leads stay, with their outcome: only their raw attempts went with their days.
      const leads = await rows(db.database, sql`select id, status from leads order by id`);
      expect(leads).toEqual([
        { id: "l-0610", status: "unsold" },
        { id: "l-0615", status: "unsold" },
        { id: "l-0616", status: "unsold" },
      ]);
      const trace = await db.database.db.select().from(attempts).where(eq(attempts.leadId, "l-0610")).orderBy(asc(attempts.startedAt));
      expect(trace.map((a) => a.startedAt.toISOString())).toEqual(["2031-06-17T23:00:00.000Z"]);
    });

    it("makes the partition of a day whose attempts landed in the DEFAULT partition, and moves them into it", async () => {
      const now = NOW + 95 * DAY; // as the test before left it: partitions up to 2031-09-20
      await leadWithAttempts(db.database, "l-stray", [Date.parse("2031-10-01T09:00:00Z"), Date.parse("2031-10-02T00:00:00Z"), Date.parse("2031-10-01T23:59:59.999Z")]);
      // A day far past the retention, too: its partition is made and dropped at once.
      await leadWithAttempts(db.database, "l-ancient", [Date.parse("2030-01-01T12:00:00Z")]);
      const stray = (await placed(db.database)).filter((a) => a.part === "attempts_default");
      expect(stray).toHaveLength(4);

      const done = await keepAttemptPartitions(db.database, now, 90);
      expect(done).toEqual({
        created: ["attempts_20300101", "attempts_20311001", "attempts_20311002"],
        dropped: ["attempts_20300101"],
        moved: 4,
        deferred: [],
      });
      const after = await placed(db.database);
      expect(after.filter((a) => a.part === "attempts_default")).toEqual([]);
      const byId = new Map(after.map((a) => [a.id, a]));
      const [ancient, ...moved] = [...stray].sort((a, b) => a.ms - b.ms);
      expect(byId.has(ancient.id)).toBe(false);
      expect(moved.map((a) => byId.get(a.id))).toEqual([
        { ...moved[0], part: "attempts_20311001" },
        { ...moved[1], part: "attempts_20311001" },
        { ...moved[2], part: "attempts_20311002" },
      ]);
      // New attempts of that day go straight to its partition now.
      await leadWithAttempts(db.database, "l-stray-2", [Date.parse("2031-10-01T10:00:00Z")]);
      expect((await placed(db.database)).at(-1)?.part).toBe("attempts_20311001");
      expect(await keepAttemptPartitions(db.database, now, 90)).toEqual({ created: [], dropped: [], moved: 0, deferred: [] });
    });
  });

  it("makes and drops each partition once when several processes keep them at the same moment", async () => {
    const db = await migrated();
    // Processes of their own on PostgreSQL; PGlite is one process's, so its callers share it.
    const others = onPostgres ? await Promise.all([openDatabase(db.target), openDatabase(db.target)]) : [db.database, db.database];
    const all = [db.database, ...others];
    try {
      const made = await Promise.all(all.map((d) => keepAttemptPartitions(d, NOW, 30)));
      expect(made.flatMap((m) => m.created).sort()).toEqual(days(day("2031-06-10"), 8));
      expect(made.flatMap((m) => [...m.dropped, ...m.deferred])).toEqual([]);
      expect(await listPartitions(db.database)).toEqual(days(day("2031-06-10"), 8));

      const later = NOW + 40 * DAY;
      const kept = await Promise.all(all.map((d) => keepAttemptPartitions(d, later, 30)));
      expect(kept.flatMap((m) => m.created).sort()).toEqual(days(day("2031-07-20"), 8));
      expect(kept.flatMap((m) => m.dropped).sort()).toEqual(days(day("2031-06-10"), 8));
      expect(kept.flatMap((m) => m.deferred)).toEqual([]);
      expect(await listPartitions(db.database)).toEqual(days(day("2031-07-20"), 8));
    } finally {
      if (onPostgres) await Promise.all(others.map((d) => d.close()));
      await db.close();
    }
  });

  it("a running Gavel makes the partitions at start-up and drops past days in its sweep; an old lead keeps its trace but not its attempts", async () => {
    const clock = testClock("2031-06-10T12:00:00Z");
    const buyer = await startBuyer({ ping: () => ({ json: { bid: 5 } }) });
    const g = await startTestGavel({ GAVEL_RETENTION_DAYS: "30", GAVEL_SWEEP_MS: "100" }, { clock });
    try {
      const database = g.gavel.database;
      expect(await listPartitions(database)).toEqual(days(day("2031-06-10"), 8));
      const key = await g.setup({ campaign: { id: "kept" }, channels: [pingPost("kept-ch", buyer)] });
      const sold = await g.lead(key, { campaign: "kept", data: consumer() });
      expect(sold.body.status).toBe("sold");
      const fresh = await g.admin("GET", `/v1/leads/${sold.body.lead_id}`);
      expect(fresh.body.attempts.map((a: any) => a.kind)).toEqual(["ping", "post"]);
      expect((await placed(database)).map((a) => a.part)).toEqual(["attempts_20310610", "attempts_20310610"]);

      clock.advance(40 * DAY);
      await eventually(async () => (await listPartitions(database))[0] === "attempts_20310720", "the sweep to drop the days past retention", 20_000, 20);
      expect(await listPartitions(database)).toEqual(days(day("2031-07-20"), 8));
      const old = await g.admin("GET", `/v1/leads/${sold.body.lead_id}`);
      expect(old.status).toBe(200);
      expect(old.body).toMatchObject({ status: "sold", price: expect.any(Number), attempts: [] });
      expect(old.body.history.map((h: any) => h.status)).toEqual(["received", "auctioning", "sold"]);
    } finally {
      await g.close();
      await buyer.close();
    }
  });

  it.skipIf(!onPostgres)("the trace's read of a lead's attempts probes each day's lead_id index (PostgreSQL plan)", async () => {
    const db = await migrated();
    const url = (db.target as { url: string }).url;
    try {
      await keepAttemptPartitions(db.database, NOW, 90);
      await seedResources(db.database);
      const sql2 = connectPostgres(url, { max: 1, onnotice: () => {} });
      try {
        await sql2.unsafe(`alter table attempts drop constraint attempts_lead_id_leads_id_fk`);
        await sql2.unsafe(
          `insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, outcome)
           select 'lead-' || (g / 10), 'ping', 'ch', '2031-06-10T00:00:00Z'::timestamptz + (g || ' seconds')::interval, 5, 'bid'
           from generate_series(1, 30000) g`,
        );
        // The statement findLead (src/db/trace.ts) sends, on a generic plan as a prepared statement runs.
        const read = leadAttempts(db.database.db, "lead-7", new Date("2031-06-10T00:01:00Z")).toSQL();
        const plan = await sql2.begin(async (tx) => {
          await tx.unsafe("set local plan_cache_mode = force_generic_plan");
          await tx.unsafe(`prepare trace_attempts as ${read.sql}`);
          const lines = await tx.unsafe(`explain execute trace_attempts(${read.params.map((p: unknown) => `'${p instanceof Date ? p.toISOString() : String(p)}'`).join(", ")})`);
          return lines.map((r) => r["QUERY PLAN"] as string).join("\n");
        });
        expect(plan).toMatch(/Index Scan using attempts_20310610_lead_id_idx|Bitmap Index Scan on attempts_20310610_lead_id_idx/);
        expect(plan).not.toMatch(/Seq Scan on attempts_\d{8}\b/);
      } finally {
        await sql2.end();
      }
    } finally {
      await db.close();
    }
  });
});
