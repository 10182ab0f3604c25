// Builds the HTTP app from explicit dependencies; no globals, no side effects. main.ts wires the
// real ones; tests build their own and call app.request() or serve it on a loopback port.
import { Hono } from "hono";
import type { Logger } from "pino";
import type { Catalog, Clock } from "./auction/catalog";
import type { AuctionGate } from "./auction/gate";
import type { BuyerTransport } from "./channels/transport";
import { ping, type Database } from "./db/client";
import { requireOperator } from "./http/auth";
import { problem, onError } from "./http/problem";
import { leadRoutes } from "./http/leads";
import { resourceRoutes } from "./http/resources";
import type { Metrics } from "./metrics";

export interface AppDeps {
  database: Database;
  catalog: Catalog;
  transport: BuyerTransport;
  gate: AuctionGate;
  clock: Clock;
  logger: Logger;
  newId(): string;
  random(): number;
  adminToken?: string;
  maxLeadBytes: number;
  maxBuyerBodyBytes: number;
  /** False while shutting down, so load balancers stop sending work. */
  isReady(): boolean;
  /** Served at GET /metrics when given. */
  metrics?: Metrics;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError(onError);
  app.notFound((c) => problem(c, "not_found", `No route ${c.req.method} ${c.req.path}`));
  app.use(async (c, next) => {
    c.set("logger" as never, deps.logger as never);
    await next();
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    if (!deps.isReady()) return c.json({ status: "draining" }, 503);
    try {
      await ping(deps.database);
      return c.json({ status: "ready", database: deps.database.kind, auctions_in_flight: deps.gate.inFlight });
    } catch {
      return c.json({ status: "database_unreachable" }, 503);
    }
  });

  // Prometheus text. Lead volumes and outcomes are business data, so this is operator-facing (an
  // analyst token is enough), not public like /healthz: scrape it with `authorization: credentials`.
  const metrics = deps.metrics;
  if (metrics) {
    app.get("/metrics", requireOperator({ db: deps.database.db, adminToken: deps.adminToken, role: "analyst" }), async (c) =>
      c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
    );
  }

  app.route("/", resourceRoutes({ db: deps.database.db, catalog: deps.catalog, adminToken: deps.adminToken }));
  app.route(
    "/",
    leadRoutes({
      ...deps,
      maxBodyBytes: deps.maxBuyerBodyBytes,
    }),
  );
  return app;
}
