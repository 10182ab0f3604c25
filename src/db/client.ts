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
}

export interface Database {
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

/** The committed migrations, found from wherever this module runs: src/db/ under tsx, dist/ when built. */
export const migrationsFolder = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    if (existsSync(join(dir, "drizzle", "meta", "_journal.json"))) return join(dir, "drizzle");
  }
  throw new Error(`Gavel's migrations (drizzle/) are not beside ${fileURLToPath(import.meta.url)}`);
})();

export type DatabaseTarget = { url: string; poolSize?: number } | { dataDir: string } | { memory: true };

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
  if ("url" in target) return openPostgres(target.url, target.poolSize ?? 20);
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

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const client = connectPostgres(url, {
    max: poolSize,
    onnotice: () => {},
    // Keep timestamps as Date and bigint counts as numbers the way PGlite returns them.
    types: { bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
  });
  const db = drizzlePostgres(client, { schema, casing: "snake_case" }) as unknown as Db;
  return {
    db,
    kind: "postgres",
    rows: async <T>(query: SQL) => (await db.execute(query)) as unknown as T[],
    query: async <T>(text: string, params: readonly unknown[], options?: QueryOptions) =>
      (await client.unsafe(text, params as never[], { prepare: !options?.planEachCall })) as unknown as T[],
    close: () => client.end({ timeout: 5 }),
  };
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

export async function ping(database: Database): Promise<void> {
  await database.rows(sql`select 1`);
}
