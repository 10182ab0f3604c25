// Step 3: which channels may bid on this lead. Each rule returns null (keep) or a machine-readable
// exclusion reason that lands in the lead's trace; a channel's first failing rule is its reason.
// Rules read only the lead, the channel and a snapshot of this process's state (cap usage, requests
// in flight): they decide nothing that needs to be exact. What must be exact (caps, pacing, the
// buyer's dedup window) is enforced again, atomically in the database, right before the post.
//
// The auction needs one reason per excluded channel and stops at the first; explain
// (`explainChannels`) wants every reason. A rule that can fail in several ways at once (filters)
// carries an `all` variant listing each; a plain rule is its own single-reason variant. So the hot
// path stays a loop of cheap early-exit checks, and explain costs only explain.
import type { Usage, UsageKey } from "../db/caps";
import type { ChannelPlan } from "./catalog";
import { firstFull } from "./caps";
import { isOpen } from "../time/schedule";

export interface LeadFacts {
  /** Absent only in explain without a supplier: supplier allow-lists are then not checked. */
  supplierId?: string;
  data: Record<string, unknown>;
  test: boolean;
  /** Wall-clock time the lead was received (epoch ms). */
  receivedAt: number;
  /** Buyers that already received this consumer within their dedup window. */
  seenBuyers?: ReadonlySet<string>;
}

/** What a rule may know about the process beyond the lead and channel. */
export interface EligibilityWorld {
  usage(key: UsageKey): Usage;
  inFlight(channelId: string): number;
}

export type EligibilityRule = ((channel: ChannelPlan, lead: LeadFacts, world: EligibilityWorld) => string | null) & {
  /** Every reason this rule excludes the channel for (explain); defaults to the single one. */
  all?: (channel: ChannelPlan, lead: LeadFacts, world: EligibilityWorld) => string[];
};

const channelActive: EligibilityRule = (channel) =>
  channel.config.status === "active" ? null : channel.config.status === "paused" ? "paused" : "archived";

const buyerActive: EligibilityRule = (channel) => (channel.buyer.status === "active" ? null : `buyer_${channel.buyer.status}`);

const supplierAllowed: EligibilityRule = (channel, lead) =>
  lead.supplierId === undefined || channel.config.suppliers === null || channel.config.suppliers.includes(lead.supplierId)
    ? null
    : "supplier";

const filtersHold: EligibilityRule = (channel, lead) => {
  for (const filter of channel.filters) if (!filter.holds(lead.data)) return `filtered:${filter.field}`;
  return null;
};
filtersHold.all = (channel, lead) => channel.filters.filter((f) => !f.holds(lead.data)).map((f) => `filtered:${f.field}`);

/** A channel whose circuit is open is skipped; a half-open one lets this lead through as its probe. */
const circuitClosed: EligibilityRule = (channel, lead) => (channel.health.admit(lead, lead.receivedAt) ? null : "circuit_open");
// Explain must not take the probe slot a real lead would get.
circuitClosed.all = (channel, lead) => (channel.health.wouldAdmit(lead.receivedAt) ? [] : ["circuit_open"]);

const insideSchedule: EligibilityRule = (channel, lead) =>
  channel.schedule && !isOpen(channel.schedule, channel.zone, lead.receivedAt) ? "schedule" : null;

const newToBuyer: EligibilityRule = (channel, lead) => (lead.seenBuyers?.has(channel.buyerId) ? "buyer_duplicate" : null);

/**
 * Caps of the channel and its buyer, then pacing. The price is not known before the ping, so a
 * spend cap excludes only when not even the lowest acceptable price would fit. Test leads never count.
 */
const underCaps: EligibilityRule = (channel, lead, world) => {
  if (lead.test || channel.capRules.length === 0) return null;
  const lowest = channel.fixedPriceCents ?? Math.max(channel.minBidCents, 1);
  return firstFull(channel.capRules, lead.receivedAt, lowest, (key) => world.usage(key));
};

const underConcurrency: EligibilityRule = (channel, _lead, world) =>
  channel.maxConcurrency !== null && world.inFlight(channel.id) >= channel.maxConcurrency ? "throttled" : null;

// circuitClosed stays last: admitting a lead through a half-open circuit claims the one probe, which
// only a lead that passes every other rule should do.
export const defaultRules: readonly EligibilityRule[] = [
  channelActive,
  buyerActive,
  supplierAllowed,
  filtersHold,
  insideSchedule,
  newToBuyer,
  underCaps,
  underConcurrency,
  circuitClosed,
];

export interface Eligibility {
  eligible: ChannelPlan[];
  excluded: { channel_id: string; reason: string }[];
}

/** The world as this process sees it: its cap-usage view and its requests in flight (two closures, read live). */
export function processWorld(caps: { view: { get(key: UsageKey): Usage } }, limiter: { count(channelId: string): number }): EligibilityWorld {
  return { usage: (key) => caps.view.get(key), inFlight: (id) => limiter.count(id) };
}

export const idleWorld: EligibilityWorld = { usage: () => ({ leads: 0, spendCents: 0 }), inFlight: () => 0 };

/** Applies the rules in order; a channel's first failing rule is its reason. */
export function selectChannels(
  channels: readonly ChannelPlan[],
  lead: LeadFacts,
  world: EligibilityWorld = idleWorld,
  rules = defaultRules,
): Eligibility {
  const eligible: ChannelPlan[] = [];
  const excluded: Eligibility["excluded"] = [];
  for (const channel of channels) {
    let reason: string | null = null;
    for (const rule of rules) {
      reason = rule(channel, lead, world);
      if (reason) break;
    }
    if (reason) excluded.push({ channel_id: channel.id, reason });
    else eligible.push(channel);
  }
  return { eligible, excluded };
}

/** Every reason each channel is excluded for, in rule order (explain; not the auction's hot path). */
export function explainChannels(
  channels: readonly ChannelPlan[],
  lead: LeadFacts,
  world: EligibilityWorld = idleWorld,
  rules = defaultRules,
): { channel: ChannelPlan; reasons: string[] }[] {
  return channels.map((channel) => ({
    channel,
    reasons: rules.flatMap((rule) => {
      if (rule.all) return rule.all(channel, lead, world);
      const reason = rule(channel, lead, world);
      return reason ? [reason] : [];
    }),
  }));
}
