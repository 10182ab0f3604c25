// The engine's view of configuration: each campaign with its channels, buyers, compiled field
// validators and filters, loaded once and kept in memory. Admin writes in this process invalidate it
// at once; a short TTL makes other processes sharing the database converge within seconds.
import { timingSafeEqual } from "node:crypto";
import { unavailable, type Database } from "../db/client";
import { findSupplierKey, loadCampaignConfig } from "../db/catalog";
import { compileChannel, type ChannelIO } from "../channels/channel";
import { HealthRegistry, type ChannelHealth } from "../channels/health";
import { compileFields, type CompiledFields } from "../leads/validate";
import { decodeStored, hashSecret, keyIdOf } from "../resources/store";
import { toCents } from "../money";
import { CircuitBreaker, type Buyer, type Campaign, type Channel, type Supplier } from "../resources/schemas";
import { buyerDedupPlan, capRules, paceRule, type BuyerDedupPlan, type CapRule } from "./caps";
import { compileFilter, type LeadPredicate } from "./filters";
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
  /** The channel's time zone, else its campaign's. */
  zone: string;
  schedule: CompiledSchedule | null;
  /** The channel's caps, then its buyer's, then its pacing: everything a sale must fit. */
  capRules: CapRule[];
  buyerId: string;
  buyerDedup: BuyerDedupPlan | null;
  maxConcurrency: number | null;
}

export interface CampaignPlan {
  campaign: Campaign;
  fields: CompiledFields;
  channels: ChannelPlan[];
  /** Whether any channel has a cap or pacing: only then is the usage view consulted. */
  hasCaps: boolean;
}

type SupplierKey = NonNullable<Awaited<ReturnType<typeof findSupplierKey>>>;

interface Cached<T> {
  value: Promise<T>;
  expiresAt: number;
  /** What `value` resolved to, once it has. */
  settled?: { value: T };
  /** The last good read before this one, served while this one does not answer. */
  fallback?: { value: T };
}

/**
 * How long a lead waits for configuration being re-read before it goes on with what this process
 * read last: a re-read takes a millisecond when the database answers, and a database that does not
 * answer must not hold every lead up for the statement bound (the lead's own statements then fail
 * within its deadline instead).
 */
const STALE_AFTER_MS = 100;

function planChannel(config: Channel, buyer: Buyer, campaign: Campaign, health: HealthRegistry): ChannelPlan {
  const zone = config.timezone ?? campaign.timezone;
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
  };
}

export class Catalog {
  private campaigns = new Map<string, Cached<CampaignPlan | undefined>>();
  private supplierKeys = new Map<string, Cached<SupplierKey | undefined>>();
  /** Channel health in this process (see src/channels/health.ts). */
  readonly health = new HealthRegistry();

  constructor(
    private readonly database: Database,
    private readonly ttlMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  campaign(id: string): Promise<CampaignPlan | undefined> {
    return this.cached(this.campaigns, id, async () => {
      const loaded = await loadCampaignConfig(this.database.db, id);
      if (!loaded) return undefined;
      const campaign = loaded.campaign as Campaign;
      const channels = loaded.channels.map((row) =>
        planChannel(decodeStored("channels", row.channel) as Channel, row.buyer as Buyer, campaign, this.health),
      );
      return { campaign, fields: compileFields(campaign.fields), channels, hasCaps: channels.some((c) => c.capRules.length > 0) };
    });
  }

  /**
   * The supplier an API key belongs to, if the key is live. The key names its row (a public id);
   * the secret part is checked by comparing SHA-256 hashes in constant time.
   */
  async supplierForKey(apiKey: string): Promise<Supplier | undefined> {
    const keyId = keyIdOf(apiKey);
    if (!keyId) return undefined;
    const key = await this.cached(this.supplierKeys, keyId, () => findSupplierKey(this.database.db, keyId));
    if (!key) return undefined;
    const presented = Buffer.from(hashSecret(apiKey));
    const stored = Buffer.from(key.keyHash);
    if (presented.length !== stored.length || !timingSafeEqual(presented, stored)) return undefined;
    if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= this.clock.now())) return undefined;
    return key.supplier as Supplier;
  }

  invalidate(): void {
    this.campaigns.clear();
    this.supplierKeys.clear();
  }

  private cached<T>(map: Map<string, Cached<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    const hit = map.get(key);
    if (hit && hit.expiresAt > now) return served(hit);
    const entry: Cached<T> = { value: load(), expiresAt: now + this.ttlMs, fallback: hit?.settled ?? hit?.fallback };
    map.set(key, entry);
    entry.value.then(
      (value) => (entry.settled = { value }),
      () => {
        // A failed load is not cached: the next lead tries again (keeping the last good read).
        if (map.get(key) !== entry) return;
        if (entry.fallback) map.set(key, { value: Promise.resolve(entry.fallback.value), expiresAt: this.clock.now(), settled: entry.fallback });
        else map.delete(key);
      },
    );
    if (map.size > 10_000) map.delete(map.keys().next().value as string);
    return served(entry);
  }
}

/**
 * A cached read as a lead gets it: a read that is in, or one still loading. A reload that does not
 * answer within STALE_AFTER_MS, or cannot reach the database, gives way to the last good read.
 */
function served<T>(entry: Cached<T>): Promise<T> {
  const last = entry.fallback;
  if (entry.settled || !last) return entry.value;
  let timer: NodeJS.Timeout | undefined;
  const stale = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(last.value), STALE_AFTER_MS)));
  const fresh = entry.value.catch((error) => (unavailable(error) ? last.value : Promise.reject(error)));
  return Promise.race([fresh, stale]).finally(() => clearTimeout(timer));
}
