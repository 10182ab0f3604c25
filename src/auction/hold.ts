// Held leads (issue #16 §4, README "Held leads"): in a campaign with `hold: { max_hours }`, a lead
// that arrives while every channel that could take it is closed by its schedule is answered
// `202 { status: "held" }` and kept in the database (db/held.ts) instead of going unsold. When the
// first of those channels opens, whichever Gavel process sweeps first takes the lead (once across
// processes) and auctions it with a fresh deadline; a lead no channel opened for within `max_hours`
// ends `expired`. Nothing of a held lead lives in a process, so a restart loses none.
import { holdLead, startPosting, takeDueHeldLeads, type ReleasedLead } from "../db/held";
import type { IdempotentResponse } from "../db/leads";
import type { Metrics } from "../metrics";
import { reasonText } from "../reasons";
import type { Supplier } from "../resources/schemas";
import { isOpen } from "../time/schedule";
import { leadAnswer, type LeadFate } from "./answer";
import type { CampaignPlan, Catalog, ChannelPlan } from "./catalog";
import { Deadline, monotonic } from "./deadline";
import { processWorld, selectChannels, type Eligibility } from "./eligibility";
import { recordOutcome } from "./outcome";
import { payoutFloorCents, payoutRuleFor } from "./payout";
import { runAuction } from "./run";
import type { Database } from "../db/client";
import type { Logger } from "pino";
import type { CapLedger, UsageView } from "./caps";
import type { ChannelSlots } from "./limiter";
import type { AuctionDeps } from "./run";
import type { OutcomeDeps } from "./outcome";

/** What holding and releasing leads use: the auction's deps, as a lead's sale has them (sell.ts's SellDeps). */
export interface HoldDeps extends AuctionDeps, OutcomeDeps {
  database: Database;
  catalog: Catalog;
  caps: CapLedger & { view: UsageView };
  limiter: ChannelSlots;
  logger: Logger;
  metrics?: Metrics;
  answerGraceMs?: number;
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** Openings are searched in steps this long, then to the minute: a channel open for less than this may be missed. */
const SEARCH_STEP_MS = 5 * MINUTE_MS;

/** The channels a lead waits for: those left out by their schedule alone, when no channel was selected. */
export function closedChannels(plan: CampaignPlan, eligibility: Eligibility): ChannelPlan[] {
  if (eligibility.eligible.length > 0) return [];
  const closed = new Set(eligibility.excluded.filter((e) => e.reason === "schedule").map((e) => e.channel_id));
  return plan.channels.filter((c) => closed.has(c.id));
}

/** The first minute at or after `from` and before `until` at which one of the channels is open; null when none opens by then. */
export function firstOpening(channels: readonly ChannelPlan[], from: number, until: number): number | null {
  const open = (at: number) => channels.some((c) => c.schedule === null || isOpen(c.schedule, c.zone, at));
  let at = Math.ceil(from / MINUTE_MS) * MINUTE_MS;
  let before = from;
  for (; at < until; before = at, at += SEARCH_STEP_MS) {
    if (!open(at)) continue;
    // Opened within the last step: its first open minute.
    for (let minute = Math.ceil(before / MINUTE_MS) * MINUTE_MS; minute <= at; minute += MINUTE_MS) if (open(minute)) return minute;
    return at;
  }
  return null;
}

/**
 * Holds a lead none of whose channels is open, if its campaign holds leads and one of them opens
 * within `hold.max_hours`: the lead is `held` until then (its slots were never taken: no channel was
 * selected). Null: the lead is not held, and its auction goes on (to end without a channel).
 */
export async function holdIfClosed(
  deps: HoldDeps,
  plan: CampaignPlan,
  lead: { id: string; receivedAt: number },
  eligibility: Eligibility,
  idempotent: IdempotentResponse | undefined,
  metrics: Metrics | undefined,
  /** A lead held again keeps its first hold's end. */
  heldUntil?: number,
): Promise<LeadFate | null> {
  const hold = plan.campaign.hold;
  if (!hold) return null;
  const closed = closedChannels(plan, eligibility);
  if (closed.length === 0) return null;
  const expiresAt = heldUntil ?? lead.receivedAt + hold.max_hours * HOUR_MS;
  // A lead held already waits out its hold even when no channel opens before its end (then it expires).
  const releaseAt = firstOpening(closed, lead.receivedAt, expiresAt) ?? (heldUntil === undefined ? null : expiresAt);
  if (releaseAt === null) return null;
  const answer = leadAnswer(lead.id, "held", 0, 0);
  await holdLead(
    deps.database,
    {
      leadId: lead.id,
      campaignId: plan.campaign.id,
      releaseAt: new Date(releaseAt),
      expiresAt: new Date(expiresAt),
      event: { status: "held", at: new Date(deps.clock.now()), reason: reasonText("held", new Date(releaseAt).toISOString()) },
    },
    idempotent && { ...idempotent, status: 202, body: answer },
  );
  metrics?.recordLead("held");
  deps.logger.info({ lead_id: lead.id, campaign: plan.campaign.id, status: "held", release_at: new Date(releaseAt).toISOString() }, "lead");
  return { kind: "held", recorded: true, answer };
}

/**
 * One sweep: takes the held leads due now (at most `limit`, none another process is taking) and
 * auctions each with a fresh deadline, or ends it expired. A lead whose channels turn out closed
 * still (a schedule changed) is held again until the next opening.
 */
export async function releaseHeldLeads(deps: HoldDeps, limit = 50): Promise<{ released: number; expired: number }> {
  const now = deps.clock.now();
  const due = await takeDueHeldLeads(deps.database, new Date(now), limit);
  let released = 0;
  await Promise.all(
    due.map(async (row) => {
      if (row.status !== "auctioning") return;
      released++;
      try {
        await auctionReleased(deps, row);
      } catch (err) {
        // The lead is `auctioning` with a deadline: the sweep of interrupted leads settles it.
        deps.logger.error({ err, lead_id: row.id }, "auctioning a released lead failed");
      }
    }),
  );
  return { released, expired: due.length - released };
}

/** A released lead's auction, as a new lead's from step 3 on (its intake was done when it arrived). */
async function auctionReleased(deps: HoldDeps, row: ReleasedLead): Promise<void> {
      const plan = await deps.catalog.campaign(row.campaignId);
      if (!plan) throw new Error(`held lead ${row.id}: campaign ${row.campaignId} is gone`);
      const supplier = row.supplier as Supplier | null;
      const metrics = row.test ? undefined : deps.metrics;
      // A fresh deadline from now: the lead's arrival, as the auction sees it, is its release.
      const receivedAt = deps.clock.now();
      const deadline = new Deadline(receivedAt, monotonic(), plan.campaign.auction, deps.answerGraceMs ?? 1000);
      const lead = { id: row.id, supplierId: row.supplierId, test: row.test, data: row.data, receivedAt, seenBuyers: new Set<string>() };
      if (plan.hasCaps) await deps.caps.view.fresh();
      const eligibility = selectChannels(plan.channels, lead, processWorld(deps.caps, deps.limiter));
      if (await holdIfClosed(deps, plan, lead, eligibility, undefined, metrics, row.expiresAt)) return;
      const payoutRule = payoutRuleFor(supplier ?? undefined, plan.campaign);
      // Before its first post (a post's caps are reserved first), the lead stops being one to hold again.
      const result = await runAuction(postingMarked(deps, row.id), plan, lead, eligibility, deadline, payoutFloorCents(payoutRule, plan.campaign.margin));
      await recordOutcome(deps, plan, lead, eligibility, result, payoutRule, deadline, undefined, metrics);
      await startPosting(deps.database, row.id).catch(() => {});
}

/** `deps` whose first cap reservation (made before any post) first takes the released lead's hold row away (db/held.ts). */
function postingMarked(deps: HoldDeps, leadId: string): HoldDeps {
  let marked: Promise<void> | null = null;
  const caps = new Proxy(deps.caps, {
    get(target, prop) {
      if (prop === "reserveCap")
        return async (...args: Parameters<CapLedger["reserveCap"]>) => {
          await (marked ??= startPosting(deps.database, leadId));
          return target.reserveCap(...args);
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...deps, caps };
}
