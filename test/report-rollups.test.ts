// Reports read rollups (hour rows, day rows) for what is rolled up and the raw leads for the rest.
// Whatever has been rolled, and wherever a range starts and ends, a report must say exactly what
// the raw leads say: here a seeded history is reported over many ranges before any roll (all raw),
// then again after partial and full rolls, and every answer must be identical — and its totals must
// match sums taken straight from the history.
import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client";
import { bidLandscape, dimensionReport, DIMENSIONS, reasonReport, type Dimension, type ReportFilter } from "../src/reports/query";
import { timeRange } from "../src/http/body";
import { reportRange } from "../src/reports/range";

const rangeOf = (q: { from: string; to: string; tz?: string; interval?: string }, now: number) =>
  reportRange({ ...timeRange(q), tz: q.tz, interval: q.interval }, now);
import { rollUp, rolledTo } from "../src/reports/rollup";
import { freshDatabase } from "./helpers/db";

/** A small deterministic PRNG (mulberry32), so the history is the same on every run. */
function random(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const START = Date.parse("2026-03-07T18:00:00Z"); // spans the US DST change of 2026-03-08 and two whole UTC weeks
const HOURS = 20 * 24;
const CHANNELS = [
  { id: "ch-a", buyer: "b-1", campaign: "c-1" },
  { id: "ch-b", buyer: "b-1", campaign: "c-1" },
  { id: "ch-c", buyer: "b-2", campaign: "c-1" },
  { id: "ch-d", buyer: "b-2", campaign: "c-2" },
];
const SUPPLIERS = ["s-1", "s-2", "s-3"];
const SOURCES = [null, "google", "facebook"];

interface SeedLead {
  id: string;
  campaign: string;
  supplier: string;
  source: string | null;
  test: boolean;
  status: string;
  receivedAt: number;
  revenueCents: number;
  payoutCents: number;
  soldChannel: string | null;
  pings: { channel: string; outcome: string; price: number | null; ms: number }[];
  /** Posts in order of starting (ms after arrival); a lead's sales are its accepted posts. */
  posts: { channel: string; outcome: "accepted" | "rejected"; price: number; at: number }[];
}

function history(): SeedLead[] {
  const rnd = random(20261129);
  const leads: SeedLead[] = [];
  for (let i = 0; i < 900; i++) {
    const receivedAt = START + Math.floor(rnd() * HOURS * 3_600_000);
    const campaign = rnd() < 0.75 ? "c-1" : "c-2";
    const roll = rnd();
    const status = roll < 0.05 ? "rejected" : roll < 0.1 ? "duplicate" : roll < 0.13 ? "error" : roll < 0.55 ? "sold" : "unsold";
    const pings: SeedLead["pings"] = [];
    const posts: SeedLead["posts"] = [];
    let soldChannel: string | null = null;
    let revenueCents = 0;
    if (status !== "rejected" && status !== "duplicate") {
      for (const ch of CHANNELS.filter((c) => c.campaign === campaign)) {
        const r = rnd();
        const outcome = r < 0.55 ? "bid" : r < 0.75 ? "no_bid" : r < 0.9 ? "timeout" : "error";
        pings.push({ channel: ch.id, outcome, price: outcome === "bid" ? 100 + Math.floor(rnd() * 4000) : null, ms: Math.floor(rnd() * 900) });
      }
      const bids = pings.filter((p) => p.outcome === "bid").sort((a, b) => b.price! - a.price!);
      const buyerOf = (channel: string) => CHANNELS.find((c) => c.id === channel)!.buyer;
      if (status === "sold" && bids.length) {
        soldChannel = bids[0].channel;
        revenueCents = bids[0].price!;
        posts.push({ channel: soldChannel, outcome: "accepted", price: revenueCents, at: 30 });
        // Some leads of c-1 with both buyers bidding are sold shared: each buyer's best bid posted
        // at once, and when both of b-1's channels bid, its best refuses and its other buys (the
        // refill); every accepted post is a sale, and a win.
        const buyers = new Set(bids.map((b) => buyerOf(b.channel)));
        if (campaign === "c-1" && buyers.size === 2 && rnd() < 0.4) {
          posts.length = 0;
          const first = [bids.find((b) => buyerOf(b.channel) === "b-1")!, bids.find((b) => buyerOf(b.channel) === "b-2")!];
          const refill = bids.find((b) => buyerOf(b.channel) === "b-1" && b !== first[0]);
          if (refill) posts.push({ channel: first[0].channel, outcome: "rejected", price: first[0].price!, at: 30 });
          else posts.push({ channel: first[0].channel, outcome: "accepted", price: first[0].price!, at: 30 });
          posts.push({ channel: first[1].channel, outcome: "accepted", price: first[1].price!, at: 30 });
          if (refill) posts.push({ channel: refill.channel, outcome: "accepted", price: refill.price!, at: 45 });
          const sales = posts.filter((p) => p.outcome === "accepted").sort((a, b) => b.price - a.price);
          soldChannel = sales[0].channel;
          revenueCents = sales.reduce((sum, p) => sum + p.price, 0);
        }
      }
    }
    const sold = soldChannel !== null;
    leads.push({
      id: `lead-${String(i).padStart(4, "0")}`,
      campaign,
      supplier: SUPPLIERS[Math.floor(rnd() * SUPPLIERS.length)],
      source: SOURCES[Math.floor(rnd() * SOURCES.length)],
      test: rnd() < 0.1,
      status: status === "sold" && !sold ? "unsold" : status,
      receivedAt,
      revenueCents,
      payoutCents: Math.floor(revenueCents * 0.7),
      soldChannel,
      pings,
      posts,
    });
  }
  return leads;
}

async function seed(database: Database, leads: SeedLead[]) {
  await database.rows(sql`insert into campaigns (id, status, config) values ('c-1', 'active', '{}'), ('c-2', 'active', '{}')`);
  await database.rows(sql`insert into buyers (id, status, config) values ('b-1', 'active', '{}'), ('b-2', 'active', '{}')`);
  for (const ch of CHANNELS)
    await database.rows(sql`insert into channels (id, buyer_id, campaign_id, status, config) values (${ch.id}, ${ch.buyer}, ${ch.campaign}, 'active', '{}')`);
  for (const s of SUPPLIERS) await database.rows(sql`insert into suppliers (id, status, config) values (${s}, 'active', '{}')`);
  const leadRows = leads.map((l) => [
    l.id, l.campaign, l.supplier, l.status,
    l.status === "unsold" ? "no_bids" : l.status === "rejected" ? "invalid:zip" : null,
    l.test, l.source, new Date(l.receivedAt).toISOString(), new Date(l.receivedAt + 40 + (l.receivedAt % 700)).toISOString(),
    l.payoutCents, l.revenueCents, l.posts.filter((p) => p.outcome === "accepted").length, l.soldChannel,
    l.status === "unsold" ? [{ channel_id: "ch-d", reason: "filter:state" }] : [],
  ]);
  await database.rows(sql`
    insert into leads (id, campaign_id, supplier_id, status, reason, test, source, data, received_at, decided_at, price_cents, revenue_cents,
                       sold_to, sold_channel_id, excluded)
    select r->>0, r->>1, r->>2, r->>3, r->>4, (r->>5)::boolean, r->>6, '{}'::jsonb, (r->>7)::timestamptz, (r->>8)::timestamptz,
           (r->>9)::int, (r->>10)::int, (r->>11)::int, r->>12, r->13
    from jsonb_array_elements(${JSON.stringify(leadRows)}::jsonb) r`);
  const attemptRows = leads.flatMap((l) => [
    ...l.pings.map((p) => [l.id, "ping", p.channel, new Date(l.receivedAt + 5).toISOString(), p.ms, p.outcome, p.price, p.outcome === "error" ? "http_503" : null]),
    ...l.posts.map((p) => [l.id, "post", p.channel, new Date(l.receivedAt + p.at).toISOString(), 12, p.outcome, p.price, null]),
  ]);
  await database.rows(sql`
    insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, http_status, outcome, price_cents, reason)
    select r->>0, r->>1, r->>2, (r->>3)::timestamptz, (r->>4)::int, 200, r->>5, (r->>6)::int, r->>7
    from jsonb_array_elements(${JSON.stringify(attemptRows)}::jsonb) r`);
}

/** Ranges that start and end on and off hour and day boundaries, in several zones and intervals. */
const RANGES: { from: string; to: string; tz?: string; interval?: string }[] = [
  { from: "2026-03-07T18:00:00Z", to: "2026-03-10T18:00:00Z" },
  { from: "2026-03-07T19:13:00Z", to: "2026-03-10T11:47:00Z" },
  { from: "2026-03-08", to: "2026-03-10", tz: "America/New_York", interval: "day" },
  { from: "2026-03-08", to: "2026-03-10", tz: "UTC", interval: "day" },
  { from: "2026-03-07T20:30:00Z", to: "2026-03-09T03:10:00Z", interval: "hour" },
  { from: "2026-03-01", to: "2026-04-01", interval: "week" },
  { from: "2026-03-01", to: "2026-04-01", tz: "Asia/Kolkata" },
  { from: "2026-03-08T10:05:00Z", to: "2026-03-08T10:55:00Z" },
  { from: "2026-03-07T19:13:00Z", to: "2026-03-26T11:47:00Z" },
  { from: "2026-03-02", to: "2026-03-30", interval: "week" },
  { from: "2026-03-09", to: "2026-03-23", tz: "America/Los_Angeles" },
  { from: "2026-03-08T05:00:00Z", to: "2026-03-22T00:00:00Z" },
  // Ending minutes after where a partial roll stops (2026-03-18T13:37), in the same hour.
  { from: "2026-03-17T09:20:00Z", to: "2026-03-18T13:50:00Z" },
  { from: "2026-03-18T11:20:00Z", to: "2026-03-18T13:50:00Z", interval: "hour" },
  // Week rows starting on a Thursday, a Sunday and a Saturday (each the 7 days from its start), by
  // month (weeks from each month's first day), and a month ending past the partial roll.
  { from: "2026-03-05T10:10:00Z", to: "2026-03-27T08:00:00Z" },
  { from: "2026-03-01", to: "2026-04-01", interval: "month" },
  { from: "2026-03-07", to: "2026-03-28", tz: "UTC", interval: "week" },
  { from: "2026-02-16T13:00:00Z", to: "2026-03-18T13:50:00Z" },
];

/** Filters that send a report to each level of its table, and the channel report by source to the raw leads. */
const FILTERED: [Dimension, ReportFilter][] = [
  ["campaigns", { campaign: "c-1" }],
  ["suppliers", { source: "google" }],
  ["sources", { supplier: "s-2", campaign: "c-1" }],
  ["channels", { supplier: "s-2" }],
  ["channels", { source: "google" }],
  ["buyers", { buyer: "b-1", supplier: "s-1" }],
];

/**
 * The rollup tables as migrations 0005 and 0006 knew them: report_bids had no levels until 0007, so
 * their statements for it cannot run on a database made today (and the roller's bid rows have levels
 * those statements never wrote).
 */
const TABLES_BEFORE_0007 = ["report_leads", "report_channels", "report_reasons"];
const statementsBefore0007 = (migration: string) => migration.split("--> statement-breakpoint").filter((st) => !st.includes("INSERT INTO report_bids"));

async function everyReport(database: Database) {
  const out: unknown[] = [];
  for (const r of RANGES) {
    const range = rangeOf(r, Date.parse("2026-03-11T00:00:00Z"));
    for (const dimension of DIMENSIONS) out.push(await dimensionReport(database, dimension as Dimension, range, {}, false));
    for (const [dimension, filter] of FILTERED) out.push(await dimensionReport(database, dimension, range, filter, false));
    out.push(await dimensionReport(database, "sources", range, {}, true));
    // The landscape over all (level 2), of a campaign (level 1) and of a channel (level 0).
    out.push(await bidLandscape(database, range, {}, false, 50));
    out.push(await bidLandscape(database, range, { campaign: "c-1" }, false, 500));
    out.push(await bidLandscape(database, range, { channel: "ch-b" }, false, 100));
    out.push(await reasonReport(database, range, {}, false));
  }
  return out;
}

describe("reports over rollups and raw leads", () => {
  let database: Database;
  let drop: () => Promise<void>;
  const leads = history();
  let truth: unknown[];

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    database = await openDatabase(fresh.target);
    await migrateDatabase(fresh.target, database);
    await seed(database, leads);
    truth = await everyReport(database); // nothing rolled up yet: every figure comes from the raw leads
    // A few seconds quiet; it passed 120 s once with the load average at 15.
  }, 300_000);

  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("totals match sums taken straight from the history", async () => {
    const range = rangeOf({ from: "2026-03-07T19:13:00Z", to: "2026-03-10T11:47:00Z" }, Date.now());
    const inRange = leads.filter((l) => !l.test && l.receivedAt >= range.from.getTime() && l.receivedAt < range.to.getTime());
    const campaigns = await dimensionReport(database, "campaigns", range, {}, false);
    expect(campaigns.totals.leads).toBe(inRange.length);
    expect(campaigns.totals.sold).toBe(inRange.filter((l) => l.soldChannel).length);
    expect(campaigns.totals.revenue).toBe(inRange.reduce((s, l) => s + l.revenueCents, 0) / 100);
    expect(campaigns.totals.payout).toBe(inRange.reduce((s, l) => s + l.payoutCents, 0) / 100);
    expect(campaigns.totals.pings).toBe(inRange.reduce((s, l) => s + l.pings.length, 0));
    expect(campaigns.rows.map((r) => r.key.campaign).sort()).toEqual(["c-1", "c-2"]);
    const shared = inRange.filter((l) => l.posts.filter((p) => p.outcome === "accepted").length > 1);
    expect(shared.length).toBeGreaterThan(3);
    expect(shared.some((l) => l.posts.some((p) => p.outcome === "rejected"))).toBe(true);
    expect(campaigns.totals.wins).toBe(inRange.reduce((n, l) => n + l.posts.filter((p) => p.outcome === "accepted").length, 0));

    const channels = await dimensionReport(database, "channels", range, {}, false);
    for (const ch of CHANNELS) {
      const row = channels.rows.find((r) => r.key.channel === ch.id)!;
      const pings = inRange.flatMap((l) => l.pings.filter((p) => p.channel === ch.id));
      expect(row.key.buyer).toBe(ch.buyer);
      expect(row.pings).toBe(pings.length);
      expect(row.bids).toBe(pings.filter((p) => p.outcome === "bid").length);
      expect(row.timeouts).toBe(pings.filter((p) => p.outcome === "timeout").length);
      const sales = inRange.flatMap((l) => l.posts.filter((p) => p.channel === ch.id && p.outcome === "accepted"));
      expect(row.sold).toBe(sales.length);
      // A win: the lead's one post (an exclusive sale), or each sale of a shared lead, never its refused post.
      expect(row.wins).toBe(sales.length);
      const maxBid = Math.max(...pings.filter((p) => p.price !== null).map((p) => p.price!));
      expect(row.max_bid).toBe(maxBid / 100);
    }
    const test = await dimensionReport(database, "campaigns", range, {}, true);
    expect(test.totals.leads).toBe(leads.filter((l) => l.test && l.receivedAt >= range.from.getTime() && l.receivedAt < range.to.getTime()).length);
  });

  it("stops after the step under way when told to (a shutdown does not wait for a long catch-up)", async () => {
    const stop = new AbortController();
    stop.abort();
    const first = await rollUp(database, { until: new Date("2026-03-18T13:37:00Z"), signal: stop.signal });
    expect(first.rolledTo.toISOString()).toBe("2026-03-07T19:00:00.000Z");
    expect((await rolledTo(database))?.toISOString()).toBe("2026-03-07T19:00:00.000Z");
  });

  it("says the same after a roll that stops inside an hour", async () => {
    await rollUp(database, { until: new Date("2026-03-18T13:37:00Z") });
    expect((await rolledTo(database))?.toISOString()).toBe("2026-03-18T13:37:00.000Z");
    expect(await everyReport(database)).toEqual(truth);
  }, 120_000);

  it("gives rollups written before a day's row held its hours rolled so far the row of the day being rolled (migration 0006)", async () => {
    const dayRows = async () => {
      const rows: string[] = [];
      for (const table of TABLES_BEFORE_0007)
        for (const row of await database.rows(sql`select * from ${sql.raw(table)} where grain = 'day' and at = '2026-03-18T00:00:00Z'`)) rows.push(JSON.stringify(row));
      return rows.sort();
    };
    const written = await dayRows();
    expect(written.length).toBeGreaterThan(0);
    for (const table of TABLES_BEFORE_0007)
      await database.rows(sql`delete from ${sql.raw(table)} where grain = 'day' and at = '2026-03-18T00:00:00Z'`);
    const migration = readFileSync(new URL("../drizzle/0006_report_day_so_far.sql", import.meta.url), "utf8");
    await database.db.transaction(async (tx) => {
      for (const statement of statementsBefore0007(migration)) await tx.execute(sql.raw(statement));
    });
    expect(await dayRows()).toEqual(written);
    expect(await everyReport(database)).toEqual(truth);
  }, 120_000);

  it("says the same after rolling everything", async () => {
    await rollUp(database, { until: new Date("2026-04-01T00:00:00Z"), stepMs: 86_400_000 });
    for (const grain of ["day", "week", "four_weeks"]) {
      const [rows] = await database.rows<{ n: number }>(sql`select count(*)::int as n from report_leads where grain = ${grain}`);
      expect(rows.n, grain).toBeGreaterThan(0);
    }
    expect(await everyReport(database)).toEqual(truth);
  }, 120_000);

  it("rolls each lead once, however many processes roll at the same time", async () => {
    const counted = () => database.rows<{ level: number; n: number }>(sql`select level, sum(leads)::int as n from report_leads where grain = 'hour' group by level order by level`);
    const before = await counted();
    await Promise.all([rollUp(database), rollUp(database), rollUp(database)]);
    expect(await counted()).toEqual(before);
    // Every level of detail holds every lead once.
    expect(before).toEqual([0, 1, 2, 3, 4].map((level) => ({ level, n: leads.length })));
  });

  it("gives rollups written with week rows on Mondays only the week rows of every day, as the roller writes them (migration 0005)", async () => {
    // Each table's week rows, in one order whatever order they were written in.
    const weeks = () =>
      Promise.all(
        TABLES_BEFORE_0007.map(async (table) =>
          (await database.rows(sql`select * from ${sql.raw(table)} where grain = 'week'`)).map((row) => JSON.stringify(row)).sort(),
        ),
      );
    const written = await weeks();
    expect(written[0].length).toBeGreaterThan(0);
    for (const table of TABLES_BEFORE_0007)
      await database.rows(sql`delete from ${sql.raw(table)} where grain = 'week' and extract(isodow from at at time zone 'UTC') <> 1`);
    const migration = readFileSync(new URL("../drizzle/0005_report_weeks_every_day.sql", import.meta.url), "utf8");
    await database.db.transaction(async (tx) => {
      for (const statement of statementsBefore0007(migration)) await tx.execute(sql.raw(statement));
    });
    expect(await weeks()).toEqual(written);
    expect(await everyReport(database)).toEqual(truth);
  }, 120_000);

  it("gives bid rollups written before the bid landscape had levels its campaign and overall levels (migration 0007)", async () => {
    const bids = async () => (await database.rows(sql`select * from report_bids`)).map((row) => JSON.stringify(row)).sort();
    const written = await bids();
    const [levels] = await database.rows<{ n: number }>(sql`select count(distinct level)::int as n from report_bids`);
    expect(levels.n).toBe(3);
    await database.rows(sql`delete from report_bids where level <> 0`);
    // Its rows: the levels summed from the channels' (its table changes ran when the database was made).
    const migration = readFileSync(new URL("../drizzle/0007_report_bids_levels.sql", import.meta.url), "utf8");
    await database.db.transaction(async (tx) => {
      for (const statement of migration.split("--> statement-breakpoint").filter((st) => st.includes("INSERT INTO"))) await tx.execute(sql.raw(statement));
    });
    expect(await bids()).toEqual(written);
    expect(await everyReport(database)).toEqual(truth);
  }, 120_000);

  it("gives rollups written before four-week rows those rows, as the roller writes them (migration 0008)", async () => {
    const fourWeeks = async () => {
      const rows: string[] = [];
      for (const table of ["report_leads", "report_channels", "report_bids", "report_reasons"])
        for (const row of await database.rows(sql`select * from ${sql.raw(table)} where grain = 'four_weeks'`)) rows.push(JSON.stringify(row));
      return rows.sort();
    };
    const written = await fourWeeks();
    expect(written.length).toBeGreaterThan(0);
    for (const table of ["report_leads", "report_channels", "report_bids", "report_reasons"]) await database.rows(sql`delete from ${sql.raw(table)} where grain = 'four_weeks'`);
    const migration = readFileSync(new URL("../drizzle/0008_report_four_weeks.sql", import.meta.url), "utf8");
    await database.db.transaction(async (tx) => {
      for (const statement of migration.split("--> statement-breakpoint")) await tx.execute(sql.raw(statement));
    });
    expect(await fourWeeks()).toEqual(written);
    expect(await everyReport(database)).toEqual(truth);
  }, 120_000);

  it("gives rollups written before the campaign, supplier and buyer levels those levels (migration 0004)", async () => {
    await database.rows(sql`delete from report_leads where level in (3, 4)`);
    await database.rows(sql`delete from report_channels where level = 3`);
    const migration = readFileSync(new URL("../drizzle/0004_report_levels.sql", import.meta.url), "utf8");
    await database.db.transaction(async (tx) => {
      for (const statement of migration.split("--> statement-breakpoint")) await tx.execute(sql.raw(statement));
    });
    expect(await everyReport(database)).toEqual(truth);
  }, 120_000);
});
