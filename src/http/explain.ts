// Explain over HTTP: what would happen to a lead, without pinging anyone or recording it.
import { z } from "zod";
import type { Catalog } from "../auction/catalog";
import type { Clock } from "../time/clock";
import { explainLead } from "../auction/explain";
import type { EligibilityWorld } from "../auction/eligibility";
import type { RoutingStore } from "../auction/routing";
import type { Database } from "../db/client";
import { GavelError } from "../errors";
import { saleTypes } from "../channels/config";
import { stageReason, VERDICT_REASONS, type VerdictCode } from "../reasons";
import { Margin, type Supplier } from "../resources/schemas";
import { slug } from "../shapes";
import { getResource } from "../resources/store";
import { instant } from "./body";
import { FieldErrorSchema } from "./problem";
import { reasonDetail, reasonOf, shown } from "./reasons";
import { RoutingPreview } from "./routing";
import { route, type AnyRoute } from "./route";

export interface ExplainRouteDeps {
  database: Database;
  catalog: Catalog;
  clock: Clock;
  /** This process's view of cap usage and requests in flight, as the auction sees them. */
  world?: EligibilityWorld;
  /** Rotations and returning consumers (read only), for how the lead would be routed. */
  routing?: RoutingStore;
}

const ExplainRequest = z
  .object({
    data: z.record(z.string(), z.unknown()),
    supplier: slug.optional().meta({ description: "Check this supplier's campaign access, channel allow-lists and payout floor" }),
    at: instant.optional().meta({ description: "When the lead would arrive (default now)" }),
    test: z.boolean().default(false).meta({ description: "A test lead (skips dedup)" }),
  })
  .strict();

/** How bids would be ranked and priced (README "Pricing and ranking"). */
const PricingPreview = z
  .object({
    pricing: z.enum(["first", "second"]),
    rank_by: z.enum(["price", "expected"]),
    floor: z.number().meta({ description: "The lead's floor: the campaign's, or what a fixed payout plus the margin needs" }),
    margin: Margin.nullable(),
    acceptance: z.object({ floor: z.number(), half_life_hours: z.number(), prior_posts: z.number() }).nullable().meta({ description: "rank_by expected: how each channel's post-acceptance rate is estimated" }),
    channels: z.array(
      z.object({
        channel_id: z.string(),
        bid_adjustment: z.object({ multiplier: z.number(), offset: z.number() }).nullable(),
        acceptance: z
          .object({ posted: z.number(), accepted: z.number(), rate: z.number() })
          .nullable()
          .meta({ description: "rank_by expected: the channel's decayed post counts and the rate its bids are ranked with now (the floor applied)" }),
      }),
    ),
  })
  .meta({ id: "PricingPreview" });

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
        buys: z.array(z.enum(saleTypes)).meta({ description: "The sales the channel takes: `exclusive`, `shared` or both" }),
        eligible: z.boolean(),
        reasons: z
          .array(z.object({ reason: reasonOf("explain"), detail: reasonDetail }))
          .meta({ description: "Every reason, lead-level verdicts first: `paused`, `buyer_paused`, `supplier`, `filtered` (detail: the field; one per failing filter), `below_floor`, …" }),
      }),
    ),
    routing: RoutingPreview,
    sale: z
      .object({ mode: z.enum(["exclusive", "shared", "best"]), max_sells: z.number().int() })
      .meta({ description: "The kind of sale the campaign makes (README \"Shared sales\"); a channel that does not buy it is left out with `sale_type`" }),
    pricing: PricingPreview,
    hold: z
      .object({
        held: z.boolean(),
        release_at: z.string().nullable().meta({ description: "When the first closed channel opens: the lead would be auctioned then" }),
        expires_at: z.string().nullable(),
      })
      .nullable()
      .meta({ description: "A campaign with `hold` (README \"Held leads\"): whether the lead would be held, because every channel that could take it is closed by its schedule, and until when; null without `hold`" }),
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
