// The audit log: who changed which configuration, when, and how (field-level, secrets masked).
// Entries are written in the same transaction as the change they describe.
import { and, desc, eq, gte, like, lt, or, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { auditLog } from "./schema";

/** Who is making a change: an operator token, the environment's ADMIN_TOKEN, or the CLI's user. */
export interface Actor {
  /** `token:<id>`, `env:ADMIN_TOKEN`, `cli:<os user>`. */
  id: string;
  name: string | null;
  /** `api`, `apply` (config as code over HTTP), `cli`, or `system` (Gavel itself: a return auto-accepted by its sweeper). */
  via: "api" | "apply" | "cli" | "system";
}

export interface AuditChange {
  resource: string;
  action: string;
  diff: unknown[];
}

export async function recordAudit(db: Db, actor: Actor, change: AuditChange): Promise<void> {
  await db.insert(auditLog).values({
    actor: actor.id,
    actorName: actor.name,
    via: actor.via,
    resource: change.resource,
    action: change.action,
    diff: change.diff,
  });
}

export interface AuditQuery {
  /** `channels/acme-tx` (that resource and anything under it, such as its keys) or `channels` (every channel). */
  resource?: string;
  actor?: string;
  /** At in [from, to). */
  from?: Date;
  to?: Date;
  cursor?: number;
  limit: number;
}

/** Newest first; the cursor is the last entry id of the previous page. */
export async function listAudit(db: Db, q: AuditQuery) {
  const where: SQL[] = [];
  if (q.resource) {
    const escaped = q.resource.replace(/[\\%_]/g, (ch) => `\\${ch}`);
    where.push(or(eq(auditLog.resource, q.resource), like(auditLog.resource, `${escaped}/%`)) as SQL);
  }
  if (q.actor) where.push(eq(auditLog.actor, q.actor));
  if (q.from) where.push(gte(auditLog.at, q.from));
  if (q.to) where.push(lt(auditLog.at, q.to));
  if (q.cursor !== undefined) where.push(lt(auditLog.id, q.cursor));
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { rows: page, nextCursor: rows.length > q.limit ? String(page[page.length - 1].id) : null };
}
