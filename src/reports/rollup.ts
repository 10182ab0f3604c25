// The roller: adds the leads received since it last ran to the hourly rollups and to their UTC
// days' rows, and sums the 7 and the 28 days from each UTC day into a week row and a four-week row
// once their last day is finished. It runs in the background (every process may: one at a time
// rolls, under a row lock on its progress), never on the auction's path.
//
// A lead is rolled up once, when it can no longer change: every lead received before `rolled_to`
// is decided. The roller stops short of the first lead still in auction, and of the last
// ROLLUP_DELAY_MS (a lead is recorded a moment after it arrives: its received_at is the arrival, so
// a lead arriving just before `now` may still be on its way into the table). Reports read what is
// past `rolled_to` from the raw tables, so they are exact at once either way.
//
// A held lead (src/auction/hold.ts) may wait up to a week for a channel to open; the roller does not
// wait for it. Reports count a held lead once it is decided, in the hour it arrived in (facts.ts
// leaves `held` leads out, raw or rolled): the roller passes over a lead held when its hour is
// rolled, noting it in `report_deferred`, and a later step, once the lead is decided, adds its facts
// to the rows of its hour, its day and the weeks and four weeks already summed from that day, and
// forgets the note, in one transaction. Between a held lead's outcome and the next roll, a report
// over its hour does not count it yet (a released lead's auction does not hold the roller up).
import { sql } from "drizzle-orm";
import type { Logger } from "pino";
import { txRows, type Database, type Db } from "../db/client";
import { addFactsSql, LEVELS, levelsOf, type RollupTable } from "./facts";
import { addSql, HISTOGRAM_MS } from "./histogram";
import { DAY_MS } from "../time/clock";
import { floorTo, FOUR_WEEKS_MS, HOUR_MS, WEEK_MS } from "./range";

/**
 * How far behind the database's clock the roller stays, in ms: far longer than a lead takes from its
 * arrival (its received_at, by its Gavel's clock) to its intake commit, clock differences between
 * hosts included.
 */
export const ROLLUP_DELAY_MS = 300_000;
/** At most this much history in one transaction by default, so a backlog is rolled in bounded steps. */
const STEP_MS = 3_600_000;
const PROGRESS = "rollups";

interface TableShape {
  keys: string[];
  sums: string[];
  maxes: string[];
  histograms: string[];
}

const SHAPES: Record<RollupTable, TableShape> = {
  report_leads: {
    keys: ["grain", "level", "at", "test", "campaign_id", "supplier_id", "source", "sub_id"],
    sums: [
      "leads", "rejected", "duplicate", "auctioned", "sold", "unsold", "errors", "pending", "revenue_cents", "payout_cents",
      "pings", "bids", "bid_cents", "wins", "posts", "accepted", "post_rejects", "timeouts",
    ],
    maxes: ["max_bid_cents"],
    histograms: ["decision_ms"],
  },
  report_channels: {
    keys: ["grain", "level", "at", "test", "campaign_id", "supplier_id", "channel_id", "buyer_id"],
    sums: [
      "leads", "excluded", "pings", "bids", "bid_cents", "wins", "posts", "accepted", "post_rejects", "timeouts", "errors",
      "sold", "revenue_cents", "payout_cents",
    ],
    maxes: ["max_bid_cents"],
    histograms: ["ping_ms", "post_ms"],
  },
  report_bids: {
    keys: ["grain", "level", "at", "test", "campaign_id", "channel_id", "step"],
    sums: ["bids", "wins", "posts", "accepted"],
    maxes: [],
    histograms: [],
  },
  report_reasons: {
    keys: ["grain", "at", "test", "campaign_id", "channel_id", "stage", "reason"],
    sums: ["count", "orphans"],
    maxes: [],
    histograms: [],
  },
};

export const ROLLUP_TABLES = Object.keys(SHAPES) as RollupTable[];

/** A rollup table's summed columns, and its histogram columns (what a report adds up per row). */
export function summedColumns(table: RollupTable): { sums: readonly string[]; histograms: readonly string[] } {
  return SHAPES[table];
}

/** A rollup table's columns, in one fixed order (inserts and reads name them). */
export function columns(table: RollupTable): string[] {
  const shape = SHAPES[table];
  return [...shape.keys, ...shape.sums, ...shape.maxes, ...shape.histograms];
}

/** Adds incoming rows to rows already there (an hour rolled in several steps). */
function merge(table: RollupTable): string {
  const shape = SHAPES[table];
  const set = [
    ...shape.sums.map((c) => `${c} = ${table}.${c} + excluded.${c}`),
    ...shape.maxes.map((c) => `${c} = greatest(${table}.${c}, excluded.${c})`),
    ...shape.histograms.map((c) => `${c} = ${addSql(`${table}.${c}`, `excluded.${c}`)}`),
  ];
  return `on conflict (${shape.keys.join(", ")}) do update set ${set.join(", ")}`;
}

/** The select list of `grain` rows summed from finer ones: their keys, `start` as their `at`, then sums, maxima and histograms bucket by bucket. */
function summedSelect(table: RollupTable, grain: "day" | "week" | "four_weeks", start: string): string {
  const shape = SHAPES[table];
  const values = [
    ...shape.sums.map((c) => `sum(${c})`),
    ...shape.maxes.map((c) => `max(${c})`),
    ...shape.histograms.map((c) => `array[${HISTOGRAM_MS.map((_, i) => `sum(${c}[${i + 1}])::int`).join(", ")}]`),
  ];
  return `select '${grain}', ${shape.keys.filter((k) => k !== "grain").map((k) => (k === "at" ? start : k)).join(", ")}, ${values.join(", ")}`;
}

/** Naming the levels lets a read go down the primary key (grain, level, at, …) to the rows it sums. */
const levelsIn = (table: RollupTable) => (table in LEVELS ? ` and level in (${levelsOf(table as keyof typeof LEVELS).map((l) => l.level).join(", ")})` : "");

/**
 * The week rows starting on the UTC days from `first` to `last` (both included): each the sums of
 * the day rows of the 7 days from its start, written once, when the 7th day's last hour is in. A
 * week row starts on every day, not only on Mondays, so any 7 whole days of a range are one row.
 * Each week is summed on its own (a catch-up may complete many days in one step).
 */
function weekRowsSql(table: RollupTable, first: Date, last: Date): string {
  const keys = SHAPES[table].keys.filter((k) => k !== "grain" && k !== "at");
  return `insert into ${table} (${columns(table).join(", ")})
    select r.* from generate_series('${first.toISOString()}'::timestamptz, '${last.toISOString()}'::timestamptz, interval '24 hours') w(start),
    lateral (
      ${summedSelect(table, "week", "w.start")}
      from ${table} where grain = 'day'${levelsIn(table)} and at >= w.start and at < w.start + interval '168 hours'
      group by ${keys.join(", ")}
    ) r
    on conflict do nothing`;
}

/**
 * The four-week rows starting on the UTC days from `first` to `last` (both included): each the sums
 * of the four week rows from its start, written once, when the 28th day's last hour is in (after
 * that day's week rows).
 */
function fourWeekRowsSql(table: RollupTable, first: Date, last: Date): string {
  const keys = SHAPES[table].keys.filter((k) => k !== "grain" && k !== "at");
  const weeks = [0, 1, 2, 3].map((i) => `w.start + interval '${i * 168} hours'`).join(", ");
  return `insert into ${table} (${columns(table).join(", ")})
    select r.* from generate_series('${first.toISOString()}'::timestamptz, '${last.toISOString()}'::timestamptz, interval '24 hours') w(start),
    lateral (
      ${summedSelect(table, "four_weeks", "w.start")}
      from ${table} where grain = 'week'${levelsIn(table)} and at in (${weeks})
      group by ${keys.join(", ")}
    ) r
    on conflict do nothing`;
}

export interface RollUpResult {
  /** Every lead received before this instant is in the rollups. */
  rolledTo: Date;
  /** Leads rolled up by this call. */
  leads: number;
}

/**
 * Rolls up every lead received before `until` (default: now less ROLLUP_DELAY_MS, by the
 * database's clock) and before the first lead still undecided, in steps of at most an hour of
 * history, each one transaction. Safe to call from several processes at once: each step holds the
 * progress row's lock, so a lead is rolled up exactly once. `signal` stops it after the step under
 * way (a long catch-up must not hold up a shutdown).
 */
export async function rollUp(
  database: Database,
  options: { until?: Date; stepMs?: number; logger?: Logger; signal?: AbortSignal } = {},
): Promise<RollUpResult> {
  let total = 0;
  for (;;) {
    const step = await rollStep(database.db, options.until, options.stepMs ?? STEP_MS);
    total += step.leads;
    // Stopped (the process is closing): what is rolled is kept, the next roll goes on from there.
    if (step.done || options.signal?.aborted) {
      if (total) options.logger?.debug({ leads: total, rolled_to: step.rolledTo.toISOString() }, "rolled up leads for reports");
      return { rolledTo: step.rolledTo, leads: total };
    }
  }
}

/** A step rolled back because a lead in it was released while it ran (the next roll stops short of it). */
class StepGivenUp extends Error {
  constructor(readonly from: Date) {
    super("a held lead was released during the roll step");
  }
}

async function rollStep(db: Db, until: Date | undefined, stepMs: number): Promise<{ rolledTo: Date; leads: number; done: boolean }> {
  try {
    return await rollStepOnce(db, until, stepMs);
  } catch (error) {
    if (error instanceof StepGivenUp) return { rolledTo: error.from, leads: 0, done: true };
    throw error;
  }
}

async function rollStepOnce(db: Db, until: Date | undefined, stepMs: number): Promise<{ rolledTo: Date; leads: number; done: boolean }> {
  return db.transaction(async (tx) => {
    // The first roll starts at the hour of the first lead ever received.
    await tx.execute(sql`
      insert into report_progress (name, rolled_to)
      select ${PROGRESS}, coalesce(date_trunc('hour', min(received_at)), date_trunc('hour', now())) from leads
      on conflict (name) do nothing`);
    const [state] = await txRows<{ rolled_to: string | Date; bound: string | Date | null; undecided: string | Date | null }>(
      tx,
      sql`
        select p.rolled_to,
               ${until ? sql`${until.toISOString()}::timestamptz` : sql`now() - make_interval(secs => ${ROLLUP_DELAY_MS / 1000})`} as bound,
               (select min(received_at) from leads where status in ('received', 'auctioning') and received_at >= p.rolled_to) as undecided
        from report_progress p where p.name = ${PROGRESS} for update`,
    );
    const from = new Date(state.rolled_to);
    await addDecidedDeferred(tx, from);
    let to = new Date(state.bound!);
    if (state.undecided !== null && new Date(state.undecided) < to) to = new Date(state.undecided);
    if (to <= from) return { rolledTo: from, leads: 0, done: true };
    // A stretch without leads is passed over in one step.
    const [next] = await txRows<{ at: string | Date | null }>(
      tx,
      sql`select min(received_at) as at from leads where received_at >= ${from.toISOString()}::timestamptz`,
    );
    const firstLead = next.at === null ? to.getTime() : Math.max(from.getTime(), floorTo(new Date(next.at).getTime(), HOUR_MS));
    const stepEnd = new Date(Math.min(to.getTime(), firstLead + stepMs));
    // The leads held now are passed over (facts.ts leaves them out), noted to be added once decided.
    // Their hold is share-locked until this commits, so none is released (the sweep skips locked
    // rows) between the note and the roll. One released since the bound was read is undecided in
    // the step: the step is given up (its notes with it) and the next roll stops short of it.
    await tx.execute(sql`
      with held as (
        select h.lead_id, date_trunc('hour', l.received_at) as at from held_leads h join leads l on l.id = h.lead_id
        where l.received_at >= ${from.toISOString()}::timestamptz and l.received_at < ${stepEnd.toISOString()}::timestamptz and l.status = 'held'
        for share of h
      )
      insert into report_deferred (lead_id, at) select lead_id, at from held on conflict do nothing`);
    const released = await txRows(
      tx,
      sql`select 1 from leads where status in ('received', 'auctioning')
          and received_at >= ${from.toISOString()}::timestamptz and received_at < ${stepEnd.toISOString()}::timestamptz limit 1`,
    );
    if (released.length) throw new StepGivenUp(from);
    // The step's rows go into their hours' rows and, summed by day, into their days' rows: a day's
    // row holds its hours rolled so far, as the hour being rolled holds its part.
    const [added] = await txRows<{ leads: number }>(
      tx,
      addFactsSql([{ from, to: stepEnd }], (table, select) => {
        const names = columns(table).join(", ");
        const keys = SHAPES[table].keys.filter((k) => k !== "grain" && k !== "at");
        const day = `date_trunc('day', at, 'UTC')`;
        return `insert into ${table} (${names})
          select ${names} from (
            with f as materialized (${select})
            select ${names} from f
            union all
            ${summedSelect(table, "day", day)} from f group by ${day}, ${keys.join(", ")}
          ) r ${merge(table)}`;
      }),
    );
    // The weeks and four weeks ended by the UTC days this step finished (each such day is the last
    // day of the week row starting 6 days before it, and of the four-week row starting 27 days before).
    const startOfFirst = floorTo(from.getTime(), DAY_MS);
    const endOfLast = floorTo(stepEnd.getTime(), DAY_MS);
    if (endOfLast > startOfFirst) {
      for (const table of ROLLUP_TABLES) await tx.execute(sql.raw(weekRowsSql(table, new Date(startOfFirst - 6 * DAY_MS), new Date(endOfLast - WEEK_MS))));
      for (const table of ROLLUP_TABLES)
        await tx.execute(sql.raw(fourWeekRowsSql(table, new Date(startOfFirst - 27 * DAY_MS), new Date(endOfLast - FOUR_WEEKS_MS))));
    }
    await tx.execute(sql`update report_progress set rolled_to = ${stepEnd.toISOString()}::timestamptz where name = ${PROGRESS}`);
    return { rolledTo: stepEnd, leads: Number(added.leads), done: stepEnd >= to };
  });
}

/**
 * Adds the deferred leads decided since (held leads whose hour was rolled while they waited) to the
 * rows of their hour and day, and of the week and four-week rows already summed from that day (a
 * week row is written once its 7th day is rolled: those starting up to 7 days before `rolled`'s
 * day), under the progress row's lock, forgetting their notes.
 */
async function addDecidedDeferred(tx: Parameters<Parameters<Db["transaction"]>[0]>[0], rolled: Date): Promise<number> {
  const decided = await txRows<{ lead_id: string; at: string | Date }>(
    tx,
    sql`
      delete from report_deferred d using leads l
      where l.id = d.lead_id and l.status not in ('received', 'auctioning', 'held')
      returning d.lead_id, d.at`,
  );
  if (decided.length === 0) return 0;
  return addRolledFacts(tx, decided.map((d) => ({ id: d.lead_id, at: new Date(d.at) })), rolled, 1);
}

/**
 * Adds (`sign` 1) or takes away (`sign` -1) the facts of these leads, as they stand now, to or from
 * the rows of their hour and day and of the week and four-week rows already summed from that day.
 * Taking away subtracts every sum and histogram bucket; a maximum (the highest bid) is left as it
 * is, since the leads' bids are the same before and after.
 */
async function addRolledFacts(tx: Db, leads: readonly { id: string; at: Date }[], rolled: Date, sign: 1 | -1): Promise<number> {
  const hours = [...new Set(leads.map((l) => floorTo(l.at.getTime(), HOUR_MS)))].map((at) => ({ from: new Date(at), to: new Date(at + HOUR_MS) }));
  const rolledDay = `'${new Date(floorTo(rolled.getTime(), DAY_MS)).toISOString()}'::timestamptz`;
  const [added] = await txRows<{ leads: number }>(
    tx,
    addFactsSql(hours, (table, select) => {
      const names = columns(table).join(", ");
      const shape = SHAPES[table];
      const keys = shape.keys.filter((k) => k !== "grain" && k !== "at").join(", ");
      const day = `date_trunc('day', at, 'UTC')`;
      // The periods already summed that hold the lead's day: starting from `days` - 1 days before it.
      const periods = (grain: "week" | "four_weeks", days: number) => `
            ${summedSelect(table, grain, "p.start")}
            from f, generate_series(${day} - interval '${(days - 1) * 24} hours', ${day}, interval '24 hours') p(start)
            where p.start + interval '${days * 24} hours' <= ${rolledDay}
            group by p.start, ${keys}`;
      const values =
        sign === 1
          ? names
          : [
              ...shape.keys,
              ...shape.sums.map((c) => `-${c}`),
              ...shape.maxes,
              ...shape.histograms.map((c) => `array[${HISTOGRAM_MS.map((_, i) => `-${c}[${i + 1}]`).join(", ")}]`),
            ].join(", ");
      return `insert into ${table} (${names})
        select ${values} from (
          with f as materialized (${select})
          select ${names} from f
          union all
          ${summedSelect(table, "day", day)} from f group by ${day}, ${keys}
          union all ${periods("week", 7)}
          union all ${periods("four_weeks", 28)}
        ) r ${merge(table)}`;
    }, { ids: leads.map((l) => l.id) }),
  );
  return Number(added.leads);
}

/**
 * Changes decided leads (`change`, run inside `tx`) whose facts may already be rolled up: a lead
 * settled after its hour was rolled (an unknown outcome reconciled). Under the progress row's lock,
 * so no roll runs meanwhile, the facts of the leads that are in the rollups are taken away, the
 * change is made, and their facts as they now stand are added back, to their hour, day, week and
 * four weeks. A lead not rolled up yet (past `rolled_to`, or a held lead noted in
 * `report_deferred`) is counted as it stands when the roller reaches it; reports read those raw.
 */
export async function restateRolledLeads<T>(tx: Db, ids: readonly string[], change: () => Promise<T>): Promise<T> {
  const [progress] = await txRows<{ rolled_to: string | Date }>(tx, sql`select rolled_to from report_progress where name = ${PROGRESS} for update`);
  if (!progress || ids.length === 0) return change();
  const rolled = new Date(progress.rolled_to);
  const inRollups = await txRows<{ id: string; received_at: string | Date }>(
    tx,
    sql`select id, received_at from leads
        where id in (${sql.join(ids.map((id) => sql`${id}`), sql`, `)})
          and received_at < ${rolled.toISOString()}::timestamptz
          and status not in ('received', 'auctioning', 'held')
          and not exists (select 1 from report_deferred d where d.lead_id = leads.id)`,
  );
  const leads = inRollups.map((r) => ({ id: r.id, at: new Date(r.received_at) }));
  if (leads.length) await addRolledFacts(tx, leads, rolled, -1);
  const result = await change();
  if (leads.length) await addRolledFacts(tx, leads, rolled, 1);
  return result;
}

/** Where the rollups reach (null before the first roll). */
export async function rolledTo(database: Database): Promise<Date | null> {
  const [row] = await database.rows<{ rolled_to: string | Date }>(sql`select rolled_to from report_progress where name = ${PROGRESS}`);
  return row ? new Date(row.rolled_to) : null;
}
