// When a lead reached this process, as the server saw it before the app: its deadline counts from
// then, so time spent waiting for an auction slot is spent from the lead's own deadline.
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";

export interface Arrival {
  /** Wall-clock epoch ms, and the same instant on the monotonic clock. */
  at: number;
  mono: number;
}

const ARRIVAL = Symbol("gavel.arrival");

type Marked = IncomingMessage & { [ARRIVAL]?: Arrival };

/** Marks a request that holds an auction slot taken by the server on its behalf. */
export function markAdmitted(req: IncomingMessage, arrival: Arrival): void {
  (req as Marked)[ARRIVAL] = arrival;
}

/** The arrival of a request the server admitted, or undefined (the app called without the server). */
export function admittedArrival(c: Context): Arrival | undefined {
  return ((c.env as { incoming?: Marked } | undefined)?.incoming)?.[ARRIVAL];
}
