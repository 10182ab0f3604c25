// Step 3: which channels may bid on this lead. Each rule returns null (keep) or a machine-readable
// exclusion reason that lands in the lead's trace. Schedules, caps and concurrency limits are later
// rules in this same list.
import type { ChannelPlan } from "./catalog";

export interface LeadFacts {
  supplierId: string;
  data: Record<string, unknown>;
  test: boolean;
  /** Wall-clock time the lead was received (epoch ms). */
  receivedAt: number;
}

export type EligibilityRule = (channel: ChannelPlan, lead: LeadFacts) => string | null;

const channelActive: EligibilityRule = (channel) =>
  channel.config.status === "active" ? null : channel.config.status === "paused" ? "paused" : "archived";

const buyerActive: EligibilityRule = (channel) => (channel.buyer.status === "active" ? null : `buyer_${channel.buyer.status}`);

const supplierAllowed: EligibilityRule = (channel, lead) =>
  channel.config.suppliers === null || channel.config.suppliers.includes(lead.supplierId) ? null : "supplier";

const filtersHold: EligibilityRule = (channel, lead) => {
  for (const filter of channel.filters) if (!filter.holds(lead.data)) return `filtered:${filter.field}`;
  return null;
};

/** A channel whose circuit is open is skipped; a half-open one lets this lead through as its probe. */
const circuitClosed: EligibilityRule = (channel, lead) => (channel.health.admit(lead, lead.receivedAt) ? null : "circuit_open");

// circuitClosed stays last: admitting a lead through a half-open circuit claims the one probe, which
// only a lead that passes every other rule should do.
export const defaultRules: readonly EligibilityRule[] = [channelActive, buyerActive, supplierAllowed, filtersHold, circuitClosed];

export interface Eligibility {
  eligible: ChannelPlan[];
  excluded: { channel_id: string; reason: string }[];
}

/** Applies the rules in order; a channel's first failing rule is its reason. */
export function selectChannels(channels: readonly ChannelPlan[], lead: LeadFacts, rules = defaultRules): Eligibility {
  const eligible: ChannelPlan[] = [];
  const excluded: Eligibility["excluded"] = [];
  for (const channel of channels) {
    let reason: string | null = null;
    for (const rule of rules) {
      reason = rule(channel, lead);
      if (reason) break;
    }
    if (reason) excluded.push({ channel_id: channel.id, reason });
    else eligible.push(channel);
  }
  return { eligible, excluded };
}
