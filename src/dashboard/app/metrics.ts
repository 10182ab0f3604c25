// The report API's metrics, named as it names them, with how each reads (README "Reports").
import type { Kind } from "./format";
import type { Dimension } from "./types";

export interface Metric {
  id: string;
  label: string;
  kind: Kind;
  title: string;
}

const m = (id: string, label: string, kind: Kind, title: string): Metric => ({ id, label, kind, title });

const leadCounts = [
  m("leads", "Leads", "count", "Leads received"),
  m("rejected", "Rejected", "count", "Leads refused as invalid"),
  m("duplicate", "Dupes", "count", "Duplicate leads"),
  m("auctioned", "Auctioned", "count", "Leads that went to auction"),
  m("sold", "Sold", "count", "Leads sold"),
  m("unsold", "Unsold", "count", "Auctioned leads no channel bought"),
  m("errors", "Errors", "count", "Leads that ended in error"),
  m("sell_through", "Sell-through", "rate", "Sold / auctioned"),
];

const buyerCounts = [
  m("leads", "Offered", "count", "Leads offered: pinged or excluded"),
  m("excluded", "Excluded", "count", "Leads offered but kept out by a rule, cap or circuit"),
  m("auctioned", "Pinged", "count", "Leads pinged"),
  m("sold", "Bought", "count", "Leads it bought"),
  m("sell_through", "Sell-through", "rate", "Bought / pinged"),
  m("errors", "Errors", "count", "Failed pings and posts"),
];

const bidding = [
  m("pings", "Pings", "count", "Pings sent"),
  m("bids", "Bids", "count", "Pings answered with a bid"),
  m("bid_rate", "Bid rate", "rate", "Bids / pings"),
  m("avg_bid", "Avg bid", "money", "Average bid"),
  m("max_bid", "Max bid", "money", "Highest bid"),
  m("wins", "Wins", "count", "Leads whose first post went here"),
  m("posts", "Posts", "count", "Posts sent"),
  m("accepted", "Accepted", "count", "Posts accepted"),
  m("accept_rate", "Accept rate", "rate", "Accepted / posts"),
  m("post_rejects", "Post rejects", "count", "Posts rejected"),
  m("timeouts", "Timeouts", "count", "Pings and posts that timed out"),
];

const money = [
  m("revenue", "Revenue", "money", "Paid by buyers"),
  m("payout", "Payout", "money", "Paid to suppliers"),
  m("margin", "Margin", "money", "Revenue − payout"),
  m("epl", "EPL", "money", "Earnings per lead: revenue / leads"),
];

const decision = [
  m("decision_ms_p50", "Decision p50", "ms", "Time to decide a lead, median"),
  m("decision_ms_p95", "Decision p95", "ms", "Time to decide a lead, 95th percentile"),
  m("decision_ms_p99", "Decision p99", "ms", "Time to decide a lead, 99th percentile"),
];

const latency = [
  m("ping_ms_p50", "Ping p50", "ms", "Ping time, median"),
  m("ping_ms_p95", "Ping p95", "ms", "Ping time, 95th percentile"),
  m("ping_ms_p99", "Ping p99", "ms", "Ping time, 99th percentile"),
  m("post_ms_p50", "Post p50", "ms", "Post time, median"),
  m("post_ms_p95", "Post p95", "ms", "Post time, 95th percentile"),
  m("post_ms_p99", "Post p99", "ms", "Post time, 99th percentile"),
];

export const metricsOf: Record<Dimension, Metric[]> = {
  campaigns: [...leadCounts, ...money, ...bidding, ...decision],
  suppliers: [...leadCounts, ...money, ...bidding, ...decision],
  sources: [...leadCounts, ...money, ...bidding],
  buyers: [...buyerCounts, ...money, ...bidding, ...latency],
  channels: [...buyerCounts, ...money, ...bidding, ...latency],
  reasons: [
    m("count", "Count", "count", "Times this reason kept the channel out, or ended the lead"),
    m("orphans", "On unsold leads", "count", "Of those, on leads that ended unsold: what kept each channel from the leads nobody took"),
  ],
};

/**
 * Whether a period the API left out (it had no leads) reads as 0 on a chart of this figure: yes for
 * a count or a sum of money; no for a rate, an average, a highest bid or a percentile, which have
 * nothing to be read from there (a gap).
 */
export const absentIsZero = (m: Metric) => m.kind === "count" || ["revenue", "payout", "margin"].includes(m.id);

/** The key columns of each dimension's rows, in the API's names. */
export const keysOf: Record<Dimension, { id: string; label: string }[]> = {
  campaigns: [{ id: "campaign", label: "Campaign" }],
  suppliers: [{ id: "supplier", label: "Supplier" }],
  sources: [
    { id: "supplier", label: "Supplier" },
    { id: "source", label: "Source" },
    { id: "sub_id", label: "Sub ID" },
  ],
  buyers: [{ id: "buyer", label: "Buyer" }],
  channels: [
    { id: "channel", label: "Channel" },
    { id: "buyer", label: "Buyer" },
  ],
  reasons: [
    { id: "channel", label: "Channel" },
    { id: "stage", label: "Stage" },
    { id: "outcome", label: "Outcome" },
    { id: "reason", label: "Reason" },
    { id: "detail", label: "Detail" },
  ],
};

export const dimensions: { id: Dimension; label: string }[] = [
  { id: "campaigns", label: "Campaigns" },
  { id: "suppliers", label: "Suppliers" },
  { id: "sources", label: "Sources" },
  { id: "buyers", label: "Buyers" },
  { id: "channels", label: "Channels" },
  { id: "reasons", label: "Reasons" },
];

/** The filters a report takes, by the API's names. */
export const filterNames = ["campaign", "supplier", "source", "sub_id", "buyer", "channel"] as const;
export const filterLabels: Record<string, string> = { sub_id: "Sub ID" };

/**
 * The filters each report takes: the lead reports count leads, not sales per channel, so they take
 * no buyer or channel (the API refuses them); the reasons report takes a campaign and a channel.
 */
export function filtersOfReport(d: Dimension): readonly string[] {
  if (d === "reasons") return ["campaign", "channel"];
  if (d === "buyers" || d === "channels") return filterNames;
  return ["campaign", "supplier", "source", "sub_id"];
}
