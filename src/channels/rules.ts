// Response rules (SPEC.md "Channel configuration" → `response`): how a buyer's own answer becomes a
// bid, a no-bid, an acceptance or a reject. A rule reads one value from the answer:
//
//   "$.Result.Price"                       JSONPath over the parsed body (JSON, XML or form)
//   { "path": "$.price" }                  the same, spelled out
//   { "regex": "price=([0-9.]+)" }         the raw text; capture group 1, or the whole match
//
// and a condition decides yes or no:
//
//   "$.accepted"                           a yes/no value (true, "yes", "1" …)
//   { "path": "$.status", "equals": "ok" } also "in": [...], "matches": "regex", "exists": true|false
//   { "regex": "^ACCEPTED" }               the raw text matches
//   { "status": [200, 201] }               the HTTP status is one of these
//
// An answer may hold several bids (`bids`: a path selecting each, and rules read inside each one,
// `$` being the bid), and named captures (`capture`: values the post sends back, `{{ping.<name>}}`).
//
// Rules are checked when a channel is saved (src/channels/config.ts) and compiled once per channel;
// reading an answer evaluates them and keeps a trace of each, which the test console shows verbatim.
import { JSONPath } from "jsonpath-plus";
import { DEFAULT_BIDS_PER_ANSWER, MAX_CAPTURE_CHARS, type BidsRule, type Condition, type PingRules, type PostRules, type ValueRule } from "./config";
import { parseBody, responseFormat, type Parsed, type ResponseFormat } from "./formats";
import { literalAttributes } from "./jsonpath";
import { reasonText, type ReasonText } from "../reasons";
import {
  acceptedAt,
  bidAt,
  withSharedBid,
  buyerWords,
  excerpt,
  noBid,
  parsePrice,
  pingFault,
  postFault,
  readBid,
  readPingResponse,
  refused,
  rejection,
  unreadable,
  type Offer,
  type PingAnswer,
  type PostOutcome,
} from "./native";
import type { BuyerResponse } from "./transport";

type Scalar = string | number | boolean;

/** What one rule found in one answer, for the lead's reason and the test console. */
export interface RuleTrace {
  rule: string;
  spec: unknown;
  matched: boolean;
  value?: unknown;
  holds?: boolean;
  error?: string;
}

/** One buyer answer, parsed at most once and only if a path rule asks. */
interface Answer {
  status: number;
  text: string;
  tree(): Parsed;
}

function answerOf(response: { status: number; contentType: string; body: string }, format?: ResponseFormat): Answer {
  let parsed: Parsed | undefined;
  return {
    status: response.status,
    text: response.body,
    tree: () => (parsed ??= parseBody(responseFormat(response.contentType, response.body, format), response.body)),
  };
}

// --- compiling and evaluating ------------------------------------------------------------------

type Found = { found: boolean; value?: unknown; error?: string };
type Extract = (answer: Answer) => Found;
type Decision = { decided: boolean; holds: boolean; value?: unknown; error?: string };
type Decide = (answer: Answer) => Decision;

/** XML elements with attributes read as `{ "#text": "12.50", "@_currency": "USD" }`: a value means the text. */
function scalarOf(value: unknown): unknown {
  if (value && typeof value === "object" && !Array.isArray(value) && "#text" in value) return (value as Record<string, unknown>)["#text"];
  return value;
}

function compilePath(source: string): Extract {
  const path = literalAttributes(source);
  return (answer) => {
    const tree = answer.tree();
    if (!tree.ok) return { found: false, error: tree.error };
    let hits: unknown[];
    try {
      hits = JSONPath({ path, json: tree.value as object, wrap: true, eval: "safe" }) as unknown[];
    } catch (error) {
      return { found: false, error: (error as Error).message };
    }
    return hits.length ? { found: true, value: scalarOf(hits[0]) } : { found: false };
  };
}

function compileRegex(source: string, flags = ""): Extract {
  const re = new RegExp(source, flags);
  return (answer) => {
    const m = re.exec(answer.text);
    return m ? { found: true, value: m[1] ?? m[0] } : { found: false };
  };
}

export function compileValueRule(rule: ValueRule): Extract {
  if (typeof rule === "string") return compilePath(rule);
  if ("path" in rule) return compilePath(rule.path);
  return compileRegex(rule.regex, rule.flags);
}

const TRUE_WORDS = new Set(["true", "yes", "y", "1", "on"]);
const yes = (v: unknown) => v === true || v === 1 || (typeof v === "string" && TRUE_WORDS.has(v.trim().toLowerCase()));

/** Buyers' answers are text as often as JSON: values compare as text, ignoring case. */
const sameText = (a: unknown, b: Scalar) => a !== null && a !== undefined && typeof a !== "object" && String(a).toLowerCase() === String(b).toLowerCase();

export function compileCondition(rule: Condition): Decide {
  if (typeof rule === "string") {
    const read = compilePath(rule);
    return (answer) => {
      const r = read(answer);
      return r.found ? { decided: true, holds: yes(r.value), value: r.value } : { decided: false, holds: false, error: r.error };
    };
  }
  if ("status" in rule) {
    const codes = new Set(rule.status);
    return (answer) => ({ decided: true, holds: codes.has(answer.status), value: answer.status });
  }
  if ("regex" in rule) {
    const re = new RegExp(rule.regex, rule.flags);
    return (answer) => {
      const m = re.exec(answer.text);
      return { decided: true, holds: m !== null, value: m ? m[0] : null };
    };
  }
  const read = compilePath(rule.path);
  const { equals, matches, exists } = rule;
  const inList = rule.in;
  const pattern = matches === undefined ? undefined : new RegExp(matches);
  const test = (v: unknown): boolean => {
    if (equals !== undefined) return sameText(v, equals);
    if (inList !== undefined) return inList.some((x) => sameText(v, x));
    if (pattern) return v !== null && v !== undefined && pattern.test(String(v));
    return yes(v);
  };
  return (answer) => {
    const r = read(answer);
    if (exists !== undefined) return { decided: true, holds: r.found === exists, value: r.value };
    if (!r.found) return { decided: false, holds: false, error: r.error };
    return { decided: true, holds: test(r.value), value: r.value };
  };
}

// --- reading a ping answer ---------------------------------------------------------------------

/** One element of an answer (a bid of several), read as an answer of its own: `$` is the element. */
const elementAnswer = (answer: Answer, value: unknown): Answer => ({ status: answer.status, text: jsonOf(value) ?? "", tree: () => ({ ok: true, value }) });

/** A value as text for a template (a capture, a bid id): scalars as written, anything else as JSON. */
const textOf = (value: unknown): string | null =>
  value === undefined || value === null ? null : typeof value === "object" ? jsonOf(value) : String(value);

/**
 * A part of a buyer's answer as JSON, or null when it cannot be written. parseBody already refuses
 * an answer nested past MAX_ANSWER_DEPTH; this keeps a stack overflow out of the auction regardless.
 */
function jsonOf(value: unknown): string | null {
  try {
    return JSON.stringify(value) ?? null;
  } catch {
    return null;
  }
}

/**
 * The bids of an answer that holds several: each element `path` selects, read by the element rules.
 * An element without a price past zero is no bid; one whose price is not a price is left out (its
 * trace says why). Best first: by its price, or its shared price when it has only that.
 *
 * An answer keeps its best `max` bids (default 10) and drops the others: a buyer answering
 * thousands of bids would otherwise have them all ranked, posted and kept with the lead. Only the
 * kept bids' rules are traced (and at most `max` elements that were no bid), with one line saying
 * how many were dropped.
 */
function compileBids(spec: BidsRule): (answer: Answer, t: ReturnType<typeof tracer>) => { offers: Offer[]; bad: unknown[]; dropped: number } {
  const path = literalAttributes(spec.path);
  const bid = compileValueRule(spec.bid);
  const id = spec.id === undefined ? undefined : compileValueRule(spec.id);
  const sharedBid = spec.shared_bid === undefined ? undefined : compileValueRule(spec.shared_bid);
  const shared = spec.shared === undefined ? undefined : compileCondition(spec.shared);
  const expiresAt = spec.expires_at === undefined ? undefined : compileValueRule(spec.expires_at);
  const max = spec.max ?? DEFAULT_BIDS_PER_ANSWER;
  return (answer, t) => {
    const tree = answer.tree();
    let elements: unknown[] = [];
    if (tree.ok)
      try {
        elements = (JSONPath({ path, json: tree.value as object, wrap: true, eval: "safe" }) as unknown[]).flatMap((e) => e);
      } catch (error) {
        t.value("bids", spec.path, { found: false, error: (error as Error).message });
        return { offers: [], bad: [], dropped: 0 };
      }
    t.value("bids", spec.path, tree.ok ? { found: elements.length > 0, value: elements.length } : { found: false, error: tree.error });
    const given = (f: Found) => f.found && f.value !== null && f.value !== undefined && f.value !== "";
    // First every element's prices (what choosing the best needs), traced later for those kept.
    type Read = { i: number; one: Answer; price: Found; second: Found; leg?: Decision; offer?: Offer };
    const read: Read[] = [];
    const bad: unknown[] = [];
    elements.forEach((element, i) => {
      const one = elementAnswer(answer, element);
      const price = bid(one);
      const second = sharedBid ? sharedBid(one) : { found: false };
      const leg = shared ? shared(one) : undefined;
      const cents = given(price) ? parsePrice(price.value) : 0;
      const sharedCents = given(second) ? parsePrice(second.value) : 0;
      const r: Read = { i, one, price, second, leg };
      read.push(r);
      if (cents === undefined || sharedCents === undefined) return void bad.push(given(price) ? price.value : second.value);
      // A shared leg: its price is a shared price.
      if (leg?.holds) {
        if (cents > 0) r.offer = { bidId: null, priceCents: cents, sharedCents: cents, sharedOnly: true };
      } else if (cents > 0) r.offer = { bidId: null, priceCents: cents, ...(sharedCents > 0 && { sharedCents }) };
      else if (sharedCents > 0) r.offer = { bidId: null, priceCents: sharedCents, sharedCents, sharedOnly: true };
    });
    // The best `max` by price (a stable sort: of equal prices, the buyer's first).
    const bids = read.filter((r) => r.offer).sort((a, b) => b.offer!.priceCents - a.offer!.priceCents);
    const kept = new Set(bids.slice(0, max));
    const dropped = bids.length - kept.size;
    let noBids = 0;
    const traced = read.filter((r) => kept.has(r) || (!r.offer && noBids++ < max));
    for (const r of traced) {
      const name = (rule: string) => `bids[${r.i}].${rule}`;
      t.value(name("bid"), spec.bid, r.price);
      const ref = id ? t.value(name("id"), spec.id, id(r.one)) : { found: false };
      if (sharedBid) t.value(name("shared_bid"), spec.shared_bid, r.second);
      if (shared) t.condition(name("shared"), spec.shared, r.leg!);
      const exp = expiresAt ? t.value(name("expires_at"), spec.expires_at, expiresAt(r.one)) : { found: false };
      if (!r.offer) continue;
      r.offer.bidId = ref.found ? textOf(ref.value) : null;
      if (exp.found) r.offer.expiresAt = expiryOf(exp.value) ?? null;
    }
    if (dropped > 0) t.value("bids.max", max, { found: true, value: `kept the best ${kept.size} of ${bids.length} bids, dropped ${dropped}` });
    return { offers: bids.slice(0, max).map((r) => r.offer!), bad, dropped };
  };
}

/** An expiry is an ISO date-time or a Unix time (seconds, or milliseconds when that large). */
function expiryOf(value: unknown): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const n = typeof value === "number" ? value : /^\d+(\.\d+)?$/.test(String(value).trim()) ? Number(value) : NaN;
  if (Number.isFinite(n)) return n > 1e12 ? n : n * 1000;
  const t = Date.parse(String(value));
  return Number.isFinite(t) ? t : undefined;
}

export interface ReadResult<T> {
  outcome: T;
  /** Every configured rule and what it found; empty for a transport fault (nothing was read). */
  rules: RuleTrace[];
}

/** `nowMs` (wall clock) turns a `ttl_seconds` answer into an expiry. Floors are the auction's (src/auction/floors.ts). */
export type PingReader = (response: BuyerResponse, nowMs: number) => ReadResult<PingAnswer>;
export type PostReader = (response: BuyerResponse, bidCents: number) => ReadResult<PostOutcome>;

const notReadable = (answer: Answer): ReasonText<"no_rule_matched" | "unparseable_body"> =>
  reasonText(answer.tree().ok ? "no_rule_matched" : "unparseable_body", excerpt(answer.text));

function tracer(rules: RuleTrace[]) {
  return {
    value(name: string, spec: unknown, found: Found): Found {
      rules.push({ rule: name, spec, matched: found.found, ...(found.found && { value: found.value }), ...(found.error && { error: found.error }) });
      return found;
    },
    condition(name: string, spec: unknown, d: Decision): Decision {
      rules.push({
        rule: name,
        spec,
        matched: d.decided,
        ...(d.decided && { holds: d.holds }),
        ...(d.value !== undefined && { value: d.value }),
        ...(d.error && { error: d.error }),
      });
      return d;
    },
  };
}

/**
 * A ping answer read by rules. The bid comes from `bid`, or, for a buyer that only says yes or no,
 * from the channel's fixed price when `accepted` holds. An answer in which no rule finds anything
 * is `invalid_response` with an excerpt of the body.
 */
export function compilePingReader(spec: PingRules, fixedPriceCents: number | null, sharedFixedPriceCents: number | null = null): PingReader {
  const bid = spec.bid === undefined ? undefined : compileValueRule(spec.bid);
  const sharedBid = spec.shared_bid === undefined ? undefined : compileValueRule(spec.shared_bid);
  const accepted = spec.accepted === undefined ? undefined : compileCondition(spec.accepted);
  const noBidRule = spec.no_bid === undefined ? undefined : compileCondition(spec.no_bid);
  const pingRef = spec.ping_ref === undefined ? undefined : compileValueRule(spec.ping_ref);
  const reasonRule = spec.reason === undefined ? undefined : compileValueRule(spec.reason);
  const expiresAt = spec.expires_at === undefined ? undefined : compileValueRule(spec.expires_at);
  const ttl = spec.ttl_seconds === undefined ? undefined : compileValueRule(spec.ttl_seconds);
  const bids = spec.bids === undefined ? undefined : compileBids(spec.bids);
  const captures = Object.entries(spec.capture ?? {}).map(([name, rule]) => [name, rule, compileValueRule(rule)] as const);
  const none: Found = { found: false };

  return (response, nowMs) => {
    // "No buyer" by the buyer's own rule, whatever the status it came with (a 404 is an answer,
    // not a fault): a no-bid, never a mark against the channel's health.
    if (response.kind !== "response") return { outcome: pingFault(response)!, rules: [] };
    const answer = answerOf(response, spec.format);
    const rules: RuleTrace[] = [];
    const t = tracer(rules);
    if (noBidRule && t.condition("no_bid", spec.no_bid, noBidRule(answer)).holds) {
      const why = reasonRule ? t.value("reason", spec.reason, reasonRule(answer)) : none;
      return { outcome: noBid("no_bid", reasonText("no_bid_rule", buyerWords(why.value) ?? `HTTP ${response.status}`)), rules };
    }
    const fault = pingFault(response);
    if (fault) return { outcome: fault, rules };
    const acc = accepted && t.condition("accepted", spec.accepted, accepted(answer));
    const price = bid ? t.value("bid", spec.bid, bid(answer)) : none;
    const shared = sharedBid ? t.value("shared_bid", spec.shared_bid, sharedBid(answer)) : none;
    const ref = pingRef ? t.value("ping_ref", spec.ping_ref, pingRef(answer)) : none;
    const why = reasonRule ? t.value("reason", spec.reason, reasonRule(answer)) : none;
    const exp = expiresAt ? t.value("expires_at", spec.expires_at, expiresAt(answer)) : none;
    const life = ttl ? t.value("ttl_seconds", spec.ttl_seconds, ttl(answer)) : none;
    const captured: Record<string, string | null> = {};
    for (const [name, rule, read] of captures) {
      // A capture travels with every bid of the answer to its post, and is kept with an inbound
      // ping: one too long to be a buyer's reference is treated as missing.
      const found = read(answer);
      const text = found.found ? textOf(found.value) : null;
      const tooLong = text !== null && text.length > MAX_CAPTURE_CHARS;
      t.value(`capture.${name}`, rule, tooLong ? { found: false, error: `longer than ${MAX_CAPTURE_CHARS} characters (${text.length}): treated as missing` } : found);
      captured[name] = tooLong ? null : text;
    }
    const withCaptures = (a: PingAnswer): PingAnswer => (a.outcome === "bid" && captures.length ? { ...a, captures: captured } : a);
    const message = buyerWords(why.value);
    const declined = reasonText("no_bid", message);

    if (acc?.decided && !acc.holds) return { outcome: noBid("no_bid", declined), rules };
    const refText = ref.found && ref.value !== null && ref.value !== undefined ? String(ref.value) : null;
    const ttlSeconds = life.found ? Number(life.value) : NaN;
    const expiry = (exp.found ? expiryOf(exp.value) : Number.isFinite(ttlSeconds) ? nowMs + ttlSeconds * 1000 : undefined) ?? null;
    if (bids) {
      const { offers, bad, dropped } = bids(answer, t);
      if (offers.length) {
        // The answer's price, shared price, id and expiry are its best bid's; every bid is in `offers`
        // (a bid without an expiry of its own has the answer's).
        const all = offers.map((o) => (o.expiresAt === undefined ? { ...o, expiresAt: expiry } : o));
        const { bidId, priceCents, sharedCents, sharedOnly, expiresAt } = all[0];
        const best: PingAnswer = { outcome: "bid", priceCents, pingRef: refText, reason: null, expiresAt, bidId, offers: all, ...(dropped > 0 && { offersDropped: dropped }) };
        if (sharedCents != null) Object.assign(best, { sharedCents }, sharedOnly && { sharedOnly });
        return { outcome: withCaptures(best), rules };
      }
      if (bad.length) return { outcome: noBid("invalid_response", reasonText("bad_bid", excerpt(jsonOf(bad[0]) ?? ""))), rules };
      // No bid in a readable answer (an empty list, prices of 0) is the buyer's no, as an absent bid is.
      return { outcome: answer.tree().ok ? noBid("no_bid", declined) : noBid("invalid_response", notReadable(answer)), rules };
    }
    if (price.found || shared.found) {
      // An empty element or form field says no more than an absent one: no bid.
      const exclusive =
        !price.found || price.value === null || price.value === undefined || price.value === ""
          ? noBid("no_bid", declined)
          : readBid(price.value, message, refText, expiry);
      if (!shared.found || exclusive.outcome === "invalid_response") return { outcome: withCaptures(exclusive), rules };
      return { outcome: withCaptures(withSharedBid(exclusive, shared.value, refText, expiry)), rules };
    }
    if (acc?.holds && (fixedPriceCents !== null || sharedFixedPriceCents !== null)) {
      // A yes sells at the channel's fixed prices: its exclusive one, its shared one, or both.
      const yes = withCaptures(bidAt(fixedPriceCents ?? sharedFixedPriceCents!, refText, expiry));
      if (sharedFixedPriceCents === null) return { outcome: yes, rules };
      return { outcome: { ...yes, sharedCents: sharedFixedPriceCents, sharedOnly: fixedPriceCents === null } as PingAnswer, rules };
    }
    if (acc?.holds) return { outcome: noBid("invalid_response", reasonText("no_price", excerpt(answer.text))), rules };
    const anything = acc?.decided || shared.found || ref.found || why.found || exp.found || life.found;
    return { outcome: anything ? noBid("no_bid", declined) : noBid("invalid_response", notReadable(answer)), rules };
  };
}

/**
 * A channel that speaks the native protocol but says "no buyer" its own way (`response.ping` with
 * `no_bid` and no `bid` or `accepted`): the rule is read first, and the native reader reads the rest.
 */
export function compileNativePingWithNoBid(spec: PingRules, shared: boolean): PingReader {
  const noBidRule = compileCondition(spec.no_bid!);
  const reasonRule = spec.reason === undefined ? undefined : compileValueRule(spec.reason);
  return (response) => {
    if (response.kind === "response") {
      const answer = answerOf(response, spec.format);
      const rules: RuleTrace[] = [];
      const t = tracer(rules);
      if (t.condition("no_bid", spec.no_bid, noBidRule(answer)).holds) {
        const why = reasonRule ? t.value("reason", spec.reason, reasonRule(answer)) : { found: false };
        return { outcome: noBid("no_bid", reasonText("no_bid_rule", buyerWords(why.value) ?? `HTTP ${response.status}`)), rules };
      }
      return { outcome: readPingResponse(response), rules: [...rules, ...traceRules(response, shared ? NATIVE_SHARED_PING_RULES : NATIVE_PING_RULES)] };
    }
    return { outcome: readPingResponse(response), rules: [] };
  };
}

// --- reading a post answer ---------------------------------------------------------------------

/**
 * A post answer read by rules. `accepted` holding sells; `rejected` holding (or, without a
 * `rejected` rule, `accepted` found and false) is a reject; anything else is `invalid_response`,
 * which like a timeout leaves the sale's fate unknown.
 */
export function compilePostReader(spec: PostRules): PostReader {
  const accepted = compileCondition(spec.accepted);
  const rejected = spec.rejected === undefined ? undefined : compileCondition(spec.rejected);
  const priceRule = spec.price === undefined ? undefined : compileValueRule(spec.price);
  const reasonRule = spec.reason === undefined ? undefined : compileValueRule(spec.reason);
  const redirectRule = spec.redirect_url === undefined ? undefined : compileValueRule(spec.redirect_url);
  const rejectsByStatus = spec.rejected !== undefined && typeof spec.rejected === "object" && "status" in spec.rejected;

  return (response, bidCents) => {
    const fault = postFault(response);
    if (fault || response.kind !== "response") return { outcome: fault!, rules: [] };
    const answer = answerOf(response, spec.format);
    const rules: RuleTrace[] = [];
    const t = tracer(rules);
    const is2xx = response.status >= 200 && response.status < 300;
    // A buyer may say "duplicate" with a 409: a status rule for rejects reads non-2xx answers too.
    if (!is2xx) {
      if (rejectsByStatus && t.condition("rejected", spec.rejected, rejected!(answer)).holds) return { outcome: rejection(`HTTP ${response.status}`), rules };
      return { outcome: refused("error", reasonText("http_error", response.status)), rules };
    }
    const acc = t.condition("accepted", spec.accepted, accepted(answer));
    const why = reasonRule ? t.value("reason", spec.reason, reasonRule(answer)) : { found: false };
    const message = buyerWords(why.value);
    if (acc.holds) {
      const answered = priceRule ? t.value("price", spec.price, priceRule(answer)) : { found: false };
      const redirect = redirectRule ? t.value("redirect_url", spec.redirect_url, redirectRule(answer)) : { found: false };
      const url = redirect.found && typeof redirect.value === "string" && redirect.value !== "" ? redirect.value : null;
      return { outcome: acceptedAt(answered.found ? answered.value : undefined, bidCents, message, url), rules };
    }
    if (rejected) {
      const rej = t.condition("rejected", spec.rejected, rejected(answer));
      if (rej.holds) return { outcome: rejection(message), rules };
    } else if (acc.decided) {
      return { outcome: rejection(message), rules };
    }
    return { outcome: unreadable(notReadable(answer)), rules };
  };
}

/** The native protocol's answers, spelled as rules: what the test console shows for a channel without its own. */
export const NATIVE_PING_RULES: PingRules = { format: "json", bid: "$.bid", ping_ref: "$.ping_ref", reason: "$.reason" };
/** The same for a channel that buys shared sales, whose answer may carry `shared_bid` too. */
export const NATIVE_SHARED_PING_RULES: PingRules = { format: "json", bid: "$.bid", shared_bid: "$.shared_bid", ping_ref: "$.ping_ref", reason: "$.reason" };
export const NATIVE_POST_RULES: PostRules = { format: "json", accepted: "$.accepted", price: "$.price", reason: "$.reason", redirect_url: "$.redirect_url" };

/** Evaluates rules against an answer only to show what each finds (the native reader decides the outcome). */
export function traceRules(response: BuyerResponse, spec: PingRules | PostRules): RuleTrace[] {
  if (response.kind !== "response") return [];
  const answer = answerOf(response, spec.format);
  const rules: RuleTrace[] = [];
  const t = tracer(rules);
  for (const [name, rule] of Object.entries(spec)) {
    if (name === "format" || rule === undefined) continue;
    if (name === "accepted" || name === "rejected" || name === "no_bid") t.condition(name, rule, compileCondition(rule as Condition)(answer));
    else t.value(name, rule, compileValueRule(rule as ValueRule)(answer));
  }
  return rules;
}
