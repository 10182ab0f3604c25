// Each test file gets its own database: a fresh PostgreSQL database when DATABASE_URL is set (CI),
// otherwise an in-memory PGlite.
import { randomBytes } from "node:crypto";
import { connectPostgres, type DatabaseTarget } from "../../src/db/client";

export const onPostgres = Boolean(process.env.DATABASE_URL);

export async function freshDatabase(): Promise<{ target: DatabaseTarget; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { target: { memory: true }, drop: async () => {} };
  const name = `gavel_t_${randomBytes(6).toString("hex")}`;
  const admin = connectPostgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    target: { url: url.toString(), poolSize: 10 },
    async drop() {
      const admin = connectPostgres(base, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
