// The do-not-sell list over HTTP: upload (CSV or JSON), delete, count. Values are normalised and
// hashed before they reach the database; a body with any bad value is refused whole (422 listing
// every bad value), so a typo never half-applies an upload.
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { Db } from "../db/client";
import { addSuppressions, countSuppressions, removeSuppressions } from "../db/suppressions";
import { GavelError, invalid, type FieldError } from "../errors";
import { parseSuppressionCsv, suppressionEntry, type SuppressionEntry } from "../leads/suppression";
import { requireOperator } from "./auth";
import { jsonBody } from "./body";

export interface SuppressionRouteDeps {
  db: Db;
  adminToken?: string;
}

const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

const SuppressionList = z
  .object({
    emails: z.array(z.string().max(320)).max(500_000).default([]),
    phones: z.array(z.string().max(64)).max(500_000).default([]),
  })
  .strict();

async function readEntries(c: Context): Promise<SuppressionEntry[]> {
  const type = c.req.header("content-type") ?? "";
  const errors: FieldError[] = [];
  const entries: SuppressionEntry[] = [];
  if (/^text\/(csv|plain)/i.test(type)) {
    const parsed = parseSuppressionCsv(await c.req.text());
    entries.push(...parsed.entries);
    errors.push(...parsed.problems);
  } else {
    const parsed = SuppressionList.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalid(parsed.error, "The suppression list is invalid");
    for (const [field, kind] of [["emails", "email"], ["phones", "phone"]] as const) {
      parsed.data[field].forEach((value, i) => {
        const entry = suppressionEntry(value, kind);
        if (entry) entries.push(entry);
        else errors.push({ path: `${field}[${i}]`, message: kind === "email" ? "is not an email address" : "is not a phone number" });
      });
    }
  }
  if (errors.length) throw new GavelError("validation", "Some values are not emails or phone numbers; nothing was changed", { errors: errors.slice(0, 1000) });
  if (entries.length === 0) throw new GavelError("validation", "The list is empty", { errors: [{ path: "$", message: "give at least one email or phone" }] });
  const unique = new Map(entries.map((e) => [`${e.kind}:${e.hash}`, e]));
  return [...unique.values()];
}

export function suppressionRoutes(deps: SuppressionRouteDeps): Hono {
  const app = new Hono();
  const read = requireOperator({ db: deps.db, adminToken: deps.adminToken, role: "analyst" });
  const write = requireOperator({ db: deps.db, adminToken: deps.adminToken, role: "admin" });
  const limit = bodyLimit({
    maxSize: MAX_UPLOAD_BYTES,
    onError: () => {
      throw new GavelError("payload_too_large", `A suppression upload is limited to ${MAX_UPLOAD_BYTES} bytes; split the file`);
    },
  });

  app.get("/v1/suppressions", read, async (c) => {
    const counts = await countSuppressions(deps.db);
    return c.json({ ...counts, total: counts.emails + counts.phones });
  });
  app.post("/v1/suppressions", write, limit, async (c) => {
    const entries = await readEntries(c);
    const added = await addSuppressions(deps.db, entries);
    return c.json({ received: entries.length, added, already_listed: entries.length - added });
  });
  app.delete("/v1/suppressions", write, limit, async (c) => {
    const entries = await readEntries(c);
    const removed = await removeSuppressions(deps.db, entries);
    return c.json({ received: entries.length, removed, not_listed: entries.length - removed });
  });
  return app;
}
