// Every request has an id: the client's own `X-Request-Id` when it is a sensible one, else a new
// one. It is sent back on every answer, errors included, and bound to the request's logger, so
// "what happened to this request?" finds every line it logged.
import { requestId as honoRequestId } from "hono/request-id";
import type { Logger } from "pino";
import type { AppMiddleware } from "./env";

export const REQUEST_ID_HEADER = "X-Request-Id";

/**
 * The longest client id taken as it is. A longer one, or one with any character other than
 * `A-Z a-z 0-9 _ - =`, is replaced by a new id: the id goes into every log line of the request,
 * so it must be short and must not be able to forge or break a line.
 */
export const MAX_REQUEST_ID_LENGTH = 128;

/** Sets `requestId` and the answer's `X-Request-Id` (Hono's request-id middleware). */
export function requestId(options: { newId(): string }): AppMiddleware {
  return honoRequestId({ headerName: REQUEST_ID_HEADER, limitLength: MAX_REQUEST_ID_LENGTH, generator: () => options.newId() });
}

/** Sets `logger`: the process logger with the request's `request_id` bound to every line. */
export function requestLogger(options: { logger: Logger }): AppMiddleware {
  return async function requestLogger(c, next) {
    c.set("logger", options.logger.child({ request_id: c.var.requestId }));
    await next();
  };
}
