import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { GavelError } from "../errors";

/**
 * The request body as text, refused with 413 past `maxBytes` (a declared Content-Length over it is
 * refused before a byte is read). Under the Node server the body is read straight from the socket's
 * request: building the web `Request` that hono's own reader goes through costs more CPU than the
 * rest of a lead's intake.
 */
export interface BodyLimit {
  maxBytes: number;
  /** The 413's detail. */
  tooLarge: string;
}

export async function limitedText(c: Context, { maxBytes, tooLarge }: BodyLimit): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || incoming.readableEnded) {
    const text = await c.req.text();
    if (Buffer.byteLength(text) > maxBytes) throw new GavelError("payload_too_large", tooLarge);
    return text;
  }
  if (Number(incoming.headers["content-length"] ?? 0) > maxBytes) throw new GavelError("payload_too_large", tooLarge);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new GavelError("payload_too_large", tooLarge);
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks, size).toString("utf8");
}

/** Parses a JSON body; a body that is not JSON is a 400, never a crash. */
export async function jsonBody(c: Context, limit?: BodyLimit): Promise<unknown> {
  const text = limit ? await limitedText(c, limit) : await c.req.text();
  if (text.trim() === "") throw new GavelError("bad_request", "The request body is empty; send JSON");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new GavelError("bad_request", `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return 50;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new GavelError("validation", "Bad query parameter", { errors: [{ path: "limit", message: "must be an integer from 1 to 500" }] });
  return n;
}
