// Routing: between ranking (step 5) and posting (step 6), in what order the bids are offered the
// lead. By default (no `routing`, no fallback channel) that is the ranking itself, price first, and
// the lead is posted down it exactly as SPEC.md says. A campaign's `routing` may instead:
// - offer it tier by tier, by channel priority ascending (a lower tier only when no channel of the
//   higher one took it), each tier ordered by its strategy: `price`, `round_robin` (an exact
//   rotation: a counter in the database, so every process shares it), `weighted` (a random split
//   by channel weight) or `capacity` (the most room left under its caps first) — or delivered to
//   every bidder of the tier at once (`all`, posted as a shared sale is: shared.ts);
// - with `sticky_days`, offer a returning consumer first to the buyer that last bought them.
// Channels with role `fallback` are offered the lead last, once no other channel took it.
// Every decision is written down (RoutingTrace) for the lead's trace.
import { confirmWithinMs } from "../channels/config";
import { unavailable, type Database } from "../db/client";
import type { Usage, UsageKey } from "../db/caps";
import { findStickyBuyer, peekTurn, rememberStickyBuyer, takeTurn, type StickyBuyer } from "../db/routing";
import { dedupKeys } from "../leads/dedup";
import type { Routing, RoutingStrategy } from "../resources/schemas";
import { DAY_MS } from "../time/clock";
import type { Bid } from "./bid";
import { claimOf } from "./caps";
import type { CampaignPlan, ChannelPlan } from "./catalog";
import type { Deadline } from "./deadline";
import type { ChannelSlots } from "./limiter";
import type { AuctionLead, AuctionTrail } from "./ping";
import { letGo, postWithFallback, type PostDeps, type PostingEnd } from "./post";
import { reasonText } from "../reasons";
import { postShared, type SharedEnd } from "./shared";

/** What routing keeps beyond one lead: rotations and returning consumers (in the database), and cap usage as this process sees it. */
export interface RoutingStore {
  /** Takes the next turn of a campaign tier's rotation: 0, 1, 2, … across every process on the database. */
  takeTurn(campaignId: string, tier: number): Promise<number>;
  /** The turn the next lead would take, without taking it (explain). */
  peekTurn(campaignId: string, tier: number): Promise<number>;
  /** The buyer that bought one of these consumer keys most recently after `since`. */
  stickyBuyer(campaignId: string, keys: readonly string[], since: Date): Promise<StickyBuyer | null>;
  rememberBuyer(campaignId: string, keys: readonly string[], buyer: StickyBuyer): Promise<void>;
  /** Cap usage (capacity routing): this process's usage view, as eligibility reads it. */
  usage(key: UsageKey): Usage;
}

export class DatabaseRouting implements RoutingStore {
  constructor(
    private readonly database: Database,
    private readonly view: { get(key: UsageKey): Usage },
  ) {}
  takeTurn(campaignId: string, tier: number) {
    return takeTurn(this.database, campaignId, tier);
  }
  peekTurn(campaignId: string, tier: number) {
    return peekTurn(this.database, campaignId, tier);
  }
  stickyBuyer(campaignId: string, keys: readonly string[], since: Date) {
    return findStickyBuyer(this.database, campaignId, keys, since);
  }
  rememberBuyer(campaignId: string, keys: readonly string[], buyer: StickyBuyer) {
    return rememberStickyBuyer(this.database, campaignId, keys, buyer);
  }
  usage(key: UsageKey) {
    return this.view.get(key);
  }
}

export interface RoutingDeps extends PostDeps {
  /** Needed by campaigns that rotate or stick (absent only in unit tests of other steps). */
  routing?: RoutingStore;
  /** Weighted draws (the auction's injectable random: seeded in tests). */
  random(): number;
}

/** How one tier was ordered. */
export interface TierTrace {
  /** The channels' priority; null when the campaign is not tiered (one ranking by price). */
  priority: number | null;
  strategy: RoutingStrategy;
  /** The channels in the order they were offered the lead. */
  order: string[];
  /** round_robin: the rotation's turn this lead took (null: the rotation could not be read, so by price) and where it started among the bidders (by channel id). */
  turn?: number | null;
  position?: number;
  /** weighted: each bidder's weight, and its share of first places in percent. */
  weights?: Record<string, number>;
  shares?: Record<string, number>;
  /** capacity: each bidder's room left under its caps, in sales at its bid (null: no cap). */
  room?: Record<string, number | null>;
}

/** How the lead was routed: shown in its trace (`routing`). */
export interface RoutingTrace {
  strategy: RoutingStrategy;
  /** With sticky_days: the buyer found for this consumer (null: none within the window) and its channels offered first. */
  sticky?: { days: number; buyer_id: string | null; sold_at: string | null; lead_id: string | null; channels: string[] };
  /** The tiers the lead reached, in order. */
  tiers: TierTrace[];
  /** Fallback channels that bid, and whether the lead was offered to them (no other channel took it). */
  fallback?: { channels: string[]; used: boolean };
}

/** An auction's trail with its routing decisions (absent when the campaign routes by price alone). */
export type RoutedTrail = AuctionTrail & { routing?: RoutingTrace };

const ALL_REJECTED: SharedEnd = { status: "unsold", reason: "all_rejected" };

/** An exclusive posting's end as a list of sales (of one). */
const asSales = (end: PostingEnd): SharedEnd =>
  end.status === "sold" ? { status: "sold", sales: [{ bid: end.bid, priceCents: end.priceCents, redirectUrl: end.redirectUrl }] } : end;

const isFallback = (channel: ChannelPlan) => channel.config.role === "fallback";

/** Whether the campaign offers its lead tier by tier (any strategy but price, or tiers of their own). */
export const isTiered = (routing: Routing | undefined) => routing !== undefined && (routing.strategy !== "price" || routing.tiers.length > 0);

/** The strategy of the tier of channels with this priority. */
export const tierStrategy = (routing: Routing | undefined, priority: number, tiered = true): RoutingStrategy =>
  tiered ? (routing?.tiers.find((t) => t.priority === priority)?.strategy ?? routing?.strategy ?? "price") : "price";

/** The consumer's keys for sticky routing: the campaign's dedup keys (none for a test lead, which no one remembers). */
function stickyKeys(plan: CampaignPlan, lead: { test: boolean; data: Record<string, unknown> }): string[] {
  if (lead.test || plan.campaign.routing?.sticky_days === undefined) return [];
  return dedupKeys(plan.campaign.dedup, lead.data);
}

/**
 * Starts routing a lead before its pings: a returning consumer's last buyer is looked up while the
 * buyers are pinged, so sticky routing costs the lead no time.
 */
export function startRouting(deps: RoutingDeps, plan: CampaignPlan, lead: AuctionLead): LeadRouter {
  const days = plan.campaign.routing?.sticky_days;
  const keys = stickyKeys(plan, lead);
  let sticky: Promise<StickyBuyer | null> | null = null;
  if (days !== undefined && keys.length > 0) {
    const store = storeOf(deps);
    // A lookup that fails routes the consumer as a new one: stickiness is a preference, not a rule.
    sticky = store.stickyBuyer(plan.campaign.id, keys, new Date(lead.receivedAt - days * DAY_MS)).catch((error) => {
      if (unavailable(error)) return null;
      throw error;
    });
    sticky.catch(() => {}); // awaited by post(); a bug's error is thrown there
  }
  return new LeadRouter(deps, plan, lead, keys, sticky);
}

function storeOf(deps: RoutingDeps): RoutingStore {
  if (!deps.routing) throw new Error("this campaign's routing needs a routing store (AuctionDeps.routing)");
  return deps.routing;
}

export class LeadRouter {
  constructor(
    private readonly deps: RoutingDeps,
    private readonly plan: CampaignPlan,
    private readonly lead: AuctionLead,
    private readonly keys: string[],
    private readonly sticky: Promise<StickyBuyer | null> | null,
  ) {}

  /**
   * Step 6 in the routing's order: posts to each group of bids in turn (the sticky buyer's, each
   * tier's, the fallbacks'), on to the next only when no bid of a group sold and the deadline has
   * not passed. Each group's rotation turn is taken only when the lead reaches it.
   */
  async post(ranking: readonly Bid[], slots: ChannelSlots, deadline: Deadline, trail: RoutedTrail): Promise<SharedEnd> {
    const { deps, plan, lead } = this;
    const routing = plan.campaign.routing;
    const fallbacks = ranking.filter((b) => isFallback(b.channel));
    // Today's auction, step for step: the ranking is the order.
    if (!routing && fallbacks.length === 0) return asSales(await postWithFallback(deps, plan.campaign, lead, ranking, slots, deadline, trail));

    const trace: RoutingTrace = { strategy: routing?.strategy ?? "price", tiers: [] };
    if (fallbacks.length) trace.fallback = { channels: fallbacks.map((b) => b.channelId), used: false };
    trail.routing = trace;
    const offer = async (bids: readonly Bid[]) => asSales(await postWithFallback(deps, plan.campaign, lead, bids, slots, deadline, trail));
    // `all`: every bidder at once, one sale per buyer: a shared sale (posted with k = every bid), so
    // each channel that buys shared sales is posted its shared bid, marked shared; one that does not is left out.
    const offerAll = async (bids: readonly Bid[]) => {
      const shared: Bid[] = [];
      for (const bid of bids) {
        const twin = bid.sale === "shared" ? bid : bid.sharedTwin;
        if (twin !== bid) {
          if (twin) [twin.holdsSlot, bid.holdsSlot] = [bid.holdsSlot, false];
          else {
            trail.excluded.push({ channel_id: bid.channelId, reason: reasonText("sale_type", "shared") });
            letGo(slots, bid);
          }
        }
        if (twin) shared.push(twin);
      }
      try {
        return await postShared(deps, plan.campaign, lead, shared, shared.length, slots, deadline, trail);
      } finally {
        // Twins the posting did not reach: their slots (taken over from their exclusive bids) go back.
        for (const twin of shared) letGo(slots, twin);
      }
    };
    const goOn = (end: SharedEnd) => end.status === "unsold" && end.reason === "all_rejected";
    let rest = ranking.filter((b) => !isFallback(b.channel));
    let end = ALL_REJECTED;

    if (this.sticky) {
      const found = await this.sticky;
      // In an `all` tier every bidder gets the lead anyway: going first there would only keep it from the others.
      const first = found ? rest.filter((b) => b.channel.buyerId === found.buyerId && tierStrategy(routing, b.priority, isTiered(routing)) !== "all") : [];
      trace.sticky = {
        days: routing!.sticky_days!,
        buyer_id: found?.buyerId ?? null,
        sold_at: found?.soldAt.toISOString() ?? null,
        lead_id: found?.leadId ?? null,
        channels: first.map((b) => b.channelId),
      };
      if (first.length) {
        rest = rest.filter((b) => !first.includes(b));
        end = await offer(first);
        if (!goOn(end)) return this.settled(end);
      }
    }

    for (const tier of tiersOf(rest, routing)) {
      const { bids, tierTrace } = await this.order(tier.bids, tier.priority, tier.strategy);
      trace.tiers.push(tierTrace);
      end = tier.strategy === "all" ? await offerAll(bids) : await offer(bids);
      if (!goOn(end)) return this.settled(end);
    }

    // No other channel took the lead: the catch-alls get it, rather than it going unsold.
    if (trace.fallback) {
      trace.fallback.used = true;
      end = await offer(fallbacks);
    }
    return this.settled(end);
  }

  /**
   * A shared sale (shared.ts: the top k bids at once, one per buyer), with any fallback channel held
   * back: the fallbacks are posted, as a shared sale of their own, only when no other channel bought.
   */
  async postShared(ranking: readonly Bid[], k: number, slots: ChannelSlots, deadline: Deadline, trail: RoutedTrail): Promise<SharedEnd> {
    const { deps, plan, lead } = this;
    const fallbacks = ranking.filter((b) => isFallback(b.channel));
    if (fallbacks.length === 0) return postShared(deps, plan.campaign, lead, ranking, k, slots, deadline, trail);
    const rest = ranking.filter((b) => !isFallback(b.channel));
    const fallback = { channels: fallbacks.map((b) => b.channelId), used: false };
    trail.routing = { strategy: "price", tiers: rest.length ? [{ priority: null, strategy: "price", order: rest.map((b) => b.channelId) }] : [], fallback };
    const end = rest.length ? await postShared(deps, plan.campaign, lead, rest, k, slots, deadline, trail) : ALL_REJECTED;
    if (!(end.status === "unsold" && end.reason === "all_rejected")) return end;
    fallback.used = true;
    return postShared(deps, plan.campaign, lead, fallbacks, k, slots, deadline, trail);
  }

  /**
   * A sale to a consumer that sticky routing may see again is remembered for its next visit. Not
   * one its buyer is yet to confirm by postback (outcome.ts: the lead is pending): it may end not
   * confirmed, and the consumer's next visit must not be steered to a buyer that never bought; its
   * confirmation remembers it (src/reconciliation/confirm.ts).
   */
  private async settled(end: SharedEnd): Promise<SharedEnd> {
    const awaitsConfirmation = end.status === "sold" && end.sales.length === 1 && confirmWithinMs(end.sales[0].bid.channel.config) !== null;
    if (end.status === "sold" && !awaitsConfirmation && this.keys.length > 0) {
      // The highest sale's buyer (the only one, but for an `all` tier).
      const channel = end.sales[0].bid.channel;
      const soldAt = new Date(this.lead.receivedAt);
      // The sale stands whatever happens here: if it cannot be remembered, the consumer's next
      // visit is routed as a first one.
      await storeOf(this.deps)
        .rememberBuyer(this.plan.campaign.id, this.keys, { buyerId: channel.buyerId, channelId: channel.id, leadId: this.lead.id, soldAt })
        .catch((error) => {
          if (!unavailable(error)) throw error;
        });
    }
    return end;
  }

  /** One tier's bids in its strategy's order, and how that order was made. */
  private async order(bids: Bid[], priority: number | null, strategy: RoutingStrategy): Promise<{ bids: Bid[]; tierTrace: TierTrace }> {
    const tierTrace: TierTrace = { priority, strategy, order: [] };
    let ordered: Bid[];
    switch (strategy) {
      case "price":
        ordered = bids;
        break;
      case "round_robin":
        ordered = await this.rotate(bids, priority ?? 0, tierTrace);
        break;
      case "weighted":
        ordered = weightedOrder(bids, this.deps.random, tierTrace);
        break;
      case "capacity":
        ordered = capacityOrder(bids, this.lead.receivedAt, (key) => storeOf(this.deps).usage(key), tierTrace);
        break;
      case "all":
        // Posted at once; listed by price, the order in which their posts start.
        ordered = bids;
        break;
    }
    tierTrace.order = ordered.map((b) => b.channelId);
    return { bids: ordered, tierTrace };
  }

  /**
   * The bidders in channel-id order, starting at the rotation's turn: with the same bidders, each
   * gets the lead first once in every len(bidders) leads, whichever process they reach. A bidder
   * that rejects hands the lead to the next in the rotation. A lone bidder takes no turn.
   */
  private async rotate(bids: Bid[], tier: number, tierTrace: TierTrace): Promise<Bid[]> {
    // The sort is stable: a channel's several bids (response.ping.bids) stay together, best first, and take one turn.
    const byId = [...bids].sort((a, b) => (a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0));
    const bidders = [...new Set(byId.map((b) => b.channelId))];
    if (bidders.length < 2) return byId;
    let turn: number;
    try {
      turn = await storeOf(this.deps).takeTurn(this.plan.campaign.id, tier);
    } catch (error) {
      // Without the database there is no exact rotation: the lead is offered by price rather than lost.
      if (!unavailable(error)) throw error;
      tierTrace.turn = null;
      return bids;
    }
    const start = turn % bidders.length;
    tierTrace.turn = turn;
    tierTrace.position = start;
    const at = byId.findIndex((b) => b.channelId === bidders[start]);
    return [...byId.slice(at), ...byId.slice(0, at)];
  }
}

/** The bids grouped into tiers in the order they are offered the lead: by priority ascending, or all as one by price. */
export function tiersOf(bids: readonly Bid[], routing: Routing | undefined): { priority: number | null; strategy: RoutingStrategy; bids: Bid[] }[] {
  if (bids.length === 0) return [];
  if (!isTiered(routing)) return [{ priority: null, strategy: "price", bids: [...bids] }];
  const byPriority = new Map<number, Bid[]>();
  for (const bid of bids) {
    const tier = byPriority.get(bid.priority);
    if (tier) tier.push(bid);
    else byPriority.set(bid.priority, [bid]);
  }
  return [...byPriority.entries()]
    .sort(([a], [b]) => a - b)
    .map(([priority, tierBids]) => ({ priority, strategy: tierStrategy(routing, priority), bids: tierBids }));
}

/**
 * A weighted draw without replacement (Efraimidis–Spirakis keys u^(1/w), largest first): each bidder
 * comes first with probability weight / total weight, so weights 70 and 30 split first offers 70/30.
 */
export function weightedOrder<B extends { channelId: string; weight: number }>(bids: readonly B[], random: () => number, tierTrace?: TierTrace): B[] {
  // A channel's several bids (response.ping.bids) are one bidder: one draw, its bids together, best first.
  const weights = new Map(bids.map((b) => [b.channelId, b.weight]));
  const total = [...weights.values()].reduce((sum, w) => sum + w, 0);
  if (tierTrace) {
    tierTrace.weights = Object.fromEntries(bids.map((b) => [b.channelId, b.weight]));
    tierTrace.shares = Object.fromEntries(bids.map((b) => [b.channelId, Math.round((1000 * b.weight) / total) / 10]));
  }
  const keys = new Map<string, number>();
  const keyOf = (bid: B) => {
    let key = keys.get(bid.channelId);
    if (key === undefined) keys.set(bid.channelId, (key = Math.pow(random(), 1 / bid.weight)));
    return key;
  };
  return bids
    .map((bid) => ({ bid, key: keyOf(bid) }))
    .sort((a, b) => b.key - a.key)
    .map((k) => k.bid);
}

/**
 * How many more sales at `priceCents` a channel's caps (its own, its buyer's, its pacing) leave
 * room for at `at`, by `usage`; null when it has no cap.
 */
export function roomLeft(channel: ChannelPlan, at: number, priceCents: number, usage: (key: UsageKey) => Usage): number | null {
  let room: number | null = null;
  for (const rule of channel.capRules) {
    const claim = claimOf(rule, at, priceCents);
    const used = usage(claim);
    if (claim.leadsLimit !== null) room = Math.min(room ?? Infinity, Math.max(0, claim.leadsLimit - used.leads));
    if (claim.spendLimitCents !== null)
      room = Math.min(room ?? Infinity, Math.max(0, Math.floor((claim.spendLimitCents - used.spendCents) / Math.max(1, priceCents))));
  }
  return room;
}

/** The most room left first (a channel without caps has the most); equal room keeps the ranking's order. */
export function capacityOrder(bids: readonly Bid[], at: number, usage: (key: UsageKey) => Usage, tierTrace?: TierTrace): Bid[] {
  const rooms = bids.map((bid) => ({ bid, room: roomLeft(bid.channel, at, bid.priceCents, usage) }));
  if (tierTrace) tierTrace.room = Object.fromEntries(rooms.map((r) => [r.bid.channelId, r.room]));
  // Array.prototype.sort is stable: ties stay in the ranking's order.
  const roomOf = (r: { room: number | null }) => r.room ?? Infinity;
  return rooms.sort((a, b) => (roomOf(a) === roomOf(b) ? 0 : roomOf(b) > roomOf(a) ? 1 : -1)).map((r) => r.bid);
}

/** How a lead would be routed among its eligible channels (explain): what each tier would do if every channel bid. */
export interface RoutingPreview {
  strategy: RoutingStrategy;
  sticky: { days: number; buyer_id: string | null; sold_at: string | null } | null;
  tiers: {
    priority: number | null;
    strategy: RoutingStrategy;
    channels: string[];
    next_turn?: number;
    weights?: Record<string, number>;
    shares?: Record<string, number>;
    room?: Record<string, number | null>;
  }[];
  fallback: string[];
}

/**
 * Explain's view of routing: reads the rotation's next turn and the consumer's last buyer without
 * taking or writing anything. Capacity is judged at each channel's lowest acceptable price.
 */
export async function previewRouting(
  store: RoutingStore | undefined,
  plan: CampaignPlan,
  lead: { test: boolean; data: Record<string, unknown>; receivedAt: number },
  eligible: readonly ChannelPlan[],
): Promise<RoutingPreview> {
  const routing = plan.campaign.routing;
  const preview: RoutingPreview = { strategy: routing?.strategy ?? "price", sticky: null, tiers: [], fallback: [] };
  preview.fallback = eligible.filter(isFallback).map((c) => c.id);
  const days = routing?.sticky_days;
  const keys = stickyKeys(plan, lead);
  if (days !== undefined) {
    const found = keys.length && store ? await store.stickyBuyer(plan.campaign.id, keys, new Date(lead.receivedAt - days * DAY_MS)) : null;
    preview.sticky = { days, buyer_id: found?.buyerId ?? null, sold_at: found?.soldAt.toISOString() ?? null };
  }
  const byId = (a: ChannelPlan, b: ChannelPlan) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const groups = new Map<number | null, ChannelPlan[]>();
  for (const channel of eligible.filter((c) => !isFallback(c))) {
    const key = isTiered(routing) ? channel.config.priority : null;
    groups.set(key, [...(groups.get(key) ?? []), channel]);
  }
  const ordered = [...groups.entries()].sort(([a], [b]) => (a ?? 0) - (b ?? 0));
  for (const [priority, channels] of ordered) {
    const strategy = priority === null ? "price" : tierStrategy(routing, priority);
    const tier: RoutingPreview["tiers"][number] = { priority, strategy, channels: [] };
    let order = [...channels].sort(byId);
    if (strategy === "price") order.sort((a, b) => a.config.priority - b.config.priority || byId(a, b));
    if (strategy === "round_robin" && store && order.length > 1) {
      tier.next_turn = await store.peekTurn(plan.campaign.id, priority ?? 0);
      const start = tier.next_turn % order.length;
      order = [...order.slice(start), ...order.slice(0, start)];
    }
    if (strategy === "weighted") {
      const total = order.reduce((sum, c) => sum + c.config.weight, 0);
      tier.weights = Object.fromEntries(order.map((c) => [c.id, c.config.weight]));
      tier.shares = Object.fromEntries(order.map((c) => [c.id, Math.round((1000 * c.config.weight) / total) / 10]));
      order.sort((a, b) => b.config.weight - a.config.weight || byId(a, b));
    }
    if (strategy === "capacity") {
      const usage = (key: UsageKey) => store?.usage(key) ?? { leads: 0, spendCents: 0 };
      const rooms = new Map(order.map((c) => [c.id, roomLeft(c, lead.receivedAt, c.fixedPriceCents ?? Math.max(c.minBidCents, 1), usage)]));
      tier.room = Object.fromEntries(rooms);
      const roomOf = (c: ChannelPlan) => rooms.get(c.id) ?? Infinity;
      order.sort((a, b) => (roomOf(a) === roomOf(b) ? 0 : roomOf(b) > roomOf(a) ? 1 : -1));
    }
    tier.channels = order.map((c) => c.id);
    preview.tiers.push(tier);
  }
  return preview;
}

/**
 * How routing treats one channel (the test console): its role, its tier and that tier's strategy,
 * and in a weighted tier its chance of being offered a lead first among the tier's active channels.
 */
export function channelRouting(plan: CampaignPlan, channel: ChannelPlan) {
  const routing = plan.campaign.routing;
  if (isFallback(channel)) return { role: "fallback" as const, tier: null, strategy: null, share: null };
  const tiered = isTiered(routing);
  const strategy = tierStrategy(routing, channel.config.priority, tiered);
  let share: number | null = null;
  if (strategy === "weighted") {
    const peers = plan.channels.filter((c) => !isFallback(c) && c.config.status === "active" && c.config.priority === channel.config.priority);
    const total = peers.reduce((sum, c) => sum + c.config.weight, 0) || channel.config.weight;
    share = Math.round((1000 * channel.config.weight) / total) / 10;
  }
  return { role: "buyer" as const, tier: tiered ? channel.config.priority : null, strategy, share };
}
