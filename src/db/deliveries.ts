// The outbox of notifications (src/notifications/): rows of `deliveries`, written by the statement
// of each event (FINISH in db/leads.ts, the expiry of held leads in db/held.ts, an accepted return
// here), claimed by whichever process sweeps first, and marked delivered, retried or dead.
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { txRows, type Db } from "./client";
import { deliveries } from "./schema";

export type DeliveryRow = typeof deliveries.$inferSelect;
export type DeliveryState = "pending" | "delivered" | "dead";

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

/** A row claimed for one attempt, with the receiver's signing settings as they are now. */
export interface ClaimedDelivery {
  id: number;
  eventId: string;
  event: string;
  leadId: string | null;
  receiverKind: string;
  receiverId: string;
  via: string;
  target: string;
  payload: unknown;
  /** This attempt's number (1 for the first): also the claim's token, see finishAttempt. */
  attempt: number;
  signing: { secret: string; previous_secret?: string } | null;
}

/**
 * Claims up to `limit` pending rows due at `now` for one attempt each: their attempt count goes up
 * and they are not due again until `now + leaseMs`, so a process that dies while sending leaves
 * them to be claimed again then. Rows another process is claiming are skipped, never waited for.
 */
export async function claimDueDeliveries(db: Db, now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const rows = await txRows<{
    id: number | string;
    event_id: string;
    event: string;
    lead_id: string | null;
    receiver_kind: string;
    receiver_id: string;
    via: string;
    target: string;
    payload: unknown;
    attempts: number;
    signing: ClaimedDelivery["signing"];
  }>(
    db,
    sql`with due as (
          select id from deliveries where state = 'pending' and next_attempt_at <= ${ts(now)}
          order by next_attempt_at limit ${limit}
          for update skip locked
        )
        update deliveries d set attempts = d.attempts + 1, next_attempt_at = ${ts(now + leaseMs)}, updated_at = ${ts(now)}
        from due where d.id = due.id
        returning d.id, d.event_id, d.event, d.lead_id, d.receiver_kind, d.receiver_id, d.via, d.target, d.payload, d.attempts,
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
      target: r.target,
      payload: typeof r.payload === "string" ? JSON.parse(r.payload) : r.payload,
      attempt: Number(r.attempts),
      signing: typeof r.signing === "string" ? JSON.parse(r.signing) : (r.signing ?? null),
    }))
    .sort((a, b) => a.id - b.id);
}

export type AttemptEnd =
  | { kind: "delivered"; status: number | null }
  | { kind: "retry"; status: number | null; error: string; nextAttemptAt: number }
  | { kind: "dead"; status: number | null; error: string };

/**
 * Records how an attempt ended. Only the claim that made this attempt may: a row whose lease ran
 * out and was claimed again (its attempt count moved on) is left to the newer claim.
 */
export async function finishAttempt(db: Db, claimed: { id: number; attempt: number }, now: number, end: AttemptEnd): Promise<boolean> {
  const set =
    end.kind === "delivered"
      ? sql`state = 'delivered', delivered_at = ${ts(now)}, last_status = ${end.status}, last_error = null`
      : end.kind === "retry"
        ? sql`next_attempt_at = ${ts(end.nextAttemptAt)}, last_status = ${end.status}, last_error = ${end.error}`
        : sql`state = 'dead', last_status = ${end.status}, last_error = ${end.error}`;
  const rows = await txRows(
    db,
    sql`update deliveries set ${set}, updated_at = ${ts(now)}
        where id = ${claimed.id} and attempts = ${claimed.attempt} and state = 'pending' returning 1`,
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

/** A dead row made pending again, due at `now`, with a fresh count of attempts. */
export async function revive(db: Db, id: number, now: number): Promise<DeliveryRow> {
  const [row] = await db
    .update(deliveries)
    .set({ state: "pending", attempts: 0, nextAttemptAt: new Date(now), updatedAt: new Date(now) })
    .where(and(eq(deliveries.id, id), eq(deliveries.state, "dead")))
    .returning();
  return row;
}
