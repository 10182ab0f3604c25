// The shapes an operator writes for campaigns, buyers and suppliers (SPEC.md spelling); a channel's
// is in src/channels/config.ts, and the parts all of them share in src/shapes.ts. These zod schemas
// are the one definition: the API validates with them, the engine reads their output types, and
// every default lives here.
import { z } from "zod";
import { leadPrice } from "../money";
import { caps, slug, status, timezone } from "../shapes";
import { mailbox } from "../channels/config";

/** Per-buyer dedup: the buyer never receives the same consumer twice within lookback_days, across campaigns. */
export const BuyerDedup = z
  .object({
    fields: z.array(z.string().min(1)).min(1),
    match: z.enum(["any", "all"]).default("any"),
    lookback_days: z.number().min(0).max(3650).default(30),
  })
  .strict();

/** The types of a single value; a `list` field's items are made of fields of these. */
export const itemFieldTypes = ["string", "integer", "number", "boolean", "enum", "date", "email", "phone", "zip", "state"] as const;
export const fieldTypes = [...itemFieldTypes, "list"] as const;

const fieldPattern = z.string().refine((p) => {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}, "must be a valid regular expression");

/** A field of a `list` field's items (README "Campaign fields"): a field as a campaign's, but not itself a list. */
export const ItemFieldSpec = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an identifier (letters, digits, '_')"),
    type: z.enum(itemFieldTypes),
    required: z.boolean().default(false),
    pii: z.boolean().default(false),
    min: z.number().optional(),
    max: z.number().optional(),
    pattern: fieldPattern.optional(),
    values: z.array(z.string()).min(1).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.type === "enum" && !f.values) ctx.addIssue({ code: "custom", path: ["values"], message: "an enum field needs values" });
    if (f.type !== "enum" && f.values) ctx.addIssue({ code: "custom", path: ["values"], message: "values only apply to enum fields" });
    if (f.min !== undefined && f.max !== undefined && f.min > f.max)
      ctx.addIssue({ code: "custom", path: ["min"], message: "min must not exceed max" });
  })
  .meta({ id: "ItemFieldSpec" });
export type ItemFieldSpec = z.infer<typeof ItemFieldSpec>;

export const FieldSpec = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an identifier (letters, digits, '_')"),
    type: z.enum(fieldTypes),
    fields: z
      .array(ItemFieldSpec)
      .min(1)
      .max(50)
      .optional()
      .meta({ description: "A list field's item fields: each item is an object of these (drivers: first_name, birth_date…); min and max count the items" }),
    required: z.boolean().default(false),
    pii: z.boolean().default(false),
    ping_hash: z
      .boolean()
      .optional()
      .meta({ description: "A pii field whose hash (md5, sha1, sha256 in a ping template) a ping may carry: the hash, never the value" }),
    min: z.number().optional(),
    max: z.number().optional(),
    pattern: fieldPattern.optional(),
    values: z.array(z.string()).min(1).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.type === "enum" && !f.values) ctx.addIssue({ code: "custom", path: ["values"], message: "an enum field needs values" });
    if (f.type !== "enum" && f.values) ctx.addIssue({ code: "custom", path: ["values"], message: "values only apply to enum fields" });
    if (f.ping_hash && !f.pii) ctx.addIssue({ code: "custom", path: ["ping_hash"], message: "only a pii field needs ping_hash: a ping carries a field that is not pii as it is" });
    if (f.type === "list") {
      if (!f.fields) ctx.addIssue({ code: "custom", path: ["fields"], message: "a list field needs fields: what each item holds" });
      for (const key of ["pattern", "ping_hash"] as const)
        if (f[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `${key} does not apply to a list field (set it on an item field)` });
      for (const key of ["min", "max"] as const)
        if (f[key] !== undefined && (!Number.isInteger(f[key]) || f[key] < 0))
          ctx.addIssue({ code: "custom", path: [key], message: `a list's ${key} is a number of items: a whole number, 0 or more` });
      const names = new Set<string>();
      f.fields?.forEach((item, i) => {
        if (names.has(item.name)) ctx.addIssue({ code: "custom", path: ["fields", i, "name"], message: `duplicate item field '${item.name}'` });
        names.add(item.name);
      });
    } else if (f.fields) ctx.addIssue({ code: "custom", path: ["fields"], message: "fields only apply to list fields" });
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

/**
 * The broker's cut of a lead's revenue: a percent of it (rounded up to the cent) or a fixed amount.
 * The supplier is paid by its payout rule, but never more than the revenue minus the margin.
 */
export const Margin = z.discriminatedUnion("type", [
  z.object({ type: z.literal("percent"), percent: z.number().min(0).lt(100) }).strict(),
  z.object({ type: z.literal("fixed"), amount: leadPrice }).strict(),
])
  .meta({ id: "Margin" });
export type Margin = z.infer<typeof Margin>;

/** The most sales of one lead in shared mode (SPEC.md `max_sells`): more would be a list, not a lead. */
export const MAX_SELLS = 10;

/**
 * The post-acceptance rate `rank_by: "expected"` ranks with: accepted over posted, both counts decaying
 * with `half_life_hours`, started with `prior_posts` accepted posts (so a new channel is trusted
 * until it rejects), and never below `floor` (so a channel that rejected is still offered leads).
 */
export const AcceptanceEstimate = z
  .object({
    floor: z.number().min(0.01).max(1).default(0.1),
    half_life_hours: z.number().positive().max(8760).default(24),
    prior_posts: z.number().min(0).max(1000).default(5),
  })
  .strict()
  .meta({ id: "AcceptanceEstimate" });
export type AcceptanceEstimate = z.infer<typeof AcceptanceEstimate>;

export const Auction = z
  .object({
    /**
     * `exclusive`: one sale. `shared`: up to `max_sells` sales, one per buyer. `best`: exclusive
     * when the best exclusive bid beats the best `max_sells` shared bids together, else shared.
     */
    mode: z.enum(["exclusive", "shared", "best"]).default("exclusive"),
    max_sells: z.number().int().min(1).max(MAX_SELLS).default(1),
    timeout_ms: z.number().int().min(50).max(60_000).default(2000),
    ping_timeout_ms: z.number().int().min(10).max(60_000).default(800),
    post_timeout_ms: z.number().int().min(10).max(60_000).default(1500),
    /** Time kept free after the ping phase so the post can still happen before the deadline. */
    post_reserve_ms: z.number().int().min(0).max(60_000).optional(),
    floor: leadPrice.default(0),
    on_post_timeout: z.enum(["stop", "next"]).default("stop"),
    /**
     * What the winner pays: `first`, its own bid; `second`, the least that would still have won
     * (the next bid's adjusted price + 0.01, or the floor), never more than its bid (README
     * "Pricing and ranking").
     */
    pricing: z.enum(["first", "second"]).default("first"),
    /** `price`: bids rank by adjusted price; `expected`: by adjusted price × the channel's recent post-acceptance rate. */
    rank_by: z.enum(["price", "expected"]).default("price"),
    /** How `rank_by: "expected"` estimates a channel's post-acceptance rate. */
    acceptance: AcceptanceEstimate.default(AcceptanceEstimate.parse({})),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.post_reserve_ms !== undefined && a.post_reserve_ms >= a.timeout_ms)
      ctx.addIssue({ code: "custom", path: ["post_reserve_ms"], message: "must be less than timeout_ms" });
    if (a.mode === "exclusive" && a.max_sells !== 1)
      ctx.addIssue({ code: "custom", path: ["max_sells"], message: "exclusive mode sells a lead once: max_sells must be 1" });
    if (a.mode !== "exclusive" && a.max_sells < 2)
      ctx.addIssue({ code: "custom", path: ["max_sells"], message: `${a.mode} mode needs max_sells of 2 to ${MAX_SELLS}` });
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

/** How a tier's bids are offered the lead (src/auction/routing.ts, README "Routing strategies"). */
export const routingStrategies = ["price", "round_robin", "weighted", "capacity", "all"] as const;
export const RoutingStrategy = z.enum(routingStrategies).meta({
  id: "RoutingStrategy",
  description:
    "`price`: highest bid first (the auction's ranking). `round_robin`: an exact rotation among the tier's bidders, shared by every Gavel process on the database. `weighted`: a random split by channel `weight` (70/30). `capacity`: the channel with the most room left under its caps first. `all`: every bidder of the tier at once, one sale per buyer: a shared sale, so only channels that buy shared sales, each posted at its shared price and marked shared.",
});
export type RoutingStrategy = z.infer<typeof RoutingStrategy>;

export const Routing = z
  .object({
    strategy: RoutingStrategy.default("price"),
    /** A strategy of its own for a priority tier; tiers are offered the lead by priority ascending. */
    tiers: z
      .array(z.object({ priority: z.number().int().min(0).max(1_000_000), strategy: RoutingStrategy }).strict())
      .max(100)
      .default([])
      .meta({ description: "A strategy per channel `priority`: the lead goes tier by tier (priority ascending), a lower tier only when no channel of the higher one took it" }),
    sticky_days: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .optional()
      .meta({ description: "A returning consumer (same campaign dedup key) goes first to the buyer that bought them within this many days" }),
  })
  .strict()
  .superRefine((r, ctx) => {
    const seen = new Set<number>();
    r.tiers.forEach((tier, i) => {
      if (seen.has(tier.priority)) ctx.addIssue({ code: "custom", path: ["tiers", i, "priority"], message: `priority ${tier.priority} appears twice` });
      seen.add(tier.priority);
    });
  })
  .meta({ id: "Routing" });
export type Routing = z.infer<typeof Routing>;

/**
 * Suppliers that ping first (README "Suppliers that ping first"): how long a ping's ranked bids are
 * kept for its post, whether a ping may or must carry the consumer's hashed email and phone (so a
 * consumer on the do-not-sell list is refused at the ping), and what happens when the quoted winner
 * refuses the post and only a bid that would pay the supplier less than its quote is left.
 */
export const InboundPings = z
  .object({
    ping_ttl_seconds: z
      .number()
      .int()
      .min(5)
      .max(86_400)
      .default(60)
      .meta({ description: "How long a ping's quote and ranked bids are kept for its post; a post after that is 410 `ping_expired`" }),
    contact_hashes: z
      .enum(["none", "optional", "required"])
      .default("none")
      .meta({
        description:
          "`optional` or `required`: a ping may (must, for each required email or phone field) carry `contact_hashes`: the SHA-256 hex of each normalised email (trimmed, lower case) and phone (E.164) field, checked against the do-not-sell list at the ping and against the post's values",
      }),
    below_quote: z
      .enum(["no_sale", "sell_lower"])
      .default("no_sale")
      .meta({
        description:
          "When the quoted bids refuse the post: `no_sale` posts only to bids that still pay the supplier its quote (else the lead is unsold); `sell_lower` goes on down the ranking and pays the supplier by the lower sale",
      }),
  })
  .strict()
  .meta({ id: "InboundPings" });
export type InboundPings = z.infer<typeof InboundPings>;

/** Held leads (README "Held leads"): a lead that arrives while every channel that could take it is closed by its schedule waits for the first to open. */
export const Hold = z
  .object({
    max_hours: z
      .number()
      .positive()
      .max(168)
      .meta({ description: "A held lead not auctioned within this many hours of its arrival ends `expired`" }),
  })
  .strict()
  .meta({ id: "Hold" });
export type Hold = z.infer<typeof Hold>;

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
    /** The broker's cut of a lead's revenue, kept before the supplier's payout (README "Pricing and ranking"); absent: none. */
    margin: Margin.optional(),
    /** Hand the buyer's redirect URL (from its post answer) to the supplier on a sale. */
    return_redirect_url: z.boolean().default(false),
    /** In what order bids are offered the lead; absent: by price, as `{ "strategy": "price" }`. */
    routing: Routing.optional(),
    /** Suppliers that ping first (POST /v1/pings, /v1/posts); absent: pings are taken with the defaults. */
    inbound: InboundPings.optional(),
    /** Hold a lead that arrives while every channel that could take it is closed; absent: such a lead is unsold at once. */
    hold: Hold.optional(),
    /** What an accepted return does to the supplier's payout (README "After the sale"); absent: clawed back. */
    returns: z
      .object({
        charge_supplier: z.boolean().default(true).meta({ description: "Claw the returned sale's share of the supplier's payout back (true), or keep paying it (false)" }),
      })
      .strict()
      .optional()
      .meta({ id: "CampaignReturns" }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.routing && c.auction.mode === "shared")
      ctx.addIssue({ code: "custom", path: ["routing"], message: "routing orders an exclusive sale: a shared campaign posts to its top max_sells bids (use strategy all to deliver to every bidder)" });
    if (c.routing?.sticky_days !== undefined && c.dedup.fields.length === 0)
      ctx.addIssue({ code: "custom", path: ["routing", "sticky_days"], message: "needs dedup.fields: a returning consumer is known by the campaign's dedup keys" });
    const names = new Set<string>();
    c.fields.forEach((f, i) => {
      if (names.has(f.name)) ctx.addIssue({ code: "custom", path: ["fields", i, "name"], message: `duplicate field '${f.name}'` });
      names.add(f.name);
    });
    c.dedup.fields.forEach((name, i) => {
      if (!names.has(name))
        ctx.addIssue({ code: "custom", path: ["dedup", "fields", i], message: `'${name}' is not a field of this campaign` });
      else if (c.fields.find((f) => f.name === name)?.type === "list")
        ctx.addIssue({ code: "custom", path: ["dedup", "fields", i], message: `'${name}' is a list field: dedup keys are single values (a list's items are not dedup keys)` });
    });
  })
  .meta({ id: "Campaign" });
export type Campaign = z.infer<typeof Campaign>;

/** How a buyer signs its postbacks (README "After the sale"): the channel signing scheme, the other way. */
export const BuyerPostbacks = z
  .object({
    secret: z.string().min(16, "must be at least 16 characters").meta({ description: "HMAC-SHA256 key of X-Gavel-Signature; write-only (reads \"***\")" }),
    /** The secret being retired while the buyer switches: a signature by either is accepted. */
    previous_secret: z.string().min(16, "must be at least 16 characters").optional(),
  })
  .strict()
  .meta({ id: "BuyerPostbacks" });
export type BuyerPostbacks = z.infer<typeof BuyerPostbacks>;

/** How Gavel signs the notifications it sends a receiver (README "Notifications"): as it signs a buyer's pings and posts. */
export const NotificationSigning = z
  .object({
    secret: z.string().min(16, "must be at least 16 characters").meta({ description: "HMAC-SHA256 key of X-Gavel-Signature; write-only (reads \"***\")" }),
    /** The secret being retired (or introduced) while the receiver switches: both sign every notification. */
    previous_secret: z.string().min(16, "must be at least 16 characters").optional(),
  })
  .strict()
  .meta({ id: "NotificationSigning" });
export type NotificationSigning = z.infer<typeof NotificationSigning>;

const webhookUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });

/** A buyer's delivery notifications (README "Notifications"): one POST per lead it bought, for its CRM's routing. */
export const BuyerNotify = z
  .object({
    url: webhookUrl
      .optional()
      .meta({ description: "Where each sale to the buyer is announced (`lead.delivered`): the lead's id, campaign, channel, price and sale type" }),
    email: mailbox.optional().meta({ description: "An address that gets the same notices by email, through GAVEL_SMTP_URL" }),
    signing: NotificationSigning.optional(),
  })
  .strict()
  .superRefine((n, ctx) => {
    if (n.url === undefined && n.email === undefined) ctx.addIssue({ code: "custom", path: ["url"], message: "give a url, an email, or both" });
    if (n.signing && n.url === undefined) ctx.addIssue({ code: "custom", path: ["signing"], message: "signs the webhook: set url too" });
  })
  .meta({ id: "BuyerNotify" });
export type BuyerNotify = z.infer<typeof BuyerNotify>;

/** What the buyer may return, and how a return is settled (README "After the sale"). */
export const BuyerReturns = z
  .object({
    window_days: z.number().positive().max(365).meta({ description: "A return may be requested this many days after the sale at most" }),
    reasons: z.array(z.string().min(1).max(100)).min(1).max(50).meta({ description: "The reasons a return may give" }),
    max_rate_percent: z
      .number()
      .min(0)
      .max(100)
      .meta({ description: "Returns requested (not rejected) over the last window_days, as a share of the buyer's sales then, may not go over this" }),
    auto_accept_hours: z
      .number()
      .min(0)
      .max(8760)
      .nullable()
      .default(null)
      .meta({ description: "A pending return is accepted by the sweeper this many hours after it was requested; null: only an operator decides" }),
    release_caps: z.boolean().default(false).meta({ description: "An accepted return gives its lead and spend back to the buyer's and channel's caps (of the period the sale counted in)" }),
  })
  .strict()
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.reasons.forEach((reason, i) => {
      if (seen.has(reason)) ctx.addIssue({ code: "custom", path: ["reasons", i], message: `duplicate reason '${reason}'` });
      seen.add(reason);
    });
  })
  .meta({ id: "BuyerReturns" });
export type BuyerReturns = z.infer<typeof BuyerReturns>;

export const Buyer = z
  .object({
    id: slug,
    name: z.string().min(1).max(200),
    status: status.default("active"),
    timezone: timezone.default("UTC"),
    /** Caps across all of the buyer's channels, in the buyer's time zone. */
    caps,
    dedup: BuyerDedup.optional(),
    /** POST /v1/postbacks/{buyer_id} is refused (401) until the buyer has a postback secret. */
    postbacks: BuyerPostbacks.optional(),
    /** Absent: the buyer may not return leads. */
    returns: BuyerReturns.optional(),
    /** Absent: the buyer is sent no delivery notifications. */
    notify: BuyerNotify.optional(),
  })
  .strict()
  .meta({ id: "Buyer" });
export type Buyer = z.infer<typeof Buyer>;

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
    postback_url: webhookUrl
      .optional()
      .meta({ description: "Where the supplier's leads' outcomes are posted (README \"Notifications\"): lead.sold, lead.unsold and lead.returned, with the supplier's payout, never the buyer" }),
    /** How those postbacks are signed; absent: unsigned. */
    postback_signing: NotificationSigning.optional(),
    notify_email: mailbox
      .optional()
      .meta({ description: "An address that gets the same notices as postback_url, by email (README \"Notifications\"), through GAVEL_SMTP_URL" }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.postback_signing && !s.postback_url) ctx.addIssue({ code: "custom", path: ["postback_signing"], message: "signs the supplier's postbacks: set postback_url too" });
  })
  .meta({ id: "Supplier" });
export type Supplier = z.infer<typeof Supplier>;
