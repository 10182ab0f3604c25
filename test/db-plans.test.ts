// The hot path's statements must reach growing tables through their keys, whatever plan PostgreSQL
// settles on. A prepared statement runs on a generic plan made once, from the table sizes of that
// moment: a plan made while `leads` was empty read the whole table on every group commit for as long
// as the process lived (where autovacuum never analyzes it), and PostgreSQL's CPU per lead grew with
// the table. Plans are read with EXPLAIN on tables as the statements first meet them: never analyzed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres, migrateDatabase, openDatabase, type Database } from "../src/db/client";
import { finishLeads, FINISH, INTAKE, type LeadOutcome } from "../src/db/leads";
import { freshDatabase, onPostgres } from "./helpers/db";

/** Tables that grow with traffic: reading one whole is a full scan per lead or per batch. */
const growing = ["leads", "suppressions", "buyer_dedup_keys", "idempotency_keys", "dedup_keys", "cap_usage"];
const fullScans = (plan: string) => growing.filter((table) => new RegExp(`Seq Scan on ${table}\\b`).test(plan));

const literal = (v: unknown) => (v === null ? "null" : typeof v === "boolean" ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

// Generic plans come from preparing statements on a server connection; PGlite runs every query
// unnamed, planned afresh each time, so there is nothing of this kind to pin there.
describe.skipIf(!onPostgres)("query plans of the hot path (PostgreSQL)", () => {
  let drop: () => Promise<void>;
  let database: Database;
  let url: string;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    url = (fresh.target as { url: string }).url;
    database = await openDatabase(fresh.target);
    await migrateDatabase(fresh.target, database);
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("intake's generic plan, made on empty tables, probes suppressions, buyer dedup keys and idempotency keys by key", async () => {
    const now = new Date().toISOString();
    const params = ["lead-1", "c1", "s1", false, '{"a":1}', now, now, '[["email","h1"]]', '["k1"]', now, '["k2"]', now, "[]", "s1", "key-1", '[["b1","k1","2020-01-01T00:00:00Z"]]'];
    const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
    try {
      const plan = await sql.begin(async (tx) => {
        await tx.unsafe("set local plan_cache_mode = force_generic_plan");
        await tx.unsafe(`prepare intake as ${INTAKE}`);
        const rows = await tx.unsafe(`explain execute intake(${params.map(literal).join(", ")})`);
        return rows.map((r) => r["QUERY PLAN"] as string).join("\n");
      });
      expect(plan).toMatch(/Index Only Scan using suppressions_kind_value_hash_pk|Index Scan using suppressions_kind_value_hash_pk/);
      expect(plan).toMatch(/Index Scan using buyer_dedup_keys_buyer_id_key_hash_pk/);
      expect(fullScans(plan)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it("the group commit reaches leads and idempotency keys by primary key once leads is large", async () => {
    const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
    try {
      // Foreign keys are beside the point here: the rows only have to be there, and be many.
      await sql.unsafe(`alter table leads drop constraint if exists leads_campaign_id_campaigns_id_fk, drop constraint if exists leads_supplier_id_suppliers_id_fk`);
      await sql.unsafe(
        `insert into leads (id, campaign_id, supplier_id, status, data, received_at)
         select 'lead-' || lpad(g::text, 8, '0'), 'c1', 's1', 'auctioning', '{}', now() from generate_series(1, 20000) g`,
      );
      const outcomes = JSON.stringify([["lead-00000001", "sold", null, new Date().toISOString(), 100, 100, 1, [], 3]]);
      const idempotent = JSON.stringify([["s1", "key-1", "lead-00000001", 200, {}]]);
      const rows = await sql.unsafe(`explain ${FINISH}`, [outcomes, "[]", "[]", idempotent]);
      const plan = rows.map((r) => r["QUERY PLAN"] as string).join("\n");
      expect(plan).toMatch(/Index Scan on leads_pkey|Bitmap Index Scan on leads_pkey|Index Scan using leads_pkey/);
      expect(fullScans(plan)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it("the group commit is planned on every call, never pinned to a plan made when leads was small", async () => {
    const calls: { text: string; options: unknown }[] = [];
    const spy: Database = { ...database, query: (text, params, options) => (calls.push({ text, options }), database.query(text, params, options)) };
    const outcome: LeadOutcome = {
      leadId: "lead-00000002",
      status: "unsold",
      reason: "no_bids",
      decidedAt: new Date(),
      priceCents: 0,
      revenueCents: 0,
      soldTo: 0,
      excluded: [],
      overheadMs: 1,
      attempts: [],
      events: [{ status: "unsold", at: new Date(), reason: "no_bids" }],
    };
    await finishLeads(spy, [outcome]);
    expect(calls).toEqual([{ text: FINISH, options: { planEachCall: true } }]);
    const [row] = await database.query<{ status: string }>("select status from leads where id = $1", ["lead-00000002"]);
    expect(row.status).toBe("unsold");
  });
});
