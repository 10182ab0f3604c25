// DATABASE_URL may name a Unix-domain socket the libpq way (`?host=/directory`): for a PostgreSQL on
// the same machine that is cheaper than TCP loopback. Gavel then runs on it like on any URL.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { connectPostgres } from "../src/db/client";
import { startBuyer } from "./helpers/buyers";
import { freshDatabase } from "./helpers/db";
import { consumer, pingPost, startTestGavel } from "./helpers/gavel";

const base = process.env.DATABASE_URL;
const socketDir = "/var/run/postgresql";
const hasSocket = existsSync(`${socketDir}/.s.PGSQL.${base ? new URL(base).port || 5432 : 5432}`);
// On PGlite there is no server to reach; in CI the PostgreSQL pass runs it.
const skip = !base || !hasSocket;

function viaSocket(url: string): string {
  const u = new URL(url);
  u.searchParams.set("host", socketDir);
  return u.toString();
}

describe.skipIf(skip)("PostgreSQL over a Unix-domain socket", () => {
  it("connects through the socket named by ?host=, not over TCP", async () => {
    const sql = connectPostgres(viaSocket(base!), { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ addr: string | null }[]>`select inet_server_addr()::text as addr`;
      expect(row.addr).toBeNull(); // a Unix-socket session has no server address
    } finally {
      await sql.end();
    }
  });

  it("runs Gavel on it: a lead is recorded and sold", async () => {
    const buyer = await startBuyer({ ping: () => ({ json: { bid: 4 } }) });
    const db = await freshDatabase();
    const target = db.target as { url: string };
    const g = await startTestGavel({}, { target: { url: viaSocket(target.url), poolSize: 2 } });
    try {
      const key = await g.setup({ campaign: { id: "socket" }, channels: [pingPost("socket-ch", buyer)], supplier: { id: "socket-sup" } });
      const answer = await g.lead(key, { campaign: "socket", data: consumer() });
      expect(answer.body.status).toBe("sold");
      expect((await g.admin("GET", answer.body.trace_url)).body.attempts).toHaveLength(2);
    } finally {
      await g.close();
      await buyer.close();
      await db.drop();
    }
  });
});
