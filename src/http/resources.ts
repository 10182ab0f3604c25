// Configuration over HTTP: campaigns, buyers, channels and suppliers. Handlers validate, call one
// store verb and map the result; every write invalidates the engine's cached configuration.
import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import type { Catalog } from "../auction/catalog";
import { testChannel, type ConsoleDeps } from "../auction/console";
import { CircuitBreaker } from "../resources/schemas";
import type { Db } from "../db/client";
import { insertOperatorToken, revokeOperatorToken } from "../db/tokens";
import { GavelError, invalid } from "../errors";
import {
  archiveResource,
  createResource,
  createSupplier,
  getResource,
  hashSecret,
  listResources,
  patchResource,
  replaceResource,
  type ResourceKind,
} from "../resources/store";
import { requireOperator } from "./auth";
import { jsonBody, pageLimit } from "./body";
import { z } from "zod";

export interface ResourceRouteDeps extends ConsoleDeps {
  db: Db;
  catalog: Catalog;
  adminToken?: string;
}

const KINDS: ResourceKind[] = ["campaigns", "buyers", "channels", "suppliers"];

export function resourceRoutes(deps: ResourceRouteDeps): Hono {
  const app = new Hono();
  const read = requireOperator({ db: deps.db, adminToken: deps.adminToken, role: "analyst" });
  const write = requireOperator({ db: deps.db, adminToken: deps.adminToken, role: "admin" });
  const changed = <T>(value: T): T => {
    deps.catalog.invalidate();
    return value;
  };

  for (const kind of KINDS) {
    app.get(`/v1/${kind}`, read, async (c) =>
      c.json(
        await listResources(deps.db, kind, {
          limit: pageLimit(c.req.query("limit")),
          cursor: c.req.query("cursor"),
          status: c.req.query("status"),
          campaignId: c.req.query("campaign_id"),
          buyerId: c.req.query("buyer_id"),
        }),
      ),
    );
    app.post(`/v1/${kind}`, write, async (c) => {
      const body = await jsonBody(c);
      const created = kind === "suppliers" ? await createSupplier(deps.db, body) : await createResource(deps.db, kind, body);
      return c.json(changed(created), 201);
    });
    app.get(`/v1/${kind}/:id`, read, async (c) => {
      const doc = await getResource(deps.db, kind, c.req.param("id"));
      return c.json(kind === "channels" ? { ...doc, health: channelHealth(doc) } : doc);
    });
    app.put(`/v1/${kind}/:id`, write, async (c) =>
      c.json(changed(await replaceResource(deps.db, kind, c.req.param("id"), await jsonBody(c)))),
    );
    app.patch(`/v1/${kind}/:id`, write, async (c) =>
      c.json(changed(await patchResource(deps.db, kind, c.req.param("id"), await jsonBody(c)))),
    );
    app.delete(`/v1/${kind}/:id`, write, async (c) => c.json(changed(await archiveResource(deps.db, kind, c.req.param("id")))));
  }

  // A channel's circuit breaker, as this process sees it (health is per process).
  const channelHealth = (doc: Record<string, unknown> & { id: string }) =>
    deps.catalog.health.view(doc.id, (doc.circuit_breaker as CircuitBreaker | undefined) ?? CircuitBreaker.parse({}), Date.now());
  app.get("/v1/channels/:id/health", read, async (c) => c.json(channelHealth(await getResource(deps.db, "channels", c.req.param("id")))));
  app.post("/v1/channels/:id/test", write, async (c) => c.json(await testChannel(deps, c.req.param("id"), await jsonBody(c))));

  const NewToken = z.object({ name: z.string().min(1).max(200), role: z.enum(["admin", "analyst"]) }).strict();
  app.post("/v1/tokens", write, async (c) => {
    const parsed = NewToken.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalid(parsed.error, "The token request is invalid");
    const token = `gvl_op_${randomBytes(32).toString("base64url")}`;
    const row = await insertOperatorToken(deps.db, {
      id: `tok_${randomBytes(8).toString("hex")}`,
      name: parsed.data.name,
      role: parsed.data.role,
      tokenHash: hashSecret(token),
    });
    return c.json({ id: row.id, name: row.name, role: row.role, token, created_at: row.createdAt.toISOString() }, 201);
  });
  app.delete("/v1/tokens/:id", write, async (c) => {
    if (!(await revokeOperatorToken(deps.db, c.req.param("id")))) throw new GavelError("not_found", `No token '${c.req.param("id")}'`);
    return c.body(null, 204);
  });
  return app;
}
