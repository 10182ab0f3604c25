// Held leads in the reports: the roller does not wait for a held lead (it may wait a week), and a
// held lead is counted once it is decided, in the hour it arrived in. Here held leads arrive in
// hours, days, weeks and four weeks the roller has already summed; once they are decided (sold,
// unsold, expired) and the roller runs again, every report must say exactly what the raw leads say,
// and the one still held is in no figure.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client";
import { timeRange } from "../src/http/body";
import { bidLandscape, dimensionReport, DIMENSIONS, reasonReport } from "../src/reports/query";
import { reportRange } from "../src/reports/range";
import { rollUp } from "../src/reports/rollup";
import { freshDatabase } from "./helpers/db";

const START = Date.parse("2026-03-01T00:00:00Z");
const END = Date.parse("2026-04-10T00:00:00Z");
const HOUR = 3_600_000;

interface Lead {
  id: string;
  status: string;
  at: number;
  supplier: string;
  channel: string;
  bid: number | null;
}

/** Decided leads, one every 7 hours and a bit, over 40 days; the held ones are added by the test. */
function history(): Lead[] {
  const leads: Lead[] = [];
  for (let i = 0, at = START + 1_234; at < END - 2 * HOUR; i++, at += 7 * HOUR + 60_000 * (i % 13)) {
    const sold = i % 3 !== 0;
    leads.push({ id: `lead-${i}`, status: sold ? "sold" : "unsold", at, supplier: i % 2 ? "s-1" : "s-2", channel: i % 4 < 2 ? "ch-a" : "ch-b", bid: sold ? 500 + (i % 7) * 100 : null });
  }
  return leads;
}

/** Held leads: two in the first days (their weeks and four weeks summed before they are decided), one late, one that stays held. */
const HELD = [
  { id: "held-1", at: Date.parse("2026-03-02T03:10:00Z"), supplier: "s-1", channel: "ch-a", outcome: { status: "sold", bid: 4_200 } },
  { id: "held-2", at: Date.parse("2026-03-02T03:40:00Z"), supplier: "s-3", channel: "ch-c", outcome: { status: "sold", bid: 3_300 } },
  { id: "held-3", at: Date.parse("2026-03-03T22:05:00Z"), supplier: "s-2", channel: "ch-b", outcome: { status: "expired", bid: null } },
  { id: "held-4", at: Date.parse("2026-04-08T05:00:00Z"), supplier: "s-1", channel: "ch-b", outcome: { status: "unsold", bid: null } },
  { id: "held-5", at: Date.parse("2026-03-20T12:00:00Z"), supplier: "s-1", channel: "ch-a", outcome: null },
];

async function insertLead(database: Database, l: Lead, decidedAfterMs = 500) {
  const sold = l.status === "sold";
  await database.rows(sql`
    insert into leads (id, campaign_id, supplier_id, status, reason, test, data, received_at, decided_at, price_cents, revenue_cents, sold_to, sold_channel_id, excluded)
    values (${l.id}, 'c-1', ${l.supplier}, ${l.status}, ${l.status === "unsold" ? "no_bids" : l.status === "expired" ? "hold_expired" : null}, false, '{}'::jsonb,
            ${new Date(l.at).toISOString()}::timestamptz, ${l.status === "held" ? null : new Date(l.at + decidedAfterMs).toISOString()}::timestamptz,
            ${sold ? Math.floor(l.bid! * 0.7) : 0}, ${sold ? l.bid! : 0}, ${sold ? 1 : 0}, ${sold ? l.channel : null}, '[]'::jsonb)`);
}

async function insertAttempts(database: Database, l: Lead, startedAt: number) {
  if (l.status === "expired") return;
  await database.rows(sql`
    insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, http_status, outcome, price_cents, reason)
    values (${l.id}, 'ping', ${l.channel}, ${new Date(startedAt).toISOString()}::timestamptz, 40, 200, ${l.bid === null ? "no_bid" : "bid"}, ${l.bid}, null)`);
  if (l.status === "sold")
    await database.rows(sql`
      insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, http_status, outcome, price_cents, reason)
      values (${l.id}, 'post', ${l.channel}, ${new Date(startedAt + 50).toISOString()}::timestamptz, 20, 200, 'accepted', ${l.bid}, null)`);
}

const RANGES = [
  { from: "2026-03-01", to: "2026-04-10" },
  { from: "2026-03-01", to: "2026-04-10", interval: "week" },
  { from: "2026-03-02", to: "2026-03-30" },
  { from: "2026-03-02T03:00:00Z", to: "2026-03-02T04:00:00Z" },
  { from: "2026-03-01", to: "2026-03-10", interval: "day" },
  { from: "2026-04-01", to: "2026-04-10", tz: "America/New_York" },
];

async function everyReport(database: Database) {
  const out: unknown[] = [];
  for (const r of RANGES) {
    const range = reportRange({ ...timeRange(r), tz: r.tz, interval: r.interval }, END);
    for (const dimension of DIMENSIONS) out.push(await dimensionReport(database, dimension, range, {}, false));
    out.push(await dimensionReport(database, "suppliers", range, { supplier: "s-3" }, false));
    out.push(await bidLandscape(database, range, {}, false, 100));
    out.push(await reasonReport(database, range, {}, false));
  }
  return out;
}

describe("held leads in the reports", () => {
  let database: Database;
  let drop: () => Promise<void>;
  const decided = history();

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    database = await openDatabase(fresh.target);
    await migrateDatabase(fresh.target, database);
    await database.rows(sql`insert into campaigns (id, status, config) values ('c-1', 'active', '{}')`);
    await database.rows(sql`insert into buyers (id, status, config) values ('b-1', 'active', '{}'), ('b-2', 'active', '{}')`);
    await database.rows(sql`insert into channels (id, buyer_id, campaign_id, status, config) values ('ch-a', 'b-1', 'c-1', 'active', '{}'), ('ch-b', 'b-2', 'c-1', 'active', '{}'), ('ch-c', 'b-2', 'c-1', 'active', '{}')`);
    await database.rows(sql`insert into suppliers (id, status, config) values ('s-1', 'active', '{}'), ('s-2', 'active', '{}'), ('s-3', 'active', '{}')`);
    for (const l of decided) {
      await insertLead(database, l);
      await insertAttempts(database, l, l.at + 5);
    }
    for (const h of HELD) {
      await insertLead(database, { id: h.id, status: "held", at: h.at, supplier: h.supplier, channel: h.channel, bid: null });
      await database.rows(sql`insert into held_leads (lead_id, campaign_id, release_at, expires_at)
        values (${h.id}, 'c-1', ${new Date(END + HOUR).toISOString()}::timestamptz, ${new Date(h.at + 168 * HOUR).toISOString()}::timestamptz)`);
    }
  }, 120_000);

  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("rolls past held leads without waiting for them, and counts none of them while held", async () => {
    const rolled = await rollUp(database, { until: new Date(END), stepMs: 86_400_000 });
    expect(rolled.rolledTo.toISOString()).toBe(new Date(END).toISOString());
    const deferred = await database.rows<{ lead_id: string }>(sql`select lead_id from report_deferred order by lead_id`);
    expect(deferred.map((d) => d.lead_id)).toEqual(HELD.map((h) => h.id).sort());
    const [weeks] = await database.rows<{ n: number }>(sql`select count(*)::int as n from report_leads where grain = 'four_weeks' and at = '2026-03-01T00:00:00Z'`);
    expect(weeks.n).toBeGreaterThan(0);
    const all = reportRange({ ...timeRange(RANGES[0]) }, END);
    expect((await dimensionReport(database, "campaigns", all, {}, false)).totals.leads).toBe(decided.length);
  }, 120_000);

  it("adds each held lead to its arrival hour's rollups once decided: rolled and raw reports agree", async () => {
    // The held leads are decided days after they arrived (the release's auction, or the expiry).
    for (const h of HELD) {
      if (!h.outcome) continue;
      const lead = { id: h.id, status: h.outcome.status, at: h.at, supplier: h.supplier, channel: h.channel, bid: h.outcome.bid };
      await database.rows(sql`delete from held_leads where lead_id = ${h.id}`);
      await database.rows(sql`delete from leads where id = ${h.id}`);
      await insertLead(database, lead, 30 * HOUR);
      await insertAttempts(database, lead, h.at + 30 * HOUR);
    }
    await rollUp(database, { until: new Date(END), stepMs: 86_400_000 });
    const left = await database.rows<{ lead_id: string }>(sql`select lead_id from report_deferred`);
    expect(left.map((d) => d.lead_id)).toEqual(["held-5"]);

    const rolledReports = await everyReport(database);
    const all = reportRange({ ...timeRange(RANGES[0]) }, END);
    const totals = (await dimensionReport(database, "campaigns", all, {}, false)).totals;
    expect(totals.leads).toBe(decided.length + 4);
    expect(totals.sold).toBe(decided.filter((l) => l.status === "sold").length + 2);
    const s3 = await dimensionReport(database, "suppliers", all, { supplier: "s-3" }, false);
    expect(s3.totals).toMatchObject({ leads: 1, sold: 1, revenue: 33, pings: 1, bids: 1 });

    // The same reports with nothing rolled up: every figure from the raw leads.
    for (const table of ["report_leads", "report_channels", "report_bids", "report_reasons", "report_progress"])
      await database.rows(sql`delete from ${sql.raw(table)}`);
    expect(await everyReport(database)).toEqual(rolledReports);
  }, 120_000);
});
