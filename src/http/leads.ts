// Lead intake (suppliers) and lead reads (operators).
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { Catalog } from "../auction/catalog";
import { sellLead, type SellDeps } from "../auction/sell";
import { findLead, listLeads } from "../db/trace";
import { GavelError, invalid } from "../errors";
import { fromCents, type Supplier } from "../resources/schemas";
import { requireOperator, requireSupplier, type Role } from "./auth";
import { jsonBody, pageLimit } from "./body";

export interface LeadRouteDeps extends SellDeps {
  adminToken?: string;
  maxLeadBytes: number;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function leadRoutes(deps: LeadRouteDeps): Hono {
  const app = new Hono();
  const read = requireOperator({ db: deps.database.db, adminToken: deps.adminToken, role: "analyst" });

  app.post(
    "/v1/leads",
    bodyLimit({
      maxSize: deps.maxLeadBytes,
      onError: () => {
        throw new GavelError("payload_too_large", `The lead body is over the limit of ${deps.maxLeadBytes} bytes`);
      },
    }),
    requireSupplier({ catalog: deps.catalog }),
    async (c) => {
      // The deadline counts from here: everything Gavel does, including queueing, spends it.
      const received = { at: deps.clock.now(), mono: performance.now() };
      const key = c.req.header("idempotency-key");
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
        throw new GavelError("validation", "Bad Idempotency-Key header", {
          errors: [{ path: "headers.idempotency-key", message: "must be 1 to 255 visible ASCII characters" }],
        });
      const body = await jsonBody(c);
      const supplier = c.get("supplier" as never) as Supplier;
      const result = await sellLead(deps, supplier, body, received, key);
      if (result.replayed) c.header("Idempotent-Replayed", "true");
      const contentType = result.httpStatus >= 400 ? "application/problem+json" : "application/json";
      const payload =
        result.httpStatus >= 400
          ? { type: "urn:gavel:problem:validation", title: "Validation failed", detail: "The lead has invalid fields", ...(result.body as object) }
          : result.body;
      return c.body(JSON.stringify(payload), result.httpStatus as 200, { "content-type": contentType });
    },
  );

  app.get("/v1/leads/:id", read, async (c) => {
    const found = await findLead(deps.database.db, c.req.param("id"));
    if (!found) throw new GavelError("not_found", `No lead '${c.req.param("id")}'`);
    const role = c.get("role" as never) as Role;
    const { lead, history, attempts } = found;
    return c.json({
      id: lead.id,
      campaign: lead.campaignId,
      supplier: lead.supplierId,
      status: lead.status,
      reason: lead.reason,
      test: lead.test,
      received_at: lead.receivedAt.toISOString(),
      decided_at: lead.decidedAt?.toISOString() ?? null,
      price: fromCents(lead.priceCents),
      revenue: fromCents(lead.revenueCents),
      sold_to: lead.soldTo,
      overhead_ms: lead.overheadMs,
      data: role === "admin" ? lead.data : await maskPii(deps.catalog, lead.campaignId, lead.data as Record<string, unknown>),
      history: history.map((e) => ({ status: e.status, at: e.at.toISOString(), reason: e.reason })),
      excluded: lead.excluded,
      attempts: attempts.map((a) => ({
        kind: a.kind,
        channel_id: a.channelId,
        started_at: a.startedAt.toISOString(),
        duration_ms: a.durationMs,
        http_status: a.httpStatus,
        outcome: a.outcome,
        price: a.priceCents === null ? null : fromCents(a.priceCents),
        reason: a.reason,
        ping_ref: a.pingRef,
      })),
    });
  });

  const LeadQuery = z
    .object({
      campaign: z.string().optional(),
      status: z.enum(["received", "rejected", "duplicate", "auctioning", "sold", "unsold", "error", "returned"]).optional(),
      supplier: z.string().optional(),
      test: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
      from: z.iso.datetime({ offset: true }).transform((v) => new Date(v)).optional(),
      to: z.iso.datetime({ offset: true }).transform((v) => new Date(v)).optional(),
      cursor: z.string().optional(),
      limit: z.string().optional(),
    })
    .strict();

  app.get("/v1/leads", read, async (c) => {
    const parsed = LeadQuery.safeParse(c.req.query());
    if (!parsed.success) throw invalid(parsed.error, "Bad query parameters");
    const q = parsed.data;
    const role = c.get("role" as never) as Role;
    const page = await listLeads(deps.database.db, { ...q, limit: pageLimit(q.limit) });
    const items = await Promise.all(
      page.rows.map(async (lead) => ({
        id: lead.id,
        campaign: lead.campaignId,
        supplier: lead.supplierId,
        status: lead.status,
        reason: lead.reason,
        test: lead.test,
        received_at: lead.receivedAt.toISOString(),
        decided_at: lead.decidedAt?.toISOString() ?? null,
        price: fromCents(lead.priceCents),
        revenue: fromCents(lead.revenueCents),
        sold_to: lead.soldTo,
        data: role === "admin" ? lead.data : await maskPii(deps.catalog, lead.campaignId, lead.data as Record<string, unknown>),
        trace_url: `/v1/leads/${lead.id}`,
      })),
    );
    return c.json({ items, next_cursor: page.nextCursor });
  });

  return app;
}

/** Analysts see declared non-pii fields; pii and undeclared fields read "***". */
async function maskPii(catalog: Catalog, campaignId: string, data: Record<string, unknown>): Promise<Record<string, unknown>> {
  const plan = await catalog.campaign(campaignId);
  const visible = new Set(plan?.fields.publicFields ?? []);
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, visible.has(k) ? v : "***"]));
}
