// A synthetic history for the reports benchmark (load/reports.ts): Gavel's configuration, then
// leads and their pings and posts written straight into PostgreSQL with set-based SQL, a chunk of
// leads at a time. Every figure is drawn so that the history is one Gavel could have written: a
// sold lead has the accepted post of the channel that bought it at its revenue, a lead's excluded
// channels were not pinged, posts go down the bids from the highest, and so on (checkHistory
// verifies it). Nothing here is used by Gavel itself.
import type postgres from "postgres";
import type { Actor } from "../src/db/audit";
import type { Db } from "../src/db/client";
import { partitionName } from "../src/db/partitions";
import { createResource, createSupplier } from "../src/resources/store";
import { DAY_MS } from "../src/time/clock";

export const CAMPAIGNS = [
  { id: "auto-insurance", name: "Auto insurance", share: 0.4, baseCents: 1800 },
  { id: "home-insurance", name: "Home insurance", share: 0.3, baseCents: 1400 },
  { id: "health-insurance", name: "Health insurance", share: 0.2, baseCents: 2600 },
  { id: "solar", name: "Solar", share: 0.1, baseCents: 4000 },
] as const;
export const CHANNELS_PER_CAMPAIGN = 10;
export const BUYERS = 16;
export const SUPPLIERS = 20;
export const SOURCES_PER_SUPPLIER = 50;
/** Sub-ids a source uses (a lead may also carry none). */
export const SUB_IDS = ["a", "b", "c", "d"];
export const PAYOUT_PERCENT = 70;
const FLOOR_CENTS = 200;
const PING_TIMEOUT_MS = 500;
const POST_TIMEOUT_MS = 1500;
const DEADLINE_MS = 2000;

const pad = (n: number) => String(n).padStart(2, "0");
export const supplierId = (i: number) => `supplier-${pad(i + 1)}`;
export const buyerId = (i: number) => `buyer-${pad(i + 1)}`;

export interface ChannelSpec {
  id: string;
  campaign: number;
  buyerId: string;
  /** The channel's typical bid, in cents. */
  baseCents: number;
  /** How much more (or less) often than the campaign's usual it bids. */
  bidFactor: number;
  pingMedianMs: number;
  timeoutRate: number;
}

/** The 40 channels: 10 per campaign, each campaign's with 10 different buyers, with varied appetites. */
export function channelSpecs(): ChannelSpec[] {
  const specs: ChannelSpec[] = [];
  CAMPAIGNS.forEach((campaign, c) => {
    for (let j = 0; j < CHANNELS_PER_CAMPAIGN; j++) {
      const k = c * CHANNELS_PER_CAMPAIGN + j;
      specs.push({
        id: `${campaign.id}-${pad(j + 1)}`,
        campaign: c,
        buyerId: buyerId((c * 7 + j * 3) % BUYERS),
        baseCents: Math.round(campaign.baseCents * (0.6 + ((k * 37) % 11) / 12.5)),
        bidFactor: 0.7 + ((k * 13) % 7) / 10,
        pingMedianMs: 30 + ((k * 29) % 9) * 15,
        timeoutRate: 0.01 + ((k * 17) % 5) / 100,
      });
    }
  });
  return specs;
}

const actor: Actor = { id: "cli:bench-reports", name: "reports benchmark", via: "cli" };

/** Campaigns, buyers, channels and suppliers, through Gavel's own validation (the leads' FKs need them). */
export async function createConfiguration(db: Db): Promise<void> {
  for (const campaign of CAMPAIGNS)
    await createResource(
      db,
      "campaigns",
      {
        id: campaign.id,
        name: campaign.name,
        fields: [
          { name: "zip", type: "zip", required: true },
          { name: "state", type: "state", required: true },
          { name: "age", type: "integer", min: 18, max: 120 },
        ],
        auction: { timeout_ms: DEADLINE_MS, ping_timeout_ms: PING_TIMEOUT_MS, post_timeout_ms: POST_TIMEOUT_MS, floor: FLOOR_CENTS / 100 },
        payout: { type: "revshare", percent: PAYOUT_PERCENT },
      },
      actor,
    );
  for (let i = 0; i < BUYERS; i++) await createResource(db, "buyers", { id: buyerId(i), name: `Buyer ${i + 1}` }, actor);
  // Never called: the benchmark sends no leads. Port 9 (discard) on loopback refuses at once if it were.
  for (const ch of channelSpecs())
    await createResource(
      db,
      "channels",
      {
        id: ch.id,
        buyer_id: ch.buyerId,
        campaign_id: CAMPAIGNS[ch.campaign].id,
        type: "ping_post",
        ping: { url: `http://127.0.0.1:9/${ch.id}/ping` },
        post: { url: `http://127.0.0.1:9/${ch.id}/post` },
      },
      actor,
    );
  for (let i = 0; i < SUPPLIERS; i++) await createSupplier(db, { id: supplierId(i), name: `Supplier ${i + 1}` }, actor, false);
}

export interface HistoryShape {
  leads: number;
  days: number;
  /** The history ends here (exclusive); it starts `days` before. */
  end: Date;
  /** Leads generated per statement group. */
  chunk?: number;
}

/** How strongly leads follow the daily curve: the busiest hour gets (1+A)/(1-A) times the quietest's leads. */
const DAILY_AMPLITUDE = 0.6;
/** The quietest moment of the day, in UTC hours (1 am in New York). */
const QUIETEST_UTC_HOUR = 5;
const num = (n: number) => {
  if (!Number.isFinite(n)) throw new Error(`not a number: ${n}`);
  return String(n);
};

/**
 * The leads of lead numbers [lo, hi) of `total`, with their fate drawn. Lead i is received at
 * quiet + g(y₀ + (i + r)·days/total) days, where `quiet` is a quietest moment (QUIETEST_UTC_HOUR)
 * at or before the history's start and g(y) = y + A/2π·sin 2πy: g increases and gains exactly one
 * per whole day, so lead numbers stay in time order and the history spans exactly its days, while
 * each day's leads thin out around g's whole numbers (the quiet hour) and crowd half a day later.
 * y₀ solves g(y₀) = (start − quiet) in days.
 */
function leadsSql(lo: number, hi: number, shape: HistoryShape, tag: string): string {
  const startS = shape.end.getTime() / 1000 - shape.days * 86400;
  const quietS = Math.floor((startS - QUIETEST_UTC_HOUR * 3600) / 86400) * 86400 + QUIETEST_UTC_HOUR * 3600;
  const a = DAILY_AMPLITUDE / (2 * Math.PI);
  const x = (startS - quietS) / 86400;
  let y0 = x;
  for (let step = 0; step < 50; step++) y0 -= (y0 + a * Math.sin(2 * Math.PI * y0) - x) / (1 + DAILY_AMPLITUDE * Math.cos(2 * Math.PI * y0));
  const campaignOf = CAMPAIGNS.map((c, i) => ({ i, upTo: CAMPAIGNS.slice(0, i + 1).reduce((s, x) => s + x.share, 0) }));
  return `
    create temp table gen_lead as
    with draw as materialized (
      select i, random() as r_campaign, random() as r_supplier, random() as r_source, random() as r_sub, random() as r_fate,
             random() as r_reason, random() as r_test, random() as r_wanted, random() as p1, random() as p2, random() as r_data,
             ${num(y0)} + (i + random()) * ${num(shape.days)}::float8 / ${num(shape.leads)} as y
      from generate_series(${num(lo)}, ${num(hi - 1)}) i
    ), timed as (
      select *, to_timestamp(${num(quietS)} + (y + ${num(a)} * sin(2 * pi() * y)) * 86400) as received_at,
             case ${campaignOf.slice(0, -1).map((c) => `when r_campaign < ${num(c.upTo)} then ${c.i}`).join(" ")} else ${CAMPAIGNS.length - 1} end as campaign,
             floor(${SUPPLIERS} * power(r_supplier, 1.6))::int as supplier,
             case when r_fate < 0.03 then 'rejected' when r_fate < 0.08 then 'duplicate' else 'auction' end as fate
      from draw
    )
    select i, received_at, campaign, supplier, fate, p1, p2, r_test < 0.01 as test,
           r_wanted < 0.68 as wanted,
           (array[${CAMPAIGNS.map((c) => `'${c.id}'`).join(",")}])[campaign + 1] as campaign_id,
           'supplier-' || lpad((supplier + 1)::text, 2, '0') as supplier_id,
           -- Each supplier's 50 sources, a few much busier than the rest; 5 % of leads carry none.
           case when r_source < 0.05 then null else 'site-' || lpad((1 + floor(${SOURCES_PER_SUPPLIER} * power((r_source - 0.05) / 0.95, 2)))::text, 2, '0') end as source,
           case when r_sub < 0.3 then null else (array[${SUB_IDS.map((s) => `'${s}'`).join(",")}])[1 + floor((r_sub - 0.3) / 0.7 * ${SUB_IDS.length})::int] end as sub_id,
           case fate when 'rejected' then (case when r_reason < 0.5 then 'invalid:email' when r_reason < 0.8 then 'invalid:phone' when r_reason < 0.95 then 'suppressed' else 'cap:day:leads' end)
                     when 'duplicate' then (case when r_reason < 0.9 then 'dedup' else 'resubmitted' end) end as reason,
           '{"zip":"' || lpad((10000 + floor(r_data * 89999))::text, 5, '0') || '","state":"' || (array['TX','CA','FL','NY','OH','GA','PA','IL'])[1 + floor(r_data * 8)::int] ||
             '","age":' || (18 + floor(r_data * 1000)::int % 62) || '}' as data,
           -- UUIDv7: the received time in ms, then random bits (from a hash of the run and lead number).
           substr(ms, 1, 8) || '-' || substr(ms, 9, 4) || '-7' || substr(h, 1, 3) || '-' || (array['8','9','a','b'])[1 + (i % 4)::int] || substr(h, 4, 3) || '-' || substr(h, 7, 12) as id
    from timed, lateral (select lpad(to_hex(floor(extract(epoch from received_at) * 1000)::bigint), 12, '0') as ms, md5('${tag}' || i) as h) ids`;
}

/**
 * Pings of every auctioned lead to each channel of its campaign: 5 % of channels are excluded (not
 * pinged, listed in the lead's `excluded`), the rest answer. A lead is "wanted" (68 %) or not:
 * wanted leads draw bids at the channel's rate, the others none; ping times are lognormal around
 * the channel's median, below its timeout.
 */
const PINGS_SQL = `
    create temp table gen_ping as
    with pair as materialized (
      select l.i, l.id as lead_id, l.received_at, l.wanted, c.id as channel_id, c.base_cents, c.bid_factor, c.ping_median_ms, c.timeout_rate,
             random() as r_ex, random() as r_out, random() as r_price, random() as u1, random() as u2, random() as r_start
      from gen_lead l join gen_channel c on c.campaign = l.campaign
      where l.fate = 'auction'
    ), drawn as (
      select *,
             case when r_ex < 0.03 then 'filtered:state' when r_ex < 0.04 then 'schedule' when r_ex < 0.05 then 'cap:day:leads' end as excluded_reason,
             case when wanted then 0.58 * bid_factor else 0 end as p_bid
      from pair
    ), answered as (
      select *,
             case when excluded_reason is not null then null
                  when r_out < p_bid then 'bid'
                  when r_out < p_bid + timeout_rate then 'timeout'
                  when r_out < p_bid + timeout_rate + 0.01 then 'error'
                  when r_out < p_bid + timeout_rate + 0.01 + (case when wanted then 0.25 * (1 - p_bid) else 0.1 end) then 'below_floor'
                  else 'no_bid' end as outcome
      from drawn
    )
    select i, lead_id, received_at, channel_id, excluded_reason, outcome,
           received_at + (1 + r_start * 3) * interval '1 millisecond' as started_at,
           case outcome when 'timeout' then ${PING_TIMEOUT_MS} + floor(r_price * 4)::int
                        when 'error' then 5 + floor(r_price * 40)::int
                        else least(${PING_TIMEOUT_MS - 1}, greatest(2, round(ping_median_ms * exp(0.6 * sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2)))))::int end as duration_ms,
           case outcome when 'bid' then round(base_cents * (0.5 + r_price))::int
                        when 'below_floor' then 25 + floor(r_price * ${FLOOR_CENTS - 25})::int end as price_cents,
           case outcome when 'timeout' then null when 'error' then (case when r_price < 0.7 then 500 else 503 end)
                        when 'no_bid' then (case when r_price < 0.3 then 204 else 200 end) else 200 end as http_status,
           case outcome when 'timeout' then 'ping_timeout' when 'error' then 'http_' || (case when r_price < 0.7 then 500 else 503 end)
                        when 'no_bid' then (case when r_price < 0.2 then 'no_coverage' when r_price < 0.3 then null else 'not_interested' end) end as reason
    from answered`;

/**
 * Posts down the ranking (highest bid first, as Gavel ranks equal priorities): the first bid is
 * posted; a buyer accepts 48 %, rejects 48 %, times out 4 % (its outcome unknown: the campaign
 * stops, the lead ends in error); after a reject the next bid is posted the same way, and after two
 * posts the deadline has come.
 */
const POSTS_SQL = `
    create temp table gen_post as
    with ranked as (
      select p.i, p.lead_id, p.channel_id, p.price_cents, l.received_at, l.p1, l.p2,
             row_number() over (partition by p.i order by p.price_cents desc, p.channel_id) as rank,
             count(*) over (partition by p.i) as bids,
             max(ph.ping_ms) over (partition by p.i) as ping_ms
      from gen_ping p join gen_lead l using (i)
      join (select i, max(duration_ms) as ping_ms from gen_ping where outcome is not null group by i) ph using (i)
      where p.outcome = 'bid'
    ), first as (
      select *, case when p1 < 0.48 then 'accepted' when p1 < 0.96 then 'rejected' else 'unknown' end as outcome,
             least(${POST_TIMEOUT_MS - 1}, greatest(20, round(150 * exp(0.5 * sqrt(-2 * ln(1 - p2)) * cos(2 * pi() * p1 * 7)))))::int as post_ms
      from ranked where rank = 1
    ), second as (
      select r.*, case when r.p2 < 0.48 then 'accepted' when r.p2 < 0.96 then 'rejected' else 'unknown' end as outcome, f.post_ms as before_ms,
             least(${DEADLINE_MS} - r.ping_ms - f.post_ms - 2, greatest(20, round(130 * exp(0.5 * sqrt(-2 * ln(1 - r.p1)) * cos(2 * pi() * r.p2 * 5)))))::int as post_ms
      from ranked r join first f using (i)
      where r.rank = 2 and f.outcome = 'rejected'
    )
    select i, lead_id, channel_id, price_cents, rank, bids, outcome,
           received_at + (ping_ms + 3) * interval '1 millisecond' as started_at,
           case when outcome = 'unknown' then least(${POST_TIMEOUT_MS}, ${DEADLINE_MS} - ping_ms - 3) else post_ms end as duration_ms
    from first
    union all
    select i, lead_id, channel_id, price_cents, rank, bids, outcome,
           received_at + (ping_ms + before_ms + 4) * interval '1 millisecond',
           case when outcome = 'unknown' then greatest(1, ${DEADLINE_MS} - ping_ms - before_ms - 4) else post_ms end
    from second`;

/** Each lead once, its outcome read off its pings and posts; decided when its last post or ping ended. */
const INSERT_LEADS_SQL = `
    insert into leads (id, campaign_id, supplier_id, status, reason, test, source, sub_id, data, received_at, decided_at, deadline_at,
                       price_cents, revenue_cents, sold_to, sold_channel_id, sold_buyer_id, excluded, overhead_ms)
    select l.id, l.campaign_id, l.supplier_id, o.status, o.reason, l.test, l.source, l.sub_id, l.data::jsonb, l.received_at,
           case when l.fate = 'auction'
                then coalesce(pa.ended_at, l.received_at + (coalesce(pg.ping_ms, 0) + 3) * interval '1 millisecond') + (1 + l.i % 4) * interval '1 millisecond'
                else l.received_at end,
           case when l.fate = 'rejected' then null else l.received_at + interval '${DEADLINE_MS} milliseconds' end,
           case when o.status = 'sold' then pa.sold_cents * ${PAYOUT_PERCENT} / 100 else 0 end,
           case when o.status = 'sold' then pa.sold_cents else 0 end,
           case when o.status = 'sold' then 1 else 0 end,
           pa.sold_channel, c.buyer_id,
           coalesce(pg.excluded, '[]'::jsonb),
           case when l.fate = 'auction' then 1 + l.i % 4 end
    from gen_lead l
    left join (
      select i, max(duration_ms) filter (where outcome is not null) as ping_ms, count(*) filter (where outcome is not null) as pinged,
             jsonb_agg(jsonb_build_object('channel_id', channel_id, 'reason', excluded_reason) order by channel_id) filter (where outcome is null) as excluded
      from gen_ping group by i
    ) pg on pg.i = l.i
    left join (
      select i, max(bids) as bids, max(rank) as posts, max(started_at + duration_ms * interval '1 millisecond') as ended_at,
             bool_or(outcome = 'unknown') as unknown,
             min(channel_id) filter (where outcome = 'accepted') as sold_channel,
             min(price_cents) filter (where outcome = 'accepted') as sold_cents
      from gen_post group by i
    ) pa on pa.i = l.i
    left join gen_channel c on c.id = pa.sold_channel
    cross join lateral (
      select case when l.fate <> 'auction' then l.fate
                  when pa.sold_channel is not null then 'sold'
                  when pa.unknown then 'error'
                  else 'unsold' end as status,
             case when l.fate <> 'auction' then l.reason
                  when pa.sold_channel is not null then null
                  when pa.unknown then 'post_outcome_unknown'
                  when coalesce(pg.pinged, 0) = 0 then 'no_eligible_channels'
                  when pa.i is null then 'no_bids'
                  when pa.bids > pa.posts then 'deadline'
                  else 'all_rejected' end as reason
    ) o`;

const INSERT_ATTEMPTS_SQL = `
    insert into attempts (lead_id, kind, channel_id, started_at, duration_ms, http_status, outcome, price_cents, reason, ping_ref)
    select lead_id, 'ping', channel_id, started_at, duration_ms, http_status, outcome, price_cents,
           case when outcome = 'below_floor' then 'bid ' || (price_cents / 100.0)::float8 || ' < floor ${FLOOR_CENTS / 100}' else reason end,
           case when outcome = 'bid' then 'ref-' || i || '-' || right(channel_id, 2) end
    from gen_ping where outcome is not null
    union all
    select lead_id, 'post', channel_id, started_at, duration_ms, case when outcome = 'unknown' then null else 200 end, outcome, price_cents,
           case outcome when 'unknown' then 'post_timeout' when 'rejected' then (case when i % 3 = 0 then 'duplicate' when i % 3 = 1 then null else 'not_accepted' end) end,
           'ref-' || i || '-' || right(channel_id, 2)
    from gen_post`;

export interface GenerateProgress {
  (line: string): void;
}

/**
 * Writes the history in chunks of leads, each: draw the leads, their pings and posts into temp
 * tables, then insert leads and attempts from them. The attempts' and leads' secondary indexes are
 * dropped for the load and built once after it (as a bulk load into a fresh database should), and
 * foreign keys are not checked row by row (session_replication_role = replica): the rows reference
 * what this same code inserted.
 */
export async function generateHistory(sql: postgres.Sql, shape: HistoryShape, progress: GenerateProgress): Promise<{ leads: number; attempts: number; seconds: Record<string, number> }> {
  const seconds: Record<string, number> = {};
  const chunk = shape.chunk ?? 100_000;
  const tag = Math.random().toString(36).slice(2, 10);
  await sql.unsafe(`set session_replication_role = replica`);
  await sql.unsafe(`set synchronous_commit = off`);
  await sql.unsafe(`set maintenance_work_mem = '512MB'`);
  await sql.unsafe(`set work_mem = '256MB'`);
  const channels = channelSpecs();
  await sql.unsafe(`drop table if exists gen_channel`);
  await sql.unsafe(`
    create temp table gen_channel as
    select * from (values ${channels
      .map((c) => `('${c.id}', ${c.campaign}, '${c.buyerId}', ${c.baseCents}, ${num(c.bidFactor)}::float8, ${c.pingMedianMs}, ${num(c.timeoutRate)}::float8)`)
      .join(", ")}) as c(id, campaign, buyer_id, base_cents, bid_factor, ping_median_ms, timeout_rate)`);

  // Secondary indexes of the two big tables, as the migrations made them: dropped now, rebuilt after
  // (on a partitioned table, on the table and every partition: not ON ONLY the table).
  const indexes = await sql.unsafe<{ name: string; def: string }[]>(`
    select i.indexname as name, replace(i.indexdef, ' ON ONLY ', ' ON ') as def from pg_indexes i
    where i.schemaname = current_schema() and i.tablename in ('leads', 'attempts')
      and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`);
  for (const index of indexes) await sql.unsafe(`drop index "${index.name}"`);

  // Attempts are kept in a partition per UTC day: each day of the history gets its own, as a Gavel
  // that had run through those days would have made it (src/db/partitions.ts).
  const [{ partitioned }] = await sql.unsafe<{ partitioned: boolean }[]>(`select relkind = 'p' as partitioned from pg_class where oid = 'attempts'::regclass`);
  if (partitioned) {
    const startMs = shape.end.getTime() - shape.days * DAY_MS;
    for (let day = Math.floor(startMs / DAY_MS) * DAY_MS; day <= shape.end.getTime() + DAY_MS; day += DAY_MS)
      await sql.unsafe(
        `create table if not exists ${partitionName(day)} partition of attempts for values from ('${new Date(day).toISOString()}') to ('${new Date(day + DAY_MS).toISOString()}')`,
      );
  }

  let t = performance.now();
  let attempts = 0;
  for (let lo = 0; lo < shape.leads; lo += chunk) {
    const hi = Math.min(shape.leads, lo + chunk);
    const c0 = performance.now();
    await sql.unsafe(leadsSql(lo, hi, shape, tag));
    await sql.unsafe(PINGS_SQL);
    await sql.unsafe(POSTS_SQL);
    await sql.unsafe(INSERT_LEADS_SQL);
    const inserted = await sql.unsafe(INSERT_ATTEMPTS_SQL);
    attempts += inserted.count;
    await sql.unsafe(`drop table gen_lead, gen_ping, gen_post`);
    progress(`  leads ${hi.toLocaleString("en-US")} of ${shape.leads.toLocaleString("en-US")}, attempts ${attempts.toLocaleString("en-US")} (${((performance.now() - c0) / 1000).toFixed(1)} s)`);
  }
  seconds.generate = (performance.now() - t) / 1000;

  t = performance.now();
  for (const index of indexes) await sql.unsafe(index.def);
  seconds.indexes = (performance.now() - t) / 1000;
  progress(`  indexes rebuilt (${seconds.indexes.toFixed(1)} s)`);

  t = performance.now();
  await sql.unsafe(`drop table gen_channel`);
  await sql.unsafe(`set session_replication_role = origin`);
  await sql.unsafe(`vacuum (analyze) leads, attempts`);
  seconds.vacuum = (performance.now() - t) / 1000;
  progress(`  vacuum analyze (${seconds.vacuum.toFixed(1)} s)`);
  return { leads: shape.leads, attempts, seconds };
}

export interface HistoryFacts {
  /** Real (non-test) leads, and of those: */
  leads: number;
  sold: number;
  revenueCents: number;
  payoutCents: number;
  testLeads: number;
  /** When the first lead was received, and the last. */
  firstReceivedAt: Date;
  lastReceivedAt: Date;
  pings: number;
  posts: number;
  /** Each invariant the history must hold, with how many rows break it (all zero when consistent). */
  broken: Record<string, number>;
}

/** What the history holds, from the raw rows, and whether it is one Gavel could have written. */
export async function checkHistory(sql: postgres.Sql): Promise<HistoryFacts> {
  const [totals] = await sql.unsafe<(Record<string, string> & { first_received_at: Date; last_received_at: Date })[]>(`
    select count(*) filter (where not test) as leads,
           count(*) filter (where not test and status = 'sold') as sold,
           coalesce(sum(revenue_cents) filter (where not test), 0) as revenue_cents,
           coalesce(sum(price_cents) filter (where not test), 0) as payout_cents,
           count(*) filter (where test) as test_leads,
           min(received_at) as first_received_at, max(received_at) as last_received_at
    from leads`);
  const [kinds] = await sql.unsafe<Record<string, string>[]>(`
    select count(*) filter (where kind = 'ping') as pings, count(*) filter (where kind = 'post') as posts from attempts`);
  const [broken] = await sql.unsafe<Record<string, string>[]>(`
    with post as (
      select lead_id, count(*) as posts, count(*) filter (where outcome = 'accepted') as accepted,
             min(channel_id) filter (where outcome = 'accepted') as channel, min(price_cents) filter (where outcome = 'accepted') as price
      from attempts where kind = 'post' group by lead_id
    ), ping as (
      select a.lead_id, count(*) as pings, count(*) filter (where a.outcome = 'bid') as bids, bool_or(a.started_at < l.received_at) as early
      from attempts a join leads l on l.id = a.lead_id where a.kind = 'ping' group by a.lead_id
    )
    select
      count(*) filter (where l.status = 'sold' and (p.accepted is distinct from 1 or p.channel is distinct from l.sold_channel_id
                                                    or p.price is distinct from l.revenue_cents or l.sold_buyer_id is null or l.sold_to <> 1)) as sold_without_its_post,
      count(*) filter (where l.status <> 'sold' and (l.revenue_cents <> 0 or l.sold_channel_id is not null or coalesce(p.accepted, 0) > 0)) as unsold_with_a_sale,
      count(*) filter (where l.price_cents <> l.revenue_cents * ${PAYOUT_PERCENT} / 100) as payout_not_${PAYOUT_PERCENT}_percent,
      count(*) filter (where l.status in ('rejected', 'duplicate') and (g.pings is not null or p.posts is not null)) as refused_but_pinged,
      count(*) filter (where l.status in ('sold', 'unsold', 'error') and coalesce(g.pings, 0) + jsonb_array_length(l.excluded) <> ${CHANNELS_PER_CAMPAIGN}) as channels_not_all_accounted,
      count(*) filter (where p.posts is not null and (g.bids is null or p.posts > g.bids)) as posts_without_bids,
      count(*) filter (where coalesce(g.bids, 0) > 0 and l.status = 'unsold' and l.reason = 'no_bids') as no_bids_with_bids,
      count(*) filter (where l.decided_at < l.received_at or g.early) as time_runs_backwards
    from leads l left join post p on p.lead_id = l.id left join ping g on g.lead_id = l.id`);
  const n = (v: string | undefined) => Number(v ?? 0);
  return {
    leads: n(totals.leads),
    sold: n(totals.sold),
    revenueCents: n(totals.revenue_cents),
    payoutCents: n(totals.payout_cents),
    testLeads: n(totals.test_leads),
    firstReceivedAt: new Date(totals.first_received_at),
    lastReceivedAt: new Date(totals.last_received_at),
    pings: n(kinds.pings),
    posts: n(kinds.posts),
    broken: Object.fromEntries(Object.entries(broken).map(([k, v]) => [k, n(v)])),
  };
}
