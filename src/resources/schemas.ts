// The shapes an operator writes for campaigns, buyers and suppliers (SPEC.md spelling); a channel's
// is in src/channels/config.ts, and the parts all of them share in src/shapes.ts. These zod schemas
// are the one definition: the API validates with them, the engine reads their output types, and
// every default lives here.
import { z } from "zod";
import { leadPrice } from "../money";
import { caps, slug, status, timezone } from "../shapes";

/** Per-buyer dedup: the buyer never receives the same consumer twice within lookback_days, across campaigns. */
export const BuyerDedup = z
  .object({
    fields: z.array(z.string().min(1)).min(1),
    match: z.enum(["any", "all"]).default("any"),
    lookback_days: z.number().min(0).max(3650).default(30),
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
