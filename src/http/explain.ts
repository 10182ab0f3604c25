// Explain over HTTP: what would happen to a lead, without pinging anyone or recording it.
import { z } from "zod";
import type { Catalog } from "../auction/catalog";
import type { Clock } from "../time/clock";
import { explainLead } from "../auction/explain";
import type { EligibilityWorld } from "../auction/eligibility";
import type { Database } from "../db/client";
import { GavelError } from "../errors";
import { stageReason, VERDICT_REASONS, type VerdictCode } from "../reasons";
import type { Supplier } from "../resources/schemas";
import { slug } from "../shapes";
import { getResource } from "../resources/store";
import { instant } from "./body";
import { FieldErrorSchema } from "./problem";
import { reasonDetail, reasonOf, shown } from "./reasons";
import { route, type AnyRoute } from "./route";

export interface ExplainRouteDeps {
  database: Database;
  catalog: Catalog;
  clock: Clock;
  /** This process's view of cap usage and requests in flight, as the auction sees them. */
  world?: EligibilityWorld;
}

const ExplainRequest = z
  .object({
    data: z.record(z.string(), z.unknown()),
    supplier: slug.optional().meta({ description: "Check this supplier's campaign access, channel allow-lists and payout floor" }),
    at: instant.optional().meta({ description: "When the lead would arrive (default now)" }),
    test: z.boolean().default(false).meta({ description: "A test lead (skips dedup)" }),
  })
  .strict();

const Explanation = z
  .object({
    campaign: z.string(),
    campaign_status: z.string(),
    valid: z.boolean(),
    errors: z.array(FieldErrorSchema),
    duplicate: z.boolean(),
    duplicate_of: z.array(z.string()),
    supplier: z.object({ id: z.string(), allowed: z.boolean() }).nullable(),
    blocked_by: z.array(z.enum(Object.keys(VERDICT_REASONS) as VerdictCode[])).meta({ description: "Lead-level verdicts that stop every channel: campaign_paused, supplier_not_allowed, lead_invalid, duplicate" }),
    channels: z.array(
      z.object({
        channel_id: z.string(),
        buyer_id: z.string(),
        type: z.string(),
        eligible: z.boolean(),
        reasons: z
          .array(z.object({ reason: reasonOf("explain"), detail: reasonDetail }))
          .meta({ description: "Every reason, lead-level verdicts first: `paused`, `buyer_paused`, `supplier`, `filtered` (detail: the field; one per failing filter), `below_floor`, …" }),
      }),
    ),
  })
  .meta({ id: "Explanation" });

export function explainRoutes(deps: ExplainRouteDeps): AnyRoute[] {
  const db = deps.database.db;
  return [
    route({
      method: "post",
      path: "/v1/campaigns/{id}/explain",
      access: "analyst",
      readOnly: true,
      operationId: "explainLead",
      summary: "What would happen to a lead: validation, dedup and every channel's eligibility",
      description:
        "Pings nobody and records nothing. For every live channel: `eligible`, or every reason it would not be pinged (lead-level verdicts first).",
      tags: ["Campaigns"],
      body: ExplainRequest,
      responses: { 200: { description: "The explanation", schema: Explanation } },
      async handler(c, { params, body }) {
        let supplier: Supplier | undefined;
        if (body.supplier) {
          try {
            supplier = (await getResource(db, "suppliers", body.supplier)) as unknown as Supplier;
          } catch (error) {
            if (error instanceof GavelError && error.code === "not_found")
              throw new GavelError("validation", "The explain request is invalid", { errors: [{ path: "supplier", message: `no supplier '${body.supplier}'` }] });
            throw error;
          }
        }
        const at = body.at ? Date.parse(body.at) : deps.clock.now();
        const explanation = await explainLead(deps, params.id, { data: body.data, supplier, at, test: body.test });
        return c.json({
          ...explanation,
          channels: explanation.channels.map((ch) => ({ ...ch, reasons: ch.reasons.map((r) => shown(stageReason("explain", r))) })),
        });
      },
    }),
  ];
}
