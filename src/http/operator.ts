// Operator tokens and the audit log.
import { z } from "zod";
import { listAudit } from "../db/audit";
import type { Db } from "../db/client";
import { createOperatorToken, listTokens, revokeToken } from "../resources/tokens";
import { operatorOf } from "./auth";
import { pageLimit, rangeZone, timeBound, timeRange } from "./body";
import { route, type AnyRoute } from "./route";

const Token = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(["admin", "analyst"]),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .meta({ id: "OperatorToken" });

const NewToken = z.object({ name: z.string().min(1).max(200), role: z.enum(["admin", "analyst"]) }).strict();


const AuditQuery = z
  .object({
    resource: z.string().optional().meta({ description: "`channels/acme-tx` (and anything under it, such as its keys) or a kind: `channels`" }),
    actor: z.string().optional().meta({ description: "`token:<id>`, `env:ADMIN_TOKEN` or `cli:<user>`" }),
    from: timeBound.optional().meta({ description: "At or after: an ISO 8601 date or date and time, read in `tz` unless it has an offset" }),
    to: timeBound.optional().meta({ description: "Before (the range is half-open): an ISO 8601 date or date and time, read in `tz` unless it has an offset" }),
    tz: rangeZone.optional(),
    cursor: z.string().regex(/^\d+$/, "must be a next_cursor value").optional(),
    limit: pageLimit,
  })
  .strict();

export const FieldChangeSchema = z
  .object({ path: z.string(), before: z.unknown().optional(), after: z.unknown().optional() })
  .meta({ id: "FieldChange", description: "A field that changed; `before` is absent for a new field, `after` for a removed one; secrets read \"***\"" });

const AuditEntry = z
  .object({
    id: z.number().int(),
    at: z.string(),
    actor: z.string(),
    actor_name: z.string().nullable(),
    via: z.enum(["api", "apply", "cli", "system"]),
    resource: z.string(),
    action: z.string().meta({ description: "create, update, archive, token.create, token.revoke, key.create, key.expire, key.revoke" }),
    diff: z.array(FieldChangeSchema),
  })
  .meta({ id: "AuditEntry" });

export function operatorRoutes(deps: { db: Db }): AnyRoute[] {
  const { db } = deps;
  return [
    route({
      method: "get",
      path: "/v1/tokens",
      access: "admin",
      operationId: "listTokens",
      summary: "Operator tokens (never the tokens themselves)",
      tags: ["Tokens"],
      responses: { 200: { description: "Every token, revoked ones included", schema: z.object({ items: z.array(Token) }) } },
      handler: async (c) => c.json({ items: await listTokens(db) }),
    }),
    route({
      method: "post",
      path: "/v1/tokens",
      access: "admin",
      operationId: "createToken",
      summary: "Create an operator token",
      description: "`admin`: everything. `analyst`: read-only on leads (pii masked), configuration (secrets masked) and reports. The token is in `token`, shown this once; only its hash is stored.",
      tags: ["Tokens"],
      body: NewToken,
      responses: { 201: { description: "The token", schema: Token.safeExtend({ token: z.string() }) } },
      handler: async (c, { body }) => c.json(await createOperatorToken(db, body, operatorOf(c).actor), 201),
    }),
    route({
      method: "delete",
      path: "/v1/tokens/{id}",
      access: "admin",
      operationId: "revokeToken",
      summary: "Revoke an operator token (at once)",
      tags: ["Tokens"],
      responses: { 204: { description: "Revoked" } },
      async handler(c, { params }) {
        await revokeToken(db, params.id, operatorOf(c).actor);
        return c.body(null, 204);
      },
    }),

    route({
      method: "get",
      path: "/v1/audit",
      access: "admin",
      operationId: "listAudit",
      summary: "The audit log: who changed what configuration, when, newest first",
      tags: ["Audit"],
      query: AuditQuery,
      responses: { 200: { description: "A page of entries", schema: z.object({ items: z.array(AuditEntry), next_cursor: z.string().nullable() }) } },
      async handler(c, { query }) {
        const page = await listAudit(db, {
          resource: query.resource,
          actor: query.actor,
          ...timeRange(query),
          cursor: query.cursor === undefined ? undefined : Number(query.cursor),
          limit: query.limit,
        });
        return c.json({
          items: page.rows.map((r) => ({
            id: r.id,
            at: r.at.toISOString(),
            actor: r.actor,
            actor_name: r.actorName,
            via: r.via,
            resource: r.resource,
            action: r.action,
            diff: r.diff,
          })),
          next_cursor: page.nextCursor,
        });
      },
    }),

  ];
}
