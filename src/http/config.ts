// Configuration as code over HTTP: the same export and apply as the `gavel` command.
import { z } from "zod";
import type { Clock } from "../time/clock";
import type { Db } from "../db/client";
import { GavelError } from "../errors";
import { applyConfig, exportConfig } from "../resources/apply";
import { operatorOf } from "./auth";
import { limitedText, queryFlag } from "./body";
import { FieldChangeSchema } from "./operator";
import { route, type AnyRoute } from "./route";

export interface ConfigRouteDeps {
  db: Db;
  /** Called after an applied file: cached configuration and supplier keys are read again. */
  configChanged(): void;
  clock: Clock;
  /** Where `${ENV}` references in an applied configuration file are resolved. */
  env: Record<string, string | undefined>;
}

const MAX_FILE_BYTES = 16 * 1024 * 1024;
const fileLimit = { maxBytes: MAX_FILE_BYTES, tooLarge: `A configuration file is limited to ${MAX_FILE_BYTES} bytes` };

const ResourceRef = z.object({ kind: z.enum(["campaigns", "buyers", "channels", "suppliers"]), id: z.string() });
const ApplyResult = z
  .object({
    dry_run: z.boolean(),
    applied: z.boolean(),
    changes: z.object({
      created: z.array(ResourceRef),
      changed: z.array(ResourceRef.extend({ diff: z.array(FieldChangeSchema) })),
      archived: z.array(ResourceRef),
    }),
    suppliers_without_keys: z.array(z.string()),
  })
  .meta({ id: "ApplyResult" });

const ApplyQuery = z
  .object({
    dry_run: queryFlag
      .optional()
      .meta({ description: "`true`: compute and return the plan, change nothing" }),
  })
  .strict();

export function configRoutes(deps: ConfigRouteDeps): AnyRoute[] {
  const { db } = deps;
  return [
    route({
      method: "get",
      path: "/v1/config/export",
      access: "analyst",
      operationId: "exportConfig",
      summary: "The whole configuration as a YAML file (secrets as ${NAME:-***} references)",
      tags: ["Config as code"],
      responses: { 200: { description: "The file `gavel apply` takes", contentType: "application/yaml" } },
      async handler(c) {
        const { text } = await exportConfig(db);
        return c.body(text, 200, { "content-type": "application/yaml; charset=utf-8" });
      },
    }),
    route({
      method: "post",
      path: "/v1/config/apply",
      access: "admin",
      operationId: "applyConfig",
      summary: "Make the configuration match a file (one transaction)",
      description:
        "The body is the file of `GET /v1/config/export` (YAML, or the same as JSON). Creates what is new, replaces what changed, archives what the file no longer lists, in one transaction. `${NAME}` references are resolved from the server's environment; `${NAME:-default}` takes the default while NAME is unset, and a secret of `\"***\"` keeps the stored one — so the export's `${NAME:-***}` secrets apply back to the same Gavel as no change without any variable set. A file with errors is rejected whole: every error has its `path` and `line`/`col`. Like every JSON body, the file may not hold a NUL, an unpaired surrogate or a `__proto__` key, nor nest deeper than 32 levels; it is at most 16 MiB of UTF-8. `?dry_run=true` returns the plan and changes nothing.",
      tags: ["Config as code"],
      query: ApplyQuery,
      documentedBody: { content: { "application/yaml": z.string(), "application/json": z.record(z.string(), z.unknown()) } },
      responses: { 200: { description: "What changed (or would change)", schema: ApplyResult } },
      async handler(c, { query }) {
        const text = await limitedText(c, fileLimit);
        if (text.trim() === "") throw new GavelError("bad_request", "The request body is empty; send the configuration file");
        const operator = operatorOf(c);
        const result = await applyConfig(db, text, { dryRun: query.dry_run ?? false, actor: { ...operator.actor, via: "apply" }, env: deps.env });
        if (result.applied) deps.configChanged();
        return c.json(result);
      },
    }),

  ];
}
