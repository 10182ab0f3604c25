// Operator tokens (admin / analyst), stored only as SHA-256 hashes.
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { operatorTokens } from "./schema";

export async function findOperatorToken(db: Db, tokenHash: string) {
  const [row] = await db
    .select({ id: operatorTokens.id, role: operatorTokens.role })
    .from(operatorTokens)
    .where(and(eq(operatorTokens.tokenHash, tokenHash), isNull(operatorTokens.revokedAt)));
  return row as { id: string; role: "admin" | "analyst" } | undefined;
}

export async function insertOperatorToken(db: Db, row: { id: string; name: string; role: string; tokenHash: string }) {
  const [created] = await db.insert(operatorTokens).values(row).returning();
  return created;
}

export async function revokeOperatorToken(db: Db, id: string): Promise<boolean> {
  const rows = await db.update(operatorTokens).set({ revokedAt: new Date() }).where(eq(operatorTokens.id, id)).returning({ id: operatorTokens.id });
  return rows.length > 0;
}
