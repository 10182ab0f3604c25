// How routing decisions read in the API: a lead's trace (`routing`, what was done) and explain
// (`routing`, what would be done). The shapes are src/auction/routing.ts's RoutingTrace and
// RoutingPreview; these schemas describe them in the OpenAPI document.
import { z } from "zod";
import { RoutingStrategy } from "../resources/schemas";

const channelNumbers = z.record(z.string(), z.number());

const TierDecision = z
  .object({
    priority: z.number().int().nullable().meta({ description: "The tier's channel priority; null when the campaign is not tiered (one ranking by price)" }),
    strategy: RoutingStrategy,
    order: z.array(z.string()).meta({ description: "The tier's bidding channels, in the order they were offered the lead" }),
    turn: z
      .number()
      .int()
      .nullable()
      .optional()
      .meta({ description: "round_robin: the rotation's turn this lead took (0 for the campaign tier's first lead; null: the database could not be reached, so by price)" }),
    position: z.number().int().optional().meta({ description: "round_robin: where the rotation started among the bidders sorted by channel id (turn modulo their number)" }),
    weights: channelNumbers.optional().meta({ description: "weighted: each bidder's weight" }),
    shares: channelNumbers.optional().meta({ description: "weighted: each bidder's chance, in percent, of being offered the lead first" }),
    room: z
      .record(z.string(), z.number().nullable())
      .optional()
      .meta({ description: "capacity: each bidder's room left under its caps, in sales at its bid (null: no cap)" }),
  })
  .meta({ id: "TierDecision" });

export const RoutingDecision = z
  .object({
    strategy: RoutingStrategy.meta({ description: "The campaign's strategy (a tier may have its own)" }),
    sticky: z
      .object({
        days: z.number().int(),
        buyer_id: z.string().nullable().meta({ description: "The buyer that bought this consumer within `days`; null: none" }),
        sold_at: z.string().nullable(),
        lead_id: z.string().nullable().meta({ description: "The earlier lead that buyer bought" }),
        channels: z.array(z.string()).meta({ description: "That buyer's bidding channels, offered the lead before any tier" }),
      })
      .optional(),
    tiers: z.array(TierDecision).meta({ description: "The tiers the lead reached, in order: a tier is reached only when no channel before it took the lead" }),
    fallback: z
      .object({ channels: z.array(z.string()), used: z.boolean() })
      .optional()
      .meta({ description: "Fallback channels that bid, offered the lead once no other channel took it" }),
  })
  .meta({
    id: "RoutingDecision",
    description: "How the lead was routed (README, Routing strategies); null for a campaign routed by price alone with no fallback channel bidding",
  });

export const RoutingPreview = z
  .object({
    strategy: RoutingStrategy,
    sticky: z
      .object({ days: z.number().int(), buyer_id: z.string().nullable(), sold_at: z.string().nullable() })
      .nullable()
      .meta({ description: "With sticky_days: the buyer this consumer would go to first (null: none within the window, or a test lead)" }),
    tiers: z.array(
      z.object({
        priority: z.number().int().nullable(),
        strategy: RoutingStrategy,
        channels: z.array(z.string()).meta({ description: "The tier's eligible channels, in the order they would be offered the lead if each of them bid (price: as they bid)" }),
        next_turn: z.number().int().optional().meta({ description: "round_robin: the turn the next lead takes" }),
        weights: channelNumbers.optional(),
        shares: channelNumbers.optional(),
        room: z.record(z.string(), z.number().nullable()).optional(),
      }),
    ),
    fallback: z.array(z.string()).meta({ description: "Eligible fallback channels: offered the lead only when no other channel takes it" }),
  })
  .meta({ id: "RoutingPreview", description: "How a lead would be routed among the eligible channels (README, Routing strategies)" });
