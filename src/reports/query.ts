// The reports: sums of rollup rows (and of the raw leads the rollups do not hold yet), grouped by a
// dimension and optionally by period, with every figure derived here once. Sums stay integers
// (counts, cents, histogram counts) until the very end, so totals and rates are exact.
import { sql, type SQL } from "drizzle-orm";
import { DateTime } from "luxon";
import { txRows, type Database } from "../db/client";
import { GavelError } from "../errors";
import { factsSql, levelsOf, STEP_CENTS, ts, type LeadFilter, type RollupTable, type Window } from "./facts";
import { addCounts, BUCKETS, parseCounts, quantile, sumSql } from "./histogram";
import { grainsFor, segments, type ReportRange } from "./range";
import { columns, rolledTo, summedColumns } from "./rollup";

export const DIMENSIONS = ["campaigns", "suppliers", "sources", "buyers", "channels"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export interface ReportFilter {
  campaign?: string;
  supplier?: string;
  source?: string;
  subId?: string;
  buyer?: string;
  channel?: string;
}

interface DimensionShape {
  table: "report_leads" | "report_channels";
  /** Output key name → column. */
  key: Record<string, string>;
}

const SHAPES: Record<Dimension, DimensionShape> = {
  campaigns: { table: "report_leads", key: { campaign: "campaign_id" } },
  suppliers: { table: "report_leads", key: { supplier: "supplier_id" } },
  sources: { table: "report_leads", key: { supplier: "supplier_id", source: "source", sub_id: "sub_id" } },
  buyers: { table: "report_channels", key: { buyer: "buyer_id" } },
  channels: { table: "report_channels", key: { channel: "channel_id", buyer: "buyer_id" } },
};

const FILTER_COLUMNS: Record<keyof ReportFilter, string> = {
  campaign: "campaign_id",
  supplier: "supplier_id",
  source: "source",
  subId: "sub_id",
  buyer: "buyer_id",
  channel: "channel_id",
};

const QUERY_NAMES: Record<keyof ReportFilter, string> = { campaign: "campaign", supplier: "supplier", source: "source", subId: "sub_id", buyer: "buyer", channel: "channel" };

/** The sums a report reads per row, and its latency histograms, by table: the rollup's own columns. */
const SUMS = { report_leads: summedColumns("report_leads").sums, report_channels: summedColumns("report_channels").sums };
const HISTOGRAMS = { report_leads: summedColumns("report_leads").histograms, report_channels: summedColumns("report_channels").histograms };

type Sums = Record<string, number> & { max_bid_cents: number | null };
type Histograms = Record<string, number[]>;

interface Group {
  key: Record<string, string | null>;
  period: string | null;
  sums: Sums;
  histograms: Histograms;
}

export interface DimensionReport {
  from: string;
  to: string;
  tz: string;
  interval: string | null;
  rows: ({ key: Record<string, string | null>; period?: string } & Record<string, unknown>)[];
  totals: Record<string, number | null>;
  /** With an interval: the totals of each period, over every key (periods with no leads are absent). */
  periods?: ({ period: string } & Record<string, number | null | string>)[];
}

const col = (name: string) => sql.raw(name);
const windowsSql = (windows: readonly Window[]) =>
  sql.join(
    windows.map((w) => sql`(at >= ${ts(w.from)} and at < ${ts(w.to)})`),
    sql` or `,
  );

/**
 * The level of a table holding every column a report groups or filters by; a report asking for a
 * column no level holds is refused with the report that has it.
 */
function levelFor(table: "report_leads" | "report_channels", needed: string[]): number | null {
  const fitting = levelsOf(table)
    .filter(({ cols }) => needed.every((c) => cols.includes(c)))
    .sort((a, b) => a.cols.length - b.cols.length);
  return fitting[0]?.level ?? null;
}

/** Rows of a rollup table over the range's segments (rollups and raw), restricted to one level. */
function unionSql(table: RollupTable, level: number | null, range: ReportRange, filter: Record<string, string>, test: boolean, lead: LeadFilter, rolled: Date | null, allRaw: boolean): SQL {
  const names = columns(table).filter((c) => c !== "grain");
  const list = sql.raw(names.join(", "));
  const where = (extra: SQL[]) => {
    const conditions = [...extra, sql`test = ${test}`];
    if (level !== null) conditions.push(sql`level = ${level}`);
    for (const [column, value] of Object.entries(filter)) conditions.push(sql`${col(column)} = ${value}`);
    return sql.join(conditions, sql` and `);
  };
  const parts: SQL[] = [];
  const seg = allRaw ? { weeks: null, days: [], hours: [], raw: [{ from: range.from, to: range.to }] } : segments(range.from, range.to, rolled, grainsFor(range));
  if (seg.weeks) parts.push(sql`select ${list} from ${col(table)} where ${where([sql`grain = 'week'`, sql`at >= ${ts(seg.weeks.from)}`, sql`at < ${ts(seg.weeks.to)}`])}`);
  if (seg.days.length) parts.push(sql`select ${list} from ${col(table)} where ${where([sql`grain = 'day'`, sql`(${windowsSql(seg.days)})`])}`);
  if (seg.hours.length) parts.push(sql`select ${list} from ${col(table)} where ${where([sql`grain = 'hour'`, sql`(${windowsSql(seg.hours)})`])}`);
  if (seg.raw.length) parts.push(sql`select ${list} from (${factsSql(table, seg.raw, { ...lead, test }, level)}) f where ${where([])}`);
  if (parts.length === 0) parts.push(sql`select ${list} from ${col(table)} where false`);
  return sql.join(parts, sql` union all `);
}

/**
 * A report's read, with room to group in memory: at the default work_mem (4 MB) a month of the most
 * detailed rollup rows is sorted on disk before it is grouped.
 */
async function reportRows<T>(database: Database, query: SQL): Promise<T[]> {
  return database.db.transaction(async (tx) => {
    await tx.execute(sql`set local work_mem = '64MB'`);
    return txRows<T>(tx, query);
  });
}

function periodSql(range: ReportRange): SQL {
  return range.interval ? sql`date_trunc(${range.interval}, at, ${range.tz})` : sql`null::timestamptz`;
}

/** A report by campaign, supplier, source, buyer or channel. */
export async function dimensionReport(database: Database, dimension: Dimension, range: ReportRange, filter: ReportFilter, test: boolean): Promise<DimensionReport> {
  const shape = SHAPES[dimension];
  const table = shape.table;
  const given = (Object.keys(filter) as (keyof ReportFilter)[]).filter((k) => filter[k] !== undefined);
  const columnsNeeded = [...new Set([...Object.values(shape.key), ...given.map((k) => FILTER_COLUMNS[k])])];
  let level = levelFor(table, columnsNeeded);
  // A channel report by source has no rollup level: it is read from the raw leads and attempts
  // (slower, and only as far back as attempts are kept).
  const bySourceRaw = level === null && table === "report_channels";
  if (level === null && table === "report_leads") {
    const offending = given.filter((k) => k === "buyer" || k === "channel").map((k) => QUERY_NAMES[k]);
    throw new GavelError("validation", "Bad report query", {
      errors: offending.map((name) => ({
        path: name,
        message: `the ${dimension} report counts leads, not sales per channel: filter by ${name} on /v1/reports/channels or /v1/reports/buyers (which also take campaign and supplier)`,
      })),
    });
  }
  if (bySourceRaw) level = levelFor(table, columnsNeeded.filter((c) => c !== "source" && c !== "sub_id"));
  const rolled = await rolledTo(database);
  const leadFilter: LeadFilter = { campaign: filter.campaign, supplier: filter.supplier, source: filter.source, subId: filter.subId };
  const columnFilter: Record<string, string> = {};
  for (const k of given) if (!(bySourceRaw && (k === "source" || k === "subId"))) columnFilter[FILTER_COLUMNS[k]] = filter[k]!;
  const keyColumns = Object.values(shape.key);
  const keyList = sql.raw(keyColumns.join(", "));
  const sums = SUMS[table].map((c) => `coalesce(sum(${c}), 0)::float8 as ${c}`).join(", ");
  // Sources, the most detailed report, give no decision latency (campaigns and suppliers do): it
  // would cost a month's report a sum per bucket of every one of its many rows.
  const kept: readonly string[] = dimension === "sources" ? [] : HISTOGRAMS[table];
  const histograms = kept.map((c) => `, ${sumSql(c)} as ${c}`).join("");
  const rows = await reportRows<Record<string, unknown>>(database, sql`
    select ${keyList}, ${periodSql(range)} as period, ${sql.raw(sums)}, max(max_bid_cents)::float8 as max_bid_cents${sql.raw(histograms)}
    from (${unionSql(table, level, range, columnFilter, test, leadFilter, rolled, bySourceRaw)}) r
    group by ${keyList}, period`);

  // A month's sources report has thousands of rows: each is turned into figures with plain loops,
  // its sums read where the driver put them (every sum is a float8 column of the row), and each
  // period's text is written once.
  const keyNames = Object.entries(shape.key);
  const periodTexts = new Map<number, string>();
  const groups: (Group & { row: Record<string, unknown>; at: number })[] = rows.map((row) => {
    const key: Record<string, string | null> = {};
    for (const [name, column] of keyNames) key[name] = (row[column] as string) === "" ? null : (row[column] as string);
    const at = row.period === null ? 0 : new Date(row.period as string | Date).getTime();
    let period: string | null = null;
    if (row.period !== null) {
      period = periodTexts.get(at) ?? periodText(at, range.tz);
      periodTexts.set(at, period);
    }
    const histograms: Histograms = {};
    for (const c of kept) histograms[c] = parseCounts(row[c] as string);
    return { key, row, at, period, sums: row as Sums, histograms };
  });
  const emptyGroup = (period: string | null): Group => ({
    key: {},
    period,
    sums: emptySums(table),
    histograms: Object.fromEntries(kept.map((c) => [c, new Array<number>(BUCKETS).fill(0)])),
  });
  const add = (into: Group, g: Group) => {
    for (const c of SUMS[table]) into.sums[c] += g.sums[c];
    if (g.sums.max_bid_cents !== null) into.sums.max_bid_cents = Math.max(into.sums.max_bid_cents ?? 0, g.sums.max_bid_cents);
    for (const c of kept) addCounts(into.histograms[c], g.histograms[c]);
  };
  const total = emptyGroup(null);
  const perPeriod = new Map<number, Group>();
  for (const g of groups) {
    add(total, g);
    if (g.period === null) continue;
    let p = perPeriod.get(g.at);
    if (!p) perPeriod.set(g.at, (p = emptyGroup(g.period)));
    add(p, g);
  }
  // By period, then revenue, then key (column by column), so equal revenues keep one order.
  const byKey = (a: { row: Record<string, unknown> }, b: { row: Record<string, unknown> }) => {
    for (const c of keyColumns) {
      const x = a.row[c] as string;
      const y = b.row[c] as string;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };
  groups.sort((a, b) => a.at - b.at || b.sums.revenue_cents - a.sums.revenue_cents || byKey(a, b));
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    tz: range.tz,
    interval: range.interval,
    rows: groups.map((g) => ({ key: g.key, ...(range.interval && { period: g.period! }), ...metrics(table, g) })),
    totals: metrics(table, total),
    ...(range.interval && {
      periods: [...perPeriod.entries()].sort(([a], [b]) => a - b).map(([, p]) => ({ period: p.period!, ...metrics(table, p) })),
    }),
  };
}

function emptySums(table: "report_leads" | "report_channels"): Sums {
  const sums = { max_bid_cents: null } as Sums;
  for (const c of SUMS[table]) sums[c] = 0;
  return sums;
}

/** A bucket's start as ISO 8601 with the zone's offset at that instant. */
function periodText(at: number, tz: string): string {
  return DateTime.fromMillis(at, { zone: tz }).toISO({ suppressMilliseconds: true })!;
}

const money = (cents: number) => Math.round(cents) / 100;
const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);
/** A money amount per unit, rounded half up to the cent. */
const moneyPer = (cents: number, n: number) => (n === 0 ? null : Math.round(cents / n) / 100);

/** Every figure of a row, derived from its sums once. */
function metrics(table: "report_leads" | "report_channels", g: Group): Record<string, number | null> {
  const s = g.sums;
  const common = {
    pings: s.pings,
    bids: s.bids,
    bid_rate: ratio(s.bids, s.pings),
    avg_bid: moneyPer(s.bid_cents, s.bids),
    max_bid: s.max_bid_cents === null ? null : money(s.max_bid_cents),
    wins: s.wins,
    posts: s.posts,
    accepted: s.accepted,
    accept_rate: ratio(s.accepted, s.posts),
    post_rejects: s.post_rejects,
    timeouts: s.timeouts,
    revenue: money(s.revenue_cents),
    payout: money(s.payout_cents),
    margin: money(s.revenue_cents - s.payout_cents),
    epl: moneyPer(s.revenue_cents, s.leads),
  };
  const percentiles = (name: string, counts: number[]) => ({
    [`${name}_p50`]: quantile(counts, 0.5),
    [`${name}_p95`]: quantile(counts, 0.95),
    [`${name}_p99`]: quantile(counts, 0.99),
  });
  if (table === "report_leads")
    return {
      leads: s.leads,
      rejected: s.rejected,
      duplicate: s.duplicate,
      auctioned: s.auctioned,
      sold: s.sold,
      unsold: s.unsold,
      errors: s.errors,
      sell_through: ratio(s.sold, s.auctioned),
      ...common,
      ...(g.histograms.decision_ms && percentiles("decision_ms", g.histograms.decision_ms)),
    };
  return {
    leads: s.leads,
    excluded: s.excluded,
    auctioned: s.pings,
    sold: s.sold,
    sell_through: ratio(s.sold, s.pings),
    errors: s.errors,
    ...common,
    ...percentiles("ping_ms", g.histograms.ping_ms),
    ...percentiles("post_ms", g.histograms.post_ms),
  };
}

export interface BidLandscape {
  from: string;
  to: string;
  tz: string;
  bucket: number;
  rows: { min_price: number; max_price: number; bids: number; wins: number; posts: number; accepted: number; post_reject_rate: number | null }[];
  totals: { bids: number; wins: number; posts: number; accepted: number; post_reject_rate: number | null };
}

/** Bids per price range (`bucketCents` wide, a multiple of STEP_CENTS), and what came of them. */
export async function bidLandscape(
  database: Database,
  range: ReportRange,
  filter: { campaign?: string; channel?: string },
  test: boolean,
  bucketCents: number,
): Promise<BidLandscape> {
  const rolled = await rolledTo(database);
  const columnFilter: Record<string, string> = {};
  if (filter.campaign !== undefined) columnFilter.campaign_id = filter.campaign;
  if (filter.channel !== undefined) columnFilter.channel_id = filter.channel;
  const perBucket = bucketCents / STEP_CENTS;
  const rows = await reportRows<{ bucket: number; bids: number; wins: number; posts: number; accepted: number }>(database, sql`
    select (step / ${perBucket}::int)::int as bucket, sum(bids)::float8 as bids, sum(wins)::float8 as wins, sum(posts)::float8 as posts, sum(accepted)::float8 as accepted
    from (${unionSql("report_bids", null, range, columnFilter, test, { campaign: filter.campaign }, rolled, false)}) r
    group by 1 order by 1`);
  const line = (r: { bids: number; wins: number; posts: number; accepted: number }) => ({
    bids: Number(r.bids),
    wins: Number(r.wins),
    posts: Number(r.posts),
    accepted: Number(r.accepted),
    post_reject_rate: ratio(Number(r.posts) - Number(r.accepted), Number(r.posts)),
  });
  const totals = { bids: 0, wins: 0, posts: 0, accepted: 0 };
  for (const r of rows) for (const k of ["bids", "wins", "posts", "accepted"] as const) totals[k] += Number(r[k]);
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    tz: range.tz,
    bucket: bucketCents / 100,
    rows: rows.map((r) => ({ min_price: money(Number(r.bucket) * bucketCents), max_price: money((Number(r.bucket) + 1) * bucketCents), ...line(r) })),
    totals: line(totals),
  };
}

export interface ReasonReport {
  from: string;
  to: string;
  tz: string;
  rows: { key: { channel: string | null; stage: string; reason: string }; count: number; orphans: number }[];
  totals: { count: number; orphans: number };
}

/** Exclusions, non-bids, refused posts and leads' own reasons, per channel and reason, with orphans. */
export async function reasonReport(database: Database, range: ReportRange, filter: { campaign?: string; channel?: string }, test: boolean): Promise<ReasonReport> {
  const rolled = await rolledTo(database);
  const columnFilter: Record<string, string> = {};
  if (filter.campaign !== undefined) columnFilter.campaign_id = filter.campaign;
  if (filter.channel !== undefined) columnFilter.channel_id = filter.channel;
  const rows = await reportRows<{ channel_id: string; stage: string; reason: string; count: number; orphans: number }>(database, sql`
    select channel_id, stage, reason, sum(count)::float8 as count, sum(orphans)::float8 as orphans
    from (${unionSql("report_reasons", null, range, columnFilter, test, { campaign: filter.campaign }, rolled, false)}) r
    group by 1, 2, 3 order by 4 desc, 1, 2, 3`);
  const totals = { count: 0, orphans: 0 };
  for (const r of rows) {
    totals.count += Number(r.count);
    totals.orphans += Number(r.orphans);
  }
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    tz: range.tz,
    rows: rows.map((r) => ({
      key: { channel: r.channel_id === "" ? null : r.channel_id, stage: r.stage, reason: r.reason },
      count: Number(r.count),
      orphans: Number(r.orphans),
    })),
    totals,
  };
}
