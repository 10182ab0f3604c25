// Domain errors carry a code; http/problem.ts maps every code to one problem+json answer.
// Expected auction outcomes (no bid, timeout, reject…) are values, never these.
import type { z } from "zod";

export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "validation"
  | "payload_too_large"
  | "headers_too_large"
  | "idempotency_mismatch"
  | "idempotency_in_progress"
  | "overloaded"
  | "database_unavailable"
  | "campaign_inactive"
  | "rate_limited"
  | "supplier_cap"
  | "ping_mismatch"
  | "ping_expired";

export interface FieldError {
  path: string;
  message: string;
  /** Where in a configuration file the error is (1-based), when the input was a file. */
  line?: number;
  col?: number;
}

export class GavelError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { errors?: FieldError[]; lead_id?: string; retryAfter?: number; reason?: string } = {},
  ) {
    super(message);
  }
}

/** `fields[2].type`, `data.email`: the spelling every field error uses. */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ""): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "$";
}

/** Every issue of a zod error as a raw path (one per unknown key), for callers that locate them. */
export function issuesOf(error: z.ZodError): { path: PropertyKey[]; message: string }[] {
  return error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: [...issue.path, key], message: "is not a known field" }))
      : [{ path: issue.path, message: issue.message }],
  );
}

export function fieldErrorsOf(error: z.ZodError, prefix = ""): FieldError[] {
  return issuesOf(error).map((issue) => ({ path: formatPath(issue.path, prefix), message: issue.message }));
}

export function invalid(error: z.ZodError, title = "The request body is invalid", prefix = ""): GavelError {
  return new GavelError("validation", title, { errors: fieldErrorsOf(error, prefix) });
}
