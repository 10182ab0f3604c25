// The outbox of notifications (src/notifications/): rows of `deliveries`, written by the statement
// of each event (FINISH in db/leads.ts, the expiry of held leads in db/held.ts, an accepted return
// here), claimed by whichever process sweeps first, and marked delivered, retried or dead.
import { randomUUID } from "node:crypto";
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { txRows, type Db } from "./client";
import { deliveries } from "./schema";

export type DeliveryRow = typeof deliveries.$inferSelect;
export type DeliveryState = "pending" | "delivered" | "dead" | "cancelled";

const ts = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/**
 * The supplier hears that a return of its lead was accepted (`lead.returned`), with the payout
 * clawed back, at its postback_url and its notify_email: inside the transaction that accepts the return.
 */
export async function enqueueReturnNotice(
  tx: Db,
  notice: { returnId: string; leadId: string; campaignId: string; supplierId: string; status: string; payoutCents: number; clawbackCents: number; test: boolean; atMs: number },
): Promise<void> {
  const eventId = `lead.returned:${notice.returnId}`;
  await txRows(
    tx,
    sql`insert into deliveries (event_id, event, lead_id, receiver_kind, receiver_id, via, target, payload, next_attempt_at, created_at, updated_at)
        select ${eventId}, 'lead.returned', ${notice.leadId}, 'supplier', s.id, r.via, r.target,
               jsonb_build_object('event_id', ${eventId}::text, 'event', 'lead.returned', 'lead_id', ${notice.leadId}::text,
                 'campaign_id', ${notice.campaignId}::text, 'status', ${notice.status}::text, 'return_id', ${notice.returnId}::text,
                 'price', round(${notice.payoutCents}::int / 100.0, 2), 'payout_clawed_back', round(${notice.clawbackCents}::int / 100.0, 2),
                 'test', ${notice.test}::boolean, 'occurred_at', ${new Date(notice.atMs).toISOString()}::text),
               ${ts(notice.atMs)}, ${ts(notice.atMs)}, ${ts(notice.atMs)}
        from suppliers s cross join lateral (values ('webhook', s.config->>'postback_url'), ('email', s.config->>'notify_email')) r(via, target)
        where s.id = ${notice.supplierId} and r.target is not null
        on conflict do nothing`,
  );
}

/** A row claimed for one attempt, with the receiver's settings (where to, how to sign) as they are now. */
export interface ClaimedDelivery {
  id: number;
  eventId: string;
  event: string;
  leadId: string | null;
  receiverKind: string;
  receiverId: string;
  via: string;
  /** Where this attempt goes: the receiver's URL (or address) for `via` as it is now, not as it was when the event happened. */
  target: string;
  /** The receiver no longer asks for this notice (its URL or address was removed, or the receiver is gone): it ends unsent. */
  receiverRemoved: boolean;
  payload: unknown;
  /** This attempt's number (1 for the first since the row was written or replayed). */
  attempt: number;
  /** The claim's token: only this claim may record the attempt's end, see finishAttempt. */
  claim: string;
  signing: { secret: string; previous_secret?: string } | null;
}

/**
 * The receiver's setting for a row's `via`, read when the row is claimed: an admin who repoints or
 * removes a URL redirects or ends the notices still pending (and a replayed dead letter goes to the
 * new URL). A `via` this list does not know keeps the target it was written with.
 */
const CURRENT_TARGET = sql`case d.receiver_kind
    when 'supplier' then (select case d.via when 'webhook' then s.config->>'postback_url' when 'email' then s.config->>'notify_email' else d.target end
                          from suppliers s where s.id = d.receiver_id)
    when 'buyer' then (select case d.via when 'webhook' then b.config->'notify'->>'url' when 'email' then b.config->'notify'->>'email' else d.target end
                       from buyers b where b.id = d.receiver_id)
  end`;

export interface ClaimOptions {
  /** At most this many rows of one receiver (kind, id and via) in one claim, so one slow receiver cannot fill a batch. */
  perReceiver: number;
  /** Receivers (`kind:id:via`) left out of this claim: this process is still sending them their last ones. */
  busy?: string[];
}

/**
 * Claims up to `limit` pending rows due at `now` (Gavel's clock) for one attempt each: their attempt
 * count goes up and they are leased for `leaseMs` by the database's clock (now()), so processes
 * whose clocks disagree still never hold one row at once, and a process that dies while sending
 * leaves its rows to be claimed again when the lease is over. Rows another process is claiming are
 * skipped, never waited for.
 */
export async function claimDueDeliveries(db: Db, now: number, limit: number, leaseMs: number, options: ClaimOptions = { perReceiver: limit }): Promise<ClaimedDelivery[]> {
  const claim = randomUUID();
  const busy = options.busy?.length
    ? sql`and receiver_kind || ':' || receiver_id || ':' || via not in (${sql.join(
        options.busy.map((b) => sql`${b}`),
        sql`, `,
      )})`
    : sql``;
  const rows = await txRows<{
    id: number | string;
    event_id: string;
    event: string;
    lead_id: string | null;
    receiver_kind: string;
    receiver_id: string;
    via: string;
    current_target: string | null;
    payload: unknown;
    attempts: number;
    signing: ClaimedDelivery["signing"];
  }>(
    db,
    sql`with ready as (
          -- The oldest due rows (a bounded look, by the due index), numbered per receiver.
          select id, row_number() over (partition by receiver_kind, receiver_id, via order by next_attempt_at, id) as nth
          from (
            select id, receiver_kind, receiver_id, via, next_attempt_at from deliveries
            where state = 'pending' and next_attempt_at <= ${ts(now)} and (leased_until is null or leased_until <= now()) ${busy}
            order by next_attempt_at limit ${Math.max(limit, 1) * 20}
          ) oldest
        ), due as (
          select d.id from deliveries d join ready r on r.id = d.id
          where r.nth <= ${options.perReceiver}
            and d.state = 'pending' and d.next_attempt_at <= ${ts(now)} and (d.leased_until is null or d.leased_until <= now())
          order by d.next_attempt_at, d.id limit ${limit}
          for update of d skip locked
        )
        update deliveries d set attempts = d.attempts + 1, leased_until = now() + ${leaseMs} * interval '1 millisecond', claim = ${claim}, updated_at = ${ts(now)}
        from due where d.id = due.id
        returning d.id, d.event_id, d.event, d.lead_id, d.receiver_kind, d.receiver_id, d.via, d.payload, d.attempts,
          ${CURRENT_TARGET} as current_target,
          case d.receiver_kind
            when 'supplier' then (select s.config->'postback_signing' from suppliers s where s.id = d.receiver_id)
            when 'buyer' then (select b.config->'notify'->'signing' from buyers b where b.id = d.receiver_id)
          end as signing`,
  );
  return rows
    .map((r) => ({
      id: Number(r.id),
      eventId: r.event_id,
      event: r.event,
      leadId: r.lead_id,
      receiverKind: r.receiver_kind,
      receiverId: r.receiver_id,
      via: r.via,
      target: r.current_target ?? "",
      receiverRemoved: !r.current_target,
      payload: typeof r.payload === "string" ? JSON.parse(r.payload) : r.payload,
      attempt: Number(r.attempts),
      claim,
      signing: typeof r.signing === "string" ? JSON.parse(r.signing) : (r.signing ?? null),
    }))
    .sort((a, b) => a.id - b.id);
}

export type AttemptEnd =
  | { kind: "delivered"; status: number | null }
  | { kind: "retry"; status: number | null; error: string; nextAttemptAt: number }
  | { kind: "dead"; status: number | null; error: string }
  /** Not sent: its receiver no longer asks for it (`error` says why, e.g. receiver_removed). */
  | { kind: "cancelled"; error: string }
  /** Not finished: the process stopped sending. The row is due again at once, this attempt not counted. */
  | { kind: "released" };

/**
 * Records how an attempt ended and lets the row go. Only the claim that made this attempt may: a
 * row whose lease ran out and was claimed again, or that was dead and replayed, has another claim
 * (or none), and the late answer is left out.
 */
export async function finishAttempt(db: Db, claimed: { id: number; claim: string }, now: number, end: AttemptEnd): Promise<boolean> {
  const set =
    end.kind === "delivered"
      ? sql`state = 'delivered', delivered_at = ${ts(now)}, last_status = ${end.status}, last_error = null`
      : end.kind === "retry"
        ? sql`next_attempt_at = ${ts(end.nextAttemptAt)}, last_status = ${end.status}, last_error = ${end.error}`
        : end.kind === "dead"
          ? sql`state = 'dead', last_status = ${end.status}, last_error = ${end.error}`
          : end.kind === "cancelled"
            ? sql`state = 'cancelled', attempts = attempts - 1, last_status = null, last_error = ${end.error}`
            : sql`attempts = attempts - 1`;
  const rows = await txRows(
    db,
    sql`update deliveries set ${set}, leased_until = null, claim = null, updated_at = ${ts(now)}
        where id = ${claimed.id} and claim = ${claimed.claim} and state = 'pending' returning 1`,
  );
  return rows.length === 1;
}

export interface DeliveryQuery {
  state?: DeliveryState;
  receiverKind?: string;
  receiverId?: string;
  leadId?: string;
  /** The last id of the previous page. */
  cursor?: number;
  limit: number;
}

/** Newest first; the cursor is the last id of the previous page. */
export async function listDeliveries(db: Db, q: DeliveryQuery): Promise<{ rows: DeliveryRow[]; nextCursor: string | null }> {
  const where = [
    q.state ? eq(deliveries.state, q.state) : undefined,
    q.receiverKind ? eq(deliveries.receiverKind, q.receiverKind) : undefined,
    q.receiverId ? eq(deliveries.receiverId, q.receiverId) : undefined,
    q.leadId ? eq(deliveries.leadId, q.leadId) : undefined,
    q.cursor !== undefined ? lt(deliveries.id, q.cursor) : undefined,
  ];
  const rows = await db
    .select()
    .from(deliveries)
    .where(and(...where))
    .orderBy(desc(deliveries.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { rows: page, nextCursor: rows.length > q.limit ? String(page[page.length - 1].id) : null };
}

export async function findDelivery(db: Db, id: number, options: { lock?: boolean } = {}): Promise<DeliveryRow | undefined> {
  const query = db.select().from(deliveries).where(eq(deliveries.id, id));
  const [row] = options.lock ? await query.for("update") : await query;
  return row;
}

/**
 * A dead (or cancelled) row made pending again, due at `now`, with a fresh count of attempts and no
 * claim: an attempt still out from before cannot record its end on it (finishAttempt).
 */
export async function revive(db: Db, id: number, now: number): Promise<DeliveryRow> {
  const [row] = await db
    .update(deliveries)
    .set({ state: "pending", attempts: 0, nextAttemptAt: new Date(now), leasedUntil: null, claim: null, updatedAt: new Date(now) })
    .where(and(eq(deliveries.id, id), inArray(deliveries.state, ["dead", "cancelled"])))
    .returning();
  return row;
}
