// The shapes the API answers, as the dashboard reads them (see README "Reports" and /openapi.json).

/** A report table: the five dimensions, and `reasons` (why leads were not taken), which reads the same way. */
export type Dimension = "campaigns" | "suppliers" | "sources" | "buyers" | "channels" | "reasons";
export type Interval = "hour" | "day" | "week" | "month";

export type Metrics = Record<string, number | null>;

export interface Report {
  from: string;
  to: string;
  tz: string;
  interval: Interval | null;
  rows: Array<{ key: Record<string, string | null>; period?: string } & Metrics>;
  totals: Metrics;
  /** With an interval: each period's SUM row over every key; periods without leads are absent. */
  periods?: Array<{ period: string } & Metrics>;
}

export interface BidRow {
  min_price: number;
  max_price: number;
  bids: number;
  wins: number;
  posts: number;
  accepted: number;
  post_reject_rate: number | null;
}

export interface BidReport {
  from: string;
  to: string;
  tz: string;
  bucket: number;
  rows: BidRow[];
  totals: Omit<BidRow, "min_price" | "max_price">;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Campaign {
  id: string;
  name: string;
  status: string;
  timezone?: string;
}

export interface CapUsage {
  period: string;
  leads?: number;
  spend?: number;
  used?: { leads: number; spend: number };
  resets_at?: string | null;
}

export interface Channel {
  id: string;
  name?: string;
  type: string;
  status: string;
  campaign_id: string;
  buyer_id: string;
  caps?: CapUsage[];
}

export interface ChannelHealth {
  state: "closed" | "open" | "half_open";
  consecutive_failures: number;
  opened_at: string | null;
  retry_at: string | null;
  failure_threshold: number;
  cooldown_ms: number;
  history: { state: string; at: string; reason: string; lead_id: string | null }[];
}

export interface LeadSummary {
  id: string;
  campaign: string;
  supplier: string;
  status: string;
  /** The lead's reason code, and its detail. */
  reason: string | null;
  detail: string | null;
  test: boolean;
  received_at: string;
  decided_at: string | null;
  price: number;
  revenue: number;
  sold_to: number;
  data: Record<string, unknown>;
  trace_url?: string;
  source?: string | null;
  sub_id?: string | null;
  sold_channel?: string | null;
  sold_buyer?: string | null;
}

export interface Attempt {
  kind: "ping" | "post";
  channel_id: string;
  buyer_id?: string | null;
  started_at: string;
  duration_ms: number;
  http_status: number | null;
  outcome: string;
  price: number | null;
  reason: string | null;
  detail: string | null;
  ping_ref: string | null;
}

export interface LeadTrace extends LeadSummary {
  overhead_ms: number | null;
  deadline_at?: string | null;
  history: { status: string; at: string; reason: string | null; detail: string | null }[];
  excluded: { channel_id: string; reason: string; detail: string | null }[];
  /** Every sale, highest first (several for a shared lead). */
  sales?: { channel_id: string; buyer_id: string | null; price: number }[];
  /** Bids as made and as ranked, and their charges; null for a plain first-price auction. */
  ranking?: RankingTrace | null;
  attempts: Attempt[];
}

export interface RankedBid {
  channel_id: string;
  bid: number;
  adjusted_bid: number;
  posted: number | null;
  accepted: number | null;
  rate: number | null;
  score: number;
  charge: number;
}

export interface RankingTrace {
  pricing: "first" | "second";
  rank_by: "price" | "expected";
  floor: number;
  rate_floor: number | null;
  clearing_price: number | null;
  bids: RankedBid[];
}
