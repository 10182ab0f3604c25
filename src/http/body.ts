import { isUtf8 } from "node:buffer";
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { z } from "zod";
import { formatPath, GavelError } from "../errors";
import { findUnstorable } from "../storable";

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

export async function limitedText(c: Context, { maxBytes, tooLarge }: BodyLimit): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
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
export async function bodyText(c: Context): Promise<string> {
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
export async function jsonBody(c: Context, limit?: BodyLimit): Promise<unknown> {
  const text = limit ? await limitedText(c, limit) : await bodyText(c);
  if (text.trim() === "") throw new GavelError("bad_request", "The request body is empty; send JSON");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GavelError("bad_request", `The request body is not valid JSON: ${(error as Error).message}`);
  }
  const problem = findUnstorable(value);
  if (problem)
    throw new GavelError("validation", "The request body holds a value Gavel cannot store", {
      errors: [{ path: formatPath(problem.path), message: problem.message }],
    });
  return value;
}

export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return 50;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new GavelError("validation", "Bad query parameter", { errors: [{ path: "limit", message: "must be an integer from 1 to 500" }] });
  return n;
}

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

/** The same, read as a Date (for filters such as `from` and `to`). */
export const instantDate = instant.transform((v) => new Date(v));
