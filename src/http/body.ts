import { isUtf8 } from "node:buffer";
import { DateTime } from "luxon";
import { z } from "zod";
import { formatPath, GavelError } from "../errors";
import { timezone } from "../shapes";
import { findUnstorable } from "../storable";
import type { AppContext } from "./env";

/**
 * The request body as text, refused with 413 past `maxBytes` (a declared Content-Length over it is
 * refused before a byte is read). Under the Node server the body is read straight from the socket's
 * request: building the web `Request` that hono's own reader goes through costs more CPU than the
 * rest of a lead's intake. Bytes that are not UTF-8 are a 400, never quietly replaced.
 */
export interface BodyLimit {
  maxBytes: number;
  /** The 413's detail. */
  tooLarge: string;
}

export async function limitedText(c: AppContext, { maxBytes, tooLarge }: BodyLimit): Promise<string> {
  // Absent under app.request(), which passes no bindings.
  const incoming = c.env?.incoming;
  if (!incoming || incoming.readableEnded) {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw new GavelError("payload_too_large", tooLarge);
    return utf8(bytes);
  }
  if (Number(incoming.headers["content-length"] ?? 0) > maxBytes) throw new GavelError("payload_too_large", tooLarge);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new GavelError("payload_too_large", tooLarge);
    chunks.push(chunk as Buffer);
  }
  return utf8(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
}

/** The request body as text, with no limit of its own; bytes that are not UTF-8 are a 400. */
export async function bodyText(c: AppContext): Promise<string> {
  return utf8(new Uint8Array(await c.req.arrayBuffer()));
}

function utf8(bytes: Uint8Array): string {
  if (!isUtf8(bytes)) throw new GavelError("bad_request", "The request body is not valid UTF-8");
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/**
 * Parses a JSON body: a body that is not JSON is a 400, never a crash, and one holding a value
 * that cannot be stored or safely walked (a NUL, an unpaired surrogate, a `__proto__` key, a number
 * out of range, nesting past MAX_JSON_DEPTH; see storable.ts) is a 422 naming where, before any
 * handler sees it. Every JSON body of the API comes through here.
 */
export async function jsonBody(c: AppContext, limit?: BodyLimit): Promise<unknown> {
  const text = limit ? await limitedText(c, limit) : await bodyText(c);
  if (text.trim() === "") throw new GavelError("bad_request", "The request body is empty; send JSON");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GavelError("bad_request", `The request body is not valid JSON: ${(error as Error).message}`);
  }
  return storableOrThrow(value);
}

/** The media type of a request (`application/json`), lower-cased, without parameters. */
export function mediaType(c: AppContext): string {
  return (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Parses an `application/x-www-form-urlencoded` body into its name and value pairs, in order, as
 * an HTML form or a supplier platform encodes them (`+` is a space). A malformed percent-escape,
 * or escaped bytes that are not UTF-8, is a 400 naming the pair, never quietly replaced.
 */
export async function formBody(c: AppContext, limit: BodyLimit): Promise<[string, string][]> {
  const text = await limitedText(c, limit);
  if (text.trim() === "") throw new GavelError("bad_request", "The request body is empty; send the form's fields");
  const pairs: [string, string][] = [];
  for (const part of text.trim().split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const [rawName, rawValue] = eq < 0 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)];
    const name = formDecode(rawName, rawName);
    pairs.push([name, formDecode(rawValue, name)]);
  }
  return pairs;
}

function formDecode(text: string, name: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    throw new GavelError("bad_request", `The form field '${name.slice(0, 100)}' has a malformed %-escape or escaped bytes that are not UTF-8`);
  }
}

/**
 * A value read from a request that is not JSON (a form) held to the rules every JSON body meets
 * (see jsonBody): what cannot be stored is a 422 naming where.
 */
export function storableOrThrow<T>(value: T): T {
  const problem = findUnstorable(value);
  if (problem)
    throw new GavelError("validation", "The request body holds a value Gavel cannot store", {
      errors: [{ path: formatPath(problem.path), message: problem.message }],
    });
  return value;
}

/** A query flag, `true` or `false` (published as a boolean, so a generated client sends one). */
export const queryFlag = z.enum(["true", "false"]).transform((v) => v === "true");

const PAGE_LIMIT = "must be an integer from 1 to 500";

/**
 * `?limit=` of a list: rows in a page, 1 to 500, 50 unless asked. The query's text is read as a
 * number (as `Number()` reads it), so /openapi.json publishes an integer and a generated client
 * sends one.
 */
export const pageLimit = z.coerce
  .number<string>({ error: PAGE_LIMIT })
  .int(PAGE_LIMIT)
  .min(1, PAGE_LIMIT)
  .max(500, PAGE_LIMIT)
  .default(50)
  .meta({ description: "1 to 500, default 50" });

const EARLIEST = Date.UTC(1900, 0, 1);
const LATEST = Date.UTC(9000, 0, 1);

/**
 * A time in a query or a body: ISO 8601 with its offset, from 1900 up to (not including) 9000.
 * PostgreSQL has no year 0 and ends at year 294276, and Gavel counts lookbacks and cap periods
 * from these times, so a bounded range keeps every such sum a time the database can hold.
 */
export const instant = z.iso
  .datetime({ offset: true, abort: true })
  .refine((v) => {
    const t = Date.parse(v);
    return t >= EARLIEST && t < LATEST;
  }, "must be a time from the year 1900 up to 9000");

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
/** A date and a wall-clock time with no offset: read in the query's zone. */
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?$/;
const isoDay = z.iso.date();

/** Why `text` is no bound of a time range, or undefined when it is one. */
function boundProblem(text: string): string | undefined {
  if (ISO_DAY.test(text) || ISO_LOCAL.test(text)) {
    if (!isoDay.safeParse(text.slice(0, 10)).success || !DateTime.fromISO(text, { zone: "UTC" }).isValid)
      return ISO_DAY.test(text) ? "must be a real date (YYYY-MM-DD)" : "must be a real date and time (YYYY-MM-DDTHH:MM:SS)";
    const year = Number(text.slice(0, 4));
    return year >= 1900 && year < 9000 ? undefined : "must be a date from the year 1900 up to 9000";
  }
  const parsed = instant.safeParse(text);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return issue.code === "custom" ? issue.message : "must be an ISO 8601 date (2026-11-28) or date and time (2026-11-28T09:30:00Z)";
}

/**
 * A bound of a time range in a query (`from`, `to`), as the reports read theirs: an ISO 8601 time
 * with its offset is that instant; a bare date is that day's midnight, and a date and time without
 * an offset that wall-clock time, in the query's `tz` (UTC without one). Kept as text until the zone
 * is known: read it with `boundAt` or `timeRange`.
 */
export const timeBound = z
  .string()
  .superRefine((text, ctx) => {
    const problem = boundProblem(text);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({
    description:
      "An ISO 8601 date (`2026-11-28`: midnight in `tz`), date and time in `tz` (`2026-11-28T09:30:00`), or time with its offset (`2026-11-28T09:30:00Z`)",
  });

/** A time range's zone: an IANA name, where `from` and `to` without an offset are read. */
export const rangeZone = timezone.meta({ description: "IANA time zone in which `from` and `to` without an offset are read, default `UTC`" });

/** A valid bound (see timeBound) as an instant: without an offset, it is read in `zone`. */
export function boundAt(bound: string, zone = "UTC"): Date {
  return ISO_DAY.test(bound) || ISO_LOCAL.test(bound) ? DateTime.fromISO(bound, { zone }).toJSDate() : new Date(bound);
}

/** The `from`, `to` and `tz` of a query as instants: the range is half-open, [from, to). */
export function timeRange(q: { from?: string; to?: string; tz?: string }): { from?: Date; to?: Date } {
  return { from: q.from === undefined ? undefined : boundAt(q.from, q.tz), to: q.to === undefined ? undefined : boundAt(q.to, q.tz) };
}
