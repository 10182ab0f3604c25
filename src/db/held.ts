// Held leads (src/auction/hold.ts): a lead that arrived while every channel that could take it was
// closed waits in `held_leads` until its `release_at`. Any Gavel process sharing the database may
// release it; `for update skip locked` hands each due row to exactly one of them, and the same
// statement takes the row away and moves the lead on, so a release happens once even if the
// releasing process dies right after. The released lead's row stays (its release_at 'infinity')
// until its first post is about to start (startPosting) or its outcome is recorded: a lead
// `auctioning` past its deadline with that row was never posted, and the sweep of interrupted leads
// holds it again, to be released once more (or expired); without it, the sweep settles it as any other.
import { sql } from "drizzle-orm";
import type { Database } from "./client";
import type { IdempotentResponse, LeadEvent } from "./leads";

const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;
const json = (v: unknown) => sql`${JSON.stringify(v)}::jsonb`;

/**
 * Holds a lead recorded as `auctioning` (its intake done: dedup claimed, supplier caps reserved)
 * until `releaseAt`, ending it `expired` at `expiresAt`; with its history's event and its
 * Idempotency-Key's answer, in one statement.
 */
export async function holdLead(
  database: Database,
  hold: { leadId: string; campaignId: string; releaseAt: Date; expiresAt: Date; event: LeadEvent },
  idempotent?: IdempotentResponse,
): Promise<void> {
  const idem = idempotent
    ? sql`, idem as (
        update idempotency_keys set state = 'done', lead_id = ${hold.leadId}, response_status = ${idempotent.status}, response = ${json(idempotent.body)}
        where supplier_id = ${idempotent.supplierId} and key = ${idempotent.key}
      )`
    : sql``;
  await database.rows(sql`
    with lead as (
      update leads set status = 'held', deadline_at = null where id = ${hold.leadId} and status in ('auctioning', 'held') returning id
    ), held as (
      insert into held_leads (lead_id, campaign_id, release_at, expires_at)
      select id, ${hold.campaignId}, ${ts(hold.releaseAt)}, ${ts(hold.expiresAt)} from lead
      on conflict (lead_id) do update set release_at = excluded.release_at
    ), event as (
      insert into lead_events (lead_id, status, at, reason) select id, ${hold.event.status}, ${ts(hold.event.at)}, ${hold.event.reason ?? null} from lead
    )${idem}
    select 1`);
}

/** A held lead taken for its auction (or its expiry). */
export interface ReleasedLead {
  id: string;
  status: "auctioning" | "expired";
  campaignId: string;
  supplierId: string;
  /** The supplier's configuration as stored, for its payout rule. */
  supplier: unknown;
  test: boolean;
  data: Record<string, unknown>;
  /** When the lead's hold ends (epoch ms). */
  expiresAt: number;
}

/**
 * Takes up to `limit` held leads due at `now`: each is either released (`auctioning`, with a
 * deadline of `now` plus its campaign's `auction.timeout_ms`) or, past its `expires_at`, ended
 * `expired`. Rows another process is taking are skipped, never waited for.
 */
export async function takeDueHeldLeads(database: Database, now: Date, limit: number): Promise<ReleasedLead[]> {
  const rows = await database.rows<{
    id: string;
    status: "auctioning" | "expired";
    campaign_id: string;
    supplier_id: string;
    supplier: unknown;
    test: boolean;
    data: Record<string, unknown>;
    expires_at: string | Date;
  }>(sql`
    with due as (
      select lead_id from held_leads
      where (release_at <= ${ts(now)} or expires_at <= ${ts(now)}) and release_at < 'infinity'
      order by release_at
      limit ${limit}
      for update skip locked
    ), taken as (
      select h.lead_id, h.expires_at, h.expires_at <= ${ts(now)} as expired from held_leads h join due on due.lead_id = h.lead_id
    ), moved as (
      update leads l set
        status = case when taken.expired then 'expired' else 'auctioning' end,
        reason = case when taken.expired then 'hold_expired' else null end,
        decided_at = case when taken.expired then ${ts(now)} else null end,
        deadline_at = case when taken.expired then null
          else ${ts(now)} + make_interval(secs => coalesce((c.config -> 'auction' ->> 'timeout_ms')::float8, 2000) / 1000) end
      from taken, campaigns c
      where l.id = taken.lead_id and l.status = 'held' and c.id = l.campaign_id
      returning l.id, l.status, l.campaign_id, l.supplier_id, l.test, l.data, l.source, l.sub_id
    ), marked as (
      -- A released lead keeps its row, never due again, until its first post (startPosting): if its
      -- process dies before that, the sweep of interrupted leads holds it again (settleInterruptedLeads).
      update held_leads h set release_at = 'infinity' from moved where h.lead_id = moved.id and moved.status = 'auctioning'
    ), gone as (
      delete from held_leads h using taken where h.lead_id = taken.lead_id and h.lead_id not in (select id from moved where status = 'auctioning')
    ), events as (
      insert into lead_events (lead_id, status, at, reason)
      select id, status, ${ts(now)}, case when status = 'expired' then 'hold_expired' else 'released' end from moved
    ), expired_notices as (
      -- A held lead that expired is unsold: its supplier hears so (src/notifications/), in this statement.
      insert into deliveries (event_id, event, lead_id, receiver_kind, receiver_id, via, target, payload, next_attempt_at, created_at, updated_at)
      select 'lead.unsold:' || m.id, 'lead.unsold', m.id, 'supplier', m.supplier_id, r.via, r.target,
             jsonb_build_object('event_id', 'lead.unsold:' || m.id, 'event', 'lead.unsold', 'lead_id', m.id, 'campaign_id', m.campaign_id,
               'status', 'expired', 'reason', 'hold_expired', 'price', 0, 'source', m.source, 'sub_id', m.sub_id, 'test', m.test,
               'occurred_at', ${now.toISOString()}::text, 'was_held', true),
             ${ts(now)}, ${ts(now)}, ${ts(now)}
      from moved m join suppliers s on s.id = m.supplier_id
        cross join lateral (values ('webhook', s.config->>'postback_url'), ('email', s.config->>'notify_email')) r(via, target)
      where m.status = 'expired' and r.target is not null
      on conflict do nothing
    )
    select m.id, m.status, m.campaign_id, m.supplier_id, m.test, m.data, t.expires_at, s.config as supplier from moved m join taken t on t.lead_id = m.id left join suppliers s on s.id = m.supplier_id`);
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    campaignId: r.campaign_id,
    supplierId: r.supplier_id,
    supplier: r.supplier,
    test: r.test,
    data: r.data,
    expiresAt: new Date(r.expires_at).getTime(),
  }));
}

/**
 * A released lead is about to be posted to a buyer: its hold's row goes, so that from now on a
 * process dying with it leaves it to be settled as interrupted (a post may have reached a buyer),
 * never held and auctioned again.
 */
export async function startPosting(database: Database, leadId: string): Promise<void> {
  await database.rows(sql`delete from held_leads where lead_id = ${leadId} and release_at = 'infinity'`);
}

/** A supplier's view of its own lead: its status and price, never who bought it. */
export async function findSupplierLead(
  database: Database,
  id: string,
  supplierId: string,
): Promise<{ id: string; status: string; reason: string | null; price_cents: number; received_at: Date | string; decided_at: Date | string | null } | undefined> {
  const [row] = await database.rows<{ id: string; status: string; reason: string | null; price_cents: number; received_at: Date | string; decided_at: Date | string | null }>(sql`
    select id, status, reason, price_cents, received_at, decided_at from leads where id = ${id} and supplier_id = ${supplierId}`);
  return row;
}
