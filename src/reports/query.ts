// The reports: sums of rollup rows (and of the raw leads the rollups do not hold yet), grouped by a
// dimension and optionally by period, with every figure derived here once. Sums stay integers
// (counts, cents, histogram counts) until the very end, so totals and rates are exact.
import { sql, type SQL } from "drizzle-orm";
import { DateTime } from "luxon";
import { txRows, type Database } from "../db/client";
import { GavelError } from "../errors";
import { factsSql, levelsOf, STEP_CENTS, ts, type LEVELS, type LeadFilter, type RollupTable, type Window } from "./facts";
import { addCounts, BUCKETS, parseCounts, quantile, sumSql } from "./histogram";
import { grainsFor, segments, type ReportRange } from "./range";
import { reasonRows, type ReasonKey } from "./reason-keys";
import { rolledTo, summedColumns } from "./rollup";

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
function levelFor(table: keyof typeof LEVELS, needed: string[]): number | null {
  const fitting = levelsOf(table)
    .filter(({ cols }) => needed.every((c) => cols.includes(c)))
    .sort((a, b) => a.cols.length - b.cols.length);
  return fitting[0]?.level ?? null;
}

/**
 * Rows of a rollup table over the range's segments (rollups and raw), restricted to one level: the
 * columns `read` of them (what the report groups and sums).
 */
function unionSql(
  table: RollupTable,
  read: readonly string[],
  level: number | null,
  range: ReportRange,
  filter: Record<string, string>,
  test: boolean,
  lead: LeadFilter,
  rolled: Date | null,
  allRaw: boolean,
): SQL {
  const list = sql.raw(read.join(", "));
  const where = (extra: SQL[]) => {
    const conditions = [...extra, sql`test = ${test}`];
    if (level !== null) conditions.push(sql`level = ${level}`);
    for (const [column, value] of Object.entries(filter)) conditions.push(sql`${col(column)} = ${value}`);
    return sql.join(conditions, sql` and `);
  };
  const parts: SQL[] = [];
  const seg = allRaw ? { fourWeeks: [], weeks: [], days: [], hours: [], raw: [{ from: range.from, to: range.to }] } : segments(range.from, range.to, rolled, grainsFor(range));
  for (const [grain, starts] of [["four_weeks", seg.fourWeeks], ["week", seg.weeks]] as const)
    if (starts.length) parts.push(sql`select ${list} from ${col(table)} where ${where([sql`grain = ${sql.raw(`'${grain}'`)}`, sql`at in (${sql.join(starts.map(ts), sql`, `)})`])}`);
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
  // The sums as one text column ("12,0,3,…"): a month of sources is 5,100 rows, and reading 17
  // columns of each cost the driver more than the database took to sum them.
  const sums = `array_to_string(array[${SUMS[table].map((c) => `sum(${c})::int8`).join(", ")}], ',') as sums`;
  const kept = histogramsOf(dimension);
  const histograms = kept.map((c) => `, ${sumSql(c)} as ${c}`).join("");
  const rows = await reportRows<Record<string, unknown>>(database, sql`
    select ${keyList}, ${periodSql(range)} as period, ${sql.raw(sums)}, max(max_bid_cents) as max_bid_cents${sql.raw(histograms)}
    from (${unionSql(table, [...keyColumns, "at", ...SUMS[table], "max_bid_cents", ...kept], level, range, columnFilter, test, leadFilter, rolled, bySourceRaw)}) r
    group by ${keyList}, period`);

  return shapeReport(dimension, range, rows);
}

/** The histograms a dimension's report gives percentiles from. */
function histogramsOf(dimension: Dimension): readonly string[] {
  // Sources, the most detailed report, give no decision latency (campaigns and suppliers do): it
  // would cost a month's report a sum per bucket of every one of its many rows.
  return dimension === "sources" ? [] : HISTOGRAMS[SHAPES[dimension].table];
}

/** A row of the answer before its figures: its key, its period, and its sums in SUMS[table]'s order. */
interface Line {
  key: Record<string, string | null>;
  /** The key columns' values ('' where the level has none), for ordering. */
  keys: string[];
  /** The period's start in ms (0 without an interval). */
  at: number;
  period: string | null;
  sums: number[];
  maxBid: number | null;
  /** By column: the report's latency histograms (none for sources). */
  histograms: Record<string, number[]>;
}

/**
 * A dimension report's answer from its grouped rows: each row's figures, the totals and each
 * period's. A month's sources report has thousands of rows, so each is read once into an array of
 * its sums (every later step indexes it rather than looking a figure up by name).
 */
export function shapeReport(dimension: Dimension, range: ReportRange, rows: readonly Record<string, unknown>[]): DimensionReport {
  const shape = SHAPES[dimension];
  const table = shape.table;
  const keyNames = Object.keys(shape.key);
  const keyColumns = Object.values(shape.key);
  const sumColumns = SUMS[table];
  const kept = histogramsOf(dimension);
  const periodTexts = new Map<number, string>();
  const lines: Line[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const key: Record<string, string | null> = {};
    const keys = new Array<string>(keyColumns.length);
    for (let i = 0; i < keyColumns.length; i++) {
      const value = row[keyColumns[i]] as string;
      keys[i] = value;
      key[keyNames[i]] = value === "" ? null : value;
    }
    let at = 0;
    let period: string | null = null;
    if (row.period !== null) {
      at = new Date(row.period as string | Date).getTime();
      period = periodTexts.get(at) ?? periodText(at, range.tz);
      periodTexts.set(at, period);
    }
    const sums = parseCounts(row.sums as string, sumColumns.length);
    const histograms: Record<string, number[]> = {};
    for (const c of kept) histograms[c] = parseCounts(row[c] as string);
    lines[r] = { key, keys, at, period, sums, maxBid: row.max_bid_cents === null ? null : Number(row.max_bid_cents), histograms };
  }
  const emptyLine = (at: number, period: string | null): Line => ({
    key: {},
    keys: [],
    at,
    period,
    sums: new Array<number>(sumColumns.length).fill(0),
    maxBid: null,
    histograms: Object.fromEntries(kept.map((c) => [c, new Array<number>(BUCKETS).fill(0)])),
  });
  const add = (into: Line, line: Line) => {
    for (let i = 0; i < sumColumns.length; i++) into.sums[i] += line.sums[i];
    if (line.maxBid !== null) into.maxBid = Math.max(into.maxBid ?? 0, line.maxBid);
    for (const c of kept) addCounts(into.histograms[c], line.histograms[c]);
  };
  const total = emptyLine(0, null);
  const perPeriod = new Map<number, Line>();
  for (const line of lines) {
    add(total, line);
    if (line.period === null) continue;
    let p = perPeriod.get(line.at);
    if (!p) perPeriod.set(line.at, (p = emptyLine(line.at, line.period)));
    add(p, line);
  }
  // By period, then revenue, then key (column by column), so equal revenues keep one order.
  const revenue = sumColumns.indexOf("revenue_cents");
  lines.sort((a, b) => {
    const d = a.at - b.at || b.sums[revenue] - a.sums[revenue];
    if (d !== 0) return d;
    for (let i = 0; i < keyColumns.length; i++) if (a.keys[i] !== b.keys[i]) return a.keys[i] < b.keys[i] ? -1 : 1;
    return 0;
  });
  const withFigures = <H extends object>(head: H, line: Line) => {
    FIGURES[table](head as Record<string, number | null>, line);
    return head as H & Record<string, number | null>;
  };
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    tz: range.tz,
    interval: range.interval,
    rows: lines.map((line) => withFigures(range.interval ? { key: line.key, period: line.period! } : { key: line.key }, line)),
    totals: withFigures({}, total),
    ...(range.interval && {
      periods: [...perPeriod.values()].sort((a, b) => a.at - b.at).map((p) => withFigures({ period: p.period! }, p)),
    }),
  };
}

/** A bucket's start as ISO 8601 with the zone's offset at that instant. */
function periodText(at: number, tz: string): string {
  return DateTime.fromMillis(at, { zone: tz }).toISO({ suppressMilliseconds: true })!;
}

const money = (cents: number) => Math.round(cents) / 100;
const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);
/** A money amount per unit, rounded half up to the cent. */
const moneyPer = (cents: number, n: number) => (n === 0 ? null : Math.round(cents / n) / 100);

/** Where each sum of a table sits in a line's sums. */
const indexes = (table: "report_leads" | "report_channels") => Object.fromEntries(SUMS[table].map((c, i) => [c, i])) as Record<string, number>;
const L = indexes("report_leads");
const C = indexes("report_channels");

type Figures = (out: Record<string, number | null>, line: Line) => void;

/**
 * Every figure of a line, derived from its sums once and written into `out` after what it holds
 * (a row's key and period): lead figures of the campaign, supplier and source reports, channel
 * figures of the buyer and channel reports.
 */
const FIGURES: Record<"report_leads" | "report_channels", Figures> = {
  report_leads(out, { sums: s, maxBid, histograms }) {
    out.leads = s[L.leads];
    out.rejected = s[L.rejected];
    out.duplicate = s[L.duplicate];
    out.auctioned = s[L.auctioned];
    out.sold = s[L.sold];
    out.unsold = s[L.unsold];
    out.errors = s[L.errors];
    // Accepted by a buyer whose postback is to confirm the sale: not sold (nor its revenue) yet.
    out.pending = s[L.pending];
    out.sell_through = ratio(s[L.sold], s[L.auctioned]);
    common(out, s, L, maxBid);
    out.epl = moneyPer(s[L.revenue_cents], s[L.leads]);
    // Only what the report keeps: none for sources.
    const decision = histograms.decision_ms;
    if (decision) {
      out.decision_ms_p50 = quantile(decision, 0.5);
      out.decision_ms_p95 = quantile(decision, 0.95);
      out.decision_ms_p99 = quantile(decision, 0.99);
    }
  },
  report_channels(out, { sums: s, maxBid, histograms }) {
    out.leads = s[C.leads];
    out.excluded = s[C.excluded];
    out.auctioned = s[C.pings];
    out.sold = s[C.sold];
    out.sell_through = ratio(s[C.sold], s[C.pings]);
    out.errors = s[C.errors];
    common(out, s, C, maxBid);
    out.epl = moneyPer(s[C.revenue_cents], s[C.leads]);
    const { ping_ms: ping, post_ms: post } = histograms;
    out.ping_ms_p50 = quantile(ping, 0.5);
    out.ping_ms_p95 = quantile(ping, 0.95);
    out.ping_ms_p99 = quantile(ping, 0.99);
    out.post_ms_p50 = quantile(post, 0.5);
    out.post_ms_p95 = quantile(post, 0.95);
    out.post_ms_p99 = quantile(post, 0.99);
  },
};

/** The figures both kinds of report give, from bids to margin. */
function common(out: Record<string, number | null>, s: readonly number[], at: Record<string, number>, maxBid: number | null) {
  out.pings = s[at.pings];
  out.bids = s[at.bids];
  out.bid_rate = ratio(s[at.bids], s[at.pings]);
  out.avg_bid = moneyPer(s[at.bid_cents], s[at.bids]);
  out.max_bid = maxBid === null ? null : money(maxBid);
  out.wins = s[at.wins];
  out.posts = s[at.posts];
  out.accepted = s[at.accepted];
  out.accept_rate = ratio(s[at.accepted], s[at.posts]);
  out.post_rejects = s[at.post_rejects];
  out.timeouts = s[at.timeouts];
  out.revenue = money(s[at.revenue_cents]);
  out.payout = money(s[at.payout_cents]);
  out.margin = money(s[at.revenue_cents] - s[at.payout_cents]);
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
  // Rows by channel only for a channel's landscape, by campaign for a campaign's, else over all:
  // the steps a month of bids fills, whatever the number of channels and the traffic.
  const level = levelFor("report_bids", Object.keys(columnFilter));
  const perBucket = bucketCents / STEP_CENTS;
  const rows = await reportRows<{ bucket: number; bids: number; wins: number; posts: number; accepted: number }>(database, sql`
    select (step / ${perBucket}::int)::int as bucket, sum(bids)::float8 as bids, sum(wins)::float8 as wins, sum(posts)::float8 as posts, sum(accepted)::float8 as accepted
    from (${unionSql("report_bids", ["step", ...summedColumns("report_bids").sums], level, range, columnFilter, test, { campaign: filter.campaign }, rolled, false)}) r
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
  rows: { key: ReasonKey; count: number; orphans: number }[];
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
    from (${unionSql("report_reasons", ["channel_id", "stage", "reason", ...summedColumns("report_reasons").sums], null, range, columnFilter, test, { campaign: filter.campaign }, rolled, false)}) r
    group by 1, 2, 3
    -- A reason none has now (a restated lead's, settled after its hour was rolled) is no row.
    having sum(count) <> 0 or sum(orphans) <> 0
    order by 4 desc, 1, 2, 3`);
  const totals = { count: 0, orphans: 0 };
  for (const r of rows) {
    totals.count += Number(r.count);
    totals.orphans += Number(r.orphans);
  }
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    tz: range.tz,
    rows: reasonRows(rows),
    totals,
  };
}
