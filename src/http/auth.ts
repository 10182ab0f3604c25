// Who is calling: operators (admin or analyst tokens) on configuration and reads, suppliers (API
// keys) on lead intake. Every route declares its access level (route.ts); `authenticator` turns
// that level into one small middleware.
import { hashSecret, sameSecret } from "../auth/secrets";
import { keyIdOf, type SupplierKeys } from "../auth/supplier-keys";
import type { Db } from "../db/client";
import { findOperatorToken } from "../db/tokens";
import { GavelError } from "../errors";
import { eq } from "drizzle-orm";
import { limitedText } from "./body";
import { buyers } from "../db/schema";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, checkPostbackSignature } from "../postbacks/signature";
import type { Buyer, Supplier } from "../resources/schemas";
import type { Clock } from "../time/clock";
import { OPERATOR_TOKEN_PREFIX, type Role } from "../resources/tokens";
import type { AppContext, AppMiddleware, Operator } from "./env";
import type { Access } from "./route";

export type { Operator, Role };

function bearer(c: AppContext): string | undefined {
  const header = c.req.header("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

const pass: AppMiddleware = async (_c, next) => {
  await next();
};

export interface AuthDeps {
  db: Db;
  /** Postback signatures are checked against it (five minutes either way). */
  clock: Clock;
  supplierKeys: SupplierKeys;
  adminToken?: string;
  /** The routes a supplier key opens (`POST /v1/leads`, …), named to a key sent to an operator route. */
  supplierRoutes?: readonly string[];
}

export function authenticator(deps: AuthDeps): (access: Access) => AppMiddleware {
  const analyst = requireOperator(deps, "analyst");
  const admin = requireOperator(deps, "admin");
  const supplier = requireSupplier(deps);
  const buyer = requireBuyerSignature(deps);
  return (access) => ({ public: pass, supplier, analyst, admin, buyer })[access];
}

function requireOperator(deps: AuthDeps, needs: Role): AppMiddleware {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) throw new GavelError("unauthorized", "Send an operator token as 'Authorization: Bearer <token>'");
    let operator: Operator | undefined;
    if (deps.adminToken && sameSecret(token, deps.adminToken))
      operator = { role: "admin", actor: { id: "env:ADMIN_TOKEN", name: "ADMIN_TOKEN", via: "api" } };
    else {
      const row = await findOperatorToken(deps.db, hashSecret(token));
      if (row) operator = { role: row.role, actor: { id: `token:${row.id}`, name: row.name, via: "api" } };
    }
    if (!operator) throw await notAnOperator(deps, token);
    if (needs === "admin" && operator.role !== "admin") throw new GavelError("forbidden", "This needs an admin token; analyst tokens are read-only");
    c.set("operator", operator);
    await next();
  };
}

/**
 * Why a token that is no operator's is refused. A supplier's API key sent to an operator route is
 * a common slip, and "not valid" would send its owner looking for a typo: it is told what it is.
 */
async function notAnOperator(deps: AuthDeps, token: string): Promise<GavelError> {
  if (keyIdOf(token) === undefined) return new GavelError("unauthorized", "The operator token is not valid");
  const supplier = await deps.supplierKeys.supplierFor(token);
  if (!supplier) return new GavelError("unauthorized", "The operator token is not valid (it has the shape of a supplier API key, and is not a live one either)");
  return new GavelError(
    "forbidden",
    `This is a supplier API key (supplier '${supplier.id}'): a supplier key opens only ${(deps.supplierRoutes ?? ["POST /v1/leads"]).join(", ")}; operator routes need an admin or analyst token`,
  );
}

/**
 * Why a key that is no live supplier's is refused: an operator token is told what it is. Only a
 * refused key gets here, so a lead's intake never hashes the admin token.
 */
function notASupplier(deps: AuthDeps, key: string): GavelError {
  // Operator tokens (resources/tokens.ts) and supplier API keys (auth/supplier-keys.ts) are told apart by their shape.
  if (key.startsWith(OPERATOR_TOKEN_PREFIX) || (deps.adminToken && sameSecret(key, deps.adminToken)))
    return new GavelError("forbidden", "This is an operator token; lead intake needs a supplier API key (POST /v1/suppliers or /v1/suppliers/{id}/keys makes one)");
  return new GavelError("unauthorized", "The API key is not valid");
}

function requireSupplier(deps: AuthDeps): AppMiddleware {
  return async (c, next) => {
    const key = bearer(c);
    if (!key) throw new GavelError("unauthorized", "Send the supplier API key as 'Authorization: Bearer <key>'");
    const supplier = await deps.supplierKeys.supplierFor(key);
    if (!supplier) throw notASupplier(deps, key);
    if (supplier.status === "archived") throw new GavelError("unauthorized", "The API key is not valid");
    if (supplier.status !== "active") throw new GavelError("forbidden", `Supplier '${supplier.id}' is ${supplier.status}`);
    c.set("supplier", supplier);
    await next();
  };
}

/**
 * A buyer's postback (`buyer` routes, path parameter `buyer_id`): signed by the buyer's postback
 * secret over the raw body. An unknown buyer and a buyer without a secret read alike, as not valid.
 */
const MAX_POSTBACK_BYTES = 16_384;

function requireBuyerSignature(deps: AuthDeps): AppMiddleware {
  return async (c, next) => {
    const id = c.req.param("buyer_id");
    const [row] = id ? await deps.db.select({ config: buyers.config, status: buyers.status }).from(buyers).where(eq(buyers.id, id)) : [];
    const buyer = row?.config as Buyer | undefined;
    if (!buyer?.postbacks || row.status === "archived")
      throw new GavelError("unauthorized", `No postbacks are taken for buyer '${id}': give the buyer a postbacks.secret first`);
    // The bytes as sent are what was signed. They are read before the signature is known good, so
    // within a bound; the handler then reads the same text, from Hono's body cache.
    const body = await limitedText(c, { maxBytes: MAX_POSTBACK_BYTES, tooLarge: `A postback is at most ${MAX_POSTBACK_BYTES} bytes` });
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(body);
    const checked = checkPostbackSignature(
      buyer.postbacks,
      { timestamp: c.req.header(TIMESTAMP_HEADER), signature: c.req.header(SIGNATURE_HEADER) },
      body,
      deps.clock.now(),
    );
    if (!checked.ok) throw new GavelError("unauthorized", checked.why);
    c.set("buyer", buyer);
    await next();
  };
}

/** The buyer a `buyer` route was called by. */
export function buyerOf(c: AppContext): Buyer {
  const buyer = c.var.buyer;
  if (!buyer) throw new Error("buyerOf: the route is not behind a buyer's signature");
  return buyer;
}

/** The operator an `analyst` or `admin` route was called by. */
export function operatorOf(c: AppContext): Operator {
  const operator = c.var.operator;
  if (!operator) throw new Error("operatorOf: the route is not behind operator authentication");
  return operator;
}

/** The supplier a `supplier` route was called by. */
export function supplierOf(c: AppContext): Supplier {
  const supplier = c.var.supplier;
  if (!supplier) throw new Error("supplierOf: the route is not behind supplier authentication");
  return supplier;
}
