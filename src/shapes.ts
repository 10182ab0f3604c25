// The small shapes every configured resource (campaign, buyer, channel, supplier) is made of: its id,
// its status, its time zone and its caps. They sit below the configuration of each resource so that
// the channels' configuration (src/channels/config.ts) and the rest (src/resources/schemas.ts) share
// one spelling of each.
import { z } from "zod";
import { money } from "./money";
import { capPeriods } from "./time/periods";

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

export const status = z.enum(["active", "paused", "archived"]);

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

/** A resource's caps: at most one per period. */
export const caps = z
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
