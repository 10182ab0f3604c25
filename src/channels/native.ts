// Gavel's native buyer protocol (SPEC.md "Native buyer protocol"): how a ping and a post are
// written, and how a buyer's answer becomes an outcome. What any answer means before its body is
// read (a fault, a 204, a non-2xx), and what a bid or an acceptance comes to once read, are here for
// both readers: the native one and response rules (./rules.ts). Every buyer fault is an outcome with
// a reason code, never an exception.
import { MAX_LEAD_PRICE } from "../money";
import { reasonText, type PingCode, type PostCode, type ReasonText } from "../reasons";
import type { Channel } from "./config";
import type { TemplateVars } from "./template";
import { MAX_ANSWER_DEPTH, nestsDeeperThan } from "./formats";
import { INVALID_REQUEST, type BuyerRequest, type BuyerResponse } from "./transport";

/**
 * What a buyer's ping answer says. `expiresAt` (epoch ms): the bid is good until then; a post after it
 * is skipped. `sharedCents`: the price of a shared sale, when the answer gave one (`shared_bid`) as
 * well as, or instead of, `bid`; `sharedOnly`: the answer gave no exclusive price, and `priceCents`
 * is the shared one.
 */
export type PingAnswer =
  | {
      outcome: "bid";
      priceCents: number;
      pingRef: string | null;
      reason: null;
      expiresAt?: number | null;
      sharedCents?: number | null;
      sharedOnly?: boolean;
      /** A bid read from several in one answer (response.ping.bids): its own id, which its post names. */
      bidId?: string | null;
      /**
       * Every bid of an answer that held several (response.ping.bids), best first; the answer's
       * own price, shared price and id are the first one's.
       */
      offers?: Offer[];
      /** Bids of the answer past response.ping.bids.max, dropped: only its best are in `offers`. */
      offersDropped?: number;
      /** The answer's named captures (response.ping.capture), for its post: a capture that found nothing is null. */
      captures?: Record<string, string | null>;
    }
  | { outcome: "no_bid" | "timeout" | "error" | "invalid_response"; priceCents: null; pingRef: null; reason: ReasonText<PingCode> };

/** One bid of several in a ping answer (response.ping.bids). */
export interface Offer {
  priceCents: number;
  sharedCents?: number | null;
  sharedOnly?: boolean;
  bidId: string | null;
  expiresAt?: number | null;
}

/**
 * What a ping came to for the auction: the answer, or, for a bid under the floor, `below_floor` with
 * the price bid. The readers here never decide that; the auction does (src/auction/floors.ts).
 */
export type PingOutcome = PingAnswer | { outcome: "below_floor"; priceCents: number; pingRef: null; reason: ReasonText<"below_floor"> };

export type PostOutcome =
  /** `reason`: `accepted: <the buyer's message>`, or null without one. */
  | { outcome: "accepted"; priceCents: number; reason: ReasonText<"accepted"> | null; redirectUrl: string | null }
  | { outcome: "rejected" | "error"; priceCents: null; reason: ReasonText<PostCode>; redirectUrl: null }
  /** The buyer may or may not have taken the lead: a timeout after sending, a cut connection, an unreadable 2xx. */
  | { outcome: "unknown" | "invalid_response"; priceCents: null; reason: ReasonText<PostCode>; redirectUrl: null };

const MAX_REASON = 200;

/** The start of a buyer's body, on one line, for a reason in the trace. */
export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}

/** What a buyer said (a no-bid's or a post answer's message), as the detail of a reason: at most 200 characters. */
export function buyerWords(value: unknown): string | null {
  if (value === undefined || value === null || value === "") return null;
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return s.slice(0, MAX_REASON);
}

/**
 * Buyer prices arrive as JSON numbers or numeric strings; anything else is not a price, and
 * neither is one past MAX_LEAD_PRICE (no lead is worth it, and its cents would not fit the lead's row).
 */
export function parsePrice(value: unknown): number | undefined {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > MAX_LEAD_PRICE) return undefined;
  return Math.round(n * 100);
}

export interface PingInput {
  pingId: string;
  leadId: string;
  campaign: string;
  test: boolean;
  publicData: Record<string, unknown>;
  /**
   * `publicData` as JSON, when the caller serialised it once for the lead's every ping: the same
   * bytes JSON.stringify would write inside the body, without writing them again per channel.
   */
  publicJson?: string;
  /** When the lead arrived (epoch ms), for `{{received_at}}`; absent: now. */
  receivedAt?: number;
  /** The pii fields whose hash a ping template may send (campaign fields with `ping_hash`). */
  hashable?: Record<string, unknown>;
  /** An inbound ping's `contact_hashes` of those fields (SHA-256 of each normalised value), sent in place of the values. */
  contactHashes?: Record<string, string>;
}

export function buildPing(channel: Channel, headers: Record<string, string>, input: PingInput, timeoutMs: number, maxBodyBytes: number): BuyerRequest {
  return {
    url: channel.ping!.url,
    method: "POST",
    headers: input.test ? { ...headers, "x-gavel-test": "1" } : headers,
    // The same bytes as JSON.stringify of the whole object, with the data written once per lead.
    body: `{"ping_id":${JSON.stringify(input.pingId)},"lead_id":${JSON.stringify(input.leadId)},"campaign":${JSON.stringify(input.campaign)},"test":${input.test},"data":${input.publicJson ?? JSON.stringify(input.publicData)}}`,
    timeoutMs,
    maxBodyBytes,
  };
}

export interface PostInput {
  leadId: string;
  channelId: string;
  /** The id of the ping that won the bid (null for a direct post); templates may send it. */
  pingId?: string | null;
  pingRef: string | null;
  campaign: string;
  test: boolean;
  priceCents: number;
  data: Record<string, unknown>;
  /** When the lead arrived (epoch ms), for `{{received_at}}`; absent: now. */
  receivedAt?: number;
  /** A shared sale (one of several buyers of the lead) says so: `"sale": "shared"` in the native post. */
  sale?: "shared";
  /** The bid posted, when its ping answer held several (`{{bid.id}}`; `bid_id` in the native post). */
  bidId?: string | null;
  /** The ping answer's named captures (`{{ping.<name>}}`). */
  captures?: Record<string, string | null>;
}

/** What a post's templates may name of the lead and its sale (a webhook's body and URL, an email's subject and text). */
export function postTemplateVars(input: PostInput): TemplateVars {
  return {
    lead_id: input.leadId,
    ping_id: input.pingId ?? null,
    campaign: input.campaign,
    test: input.test,
    data: input.data,
    ping_ref: input.pingRef,
    price: input.priceCents / 100,
    sale: input.sale ?? "exclusive",
    bid: { id: input.bidId ?? null },
    ping: input.captures ?? {},
    received_at: new Date(input.receivedAt ?? Date.now()).toISOString(),
    now: new Date().toISOString(),
  };
}

/**
 * Stable for (lead, channel, kind of sale, bid): a retried or repeated post is recognisably the
 * same sale, a shared sale (`:shared`) is never taken for the exclusive one a `best` campaign
 * offered the same channel first and was refused, and the post of a buyer's next bid of several
 * (`#<bid id>`) never for the post of the bid it refused.
 */
export const postIdempotencyKey = (leadId: string, channelId: string, sale?: "shared", bidId?: string | null) =>
  `${leadId}:${channelId}${sale ? `:${sale}` : ""}${bidId != null ? `#${bidId}` : ""}`;

export function buildPost(channel: Channel, headers: Record<string, string>, input: PostInput, timeoutMs: number, maxBodyBytes: number): BuyerRequest {
  const withKey: Record<string, string> = { ...headers, "idempotency-key": postIdempotencyKey(input.leadId, input.channelId, input.sale, input.bidId) };
  if (input.test) withKey["x-gavel-test"] = "1";
  return {
    url: channel.post!.url,
    method: "POST",
    headers: withKey,
    body: JSON.stringify({
      lead_id: input.leadId,
      ping_ref: input.pingRef,
      campaign: input.campaign,
      test: input.test,
      price: input.priceCents / 100,
      ...(input.sale && { sale: input.sale }),
      ...(input.bidId != null && { bid_id: input.bidId }),
      data: input.data,
    }),
    timeoutMs,
    maxBodyBytes,
    retryConnectFailure: true,
  };
}

function parseJson(body: string): { ok: true; value: unknown } | { ok: false } {
  try {
    const value: unknown = JSON.parse(body);
    // Too deep to read safely (a bad bid's detail is its JSON): unreadable, as garbage is.
    return nestsDeeperThan(value, MAX_ANSWER_DEPTH) ? { ok: false } : { ok: true, value };
  } catch {
    return { ok: false };
  }
}

/** A ping timeout that was Gavel's own doing (its event loop stalled): no mark against the buyer's health. */
export const GAVEL_STALLED = "gavel_stalled" satisfies PingCode;
/**
 * A ping that never reached its socket before the deadline (still connecting, or waiting for a free
 * connection): the buyer never saw it. It counts against the buyer's health unless Gavel was
 * overloaded then, when the wait was most likely Gavel's own queue.
 */
export const PING_NOT_SENT = "ping_not_sent" satisfies PingCode;
/** A post that never reached its socket before the deadline: the buyer never saw it. */
export const POST_NOT_SENT = "post_not_sent" satisfies PostCode;

export const noBid = (outcome: Exclude<PingAnswer["outcome"], "bid">, reason: ReasonText<PingCode>): PingAnswer => ({
  outcome,
  priceCents: null,
  pingRef: null,
  reason,
});

/** What a ping answer means before its body is read: a transport fault, HTTP 204 or a non-2xx. */
export function pingFault(response: BuyerResponse): PingAnswer | null {
  switch (response.kind) {
    case "timeout":
      return noBid("timeout", response.stalled ? GAVEL_STALLED : response.sent ? "ping_timeout" : PING_NOT_SENT);
    case "too_large":
      return noBid("error", "body_too_large");
    case "connection_error":
      if (response.code === INVALID_REQUEST) return noBid("error", reasonText("invalid_request", response.detail));
      return noBid("error", reasonText("connection", response.code));
  }
  if (response.status === 204) return noBid("no_bid", "no_bid");
  if (response.status < 200 || response.status >= 300) return noBid("error", reasonText("http_error", response.status));
  return null;
}

// --- reading an answer: shared by the native protocol (below) and response rules (./rules.ts) ---

/**
 * An answer's shared price next to its bid (`shared_bid`): a bid with it, a bid of the shared price
 * alone when there was no exclusive one, or an invalid answer when it is not a price. A shared price
 * of 0 is no shared offer.
 */
export function withSharedBid(answer: PingAnswer, value: unknown, pingRef: string | null, expiresAt?: number | null): PingAnswer {
  if (value === undefined || value === null || value === "") return answer;
  const cents = parsePrice(value);
  if (cents === undefined) return noBid("invalid_response", reasonText("bad_bid", excerpt(JSON.stringify(value))));
  if (answer.outcome === "bid") return cents === 0 ? answer : { ...answer, sharedCents: cents };
  if (cents === 0 || answer.outcome !== "no_bid") return answer;
  return { outcome: "bid", priceCents: cents, pingRef, reason: null, ...(expiresAt !== undefined && { expiresAt }), sharedCents: cents, sharedOnly: true };
}

/** A bid at `cents`, good until `expiresAt` when the buyer said. */
export function bidAt(cents: number, pingRef: string | null, expiresAt?: number | null): PingAnswer {
  return { outcome: "bid", priceCents: cents, pingRef, reason: null, ...(expiresAt !== undefined && { expiresAt }) };
}

/**
 * A bid value an answer gave (absent and null are no bid, and the caller has said so): a price past
 * zero is a bid; zero is no bid; anything else is not a price, an invalid answer.
 */
export function readBid(value: unknown, message: string | null, pingRef: string | null, expiresAt?: number | null): PingAnswer {
  const cents = parsePrice(value);
  if (cents === undefined) return noBid("invalid_response", reasonText("bad_bid", excerpt(JSON.stringify(value))));
  if (cents === 0) return noBid("no_bid", reasonText("no_bid", message));
  return bidAt(cents, pingRef, expiresAt);
}

/**
 * An accepted post: the sale is at the price the buyer answered (its final word) when that is a
 * price, capped at the bid; without one, at the bid.
 */
export function acceptedAt(price: unknown, bidCents: number, message: string | null, redirectUrl: string | null): PostOutcome {
  const answered = parsePrice(price);
  const reason = message === null ? null : reasonText("accepted", message);
  return { outcome: "accepted", priceCents: answered === undefined ? bidCents : Math.min(answered, bidCents), reason, redirectUrl };
}

/** A 2xx post answer that says neither yes nor no: like a timeout, the sale's fate is unknown. */
export const unreadable = (reason: ReasonText<PostCode>): PostOutcome => ({ outcome: "invalid_response", priceCents: null, reason, redirectUrl: null });

/** Reads a native ping answer. Whether a bid clears the floor is the auction's to say (src/auction/floors.ts). */
export function readPingResponse(response: BuyerResponse): PingAnswer {
  const fault = pingFault(response);
  if (fault) return fault;
  if (response.kind !== "response") throw new Error("unreachable");
  const parsed = parseJson(response.body);
  if (!parsed.ok || !parsed.value || typeof parsed.value !== "object" || Array.isArray(parsed.value))
    return noBid("invalid_response", reasonText("unparseable_body", excerpt(response.body)));
  const body = parsed.value as Record<string, unknown>;
  const message = buyerWords(body.reason ?? body.message);
  const ref = body.ping_ref ?? body.ping_id;
  const pingRef = ref === undefined || ref === null ? null : String(ref);
  const answer = body.bid === undefined || body.bid === null ? noBid("no_bid", reasonText("no_bid", message)) : readBid(body.bid, message, pingRef);
  // Only a bid or a plain no-bid can carry a shared price: an unreadable bid stays unreadable.
  return body.shared_bid === undefined || answer.outcome === "invalid_response" ? answer : withSharedBid(answer, body.shared_bid, pingRef);
}

const unknown = (reason: ReasonText<PostCode>): PostOutcome => ({ outcome: "unknown", priceCents: null, reason, redirectUrl: null });
export const refused = (outcome: "rejected" | "error", reason: ReasonText<PostCode>): PostOutcome => ({ outcome, priceCents: null, reason, redirectUrl: null });
/** The buyer said no: `rejected`, with its message as the detail. */
export const rejection = (message: string | null): PostOutcome => refused("rejected", reasonText("rejected", message));

/**
 * What a post answer means before its status and body are read. A timeout after sending, a cut
 * connection or an oversized 2xx may mean the buyer took the lead: its outcome is unknown.
 */
export function postFault(response: BuyerResponse): PostOutcome | null {
  switch (response.kind) {
    case "timeout":
      // A post that never left Gavel cannot have sold: safe to offer the lead to the next bid.
      return response.sent ? unknown("post_timeout") : refused("error", POST_NOT_SENT);
    case "connection_error":
      if (response.code === INVALID_REQUEST) return refused("error", reasonText("invalid_request", response.detail));
      return response.sent ? unknown(reasonText("connection_lost", response.code)) : refused("error", reasonText("connection", response.code));
    case "too_large":
      return response.status >= 200 && response.status < 300 ? unknown("body_too_large") : refused("error", "body_too_large");
  }
  return null;
}

/**
 * Reads a native post answer. An acceptance without `price` sells at the bid; a lower price is the
 * buyer's final word; a higher one is capped at the bid.
 */
export function readPostResponse(response: BuyerResponse, bidCents: number): PostOutcome {
  const fault = postFault(response);
  if (fault) return fault;
  if (response.kind !== "response") throw new Error("unreachable");
  if (response.status < 200 || response.status >= 300) return refused("error", reasonText("http_error", response.status));
  const parsed = parseJson(response.body);
  const body = parsed.ok && parsed.value && typeof parsed.value === "object" ? (parsed.value as Record<string, unknown>) : null;
  if (!body || typeof body.accepted !== "boolean") return unreadable(reasonText("unparseable_body", excerpt(response.body)));
  const message = buyerWords(body.reason ?? body.message);
  if (!body.accepted) return rejection(message);
  return acceptedAt(body.price, bidCents, message, typeof body.redirect_url === "string" ? body.redirect_url : null);
}
