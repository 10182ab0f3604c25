// The do-not-sell list over HTTP: upload (CSV or JSON), delete, count. Values are normalised and
// hashed before they reach the database; a body with any bad value is refused whole (422 listing
// every bad value), so a typo never half-applies an upload.
import { z } from "zod";
import type { Db } from "../db/client";
import { addSuppressions, countSuppressions, removeSuppressions } from "../db/suppressions";
import { GavelError, invalid, type FieldError } from "../errors";
import { parseSuppressionCsv, suppressionEntry, type SuppressionEntry } from "../leads/suppression";
import { jsonBody, limitedText } from "./body";
import type { AppContext } from "./env";
import { route, type AnyRoute } from "./route";

export interface SuppressionRouteDeps {
  db: Db;
}

const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;
const upload = { maxBytes: MAX_UPLOAD_BYTES, tooLarge: `A suppression upload is limited to ${MAX_UPLOAD_BYTES} bytes; split the file` };

const SuppressionList = z
  .object({
    emails: z.array(z.string().max(320)).max(500_000).default([]),
    phones: z.array(z.string().max(64)).max(500_000).default([]),
  })
  .strict();

async function readEntries(c: AppContext): Promise<SuppressionEntry[]> {
  const type = c.req.header("content-type") ?? "";
  const errors: FieldError[] = [];
  const entries: SuppressionEntry[] = [];
  if (/^text\/(csv|plain)/i.test(type)) {
    const parsed = parseSuppressionCsv(await limitedText(c, upload));
    entries.push(...parsed.entries);
    errors.push(...parsed.problems);
  } else {
    const parsed = SuppressionList.safeParse(await jsonBody(c, upload));
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

const SuppressionCounts = z.object({ emails: z.number().int(), phones: z.number().int(), total: z.number().int() });
const uploadContent = {
  "application/json": SuppressionList,
  "text/csv": z.string().meta({ description: "One email or phone per line, or a CSV with an `email` and/or `phone` column" }),
};

export function suppressionRoutes(deps: SuppressionRouteDeps): AnyRoute[] {
  return [
    route({
      method: "get",
      path: "/v1/suppressions",
      access: "analyst",
      operationId: "countSuppressions",
      summary: "How many emails and phones are on the do-not-sell list",
      tags: ["Suppression"],
      responses: { 200: { description: "Counts", schema: SuppressionCounts } },
      handler: async (c) => {
        const counts = await countSuppressions(deps.db);
        return c.json({ ...counts, total: counts.emails + counts.phones });
      },
    }),
    route({
      method: "post",
      path: "/v1/suppressions",
      access: "admin",
      operationId: "addSuppressions",
      summary: "Add emails and phones to the do-not-sell list (CSV or JSON)",
      description: "Values are normalised and stored only as SHA-256 hashes. A body with any bad value is refused whole (422 listing each).",
      tags: ["Suppression"],
      documentedBody: { content: uploadContent },
      responses: {
        200: {
          description: "What was added",
          schema: z.object({ received: z.number().int(), added: z.number().int(), already_listed: z.number().int() }),
        },
      },
      handler: async (c) => {
        const entries = await readEntries(c);
        const added = await addSuppressions(deps.db, entries);
        return c.json({ received: entries.length, added, already_listed: entries.length - added });
      },
    }),
    route({
      method: "delete",
      path: "/v1/suppressions",
      access: "admin",
      operationId: "removeSuppressions",
      summary: "Remove emails and phones from the do-not-sell list (CSV or JSON)",
      tags: ["Suppression"],
      documentedBody: { content: uploadContent },
      responses: {
        200: {
          description: "What was removed",
          schema: z.object({ received: z.number().int(), removed: z.number().int(), not_listed: z.number().int() }),
        },
      },
      handler: async (c) => {
        const entries = await readEntries(c);
        const removed = await removeSuppressions(deps.db, entries);
        return c.json({ received: entries.length, removed, not_listed: entries.length - removed });
      },
    }),
  ];
}
