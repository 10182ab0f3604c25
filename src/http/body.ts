import type { Context } from "hono";
import { GavelError } from "../errors";

/** Parses a JSON body; a body that is not JSON is a 400, never a crash. */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
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
