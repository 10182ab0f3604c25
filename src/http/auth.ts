// Who is calling: operators (admin or analyst tokens) on configuration and reads, suppliers (API
// keys) on lead intake. Middleware as small named functions taking options.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { Catalog } from "../auction/catalog";
import type { Db } from "../db/client";
import { findOperatorToken } from "../db/tokens";
import { GavelError } from "../errors";
import type { Supplier } from "../resources/schemas";

export type Role = "admin" | "analyst";

export interface AuthVariables {
  role: Role;
  supplier: Supplier;
}

function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/** Equal-length digests compared in constant time, so timing says nothing about the token. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

export function requireOperator(options: { db: Db; adminToken?: string; role: Role }): MiddlewareHandler {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) throw new GavelError("unauthorized", "Send an operator token as 'Authorization: Bearer <token>'");
    let role: Role | undefined;
    if (options.adminToken && sameSecret(token, options.adminToken)) role = "admin";
    else role = (await findOperatorToken(options.db, sha256(token).toString("hex")))?.role;
    if (!role) throw new GavelError("unauthorized", "The operator token is not valid");
    if (options.role === "admin" && role !== "admin") throw new GavelError("forbidden", "This needs an admin token; analyst tokens are read-only");
    c.set("role" as never, role as never);
    await next();
  };
}

export function requireSupplier(options: { catalog: Catalog }): MiddlewareHandler {
  return async (c, next) => {
    const key = bearer(c);
    if (!key) throw new GavelError("unauthorized", "Send the supplier API key as 'Authorization: Bearer <key>'");
    const supplier = await options.catalog.supplierForKey(key);
    if (!supplier || supplier.status === "archived") throw new GavelError("unauthorized", "The API key is not valid");
    if (supplier.status !== "active") throw new GavelError("forbidden", `Supplier '${supplier.id}' is ${supplier.status}`);
    c.set("supplier" as never, supplier as never);
    await next();
  };
}
