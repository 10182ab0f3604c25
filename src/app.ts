// Builds the HTTP app from explicit dependencies; no globals, no side effects. main.ts wires the
// real ones; tests build their own and call app.request() or serve it on a loopback port.
//
// Every route is one declaration (http/route.ts) in one of the lists below: it is mounted behind
// its declared access level and described in /openapi.json from the same declaration.
import { Hono } from "hono";
import type { Logger } from "pino";
import type { Catalog } from "./auction/catalog";
import type { Clock } from "./time/clock";
import type { DatabaseCapLedger } from "./auction/caps";
import { DatabaseRouting } from "./auction/routing";
import type { AuctionGate } from "./auction/gate";
import type { SupplierKeys } from "./auth/supplier-keys";
import { processWorld } from "./auction/eligibility";
import type { ChannelLimiter } from "./auction/limiter";
import { SupplierRateLimiter } from "./auction/rate-limit";
import type { BuyerTransport } from "./channels/transport";
import type { Database } from "./db/client";
import { dashboardRoutes } from "./dashboard/serve";
import { DIMENSIONS } from "./reports/query";
import { authenticator } from "./http/auth";
import { configRoutes } from "./http/config";
import type { AppEnv } from "./http/env";
import { explainRoutes } from "./http/explain";
import { afterSaleRoutes } from "./http/after-sale";
import { reconciliationRoutes } from "./http/reconciliation";
import { deliveryRoutes } from "./http/deliveries";
import { leadRoutes } from "./http/leads";
import { pingRoutes } from "./http/pings";
import type { ApiInfo } from "./http/openapi";
import { operatorRoutes } from "./http/operator";
import { problem, onError } from "./http/problem";
import { reportRoutes } from "./http/reports";
import { statementRoutes } from "./http/statements";
import { requestId, requestLogger } from "./http/request-id";
import { resourceRoutes } from "./http/resources";
import { suppressionRoutes } from "./http/suppressions";
import { mountRoutes, route, supplierRoutes, type AnyRoute } from "./http/route";
import { systemRoutes } from "./http/system";
import type { Metrics } from "./metrics";
import type { LeadWriter } from "./db/lead-writer";

export interface AppDeps {
  database: Database;
  leadWriter: LeadWriter;
  catalog: Catalog;
  supplierKeys: SupplierKeys;
  transport: BuyerTransport;
  /** Admission control: the bound on auctions running at once. */
  gate: AuctionGate;
  /** How long a lead may wait for an auction slot before its 503 (GAVEL_ADMISSION_WAIT_MS). */
  admissionWaitMs: number;
  limiter: ChannelLimiter;
  caps: DatabaseCapLedger;
  clock: Clock;
  logger: Logger;
  newId(): string;
  random(): number;
  adminToken?: string;
  maxLeadBytes: number;
  maxBuyerBodyBytes: number;
  /** Where `${ENV}` references of an applied configuration file are resolved (default: process.env). */
  env?: Record<string, string | undefined>;
  /** False while shutting down, so load balancers stop sending work. */
  isReady(): boolean;
  /** Served at GET /metrics when given. */
  metrics?: Metrics;
  /** A lead is answered by its deadline plus this at the latest, database or not (default 1000). */
  answerGraceMs?: number;
}

export const API_INFO: ApiInfo = {
  title: "Gavel",
  version: "0.1.0",
  description:
    "Self-hosted ping-post lead auction server. Suppliers sell leads with an API key; operators configure campaigns, buyers, channels and suppliers with an admin token (analyst tokens are read-only). Errors are application/problem+json.",
  license: { name: "Apache-2.0", identifier: "Apache-2.0" },
  tags: [
    { name: "Leads", description: "Suppliers sell leads (each runs a whole auction); operators list leads and read each one's trace: who bought, every ping and post." },
    { name: "Reports", description: "Figures per campaign, supplier, source, buyer or channel, the bid landscape and the reasons leads were not sold; JSON or CSV." },
    { name: "Campaigns", description: "Lead types: their fields, auction settings, dedup rule and supplier payout. Explain shows what would happen to a lead." },
    { name: "Buyers", description: "Companies that buy leads; each owns channels." },
    { name: "Channels", description: "A buyer's endpoint for one campaign: how it is pinged and posted, its filters, caps and schedule; its health and a test console." },
    { name: "Suppliers", description: "Who sends leads: payout, campaigns, caps and rate limit, and their API keys." },
    { name: "Tokens", description: "Operator tokens: admin (read and write) or analyst (read-only, pii masked)." },
    { name: "Suppression", description: "The do-not-sell list of emails and phones: a lead on it is rejected before any ping." },
    { name: "After the sale", description: "Buyers' postbacks (contacted, converted, return requested) and returns: requested, accepted or rejected, reversing revenue and payout; statements: each supplier's payouts and each buyer's invoice for a period, net of returns." },
    { name: "Audit", description: "Who changed what in the configuration, and when." },
    { name: "Config as code", description: "The whole configuration as one YAML file: export it, and apply a file in one transaction." },
    { name: "System", description: "Health and readiness probes, metrics, this document, the API reference and the dashboard." },
  ],
};

/**
 * Prometheus text. Lead volumes and outcomes are business data, so this is operator-facing (an
 * analyst token is enough), not public like /healthz: scrape it with `authorization: credentials`.
 */
function metricsRoutes(metrics: Metrics | undefined): AnyRoute[] {
  if (!metrics) return [];
  return [
    route({
      method: "get",
      path: "/metrics",
      access: "analyst",
      operationId: "getMetrics",
      summary: "Prometheus metrics: leads by status, lead duration, Gavel's own overhead, ping phase",
      tags: ["System"],
      responses: { 200: { description: "Prometheus text exposition format", contentType: "text/plain; version=0.0.4" } },
      handler: async (c) => c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
    }),
  ];
}

/** Every route of the app, in one list: what is mounted and what /openapi.json describes. */
export function appRoutes(deps: AppDeps): AnyRoute[] {
  // A configuration write through this process applies to its next lead at once.
  const configChanged = () => {
    deps.catalog.invalidate();
    deps.supplierKeys.invalidate();
  };
  // Round-robin turns and returning consumers' buyers, in the database; cap usage as this process sees it.
  const routing = new DatabaseRouting(deps.database, deps.caps.view);
  const rateLimiter = new SupplierRateLimiter(deps.clock);
  const routes: AnyRoute[] = [];
  routes.push(
    ...systemRoutes({ database: deps.database, gate: deps.gate, isReady: deps.isReady, info: API_INFO }, () => routes),
    ...leadRoutes({ ...deps, routing, maxBodyBytes: deps.maxBuyerBodyBytes, rateLimiter }),
    // Suppliers that ping first: pings and posts count toward the same rate limit as leads.
    ...pingRoutes({ ...deps, routing, maxBodyBytes: deps.maxBuyerBodyBytes, rateLimiter }, rateLimiter),
    ...resourceRoutes({
      db: deps.database.db,
      catalog: deps.catalog,
      configChanged,
      clock: deps.clock,
      transport: deps.transport,
      newId: deps.newId,
      maxBodyBytes: deps.maxBuyerBodyBytes,
    }),
    ...explainRoutes({
      database: deps.database,
      catalog: deps.catalog,
      clock: deps.clock,
      world: processWorld(deps.caps, deps.limiter),
      routing,
    }),
    ...reportRoutes({ database: deps.database, clock: deps.clock }),
    ...operatorRoutes({ db: deps.database.db }),
    ...afterSaleRoutes({ database: deps.database, clock: deps.clock, newId: deps.newId }),
    ...reconciliationRoutes({ database: deps.database, clock: deps.clock }),
    ...deliveryRoutes({ database: deps.database, clock: deps.clock }),
    ...statementRoutes({ database: deps.database, clock: deps.clock }),
    ...suppressionRoutes({ db: deps.database.db }),
    ...metricsRoutes(deps.metrics),
    ...configRoutes({ db: deps.database.db, configChanged, clock: deps.clock, env: deps.env ?? process.env }),
    ...dashboardRoutes(),
  );
  return routes;
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // First, so every answer (a 404, an error, a refusal by admission control) carries the id.
  app.use(requestId({ newId: deps.newId }), requestLogger({ logger: deps.logger }));
  app.onError(onError);
  app.notFound((c) => {
    const report = /^\/v1\/reports\/([^/]+)$/.exec(c.req.path);
    if (report) return problem(c, "not_found", `No report '${report[1]}': reports are ${DIMENSIONS.join(", ")}, bids and reasons`);
    return problem(c, "not_found", `No route ${c.req.method} ${c.req.path}`);
  });
  const routes = appRoutes(deps);
  const auth = { db: deps.database.db, supplierKeys: deps.supplierKeys, adminToken: deps.adminToken, clock: deps.clock, supplierRoutes: supplierRoutes(routes) };
  mountRoutes(app, routes, authenticator(auth));
  return app;
}
