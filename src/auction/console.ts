// The channel test console: `POST /v1/channels/{id}/test` sends one real ping (and optionally a
// post) marked as a test, exactly as an auction would, and shows the operator the request that
// left (secrets masked), the raw answer, what every response rule found and the timings. Nothing is
// recorded: no lead, no attempt, no cap or health change.
import { z } from "zod";
import { channelSecrets } from "../channels/channel";
import type { PingOutcome, PostOutcome } from "../channels/native";
import { parseBody, responseFormat } from "../channels/formats";
import { bidLookalikes } from "../channels/lookalikes";
import { NATIVE_PING_RULES, type ReadResult, type RuleTrace } from "../channels/rules";
import type { BuyerRequest, BuyerResponse, BuyerTransport } from "../channels/transport";
import type { Db } from "../db/client";
import { GavelError, invalid } from "../errors";
import { fromCents, leadPrice, toCents } from "../money";
import type { Channel, PingRules } from "../channels/config";
import { getResource, SECRET_MASK } from "../resources/store";
import type { Catalog } from "./catalog";

export interface ConsoleDeps {
  db: Db;
  catalog: Catalog;
  transport: BuyerTransport;
  newId(): string;
  maxBodyBytes: number;
}

export const ChannelTest = z
  .object({
    /** A sample lead, validated and normalised like a real one. */
    data: z.record(z.string(), z.unknown()),
    /** Also post the lead (after a bid, or at the fixed or given price). */
    post: z.boolean().default(false),
    /** The price to post at when the ping gives none. */
    price: leadPrice.optional(),
  })
  .strict();

const BODY_SHOWN = 8 * 1024;

function masker(channel: Channel) {
  const secrets = channelSecrets(channel);
  const masked = new Set([
    ...channel.secret_headers.map((h) => h.toLowerCase()),
    ...(channel.auth?.type === "header" ? [channel.auth.name.toLowerCase()] : []),
  ]);
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
  deps: ConsoleDeps,
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
  reason: o.reason,
  expires_at: o.outcome === "bid" && o.expiresAt ? new Date(o.expiresAt).toISOString() : null,
});

const showPost = (o: PostOutcome) => ({
  outcome: o.outcome,
  price: o.priceCents === null ? null : fromCents(o.priceCents),
  reason: o.reason,
  redirect_url: o.redirectUrl,
});

export async function testChannel(deps: ConsoleDeps, channelId: string, body: unknown) {
  const parsed = ChannelTest.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error, "The test request is invalid");
  const request = parsed.data;
  const doc = await getResource(deps.db, "channels", channelId);
  if (doc.status === "archived") throw new GavelError("conflict", `Channel '${channelId}' is archived`);
  const plan = await deps.catalog.campaign(doc.campaign_id as string);
  const channel = plan?.channels.find((c) => c.id === channelId);
  if (!plan || !channel) throw new GavelError("not_found", `No channel '${channelId}'`);

  const checked = plan.fields.validate(request.data);
  if (!checked.ok) throw new GavelError("validation", "The sample lead has invalid fields", { errors: checked.errors });
  const data = checked.data;
  const publicData = Object.fromEntries(plan.fields.publicFields.filter((f) => data[f] !== undefined).map((f) => [f, data[f]]));
  const config = channel.config;
  const auction = plan.campaign.auction;
  const mask = masker(config);
  const leadId = deps.newId();
  const floor = Math.max(channel.minBidCents, toCents(auction.floor));

  let ping: Awaited<ReturnType<typeof exchange<PingOutcome>>> | null = null;
  let bid: { priceCents: number; pingRef: string | null; pingId: string | null } | null = null;
  if (config.type === "ping_post") {
    const pingId = deps.newId();
    const out = channel.io.buildPing(
      { pingId, leadId, campaign: plan.campaign.id, test: true, publicData },
      config.ping?.timeout_ms ?? auction.ping_timeout_ms,
      deps.maxBodyBytes,
    );
    let outcome: PingOutcome | undefined;
    ping = await exchange(
      deps,
      out,
      (response) => {
        const read = channel.io.explainPing(response, floor, Date.now());
        outcome = read.outcome;
        return read;
      },
      mask,
      showPing,
      (response, outcome, rules) => pingWarnings(response, outcome, rules, config.response?.ping),
    );
    if (outcome?.outcome === "bid") bid = { priceCents: outcome.priceCents, pingRef: outcome.pingRef, pingId };
  } else {
    bid = { priceCents: channel.fixedPriceCents ?? 0, pingRef: null, pingId: null };
  }
  if (!bid && request.price !== undefined) bid = { priceCents: toCents(request.price), pingRef: null, pingId: null };

  let post: Awaited<ReturnType<typeof exchange<PostOutcome>>> | { skipped: string } | null = null;
  if (request.post && !bid) post = { skipped: "no bid to post at: send a price to post anyway" };
  else if (request.post && bid) {
    const out = channel.io.buildPost(
      { leadId, channelId, pingId: bid.pingId, pingRef: bid.pingRef, campaign: plan.campaign.id, test: true, priceCents: bid.priceCents, data },
      config.post.timeout_ms ?? auction.post_timeout_ms,
      deps.maxBodyBytes,
    );
    post = await exchange(deps, out, (response) => channel.io.explainPost(response, bid.priceCents), mask, showPost);
  }
  return { channel_id: channelId, lead_id: leadId, test: true, ping, post };
}
