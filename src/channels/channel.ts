// One channel's buyer integration, compiled once from its configuration: how to write its ping
// and post (native JSON or the buyer's own format through a template; headers, auth, signing) and
// how to read its answers (native rules or the channel's own). The auction calls these for every
// lead; nothing here parses configuration per lead.
import { toCents } from "../money";
import { templateScope, type Channel, type EndpointConfig } from "./config";
import { CONTENT_TYPES, formPairs, serialize, type RequestFormat } from "./formats";
import {
  buildPing as buildNativePing,
  buildPost as buildNativePost,
  postIdempotencyKey,
  postTemplateVars,
  readPingResponse,
  readPostResponse,
  type PingAnswer,
  type PingInput,
  type PostInput,
  type PostOutcome,
} from "./native";
import { compileNativePingWithNoBid, compilePingReader, compilePostReader, NATIVE_PING_RULES, NATIVE_POST_RULES, NATIVE_SHARED_PING_RULES, traceRules, type ReadResult } from "./rules";
import { basicCredentials } from "./secrets";
import { signingHeaders } from "./signing";
import { compileTemplate, compileUrlTemplate, hasPlaceholder, renderText, type CompiledTemplate, type TemplateScope, type TemplateVars } from "./template";
import type { BuyerRequest, BuyerResponse } from "./transport";
import { compileEmailChannel } from "./email";

export interface ChannelIO {
  buildPing(input: PingInput, timeoutMs: number, maxBodyBytes: number): BuyerRequest;
  /** `nowMs` (wall clock) turns a `ttl_seconds` answer into an expiry. Whether a bid clears the floor is the auction's to say. */
  readPing(response: BuyerResponse, nowMs: number): PingAnswer;
  buildPost(input: PostInput, timeoutMs: number, maxBodyBytes: number): BuyerRequest;
  readPost(response: BuyerResponse, bidCents: number): PostOutcome;
  /** The same reads, with what every rule found: for the test console. */
  explainPing(response: BuyerResponse, nowMs: number): ReadResult<PingAnswer>;
  explainPost(response: BuyerResponse, bidCents: number): ReadResult<PostOutcome>;
}

const ACCEPT: Record<RequestFormat, string> = {
  json: "application/json",
  form: "application/x-www-form-urlencoded, application/json;q=0.9, */*;q=0.8",
  xml: "application/xml, text/xml;q=0.9, */*;q=0.8",
};

/** Static headers: defaults for the format, the channel's own (names lower-cased), then auth. */
function staticHeaders(channel: Channel, cfg: EndpointConfig): Record<string, string> {
  const headers: Record<string, string> = {
    ...(cfg.method === "GET" ? {} : { "content-type": cfg.body === null ? "application/json" : CONTENT_TYPES[cfg.format] }),
    accept: cfg.body === null ? "application/json" : ACCEPT[cfg.format],
    "user-agent": "Gavel/0.1",
  };
  for (const [name, value] of Object.entries(cfg.headers)) if (!value.includes("{{")) headers[name.toLowerCase()] = value;
  const auth = channel.auth;
  if (auth?.type === "basic") headers.authorization = `Basic ${basicCredentials(auth.username, auth.password)}`;
  if (auth?.type === "bearer") headers.authorization = `Bearer ${auth.token}`;
  if (auth?.type === "header") headers[auth.name.toLowerCase()] = auth.value;
  return headers;
}

interface Built {
  url: string;
  method: "POST" | "GET";
  headers: Record<string, string>;
  body?: string;
}

/** Compiles one endpoint into a function from a lead's variables to the request's url, headers and body. */
function compileEndpoint(channel: Channel, scope: TemplateScope): (vars: TemplateVars, native: (headers: Record<string, string>) => BuyerRequest) => Built {
  const endpoint = scope.endpoint;
  const cfg = channel[endpoint]!;
  const fixed = staticHeaders(channel, cfg);
  const dynamic: [string, CompiledTemplate][] = Object.entries(cfg.headers)
    .filter(([, value]) => value.includes("{{"))
    .map(([name, value]) => [name.toLowerCase(), compileTemplate(value, scope).template]);
  const body = cfg.body === null ? null : compileTemplate(cfg.body, scope).template;
  const urlTemplate = hasPlaceholder(cfg.url) ? compileUrlTemplate(cfg.url, scope) : null;

  return (vars, native) => {
    const headers = dynamic.length ? { ...fixed } : fixed;
    for (const [name, template] of dynamic) headers[name] = renderText(template, vars);
    const target = urlTemplate ? urlTemplate.render(vars) : cfg.url;
    if (body === null) {
      const request = native(headers);
      return { url: target, method: request.method, headers: request.headers, body: request.body };
    }
    const rendered = body.render(vars);
    if (cfg.method === "GET") {
      const url = new URL(target);
      for (const [key, value] of formPairs(rendered as Record<string, unknown>)) url.searchParams.append(key, value);
      return { url: url.toString(), method: "GET", headers: { ...headers }, body: undefined };
    }
    return { url: target, method: cfg.method, headers: { ...headers }, body: serialize(cfg.format, rendered) };
  };
}

/** Signs last, over exactly the bytes that leave: the body, or a GET's query string. */
function sign(channel: Channel, built: Built): Built {
  if (!channel.signing) return built;
  const payload = built.method === "GET" ? new URL(built.url).search.replace(/^\?/, "") : (built.body ?? "");
  return { ...built, headers: { ...built.headers, ...signingHeaders(channel.signing, payload, Date.now()) } };
}

/**
 * A native ping with nothing rendered per lead (no body template, no templated header, no
 * signature) is the channel's fixed headers and Gavel's own body: built straight, without the
 * template path's copies.
 */
function plainNativePing(channel: Channel): Record<string, string> | null {
  const cfg = channel.ping;
  if (!cfg || cfg.body !== null || channel.signing || hasPlaceholder(cfg.url) || Object.values(cfg.headers).some((value) => value.includes("{{"))) return null;
  return staticHeaders(channel, cfg);
}

export function compileChannel(channel: Channel): ChannelIO {
  if (channel.type === "email") return compileEmailChannel(channel);
  const ping = channel.ping ? compileEndpoint(channel, { endpoint: "ping" }) : undefined;
  const plainPingHeaders = plainNativePing(channel);
  const post = compileEndpoint(channel, templateScope("post", channel.response?.ping));
  const fixedPriceCents = channel.fixed_price === undefined ? null : toCents(channel.fixed_price);
  const pingRules = channel.response?.ping;
  const postRules = channel.response?.post;
  const sharedFixedPriceCents = channel.shared_fixed_price === undefined ? null : toCents(channel.shared_fixed_price);
  const nativeWithNoBid = pingRules?.no_bid !== undefined && pingRules.bid === undefined && pingRules.shared_bid === undefined && pingRules.accepted === undefined;
  const readPingRules =
    pingRules &&
    (nativeWithNoBid
      ? compileNativePingWithNoBid(pingRules, channel.buys?.includes("shared") ?? false)
      : compilePingReader(pingRules, fixedPriceCents, sharedFixedPriceCents));
  const readPostRules = postRules && compilePostReader(postRules);

  const explainPing: ChannelIO["explainPing"] = readPingRules
    ? readPingRules
    : (response) => ({
        outcome: readPingResponse(response),
        rules: traceRules(response, channel.buys?.includes("shared") ? NATIVE_SHARED_PING_RULES : NATIVE_PING_RULES),
      });
  const explainPost: ChannelIO["explainPost"] = readPostRules
    ? readPostRules
    : (response, bid) => ({ outcome: readPostResponse(response, bid), rules: traceRules(response, NATIVE_POST_RULES) });

  return {
    buildPing(input, timeoutMs, maxBodyBytes) {
      if (!ping) throw new Error(`channel ${channel.id} has no ping endpoint`);
      if (plainPingHeaders) return buildNativePing(channel, plainPingHeaders, input, timeoutMs, maxBodyBytes);
      const now = Date.now();
      const vars: TemplateVars = {
        lead_id: input.leadId,
        ping_id: input.pingId,
        campaign: input.campaign,
        test: input.test,
        data: input.publicData,
        received_at: new Date(input.receivedAt ?? now).toISOString(),
        now: new Date(now).toISOString(),
        hashable: input.hashable,
        contact_hashes: input.contactHashes,
      };
      const built = sign(
        channel,
        ping(vars, (headers) => buildNativePing(channel, headers, input, timeoutMs, maxBodyBytes)),
      );
      const headers = input.test ? { ...built.headers, "x-gavel-test": "1" } : built.headers;
      return { ...built, headers, timeoutMs, maxBodyBytes };
    },
    readPing: readPingRules ? (response, now) => readPingRules(response, now).outcome : (response) => readPingResponse(response),
    buildPost(input, timeoutMs, maxBodyBytes) {
      const vars = postTemplateVars(input);
      const built = sign(
        channel,
        post(vars, (headers) => buildNativePost(channel, headers, input, timeoutMs, maxBodyBytes)),
      );
      const headers: Record<string, string> = { ...built.headers, "idempotency-key": postIdempotencyKey(input.leadId, input.channelId, input.sale, input.bidId) };
      if (input.test) headers["x-gavel-test"] = "1";
      return { ...built, headers, timeoutMs, maxBodyBytes, retryConnectFailure: true };
    },
    readPost: readPostRules ? (response, bid) => readPostRules(response, bid).outcome : (response, bid) => readPostResponse(response, bid),
    explainPing,
    explainPost,
  };
}
