// Talking to buyers over HTTP. One undici Agent keeps a keep-alive pool per buyer origin. Every
// request has one hard deadline that covers connecting, headers and the whole body: undici's own
// bodyTimeout only measures the gap between chunks, so a buyer that trickles a byte every 50 ms
// would never trip it; Gavel's own timer cuts the request at the deadline whatever arrives.
//
// Each request goes through undici's lowest public layer, `dispatch`, with one handler object
// that gathers the body chunks itself: the promise API's per-response Readable stream, the
// AbortController per request and the `for await` over the body cost more CPU than the bytes they
// carry, and a Gavel instance makes tens of thousands of these requests a second.
import { Agent, errors as undiciErrors, type Dispatcher } from "undici";
import type { MailMessage } from "../email/mailer";

export interface BuyerRequest {
  url: string;
  method: "POST" | "GET";
  headers: Record<string, string>;
  body?: string;
  /** Milliseconds the whole exchange may take. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** Retry once, within the same deadline, when the connection failed before any byte was sent. */
  retryConnectFailure?: boolean;
  /**
   * An email channel's post (./email.ts): sent through the SMTP server by `mailingTransport`, the
   * url (`mailto:`), headers and body being only how traces and the console show it.
   */
  mail?: MailMessage;
}

export type BuyerResponse =
  | { kind: "response"; status: number; contentType: string; headers: Record<string, string>; body: string; durationMs: number }
  /**
   * `stalled`: Gavel's own deadline timer fired more than STALL_MS late (its event loop was busy),
   * so the time ran out on Gavel's side and says nothing about the buyer.
   */
  | {
      kind: "timeout";
      durationMs: number;
      stalled?: boolean;
      /**
       * Whether the request reached its socket before the deadline. False: it was still connecting
       * or waiting for a free connection, so the buyer never saw it (a post then cannot have sold).
       */
      sent: boolean;
      /**
       * Not sent, and Gavel's own pool of connections to this buyer's origin was full, with
       * requests waiting for a free one: the time ran out in Gavel's queue, not at the buyer (other
       * endpoints on the same origin may be holding every connection), so it says nothing of the
       * buyer's health.
       */
      congested?: boolean;
    }
  | { kind: "too_large"; status: number; durationMs: number }
  /** `sent: false` means no request byte left Gavel (refused, unreachable, connect timeout). */
  | { kind: "connection_error"; code: string; sent: boolean; durationMs: number; detail?: string };

export interface BuyerTransport {
  send(request: BuyerRequest): Promise<BuyerResponse>;
  close(): Promise<void>;
}

const CONNECT_PHASE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);
/** Errors of a request undici or Node refused to build: it never left Gavel (a post then cannot have sold). */
const REFUSED_REQUEST_CODES = new Set(["UND_ERR_INVALID_ARG", "ERR_INVALID_URL", "ERR_INVALID_ARG_TYPE", "ERR_INVALID_ARG_VALUE", "ERR_INVALID_CHAR", "ERR_INVALID_HTTP_TOKEN"]);

/**
 * The code of a request Gavel will not send: a rendered header value holding CR, LF or NUL (a
 * buyer's capture, a lead's field) would split the header or be refused by undici, so the request
 * never leaves Gavel (`detail` names the header), and a post goes on to the next bid.
 */
export const INVALID_REQUEST = "invalid_request";
const UNSENDABLE = /[\r\n\0]/;

/** The name of the first header whose value cannot go on the wire, or null. */
export function unsendableHeader(headers: Record<string, string>): string | null {
  for (const name in headers) if (UNSENDABLE.test(headers[name])) return name;
  return null;
}

class DeadlineExceeded extends Error {}
class TooLarge extends Error {}

/** A deadline timer this late means Gavel's event loop, not the buyer, was slow. */
export const STALL_MS = 50;

function errorCode(error: unknown): string {
  let e = error as { code?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === "string") return e.code;
    e = e.cause as typeof e;
  }
  return "UNKNOWN";
}

/** `reachedSocket`: whether undici had started writing the request (onRequestStart) when it failed. */
function failure(error: unknown, durationMs: number, reachedSocket = true): BuyerResponse {
  const code = errorCode(error);
  return { kind: "connection_error", code, sent: reachedSocket && !CONNECT_PHASE_CODES.has(code) && !REFUSED_REQUEST_CODES.has(code), durationMs };
}

/** Where undici sends a request: the origin that picks the keep-alive pool, and the request line's path. */
export interface Target {
  origin: string;
  path: string;
}

/**
 * A query the WHATWG URL parser leaves exactly as written: no byte it would percent-encode (controls,
 * space, `"`, `#`, `'`, `<`, `>`, non-ASCII), so it can follow the cached path without a parse.
 */
const VERBATIM_QUERY = /^\?[\x21\x24-\x26\x28-\x3b\x3d\x3f-\x7e]+$/;

/**
 * Turns request urls into undici targets, remembering each url's part before the query: a GET ping
 * carries the lead's fields in its query, so whole urls rarely repeat, while the buyer's endpoint
 * does. The answer always equals `new URL(url)`'s origin and pathname + search.
 */
export class TargetCache {
  private readonly parsed = new Map<string, { origin: string; pathname: string }>();

  constructor(private readonly limit = 1000) {}

  of(url: string): Target {
    const q = url.indexOf("?");
    if (q < 0) {
      const { origin, pathname } = this.parse(url);
      return { origin, path: pathname };
    }
    const base = url.slice(0, q);
    const query = url.slice(q);
    if (base.includes("#") || !VERBATIM_QUERY.test(query)) {
      const whole = new URL(url);
      return { origin: whole.origin, path: whole.pathname + whole.search };
    }
    const { origin, pathname } = this.parse(base);
    return { origin, path: pathname + query };
  }

  private parse(url: string) {
    let entry = this.parsed.get(url);
    if (entry === undefined) {
      const parsed = new URL(url);
      // Buyers' endpoints are few; a flood of distinct urls only costs a re-parse, never unbounded memory.
      if (this.parsed.size >= this.limit) this.parsed.clear();
      entry = { origin: parsed.origin, pathname: parsed.pathname };
      this.parsed.set(url, entry);
    }
    return entry;
  }
}

/**
 * One request's exchange with a buyer, as an undici dispatch handler. It settles exactly once:
 * with the answer, too_large, an error, or at the deadline — and whichever comes first cancels the
 * timer and aborts the request if it is still running, so no socket is left reading for nobody.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private settled = false;
  private stalled = false;
  private sent = false;
  private status = 0;
  private contentType = "";
  private headers: Record<string, string> | null = null;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly resolve: (response: BuyerResponse) => void,
    private readonly started: number,
    private readonly maxBodyBytes: number,
    private readonly due: number,
    left: number,
    /** The agent and origin whose pool the request waits in: read only if it times out unsent. */
    private readonly agent: Agent,
    private readonly origin: string,
    private readonly stallMs: number,
  ) {
    this.timer = setTimeout(deadlinePassed, left, this);
  }

  onDeadline() {
    this.timer = undefined;
    this.stalled = performance.now() - this.due > this.stallMs;
    // An answer that arrived in time may be waiting unread in the socket while the loop was busy
    // with other leads: one more turn of the loop reads it before the request is cut, so Gavel's
    // own lag does not throw away healthy buyers' answers (and their keep-alive sockets).
    this.immediate = setImmediate(cutAtDeadline, this);
  }

  cut() {
    this.immediate = undefined;
    if (this.settled) return;
    this.settle(this.timeout());
    // Not yet on a socket (connecting, or queued behind a busy pool): onRequestStart aborts it.
    this.controller?.abort(new DeadlineExceeded());
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller;
    // undici calls this as it writes the request to its socket: from here the buyer has it.
    this.sent = true;
    if (this.settled) controller.abort(new DeadlineExceeded());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>) {
    if (statusCode < 200) return; // 1xx informational; the real answer follows
    this.status = statusCode;
    if (Number(headers["content-length"] ?? NaN) > this.maxBodyBytes) return this.tooLarge(controller);
    this.contentType = String(headers["content-type"] ?? "");
    const flat: Record<string, string> = {};
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    this.headers = flat;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer) {
    if (this.settled) return;
    this.size += chunk.length;
    if (this.size > this.maxBodyBytes) return this.tooLarge(controller);
    this.chunks.push(chunk);
  }

  onResponseEnd() {
    if (this.settled) return;
    // Decoded from the whole body, so a multi-byte character split across chunks survives.
    const body = this.chunks.length === 1 ? this.chunks[0].toString("utf8") : Buffer.concat(this.chunks, this.size).toString("utf8");
    this.settle({ kind: "response", status: this.status, contentType: this.contentType, headers: this.headers ?? {}, body, durationMs: this.elapsed() });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error) {
    if (this.settled) return;
    if (error instanceof DeadlineExceeded || error instanceof undiciErrors.RequestAbortedError) this.settle(this.timeout());
    else if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError)
      this.settle({ kind: "timeout", durationMs: this.elapsed(), sent: this.sent });
    else this.settle(failure(error, this.elapsed(), this.sent));
  }

  private tooLarge(controller: Dispatcher.DispatchController) {
    this.settle({ kind: "too_large", status: this.status, durationMs: this.elapsed() });
    controller.abort(new TooLarge());
  }

  private timeout(): BuyerResponse {
    const durationMs = this.elapsed();
    if (this.stalled) return { kind: "timeout", durationMs, stalled: true, sent: this.sent };
    if (!this.sent && poolCongested(this.agent, this.origin)) return { kind: "timeout", durationMs, sent: false, congested: true };
    return { kind: "timeout", durationMs, sent: this.sent };
  }

  private elapsed() {
    return Math.round(performance.now() - this.started);
  }

  private settle(response: BuyerResponse) {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.resolve(response);
  }
}

/**
 * Are requests to this origin waiting for a free connection? A pool counts them as queued; a
 * single-connection client as pending behind a running one.
 */
function poolCongested(agent: Agent, origin: string): boolean {
  const stats = (agent.stats as Record<string, { queued?: number; pending?: number; running?: number } | undefined>)[origin];
  if (!stats) return false;
  return stats.queued !== undefined ? stats.queued > 0 : (stats.running ?? 0) > 0 && (stats.pending ?? 0) > 0;
}

/** A timeout spent in Gavel's own full connection pool, never at the buyer: no mark against its health. */
export const waitedInGavelQueue = (response: BuyerResponse): boolean => response.kind === "timeout" && response.congested === true;

// Module-level callbacks with the exchange as argument: no closures allocated per request.
const deadlinePassed = (exchange: Exchange) => exchange.onDeadline();
const cutAtDeadline = (exchange: Exchange) => exchange.cut();

export interface TransportOptions {
  connectionsPerOrigin?: number;
  keepAliveMs?: number;
  /** How late a deadline timer may fire before the timeout counts as Gavel's stall (default STALL_MS; tests on a busy machine may pass Infinity). */
  stallMs?: number;
}

export function createBuyerTransport(options: TransportOptions = {}): BuyerTransport {
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? 256,
    keepAliveTimeout: options.keepAliveMs ?? 30_000,
    keepAliveMaxTimeout: 120_000,
    pipelining: 1,
  });
  const targets = new TargetCache();
  const stallMs = options.stallMs ?? STALL_MS;

  function attempt(request: BuyerRequest, deadline: number, started: number): Promise<BuyerResponse> | BuyerResponse {
    const now = performance.now();
    const left = deadline - now;
    if (left <= 0) return { kind: "timeout", durationMs: Math.round(now - started), sent: false };
    let target: Target;
    try {
      target = targets.of(request.url);
    } catch (error) {
      return failure(error, Math.round(performance.now() - started), false);
    }
    const header = unsendableHeader(request.headers);
    if (header !== null)
      return { kind: "connection_error", code: INVALID_REQUEST, sent: false, durationMs: Math.round(performance.now() - started), detail: `header ${header} holds CR, LF or NUL` };
    return new Promise((resolve) => {
      const exchange = new Exchange(resolve, started, request.maxBodyBytes, deadline, left, agent, target.origin, stallMs);
      // undici reports every failure, even a synchronous one such as an invalid header, to
      // onResponseError, so the exchange always settles.
      agent.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: request.method,
          headers: request.headers,
          body: request.body,
          // Backstops only; the exchange's own deadline comes first.
          headersTimeout: Math.ceil(left) + 1000,
          bodyTimeout: Math.ceil(left) + 1000,
        },
        exchange,
      );
    });
  }

  return {
    async send(request) {
      const started = performance.now();
      const deadline = started + request.timeoutMs;
      const first = await attempt(request, deadline, started);
      if (request.retryConnectFailure && first.kind === "connection_error" && !first.sent && first.code !== INVALID_REQUEST && deadline - performance.now() > 5) {
        return attempt(request, deadline, started);
      }
      return first;
    },
    close: () => agent.close(),
  };
}
