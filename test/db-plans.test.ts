// The hot path's statements must reach growing tables through their keys, whatever plan PostgreSQL
// settles on. A prepared statement runs on a generic plan made once, from the table sizes of that
// moment: a plan made while `leads` was empty read the whole table on every group commit for as long
// as the process lived (where autovacuum never analyzes it), and PostgreSQL's CPU per lead grew with
// the table. Plans are read with EXPLAIN on tables as the statements first meet them: never analyzed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres, migrateDatabase, openDatabase, type Database } from "../src/db/client";
import { finishLeads, finishStatement, FINISH, INTAKE, type LeadOutcome } from "../src/db/leads";
import { freshDatabase, onPostgres } from "./helpers/db";

/** Tables that grow with traffic: reading one whole is a full scan per lead or per batch. */
const growing = ["leads", "suppressions", "buyer_dedup_keys", "idempotency_keys", "dedup_keys", "cap_usage", "lead_events", "deliveries"];
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

  /** 20,000 never-analyzed leads, `lead-00000001` on, inserted once for the tests that need them. */
  let many: Promise<void> | undefined;
  const manyLeads = () =>
    (many ??= (async () => {
      const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
      try {
        // Foreign keys are beside the point here: the rows only have to be there, and be many.
        await sql.unsafe(`alter table leads drop constraint if exists leads_campaign_id_campaigns_id_fk, drop constraint if exists leads_supplier_id_suppliers_id_fk`);
        await sql.unsafe(
          `insert into leads (id, campaign_id, supplier_id, status, data, received_at)
           select 'lead-' || lpad(g::text, 8, '0'), 'c1', 's1', 'auctioning', '{}', now() from generate_series(1, 20000) g`,
        );
      } finally {
        await sql.end();
      }
    })());

  it("intake's generic plan, made on empty tables, probes suppressions, buyer dedup keys and idempotency keys by key", async () => {
    const now = new Date().toISOString();
    const params = ["lead-1", "c1", "s1", false, '{"a":1}', now, now, '[["email","h1"]]', '["k1"]', now, '["k2"]', now, "[]", "s1", "key-1", '[["b1","k1","2020-01-01T00:00:00Z"]]', "src-1", null];
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
    await manyLeads();
    const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
    try {
      const outcomes = JSON.stringify([["lead-00000001", "sold", null, new Date().toISOString(), 100, 100, 1, [], 3]]);
      const idempotent = JSON.stringify([["s1", "key-1", "lead-00000001", 200, {}]]);
      const rows = await sql.unsafe(`explain ${FINISH}`, [outcomes, "[]", "[]", idempotent]);
      const plan = rows.map((r) => r["QUERY PLAN"] as string).join("\n");
      // By its primary key, or by (status, id): the statement settles only leads still in auction.
      expect(plan).toMatch(/Index Scan on leads_pkey|Bitmap Index Scan on leads_pkey|Index Scan using leads_pkey|Index Scan using leads_status_id_index/);
      expect(fullScans(plan)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it("the group commit is prepared anew each time the leads this process finished double, so its plan follows the table", async () => {
    const epochs = new Map<string, number[]>();
    for (const n of [0, 1, 2, 3, 999, 1000, 1022, 1023, 1_000_000]) epochs.set(finishStatement(n), [...(epochs.get(finishStatement(n)) ?? []), n]);
    expect([...epochs.values()]).toEqual([[0], [1, 2], [3], [999, 1000, 1022], [1023], [1_000_000]]);
    for (const text of epochs.keys()) expect(text.startsWith(FINISH)).toBe(true);

    await manyLeads();
    const texts: string[] = [];
    const spy: Database = { ...database, query: (text, params, options) => (texts.push(text), database.query(text, params, options)) };
    const outcome = (leadId: string): LeadOutcome => ({
      leadId,
      status: "unsold",
      reason: "no_bids",
      decidedAt: new Date(),
      priceCents: 0,
      revenueCents: 0,
      soldTo: 0,
      soldChannelId: null,
      soldBuyerId: null,
      excluded: [],
      overheadMs: 1,
      attempts: [],
      events: [{ status: "unsold", at: new Date(), reason: "no_bids" }],
    });
    // Batches of 1, 2, 4 and 8 leads: the count of finished leads doubles between them.
    let next = 2;
    for (const size of [1, 2, 4, 8]) {
      await finishLeads(spy, Array.from({ length: size }, () => outcome(`lead-${String(next++).padStart(8, "0")}`)));
    }
    expect(new Set(texts).size).toBeGreaterThanOrEqual(3);
    const [row] = await database.query<{ n: number }>("select count(*)::int as n from leads where status = 'unsold'", []);
    expect(row.n).toBe(15);
  });
});
