// The channel test console's exchange with a buyer: one real ping (and optionally a post) marked as
// a test, built and read exactly as an auction would, shown to the operator as the request that left
// (secrets masked), the raw answer, what every response rule found and the timings. Nothing is
// recorded here: the caller (src/auction/console.ts) finds the channel and judges a bid against its
// floor as an auction would, and this module only talks to the buyer and reports what happened.
import { fromCents } from "../money";
import { attemptReason, type Reason } from "../reasons";
import type { ChannelIO } from "./channel";
import type { Channel, PingRules } from "./config";
import { parseBody, responseFormat } from "./formats";
import { bidLookalikes } from "./lookalikes";
import type { PingAnswer, PingOutcome, PostOutcome } from "./native";
import { NATIVE_PING_RULES, type ReadResult, type RuleTrace } from "./rules";
import { SECRET_MASK, secretHeaderNames, secretValues } from "./secrets";
import type { BuyerRequest, BuyerResponse, BuyerTransport } from "./transport";

export interface ExchangeDeps {
  transport: BuyerTransport;
  newId(): string;
  maxBodyBytes: number;
}

/** A channel as the console tries it: compiled, with the floor and the timeouts an auction would give it. */
export interface ConsoleChannel {
  config: Channel;
  io: ChannelIO;
  campaignId: string;
  /** What an auction makes of a ping answer: a bid under the floor is `below_floor`. */
  atFloor(answer: PingAnswer): PingOutcome;
  fixedPriceCents: number | null;
  pingTimeoutMs: number;
  postTimeoutMs: number;
}

/** The sample lead, validated: all its fields, and the ones a ping may carry. */
export interface ConsoleLead {
  data: Record<string, unknown>;
  publicData: Record<string, unknown>;
  /** pii fields a ping template may send hashed (`ping_hash`). */
  hashable?: Record<string, unknown>;
}

const BODY_SHOWN = 8 * 1024;

function masker(channel: Channel) {
  const secrets = secretValues(channel);
  const masked = secretHeaderNames(channel);
  const text = (value: string) => secrets.reduce((out, secret) => out.split(secret).join(SECRET_MASK), value);
  return {
    text,
    headers(headers: Record<string, string>): Record<string, string> {
      return Object.fromEntries(
        Object.entries(headers).map(([name, value]) => {
          if (masked.has(name)) return [name, SECRET_MASK];
          if (name === "authorization") return [name, value.replace(/^(\w+)\s+.*$/, `$1 ${SECRET_MASK}`)];
          return [name, text(value)];
        }),
      );
    },
  };
}

function shownResponse(response: BuyerResponse, mask: (s: string) => string) {
  switch (response.kind) {
    case "response":
      return {
        status: response.status,
        content_type: response.contentType || null,
        headers: response.headers,
        body: mask(response.body.slice(0, BODY_SHOWN)),
        truncated: response.body.length > BODY_SHOWN,
      };
    case "timeout":
      return { error: "timeout" };
    case "too_large":
      return { status: response.status, error: "body_too_large" };
    case "connection_error":
      return { error: `connection:${response.code}` };
  }
}

/** Something in an answer that the rules missed and a person should look at. */
export interface ConsoleWarning {
  code: "bid_elsewhere";
  message: string;
  /** JSONPaths of what the warning is about. */
  paths: string[];
}

/**
 * A ping answer without a bid whose bid rule found nothing, though the answer holds amounts under
 * keys named like a bid: the likeliest reason a buyer "never bids" is a rule that looks elsewhere.
 */
function pingWarnings(response: BuyerResponse, outcome: PingOutcome, rules: RuleTrace[], own: PingRules | undefined): ConsoleWarning[] {
  if (response.kind !== "response" || outcome.outcome === "bid") return [];
  const bidRule = rules.find((r) => r.rule === "bid");
  if (!bidRule || bidRule.matched) return [];
  const tree = parseBody(responseFormat(response.contentType, response.body, (own ?? NATIVE_PING_RULES).format), response.body);
  const found = tree.ok ? bidLookalikes(tree.value) : [];
  if (!found.length) return [];
  const rule = typeof bidRule.spec === "string" ? bidRule.spec : JSON.stringify(bidRule.spec);
  const seen = found.map((f) => `${JSON.stringify(f.value)} under ${f.path}`).join(", ");
  const fix = `set response.ping.bid to "${found[0].path}"`;
  const message = own
    ? `The bid rule ${rule} found nothing, but the answer has ${seen}: if that is the bid, ${fix}.`
    : `The native protocol reads the bid at ${rule} and found nothing, but the answer has ${seen}: have the buyer answer {"bid": …}, or ${fix}.`;
  return [{ code: "bid_elsewhere", message, paths: found.map((f) => f.path) }];
}

async function exchange<T>(
  deps: ExchangeDeps,
  request: BuyerRequest,
  read: (response: BuyerResponse) => ReadResult<T>,
  mask: ReturnType<typeof masker>,
  show: (outcome: T) => Record<string, unknown>,
  warn: (response: BuyerResponse, outcome: T, rules: RuleTrace[]) => ConsoleWarning[] = () => [],
) {
  const startedAt = new Date();
  const response = await deps.transport.send(request);
  const { outcome, rules } = read(response);
  return {
    request: {
      url: mask.text(request.url),
      method: request.method,
      headers: mask.headers(request.headers),
      body: request.body === undefined ? null : mask.text(request.body),
    },
    response: shownResponse(response, mask.text),
    rules,
    result: show(outcome),
    warnings: warn(response, outcome, rules).map((w) => ({ ...w, message: mask.text(w.message) })),
    timings: { started_at: startedAt.toISOString(), duration_ms: response.durationMs, timeout_ms: request.timeoutMs },
  };
}

const showPing = (o: PingOutcome) => ({
  outcome: o.outcome,
  price: o.priceCents === null ? null : fromCents(o.priceCents),
  ping_ref: o.pingRef,
  ...shownReason(attemptReason("ping", o.outcome, o.reason)),
  expires_at: o.outcome === "bid" && o.expiresAt ? new Date(o.expiresAt).toISOString() : null,
  // A channel that buys shared sales: the answer's shared price, when it gave one (`shared_bid`).
  ...(o.outcome === "bid" && o.sharedCents != null && { shared_price: fromCents(o.sharedCents), ...(o.sharedOnly && { price: null }) }),
  // An answer of several bids (response.ping.bids): every bid, best first; the post offers the first.
  ...(o.outcome === "bid" &&
    o.offers && {
      bid_id: o.bidId ?? null,
      bids: o.offers.map((b) => ({
        id: b.bidId,
        price: b.sharedOnly ? null : fromCents(b.priceCents),
        shared_price: b.sharedCents == null ? null : fromCents(b.sharedCents),
        expires_at: b.expiresAt ? new Date(b.expiresAt).toISOString() : null,
      })),
    }),
  // Named captures (response.ping.capture): what the post sends back as {{ping.<name>}}.
  ...(o.outcome === "bid" && o.captures && { captures: o.captures }),
});

const showPost = (o: PostOutcome, confirmedByPostback: boolean) => ({
  outcome: o.outcome,
  price: o.priceCents === null ? null : fromCents(o.priceCents),
  ...shownReason(attemptReason("post", o.outcome, o.reason)),
  redirect_url: o.redirectUrl,
  // `post.confirmed_by: postback`: in an auction this acceptance leaves the lead pending, not sold.
  ...(o.outcome === "accepted" && confirmedByPostback && { awaiting_confirmation: true }),
});

/** A reason as a trace shows it: the code, and its detail beside it (both null for a bid). */
const shownReason = (r: Reason | null) => ({ reason: r?.reason ?? null, detail: r?.detail ?? null });

/**
 * Pings the channel with the sample lead (a direct_post channel is not pinged: its fixed price is
 * the bid), then, if asked, posts it at the bid, or at `priceCents` when the ping gave none.
 */
export async function tryChannel(
  deps: ExchangeDeps,
  channel: ConsoleChannel,
  lead: ConsoleLead,
  options: { leadId: string; post: boolean; priceCents?: number },
) {
  const { config, io } = channel;
  const { leadId } = options;
  const mask = masker(config);

  let ping: Awaited<ReturnType<typeof exchange<PingOutcome>>> | null = null;
  let bid: { priceCents: number; pingRef: string | null; pingId: string | null; bidId?: string | null; captures?: Record<string, string | null> } | null = null;
  if (config.type === "ping_post") {
    const pingId = deps.newId();
    const out = io.buildPing({ pingId, leadId, campaign: channel.campaignId, test: true, publicData: lead.publicData, hashable: lead.hashable }, channel.pingTimeoutMs, deps.maxBodyBytes);
    let outcome: PingOutcome | undefined;
    ping = await exchange(
      deps,
      out,
      (response) => {
        const read = io.explainPing(response, Date.now());
        outcome = channel.atFloor(read.outcome);
        return { outcome, rules: read.rules };
      },
      mask,
      showPing,
      (response, outcome, rules) => pingWarnings(response, outcome, rules, config.response?.ping),
    );
    if (outcome?.outcome === "bid") bid = { priceCents: outcome.priceCents, pingRef: outcome.pingRef, pingId, bidId: outcome.bidId, captures: outcome.captures };
  } else {
    bid = { priceCents: channel.fixedPriceCents ?? 0, pingRef: null, pingId: null };
  }
  if (!bid && options.priceCents !== undefined) bid = { priceCents: options.priceCents, pingRef: null, pingId: null };

  let post: Awaited<ReturnType<typeof exchange<PostOutcome>>> | { skipped: string } | null = null;
  if (options.post && !bid) post = { skipped: "no bid to post at: send a price to post anyway" };
  else if (options.post && bid) {
    const out = io.buildPost(
      {
        leadId,
        channelId: config.id,
        pingId: bid.pingId,
        pingRef: bid.pingRef,
        ...(bid.bidId != null && { bidId: bid.bidId }),
        ...(bid.captures && { captures: bid.captures }),
        campaign: channel.campaignId,
        test: true,
        priceCents: bid.priceCents,
        data: lead.data,
      },
      channel.postTimeoutMs,
      deps.maxBodyBytes,
    );
    post = await exchange(deps, out, (response) => io.explainPost(response, bid.priceCents), mask, (o) => showPost(o, config.post?.confirmed_by === "postback"));
  }
  return { ping, post };
}
