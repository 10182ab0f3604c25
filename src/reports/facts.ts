// What reports count, as SQL over the raw leads and attempts of some time windows: one row per hour
// and key of each rollup table, at each of its levels. The roller inserts these rows into the
// rollups; a report reads the same rows live for the minutes not rolled up yet. One definition
// for both, so a figure is the same whether it was rolled up or not.
import { sql, type SQL } from "drizzle-orm";
import { KEYED_CODES, STAGE_CODES } from "../reasons";
import { bucketSql, countsSql } from "./histogram";

/** A half-open range of instants, [from, to). */
export interface Window {
  from: Date;
  to: Date;
}

/** Restricts the leads read (a report's filters, applied before anything is counted). */
export interface LeadFilter {
  test?: boolean;
  campaign?: string;
  supplier?: string;
  source?: string;
  subId?: string;
  /** Only these leads (the roller adding held leads once decided). */
  ids?: readonly string[];
}

export type RollupTable = "report_leads" | "report_channels" | "report_bids" | "report_reasons";

/** Levels of detail kept per table: the columns a level has (the others hold ''). */
export const LEVELS = {
  report_leads: {
    0: ["campaign_id", "supplier_id", "source", "sub_id"],
    1: ["campaign_id", "supplier_id"],
    2: ["supplier_id", "source", "sub_id"],
    3: ["campaign_id"],
    4: ["supplier_id"],
  },
  report_channels: {
    1: ["campaign_id", "supplier_id", "channel_id", "buyer_id"],
    2: ["campaign_id", "channel_id", "buyer_id"],
    3: ["buyer_id"],
  },
  // Every level keeps the price step: the bid landscape of a channel, of a campaign, of everything.
  report_bids: {
    0: ["campaign_id", "channel_id"],
    1: ["campaign_id"],
    2: [],
  },
} as const;

/** An instant as a timestamptz parameter. */
export const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;
/** An auction is over within this of its lead's arrival (deadlines are at most a minute). */
const AUCTION_BOUND_MS = 3_600_000;

const SOLD = `('sold', 'returned')`;
const AUCTIONED = `('auctioning', 'pending', 'sold', 'unsold', 'error', 'returned')`;
const FAILED = `('error', 'invalid_response', 'unknown')`;
/**
 * A reason's leading token when it has the form `code` or `code: detail`; free text has none. Its
 * length is not bounded here: a key is only ever a token found among a stage's codes, and a
 * bounded repetition (`{0,39}`) made PostgreSQL's regex seven times slower (9 µs a row, read up to
 * four times per attempt of a report's raw minutes).
 */
const token = (reason: string) => `substring(${reason} from '^([a-z][a-z0-9_]*)(?::|$)')`;
const list = (codes: readonly string[]) => `(${codes.map((c) => `'${c}'`).join(", ")})`;

/**
 * A reason's report key at a stage: the whole reason (to 100 characters) for a code whose detail
 * is a key (and the older stored forms of them), the code alone for any other code of the stage,
 * '' for free text.
 */
function reasonKey(reason: string, stage: "excluded" | "ping" | "post" | "lead"): string {
  const codes: readonly string[] = STAGE_CODES[stage];
  const keyed = KEYED_CODES.filter((c) => codes.includes(c));
  const legacyKeyed = stage === "ping" || stage === "post" ? ` or ${reason} ~ '^http_[0-9]{3}$'` : "";
  const legacyTokens = stage === "excluded" || stage === "lead" ? ["cap", "buyer_cap"] : [];
  return `case when ${token(reason)} in ${list([...keyed, ...legacyTokens])}${legacyKeyed} then left(${reason}, 100)
               when ${token(reason)} in ${list(codes)} then ${token(reason)}
               else '' end`;
}

/** An outcome (or status) and its reason's key, `outcome:key`, or the outcome alone without one. */
const withOutcome = (outcome: string, key: string) => `${outcome} || coalesce(':' || nullif(${key}, ''), '')`;

/**
 * The leads received in the windows (`l`, one row each, with the hour it counts in) and their
 * attempts (`a`). An attempt starts after its lead arrived and within its auction, so only
 * attempts from the first window's start to an hour past the last's end are read (the time
 * partitions of `attempts` outside it are never touched).
 */
function leadsAndAttempts(windows: readonly Window[], filter: LeadFilter): SQL {
  const inWindows = sql.join(
    windows.map((w) => sql`(received_at >= ${ts(w.from)} and received_at < ${ts(w.to)})`),
    sql` or `,
  );
  // A held lead is counted once it is decided, in the hour it arrived in (the roller adds it then:
  // src/reports/rollup.ts), so rolled and raw figures agree while it waits.
  const where: SQL[] = [sql`(${inWindows})`, sql`status <> 'held'`];
  if (filter.ids !== undefined) where.push(sql`id in (${sql.join(filter.ids.map((id) => sql`${id}`), sql`, `)})`);
  if (filter.test !== undefined) where.push(sql`test = ${filter.test}`);
  if (filter.campaign !== undefined) where.push(sql`campaign_id = ${filter.campaign}`);
  if (filter.supplier !== undefined) where.push(sql`supplier_id = ${filter.supplier}`);
  if (filter.source !== undefined) where.push(sql`coalesce(source, '') = ${filter.source}`);
  if (filter.subId !== undefined) where.push(sql`coalesce(sub_id, '') = ${filter.subId}`);
  // Each window's attempts on their own: two windows a month apart (a range's two ragged edges)
  // must not read every day's partition between them.
  const attemptsIn = sql.join(
    windows.map((w) => sql`(t.started_at >= ${ts(w.from)} and t.started_at < ${ts(new Date(w.to.getTime() + AUCTION_BOUND_MS))})`),
    sql` or `,
  );
  return sql`l as materialized (
      select id, campaign_id, supplier_id, coalesce(source, '') as source, coalesce(sub_id, '') as sub_id, test, status, reason,
             date_trunc('hour', received_at) as at, received_at, decided_at, revenue_cents, price_cents, sold_channel_id, sold_to, excluded,
             case when status in ${sql.raw(AUCTIONED)} and decided_at is not null
                  then ${sql.raw(bucketSql("extract(epoch from decided_at - received_at) * 1000"))} end as decision_b
      from leads where ${sql.join(where, sql` and `)}
    ), attempt as materialized (
      select t.id, t.lead_id, t.kind, t.channel_id, t.outcome, t.price_cents, t.reason, t.started_at,
             ${sql.raw(bucketSql("t.duration_ms"))} as b, l.sold_to > 1 as shared
      from attempts t join l on l.id = t.lead_id
      where ${attemptsIn}
      union all
      -- A lead held before its auction (decided more than the bound after it arrived) has its
      -- attempts later: found by its id, lead by lead (only such leads pay for it).
      select t.id, t.lead_id, t.kind, t.channel_id, t.outcome, t.price_cents, t.reason, t.started_at,
             ${sql.raw(bucketSql("t.duration_ms"))} as b, l.sold_to > 1 as shared
      from l cross join lateral (select * from attempts t where t.lead_id = l.id and not (${attemptsIn})) t
      where l.decided_at > l.received_at + interval '${sql.raw(String(AUCTION_BOUND_MS / 1000))} seconds'
    ), a as (
      -- A win is a bid that was offered the lead: a lead's first post (its winner's), or of a lead
      -- sold more than once (a shared sale, a routing tier delivered to all) every sale, whose
      -- posts went out together. The first post is found among the posts alone: a window over
      -- every attempt sorted ten times the rows, half the time of a report's raw minutes.
      select t.lead_id, t.kind, t.channel_id, t.outcome, t.price_cents, t.reason, t.b,
             case when t.shared then t.kind = 'post' and t.outcome = 'accepted' else first_post.id is not null end as won
      from attempt t left join (
        select distinct on (lead_id) id from attempt where kind = 'post' and not shared order by lead_id, started_at, id
      ) first_post on first_post.id = t.id
    )`;
}

/** What each key column of a table with levels is grouped by in the rows read (`l` leads, `f` events, `ch` channels). */
const KEY_SOURCES: Record<keyof typeof LEVELS, Record<string, string>> = {
  report_leads: { campaign_id: "l.campaign_id", supplier_id: "l.supplier_id", source: "l.source", sub_id: "l.sub_id" },
  report_channels: { campaign_id: "l.campaign_id", supplier_id: "l.supplier_id", channel_id: "f.channel_id", buyer_id: "ch.buyer_id" },
  report_bids: { campaign_id: "l.campaign_id", channel_id: "p.channel_id" },
};

/** A table's levels, each with the key columns it keeps. */
export const levelsOf = (table: keyof typeof LEVELS): { level: number; cols: readonly string[] }[] =>
  Object.entries(LEVELS[table] as Record<number, readonly string[]>).map(([level, cols]) => ({ level: Number(level), cols }));

/** The grouping sets of the levels asked for (null: every level), each also grouped by `always`. */
const groupingSets = (table: keyof typeof LEVELS, level: number | null, always: readonly string[] = []) =>
  levelsOf(table)
    .filter((l) => level === null || l.level === level)
    .map((l) => `(${["l.at", "l.test", ...always, ...l.cols.map((c) => KEY_SOURCES[table][c])].join(", ")})`)
    .join(", ");

/**
 * A row's level: known beforehand when one level is read, else told by which key columns its
 * grouping set leaves out (grouping() sets a bit for each).
 */
const levelColumn = (table: keyof typeof LEVELS, level: number | null) => {
  if (level !== null) return String(level);
  const keys = Object.keys(KEY_SOURCES[table]);
  const mask = (cols: readonly string[]) => keys.reduce((m, k, i) => (cols.includes(k) ? m : m | (1 << (keys.length - 1 - i))), 0);
  const cases = levelsOf(table).map((l) => `when ${mask(l.cols)} then ${l.level}`).join(" ");
  return `case grouping(${keys.map((k) => KEY_SOURCES[table][k]).join(", ")}) ${cases} end`;
};

/**
 * A key column of a row: '' where the row's level rolls it away. Over every level (`level` null)
 * that is told by grouping(); at one level it is known beforehand (and grouping() may only name
 * the columns grouped by).
 */
const keyColumn = (table: keyof typeof LEVELS, column: string, level: number | null, value = KEY_SOURCES[table][column]) => {
  const source = KEY_SOURCES[table][column];
  if (level === null) return `case when grouping(${source}) = 1 then '' else ${value} end`;
  return levelsOf(table).some((l) => l.level === level && l.cols.includes(column)) ? value : `''`;
};

const leadsSelect = (level: number | null) => `
    select 'hour' as grain, ${levelColumn("report_leads", level)} as level, l.at, l.test,
           ${keyColumn("report_leads", "campaign_id", level)} as campaign_id,
           ${keyColumn("report_leads", "supplier_id", level)} as supplier_id,
           ${keyColumn("report_leads", "source", level)} as source,
           ${keyColumn("report_leads", "sub_id", level)} as sub_id,
           count(*)::int as leads,
           count(*) filter (where l.status = 'rejected')::int as rejected,
           count(*) filter (where l.status = 'duplicate')::int as duplicate,
           count(*) filter (where l.status in ${AUCTIONED})::int as auctioned,
           count(*) filter (where l.status in ${SOLD})::int as sold,
           count(*) filter (where l.status = 'unsold')::int as unsold,
           count(*) filter (where l.status = 'error')::int as errors,
           count(*) filter (where l.status = 'pending')::int as pending,
           coalesce(sum(l.revenue_cents) filter (where l.status in ${SOLD}), 0)::bigint as revenue_cents,
           coalesce(sum(l.price_cents) filter (where l.status in ${SOLD}), 0)::bigint as payout_cents,
           coalesce(sum(la.pings), 0)::int as pings,
           coalesce(sum(la.bids), 0)::int as bids,
           coalesce(sum(la.bid_cents), 0)::bigint as bid_cents,
           max(la.max_bid_cents) as max_bid_cents,
           coalesce(sum(la.wins), 0)::int as wins,
           coalesce(sum(la.posts), 0)::int as posts,
           coalesce(sum(la.accepted), 0)::int as accepted,
           coalesce(sum(la.post_rejects), 0)::int as post_rejects,
           coalesce(sum(la.timeouts), 0)::int as timeouts,
           ${countsSql("l.decision_b", "l.decision_b is not null")} as decision_ms
    from l left join (
      select lead_id,
             count(*) filter (where kind = 'ping') as pings,
             count(*) filter (where kind = 'ping' and outcome = 'bid') as bids,
             sum(price_cents) filter (where kind = 'ping' and outcome = 'bid') as bid_cents,
             max(price_cents) filter (where kind = 'ping' and outcome = 'bid') as max_bid_cents,
             count(*) filter (where won) as wins,
             count(*) filter (where kind = 'post') as posts,
             count(*) filter (where kind = 'post' and outcome = 'accepted') as accepted,
             count(*) filter (where kind = 'post' and outcome = 'rejected') as post_rejects,
             count(*) filter (where outcome = 'timeout') as timeouts
      from a group by lead_id
    ) la on la.lead_id = l.id
    group by grouping sets (${groupingSets("report_leads", level)})`;

// One row per (lead, channel) event: an attempt, an exclusion, or the sale. A channel's `leads` are
// the leads it was offered: pinged or excluded.
const channelsSelect = (level: number | null) => `
    select 'hour' as grain, ${levelColumn("report_channels", level)} as level, l.at, l.test,
           ${keyColumn("report_channels", "campaign_id", level)} as campaign_id,
           ${keyColumn("report_channels", "supplier_id", level)} as supplier_id,
           ${keyColumn("report_channels", "channel_id", level)} as channel_id,
           ${keyColumn("report_channels", "buyer_id", level, "coalesce(ch.buyer_id, '')")} as buyer_id,
           (count(*) filter (where f.kind = 'ping') + count(*) filter (where f.kind = 'excluded'))::int as leads,
           count(*) filter (where f.kind = 'excluded')::int as excluded,
           count(*) filter (where f.kind = 'ping')::int as pings,
           count(*) filter (where f.kind = 'ping' and f.outcome = 'bid')::int as bids,
           coalesce(sum(f.price_cents) filter (where f.kind = 'ping' and f.outcome = 'bid'), 0)::bigint as bid_cents,
           max(f.price_cents) filter (where f.kind = 'ping' and f.outcome = 'bid') as max_bid_cents,
           count(*) filter (where f.won)::int as wins,
           count(*) filter (where f.kind = 'post')::int as posts,
           count(*) filter (where f.kind = 'post' and f.outcome = 'accepted')::int as accepted,
           count(*) filter (where f.kind = 'post' and f.outcome = 'rejected')::int as post_rejects,
           count(*) filter (where f.outcome = 'timeout')::int as timeouts,
           count(*) filter (where f.kind in ('ping', 'post') and f.outcome in ${FAILED})::int as errors,
           count(*) filter (where f.kind = 'sale')::int as sold,
           coalesce(sum(f.sale_cents) filter (where f.kind = 'sale'), 0)::bigint as revenue_cents,
           coalesce(sum(f.payout_cents) filter (where f.kind = 'sale'), 0)::bigint as payout_cents,
           ${countsSql("f.b", "f.kind = 'ping'")} as ping_ms,
           ${countsSql("f.b", "f.kind = 'post'")} as post_ms
    from (
      select lead_id, channel_id, kind, outcome, price_cents, b, won, null::bigint as sale_cents, null::bigint as payout_cents from a
      union all
      select l.id, e->>'channel_id', 'excluded', null, null, null, false, null, null from l, jsonb_array_elements(l.excluded) e
      union all
      select l.id, l.sold_channel_id, 'sale', null, null, null, false, l.revenue_cents, l.price_cents
      from l where l.status in ${SOLD} and l.sold_channel_id is not null and l.sold_to <= 1
      union all
      -- A shared lead has a sale per accepted post, at its price. The supplier's payout is split by
      -- price, rounded down, and the highest sale (the lead's sold_channel) takes what rounding left,
      -- so a channel's payouts add up to the leads' exactly.
      select lead_id, channel_id, 'sale', null, null, null, false, sale_cents,
             case when main then lead_payout - (sum(share) over (partition by lead_id) - share) else share end
      from (
        select t.lead_id, t.channel_id, t.price_cents::bigint as sale_cents, l.price_cents::bigint as lead_payout,
               t.channel_id = l.sold_channel_id as main,
               coalesce(l.price_cents::bigint * t.price_cents / nullif(l.revenue_cents, 0), 0) as share
        from l join attempt t on t.lead_id = l.id
        where l.sold_to > 1 and l.status in ${SOLD} and t.kind = 'post' and t.outcome = 'accepted'
      ) shared_sale
    ) f
    join l on l.id = f.lead_id
    left join channels ch on ch.id = f.channel_id
    group by grouping sets (${groupingSets("report_channels", level)})`;

/** Half-dollar steps of a bid price. */
export const STEP_CENTS = 50;

const STEP = `(p.bid_cents / ${STEP_CENTS})::int`;

// Each bid with what came of it on the same channel: one row per (lead, channel) first, so a ping
// meets its post without a join of attempts with themselves.
const bidsSelect = (level: number | null) => `
    select 'hour' as grain, ${levelColumn("report_bids", level)} as level, l.at, l.test,
           ${keyColumn("report_bids", "campaign_id", level)} as campaign_id,
           ${keyColumn("report_bids", "channel_id", level)} as channel_id,
           ${STEP} as step,
           count(*)::int as bids,
           count(*) filter (where p.won)::int as wins,
           coalesce(sum(p.posts), 0)::int as posts,
           coalesce(sum(p.accepted), 0)::int as accepted
    from (
      select lead_id, channel_id,
             max(price_cents) filter (where kind = 'ping' and outcome = 'bid') as bid_cents,
             bool_or(won) as won,
             count(*) filter (where kind = 'post') as posts,
             count(*) filter (where kind = 'post' and outcome = 'accepted') as accepted
      from a group by lead_id, channel_id
    ) p
    join l on l.id = p.lead_id
    where p.bid_cents is not null
    group by grouping sets (${groupingSets("report_bids", level, [STEP])})`;

// Reasons are grouped by their code, never by free text (a buyer's message, a body excerpt): a
// non-bid is its outcome, plus its reason's code when it has one (`error:http_503`); a lead's own
// reason is its status and code (`unsold:no_bids`, `rejected:invalid`).
const REASONS_SELECT = `
    select 'hour' as grain, l.at, l.test, l.campaign_id, r.channel_id, r.stage, r.reason,
           count(*)::int as count,
           count(*) filter (where l.status = 'unsold')::int as orphans
    from (
      select l.id as lead_id, coalesce(e->>'channel_id', '') as channel_id, 'excluded' as stage, ${reasonKey("coalesce(e->>'reason', '')", "excluded")} as reason
      from l, jsonb_array_elements(l.excluded) e
      union all
      select lead_id, channel_id, kind,
             ${withOutcome("outcome", `case when kind = 'ping' then ${reasonKey("reason", "ping")} else ${reasonKey("reason", "post")} end`)}
      from a where not (kind = 'ping' and outcome = 'bid') and not (kind = 'post' and outcome = 'accepted')
      union all
      select id, '', 'lead', ${withOutcome("status", reasonKey("reason", "lead"))}
      from l where status in ('rejected', 'duplicate', 'unsold', 'error')
    ) r
    join l on l.id = r.lead_id
    group by l.at, l.test, l.campaign_id, r.channel_id, r.stage, r.reason`;

/** Each table's rows, at one level of detail (null: every level, as the rollups keep them). */
const SELECTS: Record<RollupTable, (level: number | null) => string> = {
  report_leads: leadsSelect,
  report_channels: channelsSelect,
  report_bids: bidsSelect,
  report_reasons: () => REASONS_SELECT,
};

/**
 * The rollup rows of `table` for the leads received in `windows` (hour grain), as a query: at one
 * level of detail when `level` is given (a report reads one), else at every level.
 */
export function factsSql(table: RollupTable, windows: readonly Window[], filter: LeadFilter = {}, level: number | null = null): SQL {
  return sql`with ${leadsAndAttempts(windows, filter)}${sql.raw(SELECTS[table](level))}`;
}

/**
 * One statement that adds the rows of every rollup table for the leads received in `windows`,
 * reading those leads and their attempts once: `insert(table)` gives each table's insert of its
 * rows (named `f`); the statement answers the number of leads read.
 */
export function addFactsSql(windows: readonly Window[], insert: (table: RollupTable, rows: string) => string, filter: LeadFilter = {}): SQL {
  const tables = Object.keys(SELECTS) as RollupTable[];
  const inserts = tables.map((table) => `, ${table}_in as (${insert(table, SELECTS[table](null))})`).join("");
  return sql`with ${leadsAndAttempts(windows, filter)}${sql.raw(inserts)} select count(*)::int as leads from l`;
}
