// Explain: what would happen to this lead if it arrived now (or at `at`) — is it valid, is it a
// duplicate, and for every channel of the campaign whether it would be pinged, or every reason it
// would not. Reads only: nobody is pinged and no lead is recorded (dedup keys are looked up, never
// claimed).
import type { Database } from "../db/client";
import { findDedupHolders } from "../db/leads";
import type { FieldError } from "../errors";
import { saleTypes, type SaleType } from "../channels/config";
import { GavelError } from "../errors";
import { dedupKeys } from "../leads/dedup";
import type { VerdictCode } from "../reasons";
import type { Supplier } from "../resources/schemas";
import { DAY_MS } from "../time/clock";
import type { Catalog } from "./catalog";
import { explainChannels, type EligibilityWorld, type ExclusionReason } from "./eligibility";
import { firstOpening } from "./hold";
import { payoutFloorCents, payoutRuleFor } from "./payout";
import { directPostClears, floorCents } from "./floors";
import { previewPricing, type PricingPreview } from "./clearing";
import { previewRouting, type RoutingPreview, type RoutingStore } from "./routing";

export interface ExplainInput {
  data: Record<string, unknown>;
  /** The supplier sending it: checks its campaign access, channels' allow-lists and its payout floor. */
  supplier?: Supplier;
  /** When the lead arrives (epoch ms); default now. */
  at: number;
  test: boolean;
}

export interface Explanation {
  campaign: string;
  campaign_status: string;
  valid: boolean;
  errors: FieldError[];
  duplicate: boolean;
  /** Leads whose dedup keys this lead would collide with. */
  duplicate_of: string[];
  supplier: { id: string; allowed: boolean } | null;
  /** `lead_invalid`, `duplicate`, `campaign_paused`, `supplier_not_allowed`: why no channel would be pinged. */
  blocked_by: VerdictCode[];
  channels: { channel_id: string; buyer_id: string; type: string; buys: SaleType[]; eligible: boolean; reasons: (VerdictCode | ExclusionReason)[] }[];
  /** How the lead would be routed among the eligible channels. */
  routing: RoutingPreview;
  /** The kind of sale the campaign makes (README "Shared sales"): each channel's `buys` says which it takes. */
  sale: { mode: "exclusive" | "shared" | "best"; max_sells: number };
  /** How bids would be ranked and priced (README "Pricing and ranking"). */
  pricing: PricingPreview;
  /** A campaign with `hold`: whether the lead would be held until a closed channel opens (README "Held leads"); null without `hold`. */
  hold: { held: boolean; release_at: string | null; expires_at: string | null } | null;
}

export async function explainLead(
  deps: { database: Database; catalog: Catalog; world?: EligibilityWorld; routing?: RoutingStore },
  campaignId: string,
  input: ExplainInput,
): Promise<Explanation> {
  const plan = await deps.catalog.campaign(campaignId);
  if (!plan || plan.campaign.status === "archived") throw new GavelError("not_found", `No campaign '${campaignId}'`);
  const campaign = plan.campaign;

  const checked = plan.fields.validate(input.data);
  const holders = checked.ok && !input.test
    ? await findDedupHolders(
        deps.database,
        campaign.id,
        dedupKeys(campaign.dedup, checked.data),
        new Date(input.at - campaign.dedup.lookback_days * DAY_MS),
      )
    : [];
  const supplier = input.supplier;
  const supplierAllowed = !supplier || supplier.campaigns === null || supplier.campaigns.includes(campaign.id);

  // Lead-level verdicts stop every channel, so each channel lists them first.
  const blockedBy: VerdictCode[] = [];
  // (An archived campaign is not found at all.)
  if (campaign.status === "paused") blockedBy.push("campaign_paused");
  if (!supplierAllowed) blockedBy.push("supplier_not_allowed");
  if (!checked.ok) blockedBy.push("lead_invalid");
  if (holders.length) blockedBy.push("duplicate");

  // Channels are judged on the fields that passed validation, as normalised as the auction sees them.
  const lead = { supplierId: supplier?.id, data: checked.data, test: input.test, receivedAt: input.at };
  const floor = floorCents(plan, payoutFloorCents(payoutRuleFor(supplier, campaign), campaign.margin));
  const channels = explainChannels(plan.channels, lead, deps.world).map(({ channel, reasons }) => {
    // A direct_post channel whose fixed price is under the floor joins no auction (ping.ts, step 4).
    if (channel.config.type !== "ping_post" && !directPostClears(channel, campaign.auction.mode, floor))
      reasons.push("below_floor");
    const all: (VerdictCode | ExclusionReason)[] = [...blockedBy, ...reasons];
    return {
      channel_id: channel.id,
      buyer_id: channel.config.buyer_id,
      type: channel.config.type,
      buys: saleTypes.filter((kind) => channel.buys?.[kind] ?? kind === "exclusive"),
      eligible: all.length === 0,
      reasons: all,
    };
  });

  // Held: no channel would take the lead, and some would but for their schedule alone (hold.ts).
  let hold: Explanation["hold"] = null;
  if (campaign.hold) {
    const closed = plan.channels.filter((c) => channels.some((e) => e.channel_id === c.id && e.reasons.length === 1 && e.reasons[0] === "schedule"));
    const expiresAt = input.at + campaign.hold.max_hours * 3_600_000;
    const opens = blockedBy.length === 0 && !channels.some((e) => e.eligible) && closed.length ? firstOpening(closed, input.at, expiresAt) : null;
    hold = { held: opens !== null, release_at: opens === null ? null : new Date(opens).toISOString(), expires_at: opens === null ? null : new Date(expiresAt).toISOString() };
  }

  return {
    hold,
    campaign: campaign.id,
    campaign_status: campaign.status,
    valid: checked.ok,
    errors: checked.ok ? [] : checked.errors,
    duplicate: holders.length > 0,
    duplicate_of: holders,
    supplier: supplier ? { id: supplier.id, allowed: supplierAllowed } : null,
    blocked_by: blockedBy,
    channels,
    sale: { mode: campaign.auction.mode, max_sells: campaign.auction.max_sells },
    pricing: await previewPricing(deps.catalog.acceptance, plan, floor, input.at),
    routing: await previewRouting(
      deps.routing,
      plan,
      lead,
      plan.channels.filter((c) => channels.some((e) => e.eligible && e.channel_id === c.id)),
    ),
  };
}
