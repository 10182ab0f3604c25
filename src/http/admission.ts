// Admission control, the one place a lead is admitted or refused for concurrency: a lead takes one
// of GAVEL_MAX_AUCTIONS auction slots, or waits for one (first come, first served, up to
// GAVEL_ADMISSION_WAIT_MS of its own deadline), or is answered 503 + Retry-After. It runs before
// authentication, so a refusal reads neither the body nor the key, records no lead and pings no
// buyer: under a flood "not now" costs far less than an auction, and clients that wait do not
// come straight back, so the admitted leads keep their deadlines.
import type { Clock } from "../time/clock";
import type { AuctionGate } from "../auction/gate";
import type { Metrics } from "../metrics";
import type { AppContext, AppMiddleware, Arrival } from "./env";
import { problem } from "./problem";

export interface AdmissionOptions {
  gate: AuctionGate;
  /** How long a lead may wait for a slot (GAVEL_ADMISSION_WAIT_MS); 0 refuses at once. */
  waitMs: number;
  clock: Clock;
  metrics?: Metrics;
}

/** Holds a slot from admission until the answer is ready, and sets the lead's `arrival`. */
export function admission({ gate, waitMs, clock, metrics }: AdmissionOptions): AppMiddleware {
  return async function admission(c, next) {
    // The deadline counts from here: time spent waiting for a slot is spent from it.
    const arrival: Arrival = { at: clock.now(), mono: performance.now() };
    const entered = gate.enter(waitMs, (withdraw) => onClientGone(c, withdraw));
    if (!(typeof entered === "boolean" ? entered : await entered)) {
      metrics?.recordOverloaded();
      // Answered, not thrown: a flood of refusals should cost as little as possible.
      c.header("Retry-After", "1");
      return problem(c, "overloaded", "Gavel is at its bound of concurrent auctions");
    }
    c.set("arrival", arrival);
    try {
      await next();
    } finally {
      gate.leave();
    }
  };
}

/** When the lead arrived, on a route behind admission control. */
export function arrivalOf(c: AppContext): Arrival {
  const arrival = c.var.arrival;
  if (!arrival) throw new Error("arrivalOf: the route is not behind admission control");
  return arrival;
}

/**
 * Withdraws a waiting lead when its client goes away. Under the Node server that is its response
 * closing: the web Request's `signal` would make the adapter build a full Request around the body,
 * and the lead body is read straight from the socket (body.ts).
 */
function onClientGone(c: AppContext, withdraw: () => void): void {
  const outgoing = c.env?.outgoing;
  if (outgoing) outgoing.once("close", withdraw);
  else c.req.raw.signal.addEventListener("abort", withdraw, { once: true });
}
