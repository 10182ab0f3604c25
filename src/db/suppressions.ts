// The do-not-sell list: hashed emails and phones. Bulk writes run in one transaction, so an upload
// is stored whole or not at all.
import { and, count, eq, inArray, or } from "drizzle-orm";
import type { Db } from "./client";
import { suppressions } from "./schema";

export interface SuppressionRow {
  kind: string;
  hash: string;
}

const CHUNK = 1000;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** Adds entries; returns how many were new. */
export async function addSuppressions(db: Db, entries: readonly SuppressionRow[]): Promise<number> {
  return db.transaction(async (tx) => {
    let added = 0;
    for (const part of chunks(entries)) {
      const rows = await tx
        .insert(suppressions)
        .values(part.map((e) => ({ kind: e.kind, valueHash: e.hash })))
        .onConflictDoNothing()
        .returning({ kind: suppressions.kind });
      added += rows.length;
    }
    return added;
  });
}

/** Removes entries; returns how many were listed. */
export async function removeSuppressions(db: Db, entries: readonly SuppressionRow[]): Promise<number> {
  return db.transaction(async (tx) => {
    let removed = 0;
    for (const part of chunks(entries)) {
      const byKind = (kind: string) => part.filter((e) => e.kind === kind).map((e) => e.hash);
      const conditions = ["email", "phone"]
        .filter((kind) => byKind(kind).length)
        .map((kind) => and(eq(suppressions.kind, kind), inArray(suppressions.valueHash, byKind(kind))));
      const rows = await tx.delete(suppressions).where(or(...conditions)).returning({ kind: suppressions.kind });
      removed += rows.length;
    }
    return removed;
  });
}

export async function countSuppressions(db: Db): Promise<{ emails: number; phones: number }> {
  const rows = await db.select({ kind: suppressions.kind, n: count() }).from(suppressions).groupBy(suppressions.kind);
  const of = (kind: string) => Number(rows.find((r) => r.kind === kind)?.n ?? 0);
  return { emails: of("email"), phones: of("phone") };
}
