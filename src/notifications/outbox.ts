// Notifications (README "Notifications"): what happened to a lead, told to the receivers that asked
// (a supplier's `postback_url`, a buyer's `notify`). Each notice is a row of the `deliveries`
// outbox, written by the very statement of its event, so an outcome is never recorded without its
// notices nor a notice sent for an outcome that was not. Any process sharing the database delivers:
// a sweep claims due rows (FOR UPDATE SKIP LOCKED, with a lease on the database's clock), sends each
// once to where its receiver's settings say now, and records the end of the attempt; a failure is tried again after an exponential backoff with jitter, up to
// `maxAttempts`, then the row is dead until an operator replays it. Delivery is at least once: a
// process dying after a receiver took a notice but before recording it sends it again after the
// lease, with the same event id, which a receiver dedups by.
//
// Why not pg-boss or graphile-worker: both run over node-postgres (`pg`) connections, which an
// embedded PGlite has none of, and graphile-worker waits on LISTEN; and a notice must be written
// inside the statement of its event (the group-committed FINISH of db/leads.ts), where only a plain
// INSERT … SELECT fits, not a library's own enqueue call. The table and this sweep are all of it.
import type { Logger } from "pino";
import { Agent, request } from "undici";
import { signingHeaders } from "../channels/signing";
import type { Database } from "../db/client";
import { claimDueDeliveries, finishAttempt, type AttemptEnd, type ClaimedDelivery } from "../db/deliveries";
import type { Clock } from "../time/clock";

/** How one attempt ended, as a sender tells it. */
export type SendResult = { ok: true; status: number | null } | { ok: false; status: number | null; error: string };

/**
 * Sends one claimed notice by one means (`via`). `webhook` is built in; another (email, say)
 * registers its own sender under its name, and rows with that `via` go through it.
 */
export type Sender = (delivery: ClaimedDelivery, context: { nowMs: number; signal: AbortSignal }) => Promise<SendResult>;

export interface OutboxOptions {
  database: Database;
  clock: Clock;
  /** Uniform in [0, 1): the jitter's draw (tests pass a seeded one). */
  random: () => number;
  /** Attempts before a notice is dead. */
  maxAttempts: number;
  /** The first retry's delay; each further one doubles, up to MAX_BACKOFF_MS. */
  retryMs: number;
  /** One webhook request's bound: connecting, headers and body. */
  timeoutMs: number;
  /** Senders besides `webhook`, by `via`. */
  senders?: Record<string, Sender>;
  /** Sends in flight at most, in this process. */
  batch?: number;
  /** Sends in flight at most to one receiver (kind, id and via), in this process: a slow one holds no one else. */
  perReceiver?: number;
  /** Where a dead letter is announced (a warning: it waits for an operator's replay). */
  logger?: Logger;
}

/** No retry waits longer than this, however many attempts came before. */
export const MAX_BACKOFF_MS = 6 * 3_600_000;

/**
 * The wait after failed attempt `attempt` (1 for the first): `retryMs × 2^(attempt − 1)`, capped,
 * then "equal jitter": half of it for sure and the other half drawn, so receivers that failed
 * together are not all retried at the same instant.
 */
export function backoffMs(attempt: number, retryMs: number, random: () => number): number {
  const full = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + (full / 2) * random());
}

/** The reason a notice ends unsent when its receiver no longer has the URL (or address) it was for. */
export const RECEIVER_REMOVED = "receiver_removed";

export class Outbox {
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
  private readonly senders: Record<string, Sender>;
  private sweeping: Promise<number> | undefined;
  /** Aborted by stop(): no more claims, and sends in flight are cut off. */
  private readonly stopping = new AbortController();
  /** Sends in flight in this process, by receiver (`kind:id:via`). */
  private readonly busy = new Map<string, number>();

  constructor(private readonly options: OutboxOptions) {
    this.senders = { webhook: (d, c) => this.postWebhook(d, c.nowMs, c.signal), ...options.senders };
  }

  /** How long a claimed row is this process's before another may claim it again. */
  get leaseMs(): number {
    return 2 * this.options.timeoutMs + 10_000;
  }

  /**
   * Delivers what is due now; returns how many attempts it made. A sweep running already is waited
   * for and one more runs after it, so a caller always sees the rows due when it called.
   */
  async deliverDue(): Promise<number> {
    while (this.sweeping) await this.sweeping.catch(() => {});
    this.sweeping = this.sweep().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Whatever sweep is running, for a timer that must not start a second. */
  tick(): Promise<number> {
    return this.sweeping ?? this.deliverDue();
  }

  /**
   * A sweep keeps up to `batch` sends in flight, at most `perReceiver` of them to one receiver, and
   * claims more as sends end, until a claim finds nothing due and nothing is in flight. A receiver
   * that hangs holds its own few sends for the timeout; everyone else's go on around them.
   */
  private async sweep(): Promise<number> {
    const batch = this.options.batch ?? 50;
    const perReceiver = this.options.perReceiver ?? 5;
    const inFlight = new Set<Promise<void>>();
    let attempts = 0;
    // Whether a claim may find something now: the last claim found rows (the next leaves out their
    // receivers, now busy, so a backlog of one never hides the rest behind it), or a receiver this
    // process was busy with is free again. Otherwise a send ending claims nothing.
    let worthClaiming = true;
    for (;;) {
      const room = batch - inFlight.size;
      if (!this.stopping.signal.aborted && room > 0 && (worthClaiming || inFlight.size === 0)) {
        const busy = [...this.busy.keys()];
        worthClaiming = false; // a receiver freed while this claim runs sets it again
        const claimed = await claimDueDeliveries(this.options.database.db, this.options.clock.now(), room, this.leaseMs, { perReceiver, busy });
        attempts += claimed.length;
        if (claimed.length > 0) worthClaiming = true;
        for (const delivery of claimed) {
          const receiver = `${delivery.receiverKind}:${delivery.receiverId}:${delivery.via}`;
          this.busy.set(receiver, (this.busy.get(receiver) ?? 0) + 1);
          const sending: Promise<void> = this.attempt(delivery).finally(() => {
            inFlight.delete(sending);
            const left = (this.busy.get(receiver) ?? 1) - 1;
            if (left > 0) this.busy.set(receiver, left);
            else {
              this.busy.delete(receiver);
              worthClaiming = true;
            }
          });
          inFlight.add(sending);
        }
        // Done when nothing is due, not just nothing of receivers that were busy when the claim began.
        if (claimed.length === 0 && inFlight.size === 0 && busy.length === 0) return attempts;
        // Found some: claim again at once, while there is room, rather than wait for a send to end.
        if (claimed.length > 0 && claimed.length < room) continue;
      } else if (inFlight.size === 0) return attempts;
      if (inFlight.size > 0) await Promise.race(inFlight);
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const db = this.options.database.db;
    if (delivery.receiverRemoved) {
      // Its receiver no longer has the URL (or address) it was for: it ends here, never sent.
      await finishAttempt(db, delivery, this.options.clock.now(), { kind: "cancelled", error: RECEIVER_REMOVED });
      return;
    }
    const sender = this.senders[delivery.via];
    let result: SendResult;
    try {
      result = sender
        ? await sender(delivery, { nowMs: this.options.clock.now(), signal: this.stopping.signal })
        : { ok: false, status: null, error: `no sender for via '${delivery.via}' in this process` };
    } catch (error) {
      result = { ok: false, status: null, error: (error as Error).message ?? String(error) };
    }
    const now = this.options.clock.now();
    if (!result.ok && this.stopping.signal.aborted) {
      // Cut off by stop(): not the receiver's failure. The row is let go, due at once for whichever
      // process sweeps next, without this attempt counted.
      await finishAttempt(db, delivery, now, { kind: "released" }).catch(() => false);
      return;
    }
    let end: AttemptEnd;
    if (result.ok) end = { kind: "delivered", status: result.status };
    else if (delivery.attempt >= this.options.maxAttempts) end = { kind: "dead", status: result.status, error: result.error };
    else end = { kind: "retry", status: result.status, error: result.error, nextAttemptAt: now + backoffMs(delivery.attempt, this.options.retryMs, this.options.random) };
    const recorded = await finishAttempt(db, delivery, now, end);
    if (recorded && end.kind === "dead")
      this.options.logger?.warn(
        { delivery_id: delivery.id, event_id: delivery.eventId, receiver: `${delivery.receiverKind}:${delivery.receiverId}`, attempts: delivery.attempt, error: end.error },
        "notification dead after its last attempt: replay it with POST /v1/deliveries/{id}/replay once its receiver is fixed",
      );
  }

  /** POSTs the notice as JSON, signed like a buyer's requests; any 2xx is delivered. */
  private async postWebhook(delivery: ClaimedDelivery, nowMs: number, stop: AbortSignal): Promise<SendResult> {
    const body = JSON.stringify(delivery.payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "Gavel notifications",
      "x-gavel-event": delivery.event,
      "x-gavel-event-id": delivery.eventId,
      "x-gavel-delivery": String(delivery.id),
      "x-gavel-attempt": String(delivery.attempt),
      ...(delivery.signing?.secret ? signingHeaders(delivery.signing, body, nowMs) : {}),
    };
    const { timeoutMs } = this.options;
    try {
      const res = await request(delivery.target, {
        method: "POST",
        headers,
        body,
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]),
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode };
      return { ok: false, status: res.statusCode, error: `HTTP ${res.statusCode}` };
    } catch (error) {
      const e = error as { name?: string; code?: string; message?: string };
      const error_ = e.name === "TimeoutError" || e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT" ? `timeout after ${timeoutMs} ms` : (e.code ?? e.message ?? String(error));
      return { ok: false, status: null, error: error_ };
    }
  }

  /**
   * Stops sweeping: no more claims, and sends in flight are cut off (their rows are let go, due
   * again at once for another process or the next start). Shutdown takes no longer for a receiver
   * that hangs.
   */
  stop(): void {
    this.stopping.abort();
  }

  /** Stops, waits for the sweep to let its rows go, then closes the connections. */
  async close(): Promise<void> {
    this.stop();
    await this.sweeping?.catch(() => {});
    await this.agent.close();
  }
}
