// Steps 1 and 2 of SPEC.md: a lead is validated, then recorded in one statement that also decides
// whether it goes to auction at all (suppression, dedup, the supplier's caps). Each way a lead can
// end here is a `LeadFate`; a lead that goes on is `auctioning`.
import type { Logger } from "pino";
import { z } from "zod";
import { readUsage } from "../db/caps";
import { wroteNothing, type Database } from "../db/client";
import { insertLeadForAuction, insertRejectedLead, storeIdempotentResponse, type IdempotentResponse, type NewLead } from "../db/leads";
import type { FieldError } from "../errors";
import { dedupKeys, supplierDedupKeys } from "../leads/dedup";
import { leadContacts } from "../leads/suppression";
import type { Metrics } from "../metrics";
import { reasonText } from "../reasons";
import type { Supplier } from "../resources/schemas";
import { DAY_MS, type Clock } from "../time/clock";
import { leadAnswer, type InvalidLeadAnswer, type LeadFate } from "./answer";
import { capRules, claimOf, fullCap, type CapReason, type UsageView } from "./caps";
import type { CampaignPlan } from "./catalog";
import type { Deadline } from "./deadline";

/**
 * A supplier's tracking string (`source`, `sub_id`): 1 to 100 printable characters, no space at
 * either end, so the same source always groups as one in reports.
 */
export const trackingString = z
  .string()
  .regex(/^(?!\s)[^\p{C}]{1,100}(?<!\s)$/u, "must be 1 to 100 printable characters, with no space at either end");

export const LeadSubmission = z
  .object({
    campaign: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
    test: z.boolean().default(false),
    source: trackingString
      .optional()
      .meta({ description: "Where the supplier got the lead (a site, a publisher, a traffic source): shown to analysts, never sent to buyers" }),
    sub_id: trackingString.optional().meta({ description: "The supplier's finer tracking code within the source (a sub-id, a placement)" }),
  })
  .strict();
export type LeadSubmission = z.infer<typeof LeadSubmission>;

export interface IntakeDeps {
  database: Database;
  /** This process's view of cap usage: refreshed before a capped lead, updated by what the database says. */
  caps: { view: UsageView };
  clock: Clock;
  logger: Logger;
}

/**
 * How far a lead got: its id once a lead may have been recorded under it (and under its
 * Idempotency-Key, which from then on is never given back).
 */
export interface SellProgress {
  leadId: string | undefined;
}

/**
 * Runs a statement that records the lead under its key. Should it fail, the key is the lead's all
 * the same unless the statement certainly wrote nothing; the caller marks a success.
 */
async function recording<T>(progress: SellProgress, leadId: string, statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (error) {
    if (!wroteNothing(error)) progress.leadId = leadId;
    throw error;
  }
}

/** Who sent a lead and how it is tracked: what every record of it starts with, rejected or not. */
export type LeadOrigin = Pick<NewLead, "id" | "campaignId" | "supplierId" | "test" | "source" | "subId">;

export function leadOrigin(id: string, campaignId: string, supplierId: string, submission: LeadSubmission): LeadOrigin {
  return { id, campaignId, supplierId, test: submission.test, source: submission.source ?? null, subId: submission.sub_id ?? null };
}

/** Step 1's end for a lead with invalid fields: recorded as `rejected`, with every field error, as its key's answer too. */
export async function recordInvalid(
  deps: IntakeDeps,
  origin: LeadOrigin,
  data: Record<string, unknown>,
  errors: FieldError[],
  deadline: Deadline,
  idempotent: IdempotentResponse | undefined,
  progress: SellProgress,
  metrics: Metrics | undefined,
): Promise<LeadFate> {
  const answer: InvalidLeadAnswer = { status: 422, errors, lead_id: origin.id };
  const reason = reasonText("invalid", errors.map((e) => e.path.replace(/^data\./, "")).join(","));
  const key = idempotent && { ...idempotent, status: 422, body: answer };
  await recording(progress, origin.id, () =>
    insertRejectedLead(deps.database, { ...origin, data, receivedAt: new Date(deadline.receivedAt) }, reason, key),
  );
  progress.leadId = origin.id;
  metrics?.recordLead("rejected");
  return { kind: "invalid", recorded: true, answer };
}

/** What step 2 leaves for the auction: the lead is recorded as `auctioning`. */
export interface Auctioning {
  kind: "auctioning";
  /** Buyers that already received this consumer within their dedup window. */
  seenBuyers: string[];
}

/**
 * Step 2: records the lead in one statement that also checks the suppression list, claims its dedup
 * keys, reserves its supplier's caps and learns which buyers already have this consumer. Test leads
 * skip dedup and caps so they never block a real consumer or use up a cap.
 */
export async function recordForAuction(
  deps: IntakeDeps,
  plan: CampaignPlan,
  supplier: Supplier,
  origin: LeadOrigin,
  data: Record<string, unknown>,
  deadline: Deadline,
  idempotent: IdempotentResponse | undefined,
  progress: SellProgress,
  metrics: Metrics | undefined,
): Promise<Auctioning | LeadFate> {
  const campaign = plan.campaign;
  const test = origin.test;
  const at = deadline.receivedAt;
  const lead: NewLead = { ...origin, data, receivedAt: new Date(at), deadlineAt: new Date(deadline.atWall) };
  const supplierWindowMs = (campaign.dedup.supplier_window_minutes ?? 0) * 60_000;
  const supplierRules = test ? [] : capRules("supplier", supplier.id, supplier.caps ?? [], supplier.timezone ?? "UTC", "cap");
  if (supplierRules.length || plan.hasCaps) await deps.caps.view.fresh();
  // Plainly over its cap by this process's view: refused without trying.
  const plainlyFull = fullCap(supplierRules, at, 0, (k) => deps.caps.view.get(k));
  if (plainlyFull) return refuseOverCap(deps, lead, plainlyFull, metrics);

  const supplierClaims = supplierRules.map((rule) => claimOf(rule, at, 0));
  const verdict = await recording(progress, origin.id, () =>
    insertLeadForAuction(
      deps.database,
      lead,
      {
        dedup: { keys: test ? [] : dedupKeys(campaign.dedup, data), cutoff: new Date(at - campaign.dedup.lookback_days * DAY_MS) },
        resubmit:
          test || supplierWindowMs === 0
            ? undefined
            : { keys: supplierDedupKeys(supplier.id, campaign.dedup, data), cutoff: new Date(at - supplierWindowMs) },
        suppression: leadContacts(plan.fields.contactFields, data),
        supplierCaps: supplierClaims,
        buyerLookups: test ? [] : buyersWithDedup(plan, data, at),
      },
      idempotent,
    ),
  );
  if (verdict.status === "cap_full") {
    // A supplier cap had no room: the statement recorded nothing. Find which cap, and record the refusal.
    const usage = await readUsage(deps.database.db, supplierClaims);
    deps.caps.view.update(usage);
    const full = fullCap(supplierRules, at, 0, (k) => deps.caps.view.get(k)) ?? { reason: reasonText("cap_leads", supplierRules[0].period), claim: supplierClaims[0] };
    return refuseOverCap(deps, lead, full, metrics);
  }
  // The lead is recorded, and its key is bound to it.
  progress.leadId = origin.id;
  if (verdict.status === "auctioning") return { kind: "auctioning", seenBuyers: verdict.seenBuyers };

  // Suppressed or a duplicate: decided without an auction.
  const status = verdict.status;
  const answer = leadAnswer(origin.id, status, 0, 0, status === "rejected" ? { reason: verdict.reason, detail: null } : undefined);
  if (idempotent) await storeIdempotentResponse(deps.database, { ...idempotent, body: answer }, origin.id);
  metrics?.recordLead(status);
  deps.logger.info({ lead_id: origin.id, campaign: campaign.id, supplier: supplier.id, status, reason: verdict.reason }, "lead");
  return { kind: status, recorded: true, answer };
}

/** Each buyer with a dedup window among the campaign's channels, with this consumer's keys for it. */
function buyersWithDedup(plan: CampaignPlan, data: Record<string, unknown>, at: number) {
  const lookups = new Map<string, { buyerId: string; keys: string[]; cutoff: Date }>();
  for (const channel of plan.channels) {
    if (!channel.buyerDedup || lookups.has(channel.buyerId)) continue;
    const keys = dedupKeys(channel.buyerDedup.rule, data);
    if (keys.length) lookups.set(channel.buyerId, { buyerId: channel.buyerId, keys, cutoff: new Date(at - channel.buyerDedup.lookbackMs) });
  }
  return [...lookups.values()];
}

/**
 * A supplier over its cap: the lead is recorded as `rejected` with the cap's reason (and not under
 * its Idempotency-Key, which is given back, so the same request may be sent again once the cap
 * resets).
 */
async function refuseOverCap(
  deps: IntakeDeps,
  lead: NewLead,
  full: { reason: CapReason<"cap">; claim: { resetsAt: number | null } },
  metrics: Metrics | undefined,
): Promise<LeadFate> {
  await insertRejectedLead(deps.database, lead, full.reason);
  metrics?.recordLead("rejected");
  deps.logger.info({ lead_id: lead.id, campaign: lead.campaignId, supplier: lead.supplierId, status: "rejected", reason: full.reason }, "lead");
  const retryAfter = full.claim.resetsAt === null ? undefined : Math.max(1, Math.ceil((full.claim.resetsAt - deps.clock.now()) / 1000));
  return { kind: "over_cap", recorded: true, leadId: lead.id, reason: full.reason, retryAfter };
}
