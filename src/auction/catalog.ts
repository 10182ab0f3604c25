// The engine's view of configuration: each campaign with its channels, buyers, compiled field
// validators and filters, loaded once and kept in memory. Admin writes in this process invalidate it
// at once; a short TTL makes other processes sharing the database converge within seconds.
import type { Database } from "../db/client";
import { loadCampaignConfig } from "../db/catalog";
import { ReadCache } from "../db/read-cache";
import { compileChannel, type ChannelIO } from "../channels/channel";
import { HealthRegistry, type ChannelHealth } from "../channels/health";
import { compileOfferRedirect, type OfferRedirect } from "../channels/offer";
import { compileFields, type CompiledFields } from "../leads/validate";
import { decodeStored } from "../resources/store";
import { toCents } from "../money";
import { CircuitBreaker, type Channel } from "../channels/config";
import type { Buyer, Campaign } from "../resources/schemas";
import { buyerDedupPlan, capRules, paceRule, type BuyerDedupPlan, type CapRule } from "./caps";
import { AcceptanceBook } from "./acceptance";
import { pricingPlan, type CompiledAdjustment, type PricingPlan } from "./pricing";
import { compileFilter, type LeadPredicate } from "./filters";
import { reasonText, type ReasonText } from "../reasons";
import { systemClock, type Clock } from "../time/clock";
import { compileSchedule, type CompiledSchedule } from "../time/schedule";

export interface ChannelPlan {
  id: string;
  config: Channel;
  buyer: Buyer;
  filters: { field: string; holds: LeadPredicate }[];
  /** How to write this channel's pings and posts and read its answers, compiled once. */
  io: ChannelIO;
  /** Its circuit breaker; it outlives reloads of the configuration. */
  health: ChannelHealth;
  minBidCents: number;
  fixedPriceCents: number | null;
  /** Its `bid_adjustment` in cents; null when it has none (pricing.ts). */
  adjustment: CompiledAdjustment | null;
  /** A direct_post channel's price for a shared sale. */
  sharedFixedPriceCents: number | null;
  /** The sales it takes (`buys`). */
  buys: { exclusive: boolean; shared: boolean };
  /** Set when the channel takes no sale of the kinds its campaign makes (`sale_type: <kind>`): eligibility leaves it out. */
  wrongSale: ReasonText<"sale_type"> | null;
  /** The channel's time zone, else its campaign's. */
  zone: string;
  schedule: CompiledSchedule | null;
  /** The channel's caps, then its buyer's, then its pacing: everything a sale must fit. */
  capRules: CapRule[];
  buyerId: string;
  buyerDedup: BuyerDedupPlan | null;
  maxConcurrency: number | null;
  /** Where a consumer who picks this channel's user-choice offer goes (`offer.redirect_url`); null: nowhere said. */
  offerRedirect: OfferRedirect | null;
}

export interface CampaignPlan {
  campaign: Campaign;
  fields: CompiledFields;
  channels: ChannelPlan[];
  /** Whether any channel has a cap or pacing: only then is the usage view consulted. */
  hasCaps: boolean;
  /** Bid adjustments, second price or expected-value ranking (pricing.ts, clearing.ts); null for a plain first-price auction. */
  pricing: PricingPlan | null;
}

/** A channel compiled for the auction (exported for tests that run the auction without a database). */
export function planChannel(config: Channel, buyer: Buyer, campaign: Campaign, health: HealthRegistry): ChannelPlan {
  const zone = config.timezone ?? campaign.timezone;
  // Documents saved before shared sales existed buy exclusive sales only.
  const buys = { exclusive: (config.buys ?? ["exclusive"]).includes("exclusive"), shared: (config.buys ?? []).includes("shared") };
  return {
    id: config.id,
    config,
    buyer,
    filters: config.filters.map((f) => ({ field: f.field, holds: compileFilter(f) })),
    io: compileChannel(config),
    // Documents saved before circuit breakers existed have no settings: they get the defaults.
    health: health.for(config.id, config.circuit_breaker ?? CircuitBreaker.parse({})),
    minBidCents: toCents(config.min_bid),
    fixedPriceCents: config.fixed_price === undefined ? null : toCents(config.fixed_price),
    adjustment: config.bid_adjustment
      ? { multiplier: config.bid_adjustment.multiplier, offsetCents: toCents(config.bid_adjustment.offset) }
      : null,
    sharedFixedPriceCents: config.shared_fixed_price === undefined ? null : toCents(config.shared_fixed_price),
    buys,
    wrongSale: saleMismatch(buys, campaign.auction.mode),
    zone,
    schedule: config.schedule ? compileSchedule(config.schedule).schedule : null,
    capRules: [
      ...capRules("channel", config.id, config.caps ?? [], zone, "cap"),
      ...capRules("buyer", buyer.id, buyer.caps ?? [], buyer.timezone, "buyer_cap"),
      ...(config.pacing ? [paceRule(config.id, config.pacing.leads_per_minute)] : []),
    ],
    buyerId: buyer.id,
    buyerDedup: buyerDedupPlan(buyer.dedup),
    maxConcurrency: config.max_concurrency ?? null,
    offerRedirect: compileOfferRedirect(config),
  };
}

/** Why a channel that buys `buys` takes no part in a campaign of `mode`, or null when it does. */
export function saleMismatch(buys: { exclusive: boolean; shared: boolean }, mode: Campaign["auction"]["mode"]): ReasonText<"sale_type"> | null {
  if (mode === "exclusive" && !buys.exclusive) return reasonText("sale_type", "exclusive");
  if (mode === "shared" && !buys.shared) return reasonText("sale_type", "shared");
  return null;
}

export class Catalog {
  private readonly campaigns: ReadCache<CampaignPlan | undefined>;
  /** Channel health in this process (see src/channels/health.ts). */
  readonly health = new HealthRegistry();
  /** Channels' post-acceptance rates, for campaigns ranked by expected value (acceptance.ts). */
  readonly acceptance: AcceptanceBook;

  constructor(
    private readonly database: Database,
    ttlMs: number,
    clock: Clock = systemClock,
  ) {
    this.campaigns = new ReadCache(ttlMs, () => clock.now());
    // Rates change with every post: re-read at most every 2 s, and never less often than configuration.
    this.acceptance = new AcceptanceBook(database, clock, Math.min(ttlMs, 2000));
  }

  campaign(id: string): Promise<CampaignPlan | undefined> {
    return this.campaigns.get(id, async () => {
      const loaded = await loadCampaignConfig(this.database.db, id);
      if (!loaded) return undefined;
      const campaign = loaded.campaign as Campaign;
      const channels = loaded.channels.map((row) =>
        planChannel(decodeStored("channels", row.channel) as Channel, row.buyer as Buyer, campaign, this.health),
      );
      return {
        campaign,
        fields: compileFields(campaign.fields),
        channels,
        hasCaps: channels.some((c) => c.capRules.length > 0),
        pricing: pricingPlan(campaign.auction, channels, this.acceptance),
      };
    });
  }

  invalidate(): void {
    this.campaigns.clear();
  }
}
