// The shapes an operator writes for campaigns, buyers, channels and suppliers (SPEC.md spelling).
// These zod schemas are the one definition: the API validates with them, the engine reads their
// output types, and every default lives here.
import { z } from "zod";
import { capPeriods } from "../time/periods";
import { compileSchedule } from "../time/schedule";
import { channelConfigProblems } from "../channels/check";
import { leadPrice, money } from "../money";

export const slug = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "must be a slug: lower-case letters, digits, '-' and '_'");

/** An IANA time zone name (`America/Chicago`, `UTC`), as Intl knows it. */
export const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, "must be an IANA time zone such as America/Chicago");

const status = z.enum(["active", "paused", "archived"]);

/** One cap per period: `{ "period": "day", "leads": 100 }`, `{ "period": "month", "spend": 5000 }`, or both. */
export const Cap = z
  .object({
    period: z.enum(capPeriods),
    leads: z.number().int().min(0).max(1_000_000_000).optional(),
    spend: money.max(1_000_000_000).optional(),
  })
  .strict()
  .refine((c) => c.leads !== undefined || c.spend !== undefined, { message: "a cap needs leads, spend or both" });
export type Cap = z.infer<typeof Cap>;

const caps = z
  .array(Cap)
  .max(5)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((cap, i) => {
      if (seen.has(cap.period))
        ctx.addIssue({ code: "custom", path: [i, "period"], message: `'${cap.period}' appears twice: give one cap per period, with leads and spend together` });
      seen.add(cap.period);
    });
  });

/** Per-buyer dedup: the buyer never receives the same consumer twice within lookback_days, across campaigns. */
export const BuyerDedup = z
  .object({
    fields: z.array(z.string().min(1)).min(1),
    match: z.enum(["any", "all"]).default("any"),
    lookback_days: z.number().min(0).max(3650).default(30),
  })
  .strict();

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

export const fieldTypes = ["string", "integer", "number", "boolean", "enum", "date", "email", "phone", "zip", "state"] as const;

export const FieldSpec = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an identifier (letters, digits, '_')"),
    type: z.enum(fieldTypes),
    required: z.boolean().default(false),
    pii: z.boolean().default(false),
    min: z.number().optional(),
    max: z.number().optional(),
    pattern: z
      .string()
      .refine((p) => {
        try {
          new RegExp(p);
          return true;
        } catch {
          return false;
        }
      }, "must be a valid regular expression")
      .optional(),
    values: z.array(z.string()).min(1).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.type === "enum" && !f.values) ctx.addIssue({ code: "custom", path: ["values"], message: "an enum field needs values" });
    if (f.type !== "enum" && f.values) ctx.addIssue({ code: "custom", path: ["values"], message: "values only apply to enum fields" });
    if (f.min !== undefined && f.max !== undefined && f.min > f.max)
      ctx.addIssue({ code: "custom", path: ["min"], message: "min must not exceed max" });
  })
  .meta({ id: "FieldSpec" });
export type FieldSpec = z.infer<typeof FieldSpec>;

export const Payout = z.discriminatedUnion("type", [
  z.object({ type: z.literal("revshare"), percent: z.number().min(0).max(100) }).strict(),
  z.object({ type: z.literal("fixed"), amount: leadPrice }).strict(),
])
  .meta({ id: "Payout" });
export type Payout = z.infer<typeof Payout>;

export const Auction = z
  .object({
    mode: z.literal("exclusive", { message: "only exclusive mode is supported so far" }).default("exclusive"),
    max_sells: z.literal(1, { message: "exclusive mode sells a lead once" }).default(1),
    timeout_ms: z.number().int().min(50).max(60_000).default(2000),
    ping_timeout_ms: z.number().int().min(10).max(60_000).default(800),
    post_timeout_ms: z.number().int().min(10).max(60_000).default(1500),
    /** Time kept free after the ping phase so the post can still happen before the deadline. */
    post_reserve_ms: z.number().int().min(0).max(60_000).optional(),
    floor: leadPrice.default(0),
    on_post_timeout: z.enum(["stop", "next"]).default("stop"),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.post_reserve_ms !== undefined && a.post_reserve_ms >= a.timeout_ms)
      ctx.addIssue({ code: "custom", path: ["post_reserve_ms"], message: "must be less than timeout_ms" });
  });
export type Auction = z.infer<typeof Auction>;

export const Dedup = z
  .object({
    fields: z.array(z.string()).default([]),
    match: z.enum(["any", "all"]).default("any"),
    lookback_days: z.number().min(0).max(3650).default(30),
    /** The same supplier sending the same consumer again within this many minutes is a duplicate. */
    supplier_window_minutes: z.number().min(0).max(10_080).default(0),
  })
  .strict();

export const Campaign = z
  .object({
    id: slug,
    name: z.string().min(1).max(200),
    status: status.default("active"),
    timezone: timezone.default("UTC"),
    fields: z.array(FieldSpec).min(1),
    auction: Auction.default(Auction.parse({})),
    dedup: Dedup.default(Dedup.parse({})),
    payout: Payout.default({ type: "revshare", percent: 100 }),
    /** Hand the buyer's redirect URL (from its post answer) to the supplier on a sale. */
    return_redirect_url: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.fields.forEach((f, i) => {
      if (names.has(f.name)) ctx.addIssue({ code: "custom", path: ["fields", i, "name"], message: `duplicate field '${f.name}'` });
      names.add(f.name);
    });
    c.dedup.fields.forEach((name, i) => {
      if (!names.has(name))
        ctx.addIssue({ code: "custom", path: ["dedup", "fields", i], message: `'${name}' is not a field of this campaign` });
    });
  })
  .meta({ id: "Campaign" });
export type Campaign = z.infer<typeof Campaign>;

export const Buyer = z
  .object({
    id: slug,
    name: z.string().min(1).max(200),
    status: status.default("active"),
    timezone: timezone.default("UTC"),
    /** Caps across all of the buyer's channels, in the buyer's time zone. */
    caps,
    dedup: BuyerDedup.optional(),
  })
  .strict()
  .meta({ id: "Buyer" });
export type Buyer = z.infer<typeof Buyer>;

const httpUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "must be a valid HTTP header name");

const Endpoint = z
  .object({
    url: httpUrl,
    method: z.enum(["POST", "GET"]).default("POST"),
    format: z.enum(["json", "form", "xml"]).default("json"),
    timeout_ms: z.number().int().min(10).max(60_000).optional(),
    /** Values may be templates (`"{{lead_id}}"`). */
    headers: z.record(headerName, z.string()).default({}),
    /** null: the native payload; an object: a template of the buyer's own request. */
    body: z.record(z.string(), z.unknown()).nullable().default(null),
  })
  .strict()
  .meta({ id: "Endpoint" });

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

const scalarValue = z.union([z.string(), z.number(), z.boolean()]);
const ValueRule = z.union([
  z.string().min(1),
  z.object({ path: z.string().min(1) }).strict(),
  z.object({ regex: z.string().min(1), flags: z.string().optional() }).strict(),
]);
const Condition = z.union([
  z.string().min(1),
  z
    .object({
      path: z.string().min(1),
      equals: scalarValue.optional(),
      in: z.array(scalarValue).min(1).optional(),
      matches: z.string().min(1).optional(),
      exists: z.boolean().optional(),
    })
    .strict(),
  z.object({ regex: z.string().min(1), flags: z.string().optional() }).strict(),
  z.object({ status: z.array(z.number().int().min(100).max(599)).min(1) }).strict(),
]);
const responseFormat = z.enum(["json", "xml", "form", "text"]);

export const PingResponseRules = z
  .object({
    format: responseFormat.optional(),
    bid: ValueRule.optional(),
    accepted: Condition.optional(),
    ping_ref: ValueRule.optional(),
    reason: ValueRule.optional(),
    expires_at: ValueRule.optional(),
    ttl_seconds: ValueRule.optional(),
  })
  .strict();

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

const ResponseRules = z.object({ ping: PingResponseRules.optional(), post: PostResponseRules.optional() }).strict();

const secret = z.string().min(16, "must be at least 16 characters");
const Signing = z.object({ secret, previous_secret: secret.optional() }).strict();

export const CircuitBreaker = z
  .object({
    failures: z.number().int().min(1).max(10_000).default(10),
    cooldown_ms: z.number().int().min(100).max(86_400_000).default(30_000),
  })
  .strict();

export type CircuitBreaker = z.infer<typeof CircuitBreaker>;

export const Channel = z
  .object({
    id: slug,
    name: z.string().max(200).optional(),
    buyer_id: slug,
    campaign_id: slug,
    type: z.enum(["ping_post", "direct_post"]),
    status: status.default("active"),
    ping: Endpoint.optional(),
    post: Endpoint,
    fixed_price: leadPrice.optional(),
    filters: z.array(Filter).default([]),
    /** Suppliers whose leads this channel takes; null or absent takes every supplier. */
    suppliers: z.array(slug).nullable().default(null),
    priority: z.number().int().min(0).max(1_000_000).default(1),
    weight: z.number().positive().max(1_000_000).default(1),
    min_bid: leadPrice.default(0),
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
    circuit_breaker: CircuitBreaker.default(CircuitBreaker.parse({})),
  })
  .strict()
  .superRefine((ch, ctx) => {
    for (const problem of channelConfigProblems(ch)) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    if (ch.type === "ping_post" && !ch.ping)
      ctx.addIssue({ code: "custom", path: ["ping"], message: "a ping_post channel needs a ping endpoint" });
    if (ch.type === "direct_post" && ch.fixed_price === undefined)
      ctx.addIssue({ code: "custom", path: ["fixed_price"], message: "a direct_post channel needs a fixed_price" });
    if (ch.type === "direct_post" && ch.ping)
      ctx.addIssue({ code: "custom", path: ["ping"], message: "a direct_post channel is not pinged" });
  })
  .meta({ id: "Channel" });
export type Channel = z.infer<typeof Channel>;

/**
 * A token bucket per supplier: `burst` leads at once, refilled at `per_second`. Enforced in each
 * process's memory, so N processes behind a load balancer admit up to N times the rate.
 */
export const RateLimit = z
  .object({
    per_second: z.number().positive().max(1_000_000),
    burst: z.number().int().min(1).max(1_000_000),
  })
  .strict()
  .meta({ id: "RateLimit" });
export type RateLimit = z.infer<typeof RateLimit>;

export const Supplier = z
  .object({
    id: slug,
    name: z.string().min(1).max(200),
    status: status.default("active"),
    /** Campaigns this supplier may send to; null means all. */
    campaigns: z.array(slug).nullable().default(null),
    payout: Payout.optional(),
    timezone: timezone.default("UTC"),
    /** Leads this supplier may send per period (leads only); over it a lead is refused before the auction. */
    caps: caps.superRefine((list, ctx) => {
      list.forEach((cap, i) => {
        if (cap.spend !== undefined) ctx.addIssue({ code: "custom", path: [i, "spend"], message: "a supplier cap counts leads only" });
      });
    }),
    rate_limit: RateLimit.optional(),
  })
  .strict()
  .meta({ id: "Supplier" });
export type Supplier = z.infer<typeof Supplier>;
