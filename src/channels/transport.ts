// Talking to buyers over HTTP. One undici Agent keeps a keep-alive pool per buyer origin. Every
// request has one hard deadline that covers connecting, headers and the whole body: undici's own
// bodyTimeout only measures the gap between chunks, so a buyer that trickles a byte every 50 ms
// would never trip it; the AbortSignal below cuts the request at the deadline whatever arrives.
import { Agent, errors as undiciErrors } from "undici";

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
}

export type BuyerResponse =
  | { kind: "response"; status: number; contentType: string; headers: Record<string, string>; body: string; durationMs: number }
  /**
   * `stalled`: Gavel's own deadline timer fired more than STALL_MS late (its event loop was busy),
   * so the time ran out on Gavel's side and says nothing about the buyer.
   */
  | { kind: "timeout"; durationMs: number; stalled?: boolean }
  | { kind: "too_large"; status: number; durationMs: number }
  /** `sent: false` means no request byte left Gavel (refused, unreachable, connect timeout). */
  | { kind: "connection_error"; code: string; sent: boolean; durationMs: number };

export interface BuyerTransport {
  send(request: BuyerRequest): Promise<BuyerResponse>;
  close(): Promise<void>;
}

const CONNECT_PHASE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

class DeadlineExceeded extends Error {}

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

export interface TransportOptions {
  connectionsPerOrigin?: number;
  keepAliveMs?: number;
}

export function createBuyerTransport(options: TransportOptions = {}): BuyerTransport {
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? 256,
    keepAliveTimeout: options.keepAliveMs ?? 30_000,
    keepAliveMaxTimeout: 120_000,
    pipelining: 1,
  });

  async function attempt(request: BuyerRequest, deadline: number, started: number): Promise<BuyerResponse> {
    const left = deadline - performance.now();
    if (left <= 0) return { kind: "timeout", durationMs: Math.round(performance.now() - started) };
    const controller = new AbortController();
    const due = performance.now() + left;
    let stalled = false;
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      stalled = performance.now() - due > STALL_MS;
      // An answer that arrived in time may be waiting unread in the socket while the loop was busy
      // with other leads: one more turn of the loop reads it before the request is cut, so Gavel's
      // own lag does not throw away healthy buyers' answers (and their keep-alive sockets).
      timer = setImmediate(() => controller.abort(new DeadlineExceeded())) as unknown as NodeJS.Timeout;
    }, left);
    try {
      const url = new URL(request.url);
      const response = await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
        headersTimeout: Math.ceil(left) + 1000,
        bodyTimeout: Math.ceil(left) + 1000,
        connectTimeout: Math.ceil(left),
      } as Parameters<Agent["request"]>[0]);
      const declared = Number(response.headers["content-length"] ?? NaN);
      if (declared > request.maxBodyBytes) {
        response.body.destroy();
        return { kind: "too_large", status: response.statusCode, durationMs: Math.round(performance.now() - started) };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > request.maxBodyBytes) {
          response.body.destroy();
          return { kind: "too_large", status: response.statusCode, durationMs: Math.round(performance.now() - started) };
        }
        chunks.push(chunk as Buffer);
      }
      const contentType = String(response.headers["content-type"] ?? "");
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
      return {
        kind: "response",
        status: response.statusCode,
        contentType,
        headers,
        body: Buffer.concat(chunks, size).toString("utf8"),
        durationMs: Math.round(performance.now() - started),
      };
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      if (controller.signal.aborted || error instanceof DeadlineExceeded || error instanceof undiciErrors.RequestAbortedError)
        return stalled ? { kind: "timeout", durationMs, stalled } : { kind: "timeout", durationMs };
      if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError)
        return { kind: "timeout", durationMs };
      const code = errorCode(error);
      return { kind: "connection_error", code, sent: !CONNECT_PHASE_CODES.has(code), durationMs };
    } finally {
      clearTimeout(timer);
      clearImmediate(timer as unknown as NodeJS.Immediate);
    }
  }

  return {
    async send(request) {
      const started = performance.now();
      const deadline = started + request.timeoutMs;
      const first = await attempt(request, deadline, started);
      if (request.retryConnectFailure && first.kind === "connection_error" && !first.sent && deadline - performance.now() > 5) {
        return attempt(request, deadline, started);
      }
      return first;
    },
    close: () => agent.close(),
  };
}
