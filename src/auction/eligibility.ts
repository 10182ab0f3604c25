// Step 3: which channels may bid on this lead. Each rule returns null (keep) or a machine-readable
// exclusion reason that lands in the lead's trace. Schedules, caps and concurrency limits are later
// rules in this same list.
//
// The auction needs one reason per excluded channel and stops at the first; explain
// (`explainChannels`) wants every reason. A rule that can fail in several ways at once (filters)
// carries an `all` variant listing each; a plain rule is its own single-reason variant. So the hot
// path stays a loop of cheap early-exit checks, and explain costs only explain.
import type { ChannelPlan } from "./catalog";

export interface LeadFacts {
  /** Absent only in explain without a supplier: supplier allow-lists are then not checked. */
  supplierId?: string;
  data: Record<string, unknown>;
  test: boolean;
  /** Wall-clock time the lead was received (epoch ms). */
  receivedAt: number;
}

export type EligibilityRule = ((channel: ChannelPlan, lead: LeadFacts) => string | null) & {
  /** Every reason this rule excludes the channel for (explain); defaults to the single one. */
  all?: (channel: ChannelPlan, lead: LeadFacts) => string[];
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

export const defaultRules: readonly EligibilityRule[] = [channelActive, buyerActive, supplierAllowed, filtersHold];

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

/** Every reason each channel is excluded for, in rule order (explain; not the auction's hot path). */
export function explainChannels(
  channels: readonly ChannelPlan[],
  lead: LeadFacts,
  rules = defaultRules,
): { channel: ChannelPlan; reasons: string[] }[] {
  return channels.map((channel) => ({
    channel,
    reasons: rules.flatMap((rule) => {
      if (rule.all) return rule.all(channel, lead);
      const reason = rule(channel, lead);
      return reason ? [reason] : [];
    }),
  }));
}
