// Reconciliation (README "After the sale"): a lead whose post's outcome was unknown (a timeout after
// sending, a cut connection, an unreadable answer; or its process died mid-auction) ended `error`
// with reason `post_outcome_unknown`, offered to no one else, since the buyer may have it. Once
// someone knows, it is settled, exactly once:
// - an operator says so: `POST /v1/leads/{id}/resolve`, sold (to a channel, at a price) or unsold;
// - or the buyer says so: a `contacted` or `converted` postback from the buyer of a post whose
//   outcome was unknown settles the lead sold to that post's channel at the price the post offered.
//
// Settling makes the lead what its post's answer would have made it. Sold: the lead's revenue is
// the price, the supplier's payout is its payout rule and the campaign's margin on it, the post is
// recorded as accepted at that price, and the caps the post reserved (kept, as for any unknown
// outcome) stay counted at that price. Unsold: the post is recorded as rejected, and its
// reservation (caps and the buyer's dedup claim) is given back. Any other post of the lead whose
// outcome was unknown is settled as not taken. The reports count the lead as settled (its rolled-up
// figures are restated), its supplier's postback_url hears `lead.sold` or `lead.unsold` (and a sale's
// buyer `lead.delivered`) through the outbox, and the lead's history and the audit log say who
// settled it, when and how.
//
// The lead's row lock and the settling update's own condition (it changes only a lead still
// `error`/`post_outcome_unknown`) make two settlements of one lead, from any process, one sale:
// the second is a 409.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { claimOf } from "../auction/caps";
import { payoutCents, payoutRuleFor } from "../auction/payout";
import { recordAudit, type Actor } from "../db/audit";
import type { Database, Db } from "../db/client";
import { addLeadEvent } from "../db/after-sale";
import {
  campaignChannelBuyer,
  enqueueSettlementNotices,
  giveBackBuyerClaim,
  giveBackReservation,
  leadPosts,
  lockLead,
  settleLeadRow,
  settlePost,
  type LeadPost,
  type UnsettledLead,
} from "../db/reconciliation";
import { campaigns, leadEvents, suppliers } from "../db/schema";
import { GavelError } from "../errors";
import { dedupKeys } from "../leads/dedup";
import { fromCents, leadPrice, toCents } from "../money";
import { reasonText, splitReason } from "../reasons";
import { restateRolledLeads } from "../reports/rollup";
import type { Campaign, Supplier } from "../resources/schemas";
import { slug } from "../shapes";
import type { Clock } from "../time/clock";
import { resolvePending } from "./confirm";
import { configOf, reservedRules, type Settlement, type Settler } from "./reservation";

const note = z.string().max(2000).optional().meta({ description: "Why, for the audit log" });

export const Resolution = z
  .discriminatedUnion("outcome", [
    z
      .object({
        outcome: z.literal("sold"),
        channel_id: slug.meta({ description: "The channel whose buyer has the lead: one the lead was posted to with an unknown outcome" }),
        price: leadPrice.meta({ description: "What the buyer pays: at most what the post offered (its bid's charge)" }),
        note,
      })
      .strict(),
    z.object({ outcome: z.literal("unsold"), note }).strict(),
  ])
  .meta({ id: "Resolution", description: "How a post's unknown outcome turned out: the buyer has the lead (sold), or no buyer took it (unsold)" });
export type Resolution = z.infer<typeof Resolution>;

export const ResolvedLead = z
  .object({
    lead_id: z.string(),
    status: z.enum(["sold", "unsold"]),
    price: z.number().meta({ description: "Paid to the supplier: its payout rule and the campaign's margin on the revenue (0 unsold)" }),
    revenue: z.number().meta({ description: "Paid by the buyer (0 unsold)" }),
    sold_channel: z.string().nullable(),
    sold_buyer: z.string().nullable(),
    resolved_at: z.string(),
    resolved_by: z.string().meta({ description: "`token:<id>`, `env:ADMIN_TOKEN`, or `postback:<buyer>/<event_id>`" }),
  })
  .meta({ id: "ResolvedLead" });
export type ResolvedLead = z.infer<typeof ResolvedLead>;

export interface ResolveDeps {
  database: Database;
  clock: Clock;
}

export type { Settlement, Settler };

/** A post whose outcome is not known (post.ts isOutcomeUnknown). */
const isUnknown = (post: LeadPost) => post.outcome === "unknown" || post.outcome === "invalid_response";

/** A lead still waiting to be settled: `error` with reason `post_outcome_unknown` (any detail). */
export const isUnsettled = (lead: Pick<UnsettledLead, "status" | "reason">) =>
  lead.status === "error" && splitReason(lead.reason)?.reason === "post_outcome_unknown";

const invalid = (path: string, message: string) => new GavelError("validation", `The resolution was refused: ${path} ${message}`, { errors: [{ path, message }] });

/** An operator's settlement, in its own transaction. */
export async function resolveLead(deps: ResolveDeps, leadId: string, resolution: Resolution, actor: Actor): Promise<ResolvedLead> {
  const settlement: Settlement =
    resolution.outcome === "sold" ? { outcome: "sold", channelId: resolution.channel_id, priceCents: toCents(resolution.price) } : { outcome: "unsold" };
  return deps.database.db.transaction(async (tx) => {
    const lead = await lockLead(tx, leadId);
    if (!lead) throw new GavelError("not_found", `No lead '${leadId}'`);
    // A lead waiting for its buyer's postback (confirm.ts) is settled as its confirmation would.
    if (lead.status === "pending") return resolvePending(tx, deps, lead, settlement, { actor, by: actor.id, note: resolution.note });
    return settleIn(tx, deps, lead, settlement, { actor, by: actor.id, note: resolution.note });
  });
}

/**
 * A buyer's `contacted` or `converted` postback for a lead it may have: when the lead is still
 * unsettled and was posted to a channel of this buyer with an unknown outcome, it is settled sold
 * to that channel (the first such post) at the price the post offered, inside `tx` (the postback's
 * own transaction). Null when there is nothing to settle.
 */
export async function settleByBuyer(tx: Db, deps: ResolveDeps, leadId: string, buyerId: string, settler: Settler): Promise<ResolvedLead | null> {
  const lead = await lockLead(tx, leadId);
  if (!lead || !isUnsettled(lead)) return null;
  const post = (await leadPosts(tx, lead)).find((p) => isUnknown(p) && p.buyerId === buyerId);
  if (!post) return null;
  return settleIn(tx, deps, lead, { outcome: "sold", channelId: post.channelId, priceCents: null }, settler);
}

/** How the lead was settled before, for the 409 of a second settlement. */
async function earlierSettlement(tx: Db, lead: UnsettledLead): Promise<string> {
  const events = await tx.select().from(leadEvents).where(eq(leadEvents.leadId, lead.id));
  const settled = events.filter((e) => splitReason(e.reason)?.reason === "resolved").at(-1);
  if (settled) return `Lead '${lead.id}' was settled already (${settled.at.toISOString()}: ${settled.status}, ${splitReason(settled.reason)?.detail}): its outcome is settled once`;
  return `Lead '${lead.id}' is ${lead.status}${lead.reason ? ` (${lead.reason})` : ""}: only a lead that ended error with reason post_outcome_unknown can be resolved`;
}

async function settleIn(tx: Db, deps: ResolveDeps, lead: UnsettledLead, settlement: Settlement, settler: Settler): Promise<ResolvedLead> {
  if (!isUnsettled(lead)) throw new GavelError("conflict", await earlierSettlement(tx, lead));
  const posts = await leadPosts(tx, lead);
  const unknown = posts.filter(isUnknown);

  let sale: { post: LeadPost | null; channelId: string; buyerId: string; priceCents: number } | null = null;
  if (settlement.outcome === "sold") {
    const post = unknown.find((p) => p.channelId === settlement.channelId) ?? null;
    let buyerId: string | undefined;
    if (post) buyerId = post.buyerId ?? undefined;
    else if (posts.length === 0)
      // Its process died before recording any post (the interrupted sweep settled it): which buyer
      // got it is unknown to Gavel, so any channel of the campaign may be named.
      buyerId = await campaignChannelBuyer(tx, lead.campaignId, settlement.channelId);
    if (!buyerId) {
      const named = [...new Set(unknown.map((p) => p.channelId))];
      throw invalid(
        "channel_id",
        posts.length === 0
          ? `is not a channel of campaign '${lead.campaignId}'`
          : `was not posted this lead with an unknown outcome (${named.length ? `posted so: ${named.join(", ")}` : "none was"})`,
      );
    }
    const offered = post?.priceCents ?? null;
    const priceCents = settlement.priceCents ?? offered ?? 0;
    if (offered !== null && priceCents > offered)
      throw invalid("price", `is above what the post offered the lead at (${fromCents(offered).toFixed(2)}): a buyer never pays more than it bid`);
    sale = { post, channelId: settlement.channelId, buyerId, priceCents };
  }

  const campaign = await configOf<Campaign>(tx, campaigns, lead.campaignId);
  let payout = 0;
  if (sale && campaign) {
    const supplier = await configOf<Supplier>(tx, suppliers, lead.supplierId);
    payout = payoutCents(payoutRuleFor(supplier, campaign), sale.priceCents, campaign.margin);
  }
  const at = new Date(deps.clock.now());
  const detail = sale ? `sold to ${sale.channelId} at ${fromCents(sale.priceCents).toFixed(2)}, by ${settler.by}` : `unsold, by ${settler.by}`;
  const reason = reasonText("resolved", detail);

  // The lead and its posts change together, and the reports' rolled-up figures with them.
  const changed = await restateRolledLeads(tx, [lead.id], async () => {
    const ok = await settleLeadRow(tx, lead.id, {
      status: sale ? "sold" : "unsold",
      reason: sale ? null : reason,
      priceCents: payout,
      revenueCents: sale?.priceCents ?? 0,
      soldChannelId: sale?.channelId ?? null,
      soldBuyerId: sale?.buyerId ?? null,
    });
    if (!ok) return false;
    for (const post of unknown) {
      const taken = sale?.post?.id === post.id;
      await settlePost(tx, post, {
        outcome: taken ? "accepted" : "rejected",
        priceCents: taken ? sale!.priceCents : post.priceCents,
        reason: reasonText(taken ? "accepted" : "rejected", `settled (${splitReason(post.reason)?.reason ?? post.outcome}), by ${settler.by}`),
      });
    }
    return true;
  });
  // Settled meanwhile by another: nothing of this one is kept.
  if (!changed) throw new GavelError("conflict", await earlierSettlement(tx, lead));

  // The caps: each unknown post kept its reservation at what it offered. A test lead reserved none.
  if (!lead.test) {
    for (const post of unknown) {
      if (post.priceCents === null) continue;
      const rules = await reservedRules(tx, post.channelId, campaign);
      const keys = rules.rules.map((rule) => claimOf(rule, lead.receivedAt.getTime(), post.priceCents!));
      if (sale?.post?.id === post.id) {
        // Sold for less than offered: the unspent spend is given back; the lead stays counted.
        if (post.priceCents > sale.priceCents) await giveBackReservation(tx, keys, 0, post.priceCents - sale.priceCents);
      } else {
        await giveBackReservation(tx, keys, 1, post.priceCents);
        if (rules.buyer?.dedup && post.buyerId) await giveBackBuyerClaim(tx, post.buyerId, lead.id, dedupKeys(rules.buyer.dedup, lead.data));
      }
    }
  }

  // Its supplier (and, for a sale, the buyer) hears the outcome as if the auction had settled it.
  await enqueueSettlementNotices(tx, lead.id, sale?.channelId ?? null, at.getTime());
  await addLeadEvent(tx, { leadId: lead.id, status: sale ? "sold" : "unsold", at, reason });
  await recordAudit(tx, settler.actor, {
    resource: `leads/${lead.id}`,
    action: "lead.resolve",
    diff: [
      { path: "status", before: lead.status, after: sale ? "sold" : "unsold" },
      ...(sale
        ? [
            { path: "sold_channel", before: null, after: sale.channelId },
            { path: "revenue", before: 0, after: fromCents(sale.priceCents) },
            { path: "price", before: 0, after: fromCents(payout) },
          ]
        : []),
      { path: "resolved_by", after: settler.by },
      ...(settler.note ? [{ path: "note", after: settler.note }] : []),
    ],
  });
  return {
    lead_id: lead.id,
    status: sale ? "sold" : "unsold",
    price: fromCents(payout),
    revenue: fromCents(sale?.priceCents ?? 0),
    sold_channel: sale?.channelId ?? null,
    sold_buyer: sale?.buyerId ?? null,
    resolved_at: at.toISOString(),
    resolved_by: settler.by,
  };
}
