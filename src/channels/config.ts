// A channel's configuration (SPEC.md "Channel configuration"): where its pings and posts go and in
// what shape, which leads it takes, its caps, schedule and pacing, its credentials, and how its
// buyer's answers are read. These zod schemas are the one definition: the API validates with them,
// and every other module reads their `z.infer` types. The checks a channel must pass when it is
// saved live here too, so a mistake is a 422 with the path of the bad part, never a surprise when a
// lead arrives; the checks against the campaign's fields need the campaign, and ./check.ts has them.
import { z } from "zod";
import { leadPrice, MAX_LEAD_PRICE } from "../money";
import { caps, slug, status, timezone } from "../shapes";
import { compileSchedule } from "../time/schedule";
import { requestFormats, responseFormats } from "./formats";
import { jsonPathProblem } from "./jsonpath";
import { compileTemplate, compileUrlTemplate, hasPlaceholder, type Endpoint, type TemplateScope } from "./template";

export const Schedule = z
  .object({
    hours: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional(),
    blackout: z.array(z.string()).max(1000).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.hours && Object.keys(s.hours).length === 0)
      ctx.addIssue({ code: "custom", path: ["hours"], message: "give at least one day, or leave hours out to be open all day" });
    for (const issue of compileSchedule(s).issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  });
export type Schedule = z.infer<typeof Schedule>;

export const Pacing = z
  .object({
    /** At most this many leads per minute (fractions allowed: 0.2 is one lead per five minutes). */
    leads_per_minute: z.number().positive().max(100_000),
  })
  .strict();

/** The kinds of sale (SPEC.md `auction.mode`): the lead to one buyer alone, or to several. */
export const saleTypes = ["exclusive", "shared"] as const;
export type SaleType = (typeof saleTypes)[number];

const httpUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "must be a valid HTTP header name");

export const EndpointConfig = z
  .object({
    url: httpUrl,
    method: z.enum(["POST", "GET"]).default("POST"),
    format: z.enum(requestFormats).default("json"),
    timeout_ms: z.number().int().min(10).max(60_000).optional(),
    /** Values may be templates (`"{{lead_id}}"`). */
    headers: z.record(headerName, z.string()).default({}),
    /** null: the native payload; an object: a template of the buyer's own request. */
    body: z.record(z.string(), z.unknown()).nullable().default(null),
    /**
     * A post only. `postback`: the post's acceptance is not yet the sale: the lead is `pending`
     * until the buyer's `contacted` or `converted` postback confirms it, and ends unsold
     * (`not_confirmed`) if none comes within `confirm_within_hours` (README "Sales confirmed by postback").
     */
    confirmed_by: z
      .enum(["postback"])
      .optional()
      .meta({
        description:
          "A post only. `postback`: an accepted post leaves the lead `pending`; the buyer's `contacted`/`converted` postback (POST /v1/postbacks/{buyer_id}) makes it sold, and none within `confirm_within_hours` makes it unsold (`not_confirmed`). Absent: the post's answer is the sale",
      }),
    confirm_within_hours: z
      .number()
      .int()
      .min(1)
      .max(2160)
      .optional()
      .meta({ description: "With `confirmed_by`: how long a pending lead waits for the buyer's postback (default 72)" }),
  })
  .strict()
  .meta({ id: "Endpoint" });
export type EndpointConfig = z.infer<typeof EndpointConfig>;

/** An address as a header names it: `leads@buyer.example`, or `Name <leads@buyer.example>`. No line break can ride along. */
export const mailbox = z
  .string()
  .max(320)
  .regex(/^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, "must be an email address (leads@buyer.example, or Name <leads@buyer.example>)");

/**
 * An `email` channel's delivery: the lead is sold by sending it to these addresses through Gavel's
 * SMTP server (GAVEL_SMTP_URL). The subject and text are templates like a post body's (README
 * "Templates"); the SMTP server accepting the message is the sale.
 */
export const EmailDelivery = z
  .object({
    to: z.array(mailbox).min(1).max(50),
    cc: z.array(mailbox).max(50).default([]),
    /** Absent: GAVEL_MAIL_FROM. */
    from: mailbox.optional(),
    subject: z.string().min(1).max(500),
    /** The body, as text. Absent: every field of the lead, `name: value`, one a line. */
    text: z.string().min(1).max(100_000).optional(),
    /** Absent: the campaign's `auction.post_timeout_ms`, as for a post. */
    timeout_ms: z.number().int().min(100).max(60_000).optional(),
  })
  .strict()
  .meta({
    id: "EmailDelivery",
    description:
      "An email channel's message: `to` (and `cc`) receive the lead, `subject` and `text` are templates (`{{data.first_name}}`, `{{price}}`, `{{lead_id}}`; text absent: every field, one a line). Sent through GAVEL_SMTP_URL; the SMTP server accepting it is the sale",
  });
export type EmailDelivery = z.infer<typeof EmailDelivery>;

export const filterOps = ["eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "between", "prefix", "exists"] as const;

const scalar = z.union([z.string(), z.number(), z.boolean()]);
export const Filter = z
  .object({ field: z.string().min(1), op: z.enum(filterOps), value: z.unknown() })
  .strict()
  .superRefine((f, ctx) => {
    const need = (ok: boolean, message: string) => {
      if (!ok) ctx.addIssue({ code: "custom", path: ["value"], message });
    };
    switch (f.op) {
      case "eq":
      case "neq":
        return need(scalar.safeParse(f.value).success, "must be a string, number or boolean");
      case "in":
      case "nin":
        return need(z.array(scalar).min(1).safeParse(f.value).success, "must be a non-empty list");
      case "gt":
      case "gte":
      case "lt":
      case "lte":
        return need(z.union([z.number(), z.string()]).safeParse(f.value).success, "must be a number (or a date string)");
      case "between":
        return need(
          z.tuple([z.union([z.number(), z.string()]), z.union([z.number(), z.string()])]).safeParse(f.value).success,
          "must be a pair [low, high]",
        );
      case "prefix":
        return need(
          z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).safeParse(f.value).success,
          "must be a prefix or a list of prefixes",
        );
      case "exists":
        return need(typeof f.value === "boolean", "must be true or false");
    }
  })
  .meta({ id: "Filter" });
export type Filter = z.infer<typeof Filter>;

export const ChannelAuth = z.discriminatedUnion("type", [
  z.object({ type: z.literal("basic"), username: z.string(), password: z.string() }).strict(),
  z.object({ type: z.literal("bearer"), token: z.string().min(1) }).strict(),
  z.object({ type: z.literal("header"), name: headerName, value: z.string() }).strict(),
])
  .meta({ id: "ChannelAuth" });

/** Where a rule reads one value of an answer (see src/channels/rules.ts). */
export const ValueRule = z.union([
  z.string().min(1),
  z.object({ path: z.string().min(1) }).strict(),
  z.object({ regex: z.string().min(1), flags: z.string().optional() }).strict(),
]);
export type ValueRule = z.infer<typeof ValueRule>;

/** A yes or no read from an answer (see src/channels/rules.ts). */
export const Condition = z.union([
  z.string().min(1),
  z
    .object({
      path: z.string().min(1),
      equals: scalar.optional(),
      in: z.array(scalar).min(1).optional(),
      matches: z.string().min(1).optional(),
      exists: z.boolean().optional(),
    })
    .strict(),
  z.object({ regex: z.string().min(1), flags: z.string().optional() }).strict(),
  z.object({ status: z.array(z.number().int().min(100).max(599)).min(1) }).strict(),
]);
export type Condition = z.infer<typeof Condition>;

const responseFormat = z.enum(responseFormats);

/** Bids kept of one answer (response.ping.bids.max): by default, and at most. */
export const DEFAULT_BIDS_PER_ANSWER = 10;
export const MAX_BIDS_PER_ANSWER = 100;
/** Named captures of one channel at most: each is kept with its ping and sent with its post. */
export const MAX_CAPTURES = 20;
/** A capture's value at most, in characters: a longer one is treated as missing (its trace says so). */
export const MAX_CAPTURE_CHARS = 1024;

/** A capture's name, as `{{ping.<name>}}` spells it. */
const captureName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a capture name is letters, digits and '_', not starting with a digit");

/**
 * Several bids in one ping answer (see src/channels/rules.ts): `path` selects every bid of the
 * answer, and the other rules read each bid, `$` being the bid itself.
 */
export const BidsRule = z
  .object({
    /** Selects each bid: `$.bids[*]`, `$.Response.Bids.Bid[*]`. */
    path: z.string().min(1),
    /** The bid's price (its exclusive one when it has two). */
    bid: ValueRule,
    /** The bid's own id, which the post names as `{{bid.id}}`. */
    id: ValueRule.optional(),
    /** A channel that buys shared sales: the bid's shared price, next to `bid`. */
    shared_bid: ValueRule.optional(),
    /** A bid for a shared sale (a shared "leg"): its `bid` is a shared price. */
    shared: Condition.optional(),
    expires_at: ValueRule.optional(),
    /** How many bids of one answer are read at most (default 10): its best by price; the others are dropped. */
    max: z.number().int().min(1).max(MAX_BIDS_PER_ANSWER).optional().meta({
      description: `How many bids of one answer are kept at most (default ${DEFAULT_BIDS_PER_ANSWER}, at most ${MAX_BIDS_PER_ANSWER}): the best by price; the others are dropped, and the ping's trace says how many`,
    }),
  })
  .strict()
  .meta({
    id: "BidsRule",
    description:
      "Several bids in one answer, each ranked as a bid of this channel's buyer: `path` selects every bid (`$.bids[*]`), the other rules read each one (`$` is the bid). The post names the bid chosen as `{{bid.id}}`",
  });
export type BidsRule = z.infer<typeof BidsRule>;

export const PingResponseRules = z
  .object({
    format: responseFormat.optional(),
    bid: ValueRule.optional(),
    /** A channel that buys shared sales: where its shared price is (next to `bid`, the exclusive one). */
    shared_bid: ValueRule.optional(),
    accepted: Condition.optional(),
    no_bid: Condition.optional().meta({
      description:
        "A no-bid by rule (reason `no_bid_rule`): the buyer's way of saying it has no buyer, as an HTTP status (`{ \"status\": [404] }`, read whatever the status) or a flag in the answer (`{ \"path\": \"$.result\", \"equals\": \"no_buyer\" }`). Never counts against the channel's health",
    }),
    ping_ref: ValueRule.optional(),
    reason: ValueRule.optional(),
    expires_at: ValueRule.optional(),
    ttl_seconds: ValueRule.optional(),
    bids: BidsRule.optional(),
    capture: z
      .record(captureName, ValueRule)
      .refine((c) => Object.keys(c).length <= MAX_CAPTURES, `at most ${MAX_CAPTURES} captures`)
      .optional()
      .meta({
        description:
          "Named captures: values read from the ping answer (`{ \"lead_id\": \"$.lead_id\" }`) that travel to the post, as `{{ping.lead_id}}` in its body, headers and URL",
      }),
  })
  .strict();
export type PingRules = z.infer<typeof PingResponseRules>;

export const PostResponseRules = z
  .object({
    format: responseFormat.optional(),
    accepted: Condition,
    rejected: Condition.optional(),
    price: ValueRule.optional(),
    reason: ValueRule.optional(),
    redirect_url: ValueRule.optional(),
  })
  .strict();
export type PostRules = z.infer<typeof PostResponseRules>;

const ResponseRules = z.object({ ping: PingResponseRules.optional(), post: PostResponseRules.optional() }).strict();

const secret = z.string().min(16, "must be at least 16 characters");
const Signing = z
  .object({
    secret,
    /** The secret being retired (or introduced) while a buyer migrates; both sign every request. */
    previous_secret: secret.optional(),
  })
  .strict();
export type Signing = z.infer<typeof Signing>;

/**
 * A channel's bid as the auction ranks it: `bid × multiplier + offset` (LeadProsper's bid penalty).
 * Floors and `min_bid` apply to the bid itself, and the buyer is charged in its own terms (README
 * "Pricing and ranking").
 */
export const BidAdjustment = z
  .object({
    multiplier: z.number().positive().max(100).default(1),
    /** Added after the multiplier, in money (negative for a penalty); at most two decimals. */
    offset: z
      .number()
      .min(-MAX_LEAD_PRICE)
      .max(MAX_LEAD_PRICE)
      .refine((v) => Math.abs(v * 100 - Math.round(v * 100)) < 1e-6, "must have at most 2 decimal places")
      .default(0),
  })
  .strict()
  .meta({ id: "BidAdjustment" });
export type BidAdjustment = z.infer<typeof BidAdjustment>;

/**
 * How the channel's buyer appears in a user-choice offer (POST /v1/offers). `redirect_url` is where
 * the consumer who picks the offer goes: the buyer's landing page, templated as a post URL is.
 */
export const OfferSettings = z
  .object({
    redirect_url: httpUrl.meta({
      description:
        "User choice (POST /v1/offers): the buyer's page for a consumer who picks its offer, answered as each of its offers' `redirect_url`. Templated as a post URL is, in its path and query only: `{{ping_ref}}`, `{{price}}` (what the buyer would be charged), `{{sale}}`, `{{lead_id}}` (the ping's id, which a post makes the lead's), `{{ping_id}}`, `{{campaign}}`, `{{test}}`, `{{received_at}}`, `{{now}}` and the lead's non-PII fields (`{{data.zip}}`; a pii field only as a hash such as `{{data.email | sha256}}`, from the ping's `contact_hashes`, when the field has `ping_hash`)",
    }),
  })
  .strict()
  .meta({ id: "OfferSettings" });
export type OfferSettings = z.infer<typeof OfferSettings>;

export const CircuitBreaker = z
  .object({
    failures: z.number().int().min(1).max(10_000).default(10),
    cooldown_ms: z.number().int().min(100).max(86_400_000).default(30_000),
  })
  .strict();

export type CircuitBreaker = z.infer<typeof CircuitBreaker>;

const ChannelFields = z
  .object({
    id: slug,
    name: z.string().max(200).optional(),
    buyer_id: slug,
    campaign_id: slug,
    /** `email`: no ping, a fixed price like direct_post, and its post is an email (`email`). */
    type: z.enum(["ping_post", "direct_post", "email"]),
    status: status.default("active"),
    ping: EndpointConfig.optional(),
    /** Every channel but an email one. */
    post: EndpointConfig.optional(),
    email: EmailDelivery.optional(),
    fixed_price: leadPrice.optional(),
    /**
     * The sales the channel takes (SPEC.md shared mode): `exclusive` (the lead is the buyer's
     * alone), `shared` (one of up to `max_sells` buyers), or both. A campaign of the other kind
     * leaves it out (`sale_type`).
     */
    buys: z
      .array(z.enum(saleTypes))
      .min(1)
      .default(["exclusive"])
      .refine((list) => new Set(list).size === list.length, "name each sale type once"),
    /** A direct_post channel that buys shared sales: its price for a shared sale. */
    shared_fixed_price: leadPrice.optional(),
    filters: z.array(Filter).default([]),
    /** Suppliers whose leads this channel takes; null or absent takes every supplier. */
    suppliers: z.array(slug).nullable().default(null),
    priority: z.number().int().min(0).max(1_000_000).default(1),
    weight: z.number().positive().max(1_000_000).default(1),
    /**
     * `buyer` (absent): offered the lead as its campaign's routing says. `fallback`: a catch-all,
     * posted only when no other channel took the lead, so that no lead is orphaned.
     */
    role: z
      .enum(["buyer", "fallback"])
      .optional()
      .meta({ description: "`buyer` (the default): routed as the campaign says. `fallback`: a catch-all posted only when no other channel took the lead" }),
    min_bid: leadPrice.default(0),
    /** How the auction ranks this channel's bids (a bid penalty or boost); what the buyer pays is never above its own bid. */
    bid_adjustment: BidAdjustment.optional(),
    /** Time zone of the schedule and caps; absent: the campaign's. */
    timezone: timezone.optional(),
    schedule: Schedule.optional(),
    caps,
    pacing: Pacing.optional(),
    /** Pings and posts in flight to this channel at once, per Gavel process; more are `throttled`. */
    max_concurrency: z.number().int().positive().max(100_000).optional(),
    auth: ChannelAuth.optional(),
    secret_headers: z.array(headerName).default([]),
    response: ResponseRules.optional(),
    signing: Signing.optional(),
    offer: OfferSettings.optional(),
    circuit_breaker: CircuitBreaker.default(CircuitBreaker.parse({})),
  })
  .strict();

export const Channel = ChannelFields.superRefine((ch, ctx) => {
  for (const problem of channelConfigProblems(ch)) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  for (const problem of emailProblems(ch)) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  if (ch.type === "ping_post" && !ch.ping)
    ctx.addIssue({ code: "custom", path: ["ping"], message: "a ping_post channel needs a ping endpoint" });
  const buys = ch.buys ?? ["exclusive"];
  if (ch.type !== "ping_post" && ch.fixed_price === undefined && buys.includes("exclusive"))
    ctx.addIssue({ code: "custom", path: ["fixed_price"], message: `a ${ch.type} channel needs a fixed_price` });
  if (ch.type !== "ping_post" && ch.shared_fixed_price === undefined && buys.includes("shared"))
    ctx.addIssue({ code: "custom", path: ["shared_fixed_price"], message: `a ${ch.type} channel that buys shared sales needs a shared_fixed_price` });
  if (ch.shared_fixed_price !== undefined && !buys.includes("shared"))
    ctx.addIssue({ code: "custom", path: ["shared_fixed_price"], message: "only a channel that buys shared sales (buys: [\"shared\"]) has a shared price" });
  if (ch.response?.ping?.shared_bid !== undefined && !buys.includes("shared"))
    ctx.addIssue({ code: "custom", path: ["response", "ping", "shared_bid"], message: "only a channel that buys shared sales (buys: [\"shared\"]) reads a shared bid" });
  for (const rule of ["shared_bid", "shared"] as const)
    if (ch.response?.ping?.bids?.[rule] !== undefined && !buys.includes("shared"))
      ctx.addIssue({ code: "custom", path: ["response", "ping", "bids", rule], message: "only a channel that buys shared sales (buys: [\"shared\"]) reads a shared bid" });
  if (ch.type === "direct_post" && ch.ping)
    ctx.addIssue({ code: "custom", path: ["ping"], message: "a direct_post channel is not pinged" });
  // A sale confirmed later is exclusive: a pending lead is offered to no one else meanwhile.
  if (ch.ping?.confirmed_by !== undefined || ch.ping?.confirm_within_hours !== undefined)
    ctx.addIssue({ code: "custom", path: ["ping", ch.ping.confirmed_by !== undefined ? "confirmed_by" : "confirm_within_hours"], message: "a ping is never a sale: only a post is confirmed by postback" });
  if (ch.post?.confirm_within_hours !== undefined && ch.post.confirmed_by === undefined)
    ctx.addIssue({ code: "custom", path: ["post", "confirm_within_hours"], message: "needs confirmed_by: \"postback\"" });
  if (ch.post?.confirmed_by === "postback" && buys.includes("shared"))
    ctx.addIssue({ code: "custom", path: ["post", "confirmed_by"], message: "a sale confirmed by postback is exclusive: a channel that buys shared sales is answered by its post" });
  // An offer's redirect is checked as a post URL is: an unknown variable is refused, never sent as %7B%7B…%7D%7D.
  const redirect = ch.offer?.redirect_url;
  if (redirect !== undefined && hasPlaceholder(redirect))
    for (const p of compileUrlTemplate(redirect, "post").problems) ctx.addIssue({ code: "custom", path: ["offer", "redirect_url"], message: p.message });
}).meta({ id: "Channel" });
export type Channel = z.infer<typeof Channel>;

// --- checks when a channel is saved ------------------------------------------------------------

/** How long a channel's post (or email) may take, when the channel says. */
export const postTimeoutOf = (ch: Pick<Channel, "post" | "email">): number | undefined => (ch.post ?? ch.email)?.timeout_ms;

/** How long a lead sold by this channel waits for its buyer's postback to confirm the sale; null when its post's answer is the sale. */
export const confirmWithinMs = (ch: Pick<Channel, "post">): number | null =>
  ch.post?.confirmed_by === "postback" ? (ch.post.confirm_within_hours ?? 72) * 3_600_000 : null;

/**
 * An email channel has its `email` and nothing of HTTP (no ping, post, response rules, auth or
 * signing); any other channel has a post and no `email`. Its templates are checked like a post's.
 */
function emailProblems(ch: z.infer<typeof ChannelFields>): ConfigProblem[] {
  if (ch.type !== "email") {
    const problems: ConfigProblem[] = [];
    if (!ch.post) problems.push({ path: ["post"], message: `a ${ch.type} channel needs a post endpoint` });
    if (ch.email) problems.push({ path: ["email"], message: "only an email channel (type: email) sends email" });
    return problems;
  }
  if (!ch.email) return [{ path: ["email"], message: "an email channel needs email: { to, subject } (and text, or every field is sent)" }];
  const problems: ConfigProblem[] = [];
  for (const key of ["ping", "post", "response", "auth", "signing"] as const)
    if (ch[key] !== undefined) problems.push({ path: [key], message: "an email channel is sent by email: it has no HTTP endpoint, response rules, auth or signing" });
  for (const key of ["subject", "text"] as const) {
    const template = ch.email[key];
    if (template === undefined) continue;
    for (const p of compileTemplate(template, "post").problems) problems.push({ path: ["email", key], message: p.message });
  }
  return problems;
}

/**
 * What a template of `endpoint` may name beyond the lead: a post, its ping answer's captures
 * (`{{ping.<name>}}`) and, when the answer holds several bids with ids, the one chosen (`{{bid.id}}`).
 */
export function templateScope(endpoint: Endpoint, pingRules?: PingRules): TemplateScope {
  if (endpoint === "ping") return { endpoint };
  return { endpoint, captures: Object.keys(pingRules?.capture ?? {}), bidId: pingRules?.bids?.id !== undefined };
}

export interface ConfigProblem {
  path: (string | number)[];
  message: string;
}

const FLAGS = /^[imsu]*$/;

function regexProblem(source: string, flags = ""): string | null {
  if (!FLAGS.test(flags)) return `flags may only use i, m, s and u`;
  try {
    new RegExp(source, flags);
    return null;
  } catch (error) {
    return `bad regular expression: ${(error as Error).message}`;
  }
}

export function valueRuleProblem(rule: ValueRule): string | null {
  if (typeof rule === "string") return jsonPathProblem(rule);
  if ("path" in rule) return jsonPathProblem(rule.path);
  return regexProblem(rule.regex, rule.flags);
}

export function conditionProblem(rule: Condition): string | null {
  if (typeof rule === "string") return jsonPathProblem(rule);
  if ("status" in rule) return null;
  if ("regex" in rule) return regexProblem(rule.regex, rule.flags);
  const tests = (["equals", "in", "matches", "exists"] as const).filter((k) => rule[k] !== undefined);
  if (tests.length > 1) return `use one of equals, in, matches or exists (got ${tests.join(", ")})`;
  return jsonPathProblem(rule.path) ?? (rule.matches !== undefined ? regexProblem(rule.matches) : null);
}

function endpointProblems(endpoint: Endpoint, cfg: EndpointConfig, pingRules?: PingRules): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // What a post may name of its ping's answer: its captures, and the bid chosen of several.
  const scope = templateScope(endpoint, pingRules);
  const at = (...path: (string | number)[]) => [endpoint, ...path];
  // A templated URL is checked like a body: an unknown variable is refused, never sent as %7B%7B…%7D%7D.
  if (hasPlaceholder(cfg.url)) for (const p of compileUrlTemplate(cfg.url, scope).problems) problems.push({ path: at("url"), message: p.message });
  if (cfg.body === null) {
    if (cfg.format !== "json")
      problems.push({
        path: at("format"),
        message: `${cfg.format === "xml" ? "an XML" : "a form"} request needs a body template (body: null sends Gavel's native JSON)`,
      });
    if (cfg.method === "GET") problems.push({ path: at("method"), message: "a GET needs a body template: its fields become the query string" });
  } else {
    for (const p of compileTemplate(cfg.body, scope).problems) problems.push({ path: at("body", ...p.path), message: p.message });
    const keys = Object.keys(cfg.body);
    if (cfg.format === "xml" && cfg.method !== "GET" && keys.length !== 1)
      problems.push({
        path: at("body"),
        message: `an XML body template has exactly one top-level key, the root element (got ${keys.length}: ${keys.join(", ") || "none"})`,
      });
    if (cfg.format === "form" || cfg.method === "GET") {
      const what = cfg.method === "GET" ? "a GET query string" : "a form body";
      for (const [key, value] of Object.entries(cfg.body)) {
        const flat = (v: unknown) => v === null || typeof v !== "object";
        // `{ "{{#each data.drivers}}": "{{item.first_name}}" }` is a list of values: the key once per item.
        const eachOfValues = (v: unknown) =>
          v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && /^\{\{\s*#each\b/.test(Object.keys(v)[0]) && flat(Object.values(v)[0]);
        if (!(flat(value) || eachOfValues(value) || (Array.isArray(value) && value.every(flat))))
          problems.push({ path: at("body", key), message: `${what} is flat: a value is text, a number, a boolean or a list of them` });
      }
    }
  }
  for (const [name, value] of Object.entries(cfg.headers)) {
    if (!hasPlaceholder(value)) continue;
    for (const p of compileTemplate(value, scope).problems) problems.push({ path: at("headers", name), message: p.message });
  }
  return problems;
}

function rulesProblems(base: (string | number)[], rules: PingRules | PostRules | BidsRule, conditions: readonly string[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    if (name === "format" || rule === undefined) continue;
    if (name === "bids") {
      const bids = rule as BidsRule;
      const selector = jsonPathProblem(bids.path);
      if (selector) problems.push({ path: [...base, "bids", "path"], message: selector });
      problems.push(...rulesProblems([...base, "bids"], { ...bids, path: undefined } as unknown as BidsRule, ["shared"]));
      continue;
    }
    if (name === "capture") {
      for (const [capture, value] of Object.entries(rule as Record<string, ValueRule>)) {
        const problem = valueRuleProblem(value);
        if (problem) problems.push({ path: [...base, "capture", capture], message: problem });
      }
      continue;
    }
    if (name === "path" || name === "max") continue;
    const problem = conditions.includes(name) ? conditionProblem(rule as Condition) : valueRuleProblem(rule as ValueRule);
    if (problem) problems.push({ path: [...base, name], message: problem });
  }
  return problems;
}

/** The problems of a channel's endpoints and response rules (its fields are checked by the schema above). */
function channelConfigProblems(ch: Pick<z.infer<typeof ChannelFields>, "type" | "ping" | "post" | "fixed_price" | "shared_fixed_price" | "response">): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (ch.ping) problems.push(...endpointProblems("ping", ch.ping));
  if (ch.post) problems.push(...endpointProblems("post", ch.post, ch.response?.ping));
  const ping = ch.response?.ping;
  if (ping) {
    if (ping.bids && (ping.bid !== undefined || ping.shared_bid !== undefined))
      problems.push({
        path: ["response", "ping", ping.bid !== undefined ? "bid" : "shared_bid"],
        message: "with bids, each bid's price is read inside it (bids.bid, bids.shared_bid): leave bid and shared_bid out",
      });
    if (ping.bids && ch.type === "direct_post") problems.push({ path: ["response", "ping", "bids"], message: "a direct_post channel is not pinged" });
    if (ch.type === "direct_post") problems.push({ path: ["response", "ping"], message: "a direct_post channel is not pinged" });
    // Only `no_bid` (and `reason`, `format`): the native protocol reads everything else.
    const nativeRest = ping.no_bid !== undefined && Object.keys(ping).every((k) => ["no_bid", "reason", "format"].includes(k));
    if (ping.bid === undefined && ping.shared_bid === undefined && ping.bids === undefined && ping.accepted === undefined && !nativeRest)
      problems.push({
        path: ["response", "ping", "bid"],
        message: "needs bid (where the price is), or accepted (a yes/no priced at fixed_price), or only no_bid (the native protocol reads the rest)",
      });
    if (ping.bid === undefined && ping.shared_bid === undefined && ping.bids === undefined && ping.accepted !== undefined && ch.fixed_price === undefined && ch.shared_fixed_price === undefined)
      problems.push({ path: ["fixed_price"], message: "a ping answered only with yes/no sells at the channel's fixed_price: set it" });
    problems.push(...rulesProblems(["response", "ping"], ping, ["accepted", "no_bid"]));
  }
  const post = ch.response?.post;
  if (post) problems.push(...rulesProblems(["response", "post"], post, ["accepted", "rejected"]));
  return problems;
}
