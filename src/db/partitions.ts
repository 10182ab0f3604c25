// Upkeep of the day partitions of `attempts` (see drizzle/0003_attempts_partitions.sql): the
// partitions of today and the days ahead are made before any ping needs them, and the days that
// fell out of GAVEL_RETENTION_DAYS are dropped whole, which frees their disk at once with no row
// deletes, no dead tuples and no vacuum. Reports read the hourly rollups, never old attempts, so a
// dropped day changes no report; a lead of that day keeps its outcome, events and money.
//
// Every Gavel process runs this at start-up and in its periodic sweep. Each partition is made or
// dropped in a transaction of its own that first takes an advisory lock and then looks again, so
// processes that sweep at once take turns and the later ones find the work done.
import { sql, type SQL } from "drizzle-orm";
import { DAY_MS } from "../time/clock";
import { txRows, type Database } from "./client";
import { sqlState } from "./caps";

/**
 * The days after today whose partitions are made ahead: a week of sweeps could fail before an
 * attempt has no partition of its day (it would then land in the DEFAULT partition, and be moved
 * out when its day's partition is made).
 */
export const PARTITION_DAYS_AHEAD = 7;

/**
 * How long a partition's DDL waits for its locks before giving way until the next sweep. Making a
 * partition locks `leads` (its foreign key) and dropping one locks `attempts`, and the hot path's
 * statements queue behind a lock that is waiting: a short wait bounds what one sweep can cost them.
 */
const DDL_LOCK_TIMEOUT_MS = 100;

/** Advisory lock key of partition upkeep (migrations take 727601). */
const UPKEEP_LOCK = 727602;

/** Partitions are named after their UTC day: `attempts_20261129` holds [2026-11-29, 2026-11-30). */
const NAME = /^attempts_(\d{4})(\d{2})(\d{2})$/;

export const partitionName = (day: number) => `attempts_${new Date(day).toISOString().slice(0, 10).replace(/-/g, "")}`;

/** The UTC midnight of a partition's day, or undefined for a table that is not one of them. */
export function partitionDay(name: string): number | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return partitionName(day) === name ? day : undefined;
}

const utcDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
const bound = (ms: number) => `'${new Date(ms).toISOString()}'`;

export interface PartitionUpkeep {
  /** Partitions made by this call, by name, in day order. */
  created: string[];
  /** Partitions dropped by this call: days wholly older than the retention. */
  dropped: string[];
  /** Attempts found in the DEFAULT partition (a day that had no partition yet), moved into their day's new partition. */
  moved: number;
  /** Partitions whose locks were not to be had within a moment: left for the next sweep. */
  deferred: string[];
}

/**
 * Makes the partitions of today and the `daysAhead` next days (UTC, by the app's clock: the one
 * that stamps `started_at`), and of any day whose attempts sit in the DEFAULT partition; drops
 * every partition whose whole day is more than `retentionDays` before `now` (0: keep every day).
 * Safe to run again, and from several processes at once.
 */
export async function keepAttemptPartitions(
  database: Database,
  now: number,
  retentionDays: number,
  daysAhead = PARTITION_DAYS_AHEAD,
): Promise<PartitionUpkeep> {
  const done: PartitionUpkeep = { created: [], dropped: [], moved: 0, deferred: [] };
  const existing = new Set(await listPartitions(database));
  const stray = await database.rows<{ day: string }>(
    sql`select distinct to_char(started_at at time zone 'UTC', 'YYYYMMDD') as day from attempts_default`,
  );
  const wanted = new Set<number>();
  for (let d = 0; d <= daysAhead; d++) wanted.add(utcDay(now) + d * DAY_MS);
  for (const { day } of stray) wanted.add(partitionDay(`attempts_${day}`)!);
  for (const day of [...wanted].sort((a, b) => a - b)) {
    if (existing.has(partitionName(day))) continue;
    await giveWay(done, partitionName(day), async () => {
      const made = await createPartition(database, day);
      if (made.created) done.created.push(partitionName(day));
      done.moved += made.moved;
      existing.add(partitionName(day));
    });
  }
  if (retentionDays > 0) {
    const keepFrom = now - retentionDays * DAY_MS;
    for (const name of [...existing].sort()) {
      const day = partitionDay(name);
      if (day === undefined || day + DAY_MS > keepFrom) continue;
      await giveWay(done, name, async () => {
        if (await dropPartition(database, name)) done.dropped.push(name);
      });
    }
  }
  return done;
}

/** The names of the day partitions of `attempts` (not the DEFAULT one), in day order. */
export async function listPartitions(database: Database): Promise<string[]> {
  const rows = await database.rows<{ name: string }>(sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'attempts'::regclass`);
  return rows
    .map((r) => r.name)
    .filter((name) => partitionDay(name) !== undefined)
    .sort();
}

/** Runs one partition's step; a lock not had in time (SQLSTATE 55P03) defers it to the next sweep. */
async function giveWay(done: PartitionUpkeep, name: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    if (sqlState(error) !== "55P03") throw error;
    done.deferred.push(name);
  }
}

type Run = <T>(query: SQL) => Promise<T[]>;

async function ddl<T>(database: Database, body: (run: Run) => Promise<T>): Promise<T> {
  return database.db.transaction(async (tx) => {
    const run: Run = (query) => txRows(tx, query);
    // Processes queue on the advisory lock (each holds it for one short transaction); only the
    // locks the hot path shares are given up on.
    await run(sql`select pg_advisory_xact_lock(${UPKEEP_LOCK})`);
    await run(sql.raw(`set local lock_timeout = '${DDL_LOCK_TIMEOUT_MS}ms'`));
    return body(run);
  });
}

/**
 * Makes one day's partition as a table of its own, moves into it the day's attempts that sit in
 * the DEFAULT partition, and attaches it. Attaching, unlike CREATE TABLE … PARTITION OF, leaves
 * inserts into `attempts` running meanwhile. The foreign key the partition takes on attaching locks
 * `leads` against writes: that lock is taken explicitly before the DEFAULT partition's, the order
 * in which the group commit (which updates `leads`, then inserts attempts) takes them, so the two
 * never wait on each other in a circle; and it is taken only after the bulk of the move, so the
 * hot path waits on it for the attach alone, not for the move of a large backlog.
 */
async function createPartition(database: Database, day: number): Promise<{ created: boolean; moved: number }> {
  const name = partitionName(day);
  return ddl(database, async (run) => {
    const [found] = await run<{ exists: boolean }>(sql`select to_regclass(${name}) is not null as exists`);
    if (found.exists) return { created: false, moved: 0 };
    await run(sql.raw(`create table ${name} (like attempts including defaults including constraints including indexes)`));
    const move = async () => {
      const [{ n }] = await run<{ n: number }>(
        sql.raw(`
          with moved as (delete from attempts_default where started_at >= ${bound(day)} and started_at < ${bound(day + DAY_MS)} returning *),
               copied as (insert into ${name} select * from moved returning 1)
          select count(*)::int as n from copied`),
      );
      return n;
    };
    let moved = await move();
    await run(sql`lock table leads in share row exclusive mode`);
    await run(sql`lock table attempts_default in access exclusive mode`);
    moved += await move(); // any that landed there meanwhile
    await run(sql.raw(`alter table attempts attach partition ${name} for values from (${bound(day)}) to (${bound(day + DAY_MS)})`));
    return { created: true, moved };
  });
}

async function dropPartition(database: Database, name: string): Promise<boolean> {
  return ddl(database, async (run) => {
    const [found] = await run<{ attached: boolean }>(sql`
      select exists (select 1 from pg_inherits where inhrelid = to_regclass(${name}) and inhparent = 'attempts'::regclass) as attached`);
    if (!found.attached) return false;
    await run(sql.raw(`drop table ${name}`));
    return true;
  });
}
