// Operator tokens (admin / analyst), stored only as SHA-256 hashes.
import { and, asc, eq, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { operatorTokens } from "./schema";

export async function findOperatorToken(db: Db, tokenHash: string) {
  const [row] = await db
    .select({ id: operatorTokens.id, name: operatorTokens.name, role: operatorTokens.role })
    .from(operatorTokens)
    .where(and(eq(operatorTokens.tokenHash, tokenHash), isNull(operatorTokens.revokedAt)));
  return row as { id: string; name: string; role: "admin" | "analyst" } | undefined;
}

export async function insertOperatorToken(db: Db, row: { id: string; name: string; role: string; tokenHash: string }) {
  const [created] = await db.insert(operatorTokens).values(row).returning();
  return created;
}

/** Revokes a live token; returns it, or undefined when there is no live token with that id. */
export async function revokeOperatorToken(db: Db, id: string) {
  const [row] = await db
    .update(operatorTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(operatorTokens.id, id), isNull(operatorTokens.revokedAt)))
    .returning();
  return row;
}

export async function listOperatorTokens(db: Db) {
  return db
    .select({
      id: operatorTokens.id,
      name: operatorTokens.name,
      role: operatorTokens.role,
      createdAt: operatorTokens.createdAt,
      revokedAt: operatorTokens.revokedAt,
    })
    .from(operatorTokens)
    .orderBy(asc(operatorTokens.createdAt), asc(operatorTokens.id));
}
