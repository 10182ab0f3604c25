// Operator tokens: created with a role and shown once, stored only hashed, revoked at once. Both
// operations are audited; the token itself never reaches the log.
import { randomBytes } from "node:crypto";
import { hashSecret } from "../auth/secrets";
import { recordAudit, type Actor } from "../db/audit";
import type { Db } from "../db/client";
import { insertOperatorToken, listOperatorTokens, revokeOperatorToken } from "../db/tokens";
import { GavelError } from "../errors";
import { diffDocs } from "./diff";

export type Role = "admin" | "analyst";

export interface TokenView {
  id: string;
  name: string;
  role: Role;
  created_at: string;
  revoked_at: string | null;
}

const view = (row: { id: string; name: string; role: string; createdAt: Date; revokedAt: Date | null }): TokenView => ({
  id: row.id,
  name: row.name,
  role: row.role as Role,
  created_at: row.createdAt.toISOString(),
  revoked_at: row.revokedAt?.toISOString() ?? null,
});

/** Every operator token starts so (a supplier's API key never does: `gvl_<key id>_…`). */
export const OPERATOR_TOKEN_PREFIX = "gvl_op_";

export async function createOperatorToken(db: Db, input: { name: string; role: Role }, actor: Actor): Promise<TokenView & { token: string }> {
  const token = `${OPERATOR_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return db.transaction(async (tx) => {
    const row = await insertOperatorToken(tx, {
      id: `tok_${randomBytes(8).toString("hex")}`,
      name: input.name,
      role: input.role,
      tokenHash: hashSecret(token),
    });
    await recordAudit(tx, actor, { resource: `tokens/${row.id}`, action: "token.create", diff: diffDocs(null, { name: row.name, role: row.role }) });
    return { ...view(row), token };
  });
}

export async function revokeToken(db: Db, id: string, actor: Actor): Promise<TokenView> {
  return db.transaction(async (tx) => {
    const row = await revokeOperatorToken(tx, id);
    if (!row) throw new GavelError("not_found", `No live token '${id}'`);
    await recordAudit(tx, actor, {
      resource: `tokens/${id}`,
      action: "token.revoke",
      diff: diffDocs({ revoked_at: null }, { revoked_at: row.revokedAt?.toISOString() }),
    });
    return view(row);
  });
}

export async function listTokens(db: Db): Promise<TokenView[]> {
  return (await listOperatorTokens(db)).map(view);
}
