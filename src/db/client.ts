// Opens Gavel's database: PostgreSQL through postgres.js when a URL is given, otherwise an embedded
// PGlite in a local folder (or in memory). Both speak the same SQL and run the same migrations.
import { existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql, type SQL } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import postgres from "postgres";
import * as schema from "./schema";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface QueryOptions {
  /**
   * Plan the statement afresh on every call instead of preparing it once per connection. A
   * prepared statement soon runs on a generic plan made once, from the table sizes of that moment,
   * which a growing table outlives. For a rare statement that joins growing tables, planning each
   * time costs little and always sees the tables as they are.
   */
  planEachCall?: boolean;
  /** This statement's client-side bound, if tighter than the database's own (see DatabaseBounds). */
  timeoutMs?: number;
}

export interface Database {
  /** drizzle, over whichever pool is current (a pool that lost its server is replaced). */
  db: Db;
  kind: "postgres" | "pglite";
  /** Runs one statement and returns its rows, whatever the driver's result shape. */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /**
   * Runs one statement of fixed text with `$n` parameters, prepared once per connection and reused:
   * for the hot path, whose statements are the same text for every lead (no builder work per call,
   * no describe round trip after the first).
   */
  query<T = Record<string, unknown>>(text: string, params: readonly unknown[], options?: QueryOptions): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * The database could not be reached, or did not answer within its bound. `committed` says what is
 * known of the statement: `false` when it certainly never ran (no connection could be opened, or
 * the server refused or cancelled it), `"unknown"` when it may have committed (the connection died
 * or went silent after it was sent). Callers that took something before it (an idempotency key,
 * a cap) must not give it back on `"unknown"`.
 */
export class DatabaseUnavailable extends Error {
  constructor(
    message: string,
    readonly committed: false | "unknown",
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = "DatabaseUnavailable";
  }
}

/**
 * The DatabaseUnavailable behind an error, if any: drizzle wraps a driver's error in its own
 * ("Failed query: …") with the original as its `cause`.
 */
export function unavailable(error: unknown): DatabaseUnavailable | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof DatabaseUnavailable) return e;
  return undefined;
}

/** Connection-level failures: the statement may have run, and its answer is lost. */
const LOST = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "57P01", "57P02"]);
/** Failures before the statement could run anywhere. */
const NOT_RUN = new Set(["ECONNREFUSED", "CONNECT_TIMEOUT", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "57P03", "53300", "57014"]);

/** A driver error as Gavel sees it: a DatabaseUnavailable when the server could not be used, else itself. */
export function classifyDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailable) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return error;
  // SQLSTATE class 08 is "connection exception".
  if (LOST.has(code) || code.startsWith("08")) return new DatabaseUnavailable(`The database connection was lost (${code})`, "unknown", error);
  if (NOT_RUN.has(code))
    return new DatabaseUnavailable(code === "57014" ? "The database did not finish the statement in time" : `The database could not be reached (${code})`, false, error);
  return error;
}

/**
 * Whether a failed statement certainly wrote nothing: the server refused it (any error it answered
 * with rolls the statement back), or it never reached a server. Only a lost or silent connection
 * leaves it unknown.
 */
export function wroteNothing(error: unknown): boolean {
  const absent = unavailable(error);
  if (absent) return absent.committed === false;
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, severity } = e as { code?: unknown; severity?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && typeof severity === "string") return true;
  }
  return false;
}

export interface DatabaseBounds {
  /** Server side: PostgreSQL cancels any statement of Gavel's pool that runs longer (statement_timeout). */
  statementTimeoutMs: number;
  /** Client side: a statement without any answer by then fails, and its pool is replaced. */
  queryTimeoutMs: number;
}

export const defaultBounds: DatabaseBounds = { statementTimeoutMs: 5000, queryTimeoutMs: 6000 };

/** The committed migrations, found from wherever this module runs: src/db/ under tsx, dist/ when built. */
export const migrationsFolder = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    if (existsSync(join(dir, "drizzle", "meta", "_journal.json"))) return join(dir, "drizzle");
  }
  throw new Error(`Gavel's migrations (drizzle/) are not beside ${fileURLToPath(import.meta.url)}`);
})();

export type DatabaseTarget = { url: string; poolSize?: number; bounds?: DatabaseBounds } | { dataDir: string } | { memory: true };

/**
 * The embedded database is one process's: two processes writing one PGlite folder would corrupt
 * it, and PGlite itself does not check. A lock file holding the owner's pid makes a second opener
 * (say `gavel apply` while the server runs) fail with a clear message; a stale file left by a dead
 * process is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, "gavel.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {}
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number(readFileSync(path, "utf8").trim());
      let alive = false;
      try {
        alive = Number.isInteger(pid) && pid > 0 && (process.kill(pid, 0), true);
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === "EPERM";
      }
      if (alive)
        throw new Error(
          `The embedded database in ${dataDir} is open in process ${pid}. Stop that process first, or use the HTTP API (POST /v1/config/apply) of the running server.`,
        );
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new Error(`Could not lock ${path}`);
}

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if ("url" in target) return openPostgres(target.url, target.poolSize ?? 20, target.bounds ?? defaultBounds);
  let unlock = () => {};
  if ("dataDir" in target) {
    mkdirSync(target.dataDir, { recursive: true });
    unlock = lockDataDir(target.dataDir);
  }
  try {
    const client = "dataDir" in target ? new PGlite(target.dataDir) : new PGlite();
    await client.waitReady;
    const db = drizzlePglite(client, { schema, casing: "snake_case" }) as unknown as Db;
    return {
      db,
      kind: "pglite",
      rows: async <T>(query: SQL) => ((await db.execute(query)) as unknown as { rows: T[] }).rows,
      // PGlite runs each query as an unnamed statement, planned on every call anyway.
      query: async <T>(text: string, params: readonly unknown[]) => (await client.query<T>(text, params as unknown[])).rows,
      close: async () => {
        try {
          await client.close();
        } finally {
          unlock();
        }
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

/**
 * A postgres.js client for a DATABASE_URL. As with libpq, `?host=/a/directory` in the URL means a
 * Unix-domain socket in that directory (for a server on the same machine: cheaper than TCP
 * loopback), e.g. `postgres://gavel@localhost/gavel?host=/var/run/postgresql`.
 */
export function connectPostgres(url: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}) {
  const parsed = new URL(url);
  const socketDir = parsed.searchParams.get("host");
  if (socketDir?.startsWith("/")) {
    parsed.searchParams.delete("host");
    return postgres(parsed.toString(), { ...options, path: `${socketDir}/.s.PGSQL.${parsed.port || 5432}` });
  }
  return postgres(url, options);
}

/**
 * PostgreSQL through postgres.js, with every statement bounded twice: by `statement_timeout` on the
 * server, and by a timer here for the cases the server cannot see (a connection that died without
 * a word, a query the driver lost). postgres.js 3.4 can strand queries on a connection that was
 * killed mid-query (they never settle, and later queries queue behind them), so a pool that lost a
 * connection or let a statement go unanswered is replaced by a fresh one; the old one is ended in
 * the background and its remaining queries fail by their own timers.
 *
 * postgres.js 3.4.9 itself is patched (src/db/patches/, applied by `npm install`): a transaction
 * whose connection was killed wrote its ROLLBACK to the nulled socket from a setImmediate, an
 * uncaught TypeError that ended the process (porsager/postgres#1208, unreleased upstream).
 */
async function openPostgres(url: string, poolSize: number, bounds: DatabaseBounds): Promise<Database> {
  let closed = false;
  let pool = newPool(url, poolSize, bounds, renew);
  /** Replaces `failed` by a fresh pool, once: a pool's later failures, or an old pool's, change nothing. */
  function renew(failed: Pool) {
    if (closed || failed !== pool) return;
    pool = newPool(url, poolSize, bounds, renew);
    void failed.client.end({ timeout: 1 }).catch(() => {});
  }
  // One drizzle instance for the life of the process (routes keep it), over whichever pool is current.
  const db = drizzlePostgres(boundedSql(pool.client, () => pool), { schema, casing: "snake_case" }) as unknown as Db;
  return {
    db,
    kind: "postgres",
    rows: async <T>(query: SQL) => {
      try {
        return (await db.execute(query)) as unknown as T[];
      } catch (error) {
        throw unavailable(error) ?? error;
      }
    },
    query: <T>(text: string, params: readonly unknown[], options?: QueryOptions) => {
      const on = pool;
      return on.bounded(on.client.unsafe(text, params as never[], { prepare: !options?.planEachCall }), options?.timeoutMs) as Promise<T[]>;
    },
    close: async () => {
      closed = true;
      await pool.client.end({ timeout: 5 });
    },
  };
}

type Pool = ReturnType<typeof newPool>;
type PendingQuery = PromiseLike<unknown> & { values(): unknown };
type SqlMethods = Record<string, (...args: unknown[]) => PromiseLike<unknown>>;

function newPool(url: string, poolSize: number, bounds: DatabaseBounds, renew: (failed: Pool) => void) {
  const client = connectPostgres(url, {
    max: poolSize,
    onnotice: () => {},
    connect_timeout: Math.max(1, Math.ceil(bounds.queryTimeoutMs / 1000)),
    // No JIT: compiling a plan costs 50–150 ms, more than any of Gavel's statements takes to run
    // (a report's rollup scan included), and it kicks in on cost estimates, which are rough for the
    // reports' reads of a few hundred rows of raw leads.
    connection: { statement_timeout: bounds.statementTimeoutMs, jit: "off" },
    // Gavel reads no array columns (reports read their histograms as text). postgres.js would otherwise read the server's array types on
    // every new connection, and a connection killed during that read rejects a promise nobody holds
    // (an unhandled rejection: it would end the process).
    fetch_types: false,
    // Keep timestamps as Date and bigint counts as numbers the way PGlite returns them.
    types: { bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
  });
  // drizzle sets its type parsers on the client it is given; every pool needs them.
  drizzlePostgres(client);

  /** The query's result, or a DatabaseUnavailable once it failed at the connection or went unanswered. */
  function bounded<T>(pending: PromiseLike<T>, timeoutMs = bounds.queryTimeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new DatabaseUnavailable(`The database did not answer within ${timeoutMs} ms`, "unknown"));
        // Not cancelled from here: postgres.js drops the promise of its cancel request, whose
        // failure (likely, when the connection is what failed) would then crash the process.
        // The server's statement_timeout stops the statement if it is still running.
        renew(self);
      }, timeoutMs);
      pending.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          const seen = classifyDatabaseError(error);
          if (seen instanceof DatabaseUnavailable && seen.committed === "unknown") renew(self);
          reject(seen);
        },
      );
    });
  }
  const self = { client, bounded, timeoutMs: bounds.queryTimeoutMs };
  return self;
}

/**
 * What drizzle is given: a stand-in for the current pool (or for one transaction's connection)
 * whose every statement is bounded. drizzle sends all statements through `unsafe`, and
 * transactions through `begin` / `savepoint`.
 */
function boundedSql<S extends object>(first: S, current: () => { client: object; bounded: Pool["bounded"]; timeoutMs: number }): S {
  return new Proxy(first, {
    get(_target, prop) {
      const on = current();
      const target = on.client as unknown as SqlMethods;
      if (prop === "unsafe")
        return (text: string, params: unknown[], options: unknown) => {
          const pending = target.unsafe(text, params, options) as unknown as PendingQuery;
          const view = {
            values() {
              pending.values();
              return view;
            },
            then<A, B>(ok?: (v: unknown) => A, fail?: (e: unknown) => B) {
              return on.bounded(pending).then(ok, fail);
            },
          };
          return view;
        };
      if (prop === "begin" || prop === "savepoint")
        return (...args: unknown[]) => {
          const body = args.pop() as (tx: object) => unknown;
          const run = target[prop](...args, (tx: object) => body(boundedSql(tx, () => ({ ...on, client: tx }))));
          // A transaction is a few statements, each bounded; the whole gets a few bounds' worth.
          return on.bounded(run, on.timeoutMs * 4);
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Applies the committed migrations. On PostgreSQL an advisory lock makes several processes that
 * start at once take turns, so none sees a half-migrated schema.
 */
export async function migrateDatabase(target: DatabaseTarget, database?: Database): Promise<void> {
  if ("url" in target) {
    const client = connectPostgres(target.url, { max: 1, onnotice: () => {} });
    try {
      await client`select pg_advisory_lock(727601)`;
      await migratePostgres(drizzlePostgres(client), { migrationsFolder });
      await client`select pg_advisory_unlock(727601)`;
    } finally {
      await client.end({ timeout: 5 });
    }
    return;
  }
  if (!database) throw new Error("migrating PGlite needs the open database");
  await migratePglite(database.db as never, { migrationsFolder });
}

/**
 * Runs one statement in a transaction and returns its rows, whatever the driver's result shape
 * (drizzle answers an array on postgres.js, `{ rows }` on PGlite): `Database.rows` for a `tx`.
 */
export async function txRows<T>(tx: { execute(query: SQL): PromiseLike<unknown> }, query: SQL): Promise<T[]> {
  const result = (await tx.execute(query)) as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}

/** Whether the database answers now: a trivial statement, bounded by `timeoutMs`. */
export async function ping(database: Database, timeoutMs?: number): Promise<void> {
  await database.query("select 1", [], { timeoutMs });
}
