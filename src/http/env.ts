// The Hono environment of the whole app: what the middleware puts on a request's context, typed, so
// a handler reads `c.var.supplier` or `c.var.logger` and never casts.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import type { Actor } from "../db/audit";
import type { Buyer, Supplier } from "../resources/schemas";
import type { Role } from "../resources/tokens";

/** Who called an operator route, and as what. */
export interface Operator {
  role: Role;
  actor: Actor;
}

/** When a lead reached this process: its deadline counts from then, waiting for a slot included. */
export interface Arrival {
  /** Wall-clock epoch ms, and the same instant on the monotonic clock. */
  at: number;
  mono: number;
}

export interface AppEnv {
  /**
   * Node's own request and response when @hono/node-server serves the app; absent when a test calls
   * `app.request()` in-process.
   */
  Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse };
  Variables: {
    /** The request's id (requestId middleware): the client's valid `X-Request-Id`, or a new one. */
    requestId: string;
    /** The process logger with this request's `request_id` bound: every line the request logs. */
    logger: Logger;
    /** Set behind operator authentication (`analyst` and `admin` routes). */
    operator?: Operator;
    /** Set behind supplier authentication (`supplier` routes). */
    supplier?: Supplier;
    /** Set behind a buyer's postback signature (`buyer` routes). */
    buyer?: Buyer;
    /** Set by admission control, on the lead intake route. */
    arrival?: Arrival;
  };
}

export type AppContext = Context<AppEnv>;
export type AppMiddleware = MiddlewareHandler<AppEnv>;
