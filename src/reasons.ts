// Every reason Gavel records, as closed lists of codes (after Prebid Server's non_bid_reason): why a
// channel was left out, why a ping brought no bid, what became of a post, why a lead ended as it
// did. A reason is a code with an optional detail — `{ reason: "below_floor", detail: "bid 1.50 <
// floor 3.00" }` — stored as one text, `code` or `code: detail`. The codes here are the API's
// enums and the README's tables (a test holds all three together); nothing else invents one.
// A kernel: it imports nothing of Gavel's.

/** Code → what it means, for one stage. `keyed`: its detail is from a small set (a field, a period, an HTTP status), so reports may group by it; any other detail is free text (a buyer's message, a body excerpt) and never a report key. */
interface CodeInfo {
  readonly means: string;
  readonly keyed?: true;
}

/** A channel left out of a lead: before its ping, or when its bid came up for the post. */
export const EXCLUSION_REASONS = {
  paused: { means: "the channel is paused" },
  archived: { means: "the channel is archived" },
  buyer_paused: { means: "the channel's buyer is paused" },
  buyer_archived: { means: "the channel's buyer is archived" },
  supplier: { means: "the channel's `suppliers` allow-list leaves this supplier out" },
  filtered: { means: "a filter does not hold; detail: the field of the first one", keyed: true },
  schedule: { means: "outside the channel's hours, or on a blackout date, in its zone" },
  buyer_duplicate: { means: "the buyer already received this consumer within its `dedup` window" },
  cap_leads: { means: "a leads cap of the channel has no room; detail: its period", keyed: true },
  cap_spend: { means: "a spend cap of the channel has no room; detail: its period", keyed: true },
  buyer_cap_leads: { means: "a leads cap of the channel's buyer has no room; detail: its period", keyed: true },
  buyer_cap_spend: { means: "a spend cap of the channel's buyer has no room; detail: its period", keyed: true },
  paced: { means: "the channel's pacing window is used up" },
  throttled: { means: "`max_concurrency` leads are using the channel (its ping or its post) in this process" },
  below_floor: { means: "a `direct_post` channel whose fixed price is under the floor or its `min_bid`" },
  circuit_open: { means: "the channel's circuit breaker is open after consecutive errors or timeouts" },
  sale_type: { means: "the channel does not buy the kind of sale the campaign makes (`buys`); detail: that kind, `exclusive` or `shared`", keyed: true },
  buyer_bought: {
    means:
      "shared sales: the channel's buyer already bought the lead (or may have: its post's outcome is unknown), and a buyer buys a lead once; also a bid of several in one answer whose buyer may have the lead (an earlier bid's post outcome is unknown, under on_post_timeout next)",
  },
  bids_refused: {
    means: "a bid of several in one answer, not posted: the buyer already refused (rejected or errored) two posts of its bids for this lead",
  },
  below_quote: { means: "a posted ping: a lower bid whose sale would pay the supplier less than it was quoted, in a campaign with `inbound.below_quote: no_sale`" },
} as const satisfies Record<string, CodeInfo>;

/** A ping that brought no bid (its outcome says which kind: no_bid, below_floor, timeout, error, invalid_response). */
export const PING_REASONS = {
  no_bid: { means: "the buyer declined (HTTP 204, no bid or a bid of 0); detail: its message, if any" },
  no_bid_rule: {
    means: "the channel's `response.ping.no_bid` rule held: the buyer's own way of saying no buyer (HTTP 404, a flag); never a mark against its health; detail: its message, or the HTTP status",
  },
  below_floor: { means: "a bid under the floor or the channel's `min_bid`; detail: `bid 1.50 < floor 3.00`" },
  ping_timeout: { means: "no answer within the ping timeout" },
  ping_not_sent: { means: "the ping never reached a socket before the deadline (still connecting, or waiting for a connection)" },
  gavel_stalled: { means: "a timeout Gavel caused itself (its event loop stalled): no mark against the buyer" },
  http_error: { means: "a non-2xx answer; detail: the status", keyed: true },
  connection: { means: "the connection failed; detail: the error code (`ECONNREFUSED`)", keyed: true },
  invalid_request: { means: "not sent: a rendered header value holds CR, LF or NUL (from a lead's field); detail: the header" },
  body_too_large: { means: "the answer was over the size limit" },
  unparseable_body: { means: "the answer could not be read; detail: its start" },
  no_rule_matched: { means: "the answer was read, but none of the channel's response rules found a bid or a no-bid in it; detail: its start" },
  bad_bid: { means: "the bid is not a price; detail: what it was" },
  no_price: { means: "the buyer said yes (the channel's `accepted` rule held) but gave no bid, and the channel has no `fixed_price`; detail: the answer's start" },
  several_bids: {
    means: "not a no-bid: the answer held several bids (`response.ping.bids`), each ranked as a bid of the channel's buyer; the attempt's price is the best; detail: every bid read, `<id> <price>` (and `shared <price>`), best first",
  },
} as const satisfies Record<string, CodeInfo>;

/** What became of a post (its outcome says accepted, rejected, error, unknown, invalid_response or skipped). */
export const POST_REASONS = {
  accepted: { means: "the buyer took the lead; detail: its message, if any" },
  rejected: { means: "the buyer refused the lead; detail: its message, if any" },
  post_timeout: { means: "sent, and no answer within the post timeout: the buyer may have taken the lead" },
  post_not_sent: { means: "the post never reached a socket before the deadline: the buyer never saw it" },
  connection_lost: { means: "the connection broke after the post was sent: the buyer may have taken the lead; detail: the error code", keyed: true },
  connection: { means: "the connection failed before the post was sent; detail: the error code", keyed: true },
  invalid_request: { means: "not sent: a rendered header value holds CR, LF or NUL (a capture of the buyer's ping answer, a lead's field): the buyer never saw it; detail: the header" },
  http_error: { means: "a non-2xx answer; detail: the status", keyed: true },
  body_too_large: { means: "the answer was over the size limit" },
  unparseable_body: { means: "the answer could not be read; detail: its start" },
  no_rule_matched: { means: "the answer was read, but the channel's response rules found neither an acceptance nor a rejection in it; detail: its start" },
  bid_expired: { means: "the buyer's bid had expired by the time it came up: not posted" },
  smtp_refused: { means: "an email channel: the SMTP server refused the message (its sender, every recipient, or the message); detail: its reply" },
  smtp_not_configured: { means: "an email channel, in a Gavel process without an SMTP server (GAVEL_SMTP_URL or GAVEL_SMTP_HOST): not sent" },
} as const satisfies Record<string, CodeInfo>;

/** A lead's own reason (and its history's). */
export const LEAD_REASONS = {
  invalid: { means: "rejected: fields failed validation; detail: the fields" },
  suppressed: { means: "rejected: the consumer is on the do-not-sell list" },
  cap_leads: { means: "rejected: a leads cap of the supplier has no room; detail: its period", keyed: true },
  cap_spend: { means: "rejected: a spend cap of the supplier has no room; detail: its period", keyed: true },
  dedup: { means: "duplicate: the campaign already auctioned this consumer within `lookback_days`" },
  resubmitted: { means: "duplicate: the same supplier sent this consumer again within `supplier_window_minutes`" },
  no_eligible_channels: { means: "unsold: no channel could take the lead" },
  no_bids: { means: "unsold: no channel bid" },
  all_rejected: { means: "unsold: every bid's buyer refused the post, or none could be posted" },
  deadline: { means: "unsold: the deadline passed before a buyer accepted" },
  post_outcome_unknown: {
    means:
      "error: a post's outcome is unknown (the buyer may have the lead), so it was offered to no one else; also a sold lead's while another of its posts is still unknown (README \"Reconciliation\")",
  },
  database_unavailable: { means: "error: the database could not be reached to reserve a cap before a post" },
  interrupted: { means: "history: the process running the auction died, and another settled the lead" },
  sold_to: { means: "history: the sale; detail: the channel that bought (one event per sale of a shared lead)" },
  sale_chosen: { means: "history: how a `best` campaign sold the lead, exclusive or shared; detail: the kind and the two figures compared" },
  pinged: { means: "history: the supplier pinged with the lead's non-PII fields; detail: how many channels were pinged" },
  quoted: { means: "history: the ping's answer; detail: the price quoted, or `no_bid`" },
  ping_mismatch: { means: "history: a post whose non-PII fields differ from its ping's, refused; detail: the fields" },
  posted: { means: "history: the supplier posted the full lead for its ping" },
  held: { means: "history: every channel that could take the lead was closed by its schedule, so it was held; detail: when the first opens" },
  released: { means: "history: a channel opened, and the held lead went to auction" },
  hold_expired: { means: "expired: the lead was held for the campaign's `hold.max_hours` and no channel opened" },
  contacted: { means: "history: a buyer's postback says it contacted the consumer; detail: the buyer and event id" },
  converted: { means: "history: a buyer's postback says the consumer converted; detail: the buyer, value and event id" },
  return_requested: { means: "history: a buyer (by postback) or an operator asked to return the lead; detail: the buyer and reason" },
  return_accepted: { means: "history (returned when every sale is returned): a return was accepted, the sale's revenue reversed; detail: the buyer and who accepted" },
  return_rejected: { means: "history: a return was rejected, the sale stands; detail: the buyer and who rejected" },
  awaiting_confirmation: {
    means: "pending: the buyer accepted the post of a channel whose sales its postback confirms (`post.confirmed_by`); detail: the channel and until when it waits",
  },
  confirmed: { means: "history of a sale: the buyer's postback (or an operator) confirmed a pending lead's sale; detail: the channel, price and who confirmed it" },
  not_confirmed: { means: "unsold: a pending lead's sale was not confirmed within its channel's `confirm_within_hours` (or an operator said it was not); detail: the channel and who settled it" },
  resolved: {
    means:
      "unsold (detail `unsold`), or history: a post's unknown outcome was settled, by an operator or the buyer's postback; the history's detail says the outcome (the channel and price of a sale) and who settled it",
  },
} as const satisfies Record<string, CodeInfo>;

/** Explain's lead-level verdicts (`blocked_by`): why no channel of the campaign would be pinged; each channel lists them first. */
export const VERDICT_REASONS = {
  campaign_paused: { means: "the campaign is paused" },
  supplier_not_allowed: { means: "the supplier may not send leads to the campaign" },
  lead_invalid: { means: "fields fail validation (the explanation's `errors` name them)" },
  duplicate: { means: "the campaign already auctioned this consumer within `lookback_days` (`duplicate_of` names the leads)" },
} as const satisfies Record<string, CodeInfo>;

export type ExclusionCode = keyof typeof EXCLUSION_REASONS;
export type PingCode = keyof typeof PING_REASONS;
export type PostCode = keyof typeof POST_REASONS | ExclusionCode;
export type LeadCode = keyof typeof LEAD_REASONS;
export type VerdictCode = keyof typeof VERDICT_REASONS;
export type ReasonCode = ExclusionCode | PingCode | PostCode | LeadCode | VerdictCode;

/** A reason as stored: `code`, or `code: detail`. The type makes an unknown code a compile error. */
export type ReasonText<C extends ReasonCode = ReasonCode> = C | `${C}: ${string}`;

export interface Reason {
  reason: ReasonCode;
  detail: string | null;
}

/** The stored text of a code and its detail. */
export function reasonText<C extends ReasonCode>(code: C, detail?: string | number | null): ReasonText<C> {
  return detail === undefined || detail === null || detail === "" ? code : `${code}: ${detail}`;
}

const ALL_CODES: ReadonlySet<string> = new Set([
  ...Object.keys(EXCLUSION_REASONS),
  ...Object.keys(PING_REASONS),
  ...Object.keys(POST_REASONS),
  ...Object.keys(LEAD_REASONS),
  ...Object.keys(VERDICT_REASONS),
]);

/**
 * Where a reason is read: a channel's exclusion, a ping's, a post's (an exclusion code too, for a
 * bid skipped at post time), a lead's own (and its history's), an explain verdict.
 */
export type ReasonStage = "excluded" | "ping" | "post" | "lead" | "explain";

const keys = <T extends object>(o: T) => Object.keys(o) as (keyof T)[];

/** Each stage's codes, in their tables' order: the API's enums. */
export const STAGE_CODES = {
  excluded: keys(EXCLUSION_REASONS),
  ping: keys(PING_REASONS),
  post: [...keys(POST_REASONS), ...keys(EXCLUSION_REASONS).filter((c) => !(c in POST_REASONS))],
  lead: keys(LEAD_REASONS),
  // An explained channel's reasons: the lead's verdicts, then its own exclusions.
  explain: [...keys(VERDICT_REASONS), ...keys(EXCLUSION_REASONS)],
} as const satisfies Record<ReasonStage, readonly ReasonCode[]>;

const STAGE_SETS: Record<ReasonStage, ReadonlySet<string>> = {
  excluded: new Set(STAGE_CODES.excluded),
  ping: new Set(STAGE_CODES.ping),
  post: new Set(STAGE_CODES.post),
  lead: new Set(STAGE_CODES.lead),
  explain: new Set(STAGE_CODES.explain),
};

export const isReasonCode = (text: string): text is ReasonCode => ALL_CODES.has(text);

/** Codes whose detail may be a report key (see CodeInfo.keyed). */
export const KEYED_CODES: readonly ReasonCode[] = [EXCLUSION_REASONS, PING_REASONS, POST_REASONS, LEAD_REASONS].flatMap((stage) =>
  Object.entries(stage)
    .filter(([, info]) => (info as CodeInfo).keyed)
    .map(([code]) => code as ReasonCode),
);

const CANONICAL = /^([a-z][a-z0-9_]*)(?:: ([\s\S]*))?$/;

/**
 * Reads a stored reason. Rows written before the codes existed are read as their code too:
 * `filtered:state`, `cap:day:leads`, `buyer_cap:week:spend`, `http_503`, `connection:ECONNRESET`,
 * `connection_lost:EPIPE`, `bid 1.5 < floor 3`, `invalid:email,phone`, `channel:acme`; anything else
 * (a buyer's message) becomes the detail of `fallback` (the attempt's outcome, when it is a code).
 */
export function splitReason(text: string | null, fallback?: ReasonCode): Reason | null {
  if (text === null || text === "") return fallback ? { reason: fallback, detail: null } : null;
  const known = knownReason(text);
  if (known) return known;
  return fallback ? { reason: fallback, detail: text } : { reason: "rejected", detail: text };
}

/**
 * A stored text read as a code of `stage` (canonical or a legacy spelling), or null when it is
 * none: a buyer's own words, or a code of another stage (a buyer that rejects with "duplicate"
 * has not given explain's verdict).
 */
export function knownReason(text: string, stage?: ReasonStage): Reason | null {
  const canonical = CANONICAL.exec(text);
  const found = canonical && isReasonCode(canonical[1]) ? { reason: canonical[1], detail: canonical[2] ?? null } : legacyReason(text);
  return found && (stage === undefined || STAGE_SETS[stage].has(found.reason)) ? found : null;
}

/** A stored reason of a stage that has no outcome to fall back on: an exclusion, a lead's own reason, its history's. */
export function stageReason(stage: ReasonStage, text: string | null): Reason | null {
  if (text === null || text === "") return null;
  return knownReason(text, stage) ?? splitReason(text);
}

/** What an attempt's outcome means when its reason says nothing readable: each outcome's catch-all code. */
const OUTCOME_CODES: Record<"ping" | "post", Record<string, ReasonCode>> = {
  ping: { no_bid: "no_bid", below_floor: "below_floor", timeout: "ping_timeout", error: "http_error", invalid_response: "unparseable_body" },
  post: { accepted: "accepted", rejected: "rejected", unknown: "post_timeout", error: "http_error", invalid_response: "unparseable_body", skipped: "bid_expired" },
};

/**
 * An attempt's reason as the API shows it: its stored text read as a code of its kind, else (a
 * buyer's message, a row written before the codes) the detail of its outcome's code. A bid has none.
 */
export function attemptReason(kind: "ping" | "post", outcome: string, text: string | null): Reason | null {
  const given = text === null || text === "" ? null : text;
  const known = given === null ? null : knownReason(given, kind);
  if (known) return known;
  const fallback = OUTCOME_CODES[kind][outcome];
  return fallback ? { reason: fallback, detail: given } : splitReason(given);
}

/** An attempt outcome's catch-all code (undefined for a bid). */
export const outcomeCode = (kind: "ping" | "post", outcome: string): ReasonCode | undefined => OUTCOME_CODES[kind][outcome];

function legacyReason(text: string): Reason | null {
  let m: RegExpExecArray | null;
  if ((m = /^(cap|buyer_cap):([a-z]+):(leads|spend)$/.exec(text))) return { reason: `${m[1]}_${m[3]}` as ReasonCode, detail: m[2] };
  if ((m = /^http_(\d{3})$/.exec(text))) return { reason: "http_error", detail: m[1] };
  if ((m = /^(filtered|connection|connection_lost|invalid):(.*)$/.exec(text))) return { reason: m[1] as ReasonCode, detail: m[2] };
  if ((m = /^channel:(.+)$/.exec(text))) return { reason: "sold_to", detail: m[1] };
  if ((m = /^bid ([\d.]+) < floor ([\d.]+)$/.exec(text)))
    return { reason: "below_floor", detail: `bid ${Number(m[1]).toFixed(2)} < floor ${Number(m[2]).toFixed(2)}` };
  if ((m = /^(unparseable_body|bad_bid|no_rule_matched): ([\s\S]*)$/.exec(text))) return { reason: m[1] as ReasonCode, detail: m[2] };
  return null;
}
