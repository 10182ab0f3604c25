// Opens Gavel's database: PostgreSQL through postgres.js when a URL is given, otherwise an embedded
// PGlite in a local folder (or in memory). Both speak the same SQL and run the same migrations.
import { mkdirSync } from "node:fs";
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

export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  /** Runs one statement and returns its rows, whatever the driver's result shape. */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  close(): Promise<void>;
}

export const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

export type DatabaseTarget = { url: string; poolSize?: number } | { dataDir: string } | { memory: true };

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if ("url" in target) return openPostgres(target.url, target.poolSize ?? 20);
  const client =
    "dataDir" in target ? (mkdirSync(target.dataDir, { recursive: true }), new PGlite(target.dataDir)) : new PGlite();
  await client.waitReady;
  const db = drizzlePglite(client, { schema, casing: "snake_case" }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    rows: async <T>(query: SQL) => ((await db.execute(query)) as unknown as { rows: T[] }).rows,
    close: () => client.close(),
  };
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const client = postgres(url, {
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
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * Applies the committed migrations. On PostgreSQL an advisory lock makes several processes that
 * start at once take turns, so none sees a half-migrated schema.
 */
export async function migrateDatabase(target: DatabaseTarget, database?: Database): Promise<void> {
  if ("url" in target) {
    const client = postgres(target.url, { max: 1, onnotice: () => {} });
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
