// The one place errors become HTTP answers: application/problem+json (RFC 9457) with `type`,
// `title`, `status`, `detail` and, for field errors, `errors[]`.
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { unavailable } from "../db/client";
import { GavelError, type ErrorCode } from "../errors";
import { STAGE_CODES, stageReason } from "../reasons";
import type { AppContext } from "./env";
import { REQUEST_ID_HEADER } from "./request-id";

export const FieldErrorSchema = z
  .object({
    path: z.string().meta({ description: "`data.email`, `fields[2].type`, `channels[0].ping.url`" }),
    message: z.string(),
    line: z.number().int().optional().meta({ description: "1-based line in a configuration file" }),
    col: z.number().int().optional().meta({ description: "1-based column in a configuration file" }),
  })
  .meta({ id: "FieldError" });

/** The shape of every error answer (RFC 9457), as the OpenAPI document describes it. */
export const Problem = z
  .object({
    type: z.string().meta({ description: "`urn:gavel:problem:<code>`" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(FieldErrorSchema).optional(),
    lead_id: z.string().optional(),
    reason: z.enum(STAGE_CODES.lead).optional().meta({ description: "`supplier_cap`: the cap's code, `cap_leads` or `cap_spend`" }),
    reason_detail: z
      .string()
      .nullable()
      .optional()
      .meta({ description: "`supplier_cap`: the cap's period (`day`): the detail beside `reason`, named so because `detail` is the problem's own text" }),
  })
  .meta({ id: "Problem" });

const statusOf: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  campaign_inactive: 403,
  not_found: 404,
  conflict: 409,
  idempotency_in_progress: 409,
  payload_too_large: 413,
  headers_too_large: 431,
  validation: 422,
  idempotency_mismatch: 422,
  rate_limited: 429,
  overloaded: 503,
  database_unavailable: 503,
  supplier_cap: 429,
  ping_mismatch: 422,
  ping_expired: 410,
};

const titleOf: Record<ErrorCode, string> = {
  bad_request: "Bad request",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  campaign_inactive: "Campaign not active",
  not_found: "Not found",
  conflict: "Conflict",
  idempotency_in_progress: "Request still running",
  payload_too_large: "Payload too large",
  headers_too_large: "Request headers too large",
  validation: "Validation failed",
  idempotency_mismatch: "Idempotency key reused",
  rate_limited: "Too many requests",
  overloaded: "Overloaded",
  database_unavailable: "Database unavailable",
  supplier_cap: "Supplier cap reached",
  ping_mismatch: "Post does not match its ping",
  ping_expired: "Ping expired",
};

/** The problem+json text of an error. */
export function problemBody(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ type: `urn:gavel:problem:${code}`, title: titleOf[code], status: statusOf[code], detail, ...extra });
}

/**
 * A whole HTTP/1.1 answer carrying a problem, for a request Node's own parser refused before any
 * handler saw it (a head past its 16 KiB limit, bytes that are not HTTP): written straight to the
 * socket, which is then closed.
 */
export function rawProblemAnswer(code: ErrorCode, detail: string, requestId: string): string {
  const body = problemBody(code, detail);
  return (
    `HTTP/1.1 ${statusOf[code]} ${titleOf[code]}\r\ncontent-type: application/problem+json\r\n` +
    `${REQUEST_ID_HEADER}: ${requestId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

export function problem(c: AppContext, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): Response {
  const status = statusOf[code];
  return c.body(problemBody(code, detail, extra), status, {
    "content-type": "application/problem+json",
  });
}

/** A reason in a problem: its code, and its detail as `reason_detail` (`detail` is the problem's own). */
function problemReason(text: string) {
  const r = stageReason("lead", text);
  return r && { reason: r.reason, reason_detail: r.detail };
}

export function onError(error: Error, c: AppContext): Response {
  if (error instanceof GavelError) {
    const { errors, lead_id, retryAfter, reason } = error.extra;
    if (retryAfter !== undefined) c.header("Retry-After", String(retryAfter));
    if (error.code === "unauthorized") c.header("WWW-Authenticate", 'Bearer realm="gavel"');
    return problem(c, error.code, error.message, { ...(errors && { errors }), ...(lead_id && { lead_id }), ...(reason && problemReason(reason)) });
  }
  // The database could not be reached: nothing is wrong with the request, so try again shortly.
  const absent = unavailable(error);
  if (absent) {
    c.header("Retry-After", "2");
    return problem(c, "database_unavailable", `${absent.message}; try again shortly`);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return problem(c, error.status === 401 ? "unauthorized" : "bad_request", error.message);
  }
  // The request's own logger, so the line carries its request_id.
  c.var.logger.error({ err: error }, "unhandled error");
  return c.body(
    JSON.stringify({ type: "urn:gavel:problem:internal", title: "Internal error", status: 500, detail: "Something went wrong; it has been logged." }),
    500,
    { "content-type": "application/problem+json" },
  );
}
