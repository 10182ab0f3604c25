// Step 3: which channels may bid on this lead. Each rule returns null (keep) or a machine-readable
// exclusion reason that lands in the lead's trace; a channel's first failing rule is its reason.
// Rules read only the lead, the channel and a snapshot of this process's state (cap usage, requests
// in flight): they decide nothing that needs to be exact. What must be exact (caps, pacing, the
// buyer's dedup window) is enforced again, atomically in the database, right before the post.
//
// Two rules take something when they pass: a concurrency slot (max_concurrency, admitted here and
// nowhere else: the lead keeps it through its ping and its post) and a half-open circuit's one
// probe. Each gives back what it took (`giveBack`) when a later rule leaves the channel out.
//
// The auction needs one reason per excluded channel and stops at the first; explain
// (`explainChannels`) wants every reason. A rule that can fail in several ways at once (filters)
// carries an `all` variant listing each; a plain rule is its own single-reason variant. So the hot
// path stays a loop of cheap early-exit checks, and explain costs only explain (and takes nothing).
import type { Usage, UsageKey } from "../db/caps";
import { reasonText, type ExclusionCode, type ReasonText } from "../reasons";
import type { ChannelPlan } from "./catalog";
import { firstFull } from "./caps";
import type { ChannelSlots } from "./limiter";
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
  /** Requests to each channel in this process (max_concurrency): a selected channel holds one of its slots. */
  slots: ChannelSlots;
}

/** Why a channel is left out: an exclusion code, with its detail (a filter's field, a cap's period). */
export type ExclusionReason = ReasonText<ExclusionCode>;

export type EligibilityRule = ((channel: ChannelPlan, lead: LeadFacts, world: EligibilityWorld) => ExclusionReason | null) & {
  /** Every reason this rule excludes the channel for (explain, which must take nothing); defaults to the single one. */
  all?: (channel: ChannelPlan, lead: LeadFacts, world: EligibilityWorld) => ExclusionReason[];
  /** For a rule that takes something when it passes: gives it back when a later rule excludes the channel. */
  giveBack?: (channel: ChannelPlan, lead: LeadFacts, world: EligibilityWorld) => void;
};

const channelActive: EligibilityRule = (channel) =>
  channel.config.status === "active" ? null : channel.config.status === "paused" ? "paused" : "archived";

const buyerActive: EligibilityRule = (channel) =>
  channel.buyer.status === "active" ? null : channel.buyer.status === "paused" ? "buyer_paused" : "buyer_archived";

/** A channel that takes no sale of the kind its campaign makes (`buys`) is left out. */
const buysTheSale: EligibilityRule = (channel) => channel.wrongSale ?? null;

const supplierAllowed: EligibilityRule = (channel, lead) =>
  lead.supplierId === undefined || channel.config.suppliers === null || channel.config.suppliers.includes(lead.supplierId)
    ? null
    : "supplier";

const filtersHold: EligibilityRule = (channel, lead) => {
  for (const filter of channel.filters) if (!filter.holds(lead.data)) return reasonText("filtered", filter.field);
  return null;
};
filtersHold.all = (channel, lead) => channel.filters.filter((f) => !f.holds(lead.data)).map((f) => reasonText("filtered", f.field));

/** A channel whose circuit is open is skipped; a half-open one lets this lead through as its probe. */
const circuitClosed: EligibilityRule = (channel, lead) => (channel.health.admit(lead, lead.receivedAt) ? null : "circuit_open");
// Explain must not take the probe slot a real lead would get.
circuitClosed.all = (channel, lead) => (channel.health.wouldAdmit(lead.receivedAt) ? [] : ["circuit_open"]);
circuitClosed.giveBack = (channel, lead) => channel.health.release(lead);

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

/**
 * max_concurrency, admitted once: a channel with a free slot is selected holding it, and keeps it
 * until the auction is done with it (run.ts gives it back after the ping when there is no bid, after
 * the post, or when the auction ends). A channel at its limit is left out now, never queued.
 */
const underConcurrency: EligibilityRule = (channel, _lead, world) => (world.slots.tryAcquire(channel.id, channel.maxConcurrency) ? null : "throttled");
underConcurrency.all = (channel, _lead, world) =>
  channel.maxConcurrency !== null && world.slots.count(channel.id) >= channel.maxConcurrency ? ["throttled"] : [];
underConcurrency.giveBack = (channel, _lead, world) => world.slots.release(channel.id);

// The rules that take something come last, so that only a lead that passes every other rule takes
// it: a concurrency slot, then (circuitClosed) a half-open circuit's one probe.
export const defaultRules: readonly EligibilityRule[] = [
  channelActive,
  buyerActive,
  buysTheSale,
  supplierAllowed,
  filtersHold,
  insideSchedule,
  newToBuyer,
  underCaps,
  underConcurrency,
  circuitClosed,
];

/**
 * The rules for a lead of which only `fields` are known (a supplier's ping, which carries no PII):
 * a filter on any other field is not judged now; it is when the whole lead is posted.
 */
export function rulesKnowing(fields: ReadonlySet<string>): readonly EligibilityRule[] {
  const knownFiltersHold: EligibilityRule = (channel, lead) => {
    for (const filter of channel.filters) if (fields.has(filter.field) && !filter.holds(lead.data)) return reasonText("filtered", filter.field);
    return null;
  };
  return defaultRules.map((rule) => (rule === filtersHold ? knownFiltersHold : rule));
}

export interface Exclusion {
  channel_id: string;
  reason: ExclusionReason;
}

export interface Eligibility {
  /** The selected channels: each holds a slot in `slots` until the auction gives it back. */
  eligible: ChannelPlan[];
  excluded: Exclusion[];
  slots: ChannelSlots;
}

/** The world as this process sees it: its cap-usage view (read live) and its requests in flight. */
export function processWorld(caps: { view: { get(key: UsageKey): Usage } }, limiter: ChannelSlots): EligibilityWorld {
  return { usage: (key) => caps.view.get(key), slots: limiter };
}

/** Slots that are always free and hold nothing (explain without a process's state, tests). */
export const unlimitedSlots: ChannelSlots = { tryAcquire: () => true, release: () => {}, count: () => 0 };

export const idleWorld: EligibilityWorld = { usage: () => ({ leads: 0, spendCents: 0 }), slots: unlimitedSlots };

/** Applies the rules in order; a channel's first failing rule is its reason, and the rules before it give back what they took. */
export function selectChannels(
  channels: readonly ChannelPlan[],
  lead: LeadFacts,
  world: EligibilityWorld = idleWorld,
  rules = defaultRules,
): Eligibility {
  const eligible: ChannelPlan[] = [];
  const excluded: Exclusion[] = [];
  for (const channel of channels) {
    let reason: ExclusionReason | null = null;
    let r = 0;
    for (; r < rules.length; r++) {
      reason = rules[r](channel, lead, world);
      if (reason) break;
    }
    if (reason) {
      while (r-- > 0) rules[r].giveBack?.(channel, lead, world);
      excluded.push({ channel_id: channel.id, reason });
    } else eligible.push(channel);
  }
  return { eligible, excluded, slots: world.slots };
}

/** Every reason each channel is excluded for, in rule order (explain; not the auction's hot path). */
export function explainChannels(
  channels: readonly ChannelPlan[],
  lead: LeadFacts,
  world: EligibilityWorld = idleWorld,
  rules = defaultRules,
): { channel: ChannelPlan; reasons: ExclusionReason[] }[] {
  return channels.map((channel) => ({
    channel,
    reasons: rules.flatMap((rule) => {
      if (rule.all) return rule.all(channel, lead, world);
      const reason = rule(channel, lead, world);
      return reason ? [reason] : [];
    }),
  }));
}
