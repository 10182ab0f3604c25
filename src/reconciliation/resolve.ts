// Reconciliation (README "After the sale"): a lead whose post's outcome was unknown (a timeout after
// sending, a cut connection, an unreadable answer; or its process died mid-auction) ended `error`
// with reason `post_outcome_unknown`, offered to no one else, since the buyer may have it. Once
// someone knows, each such post is settled, exactly once:
// - an operator says so: `POST /v1/leads/{id}/resolve`, sold (to a channel, at a price) or unsold
//   (one channel's post, or every post still open);
// - or the buyer says so: a `contacted` or `converted` postback from the buyer of a post whose
//   outcome was unknown settles that post sold at the price it offered.
//
// Each post is settled on its own, as its answer would have: sold, it reads accepted at that price
// and its reservation (caps, the buyer's dedup claim) stays counted at that price; unsold, it reads
// rejected and its reservation is given back. The other posts still open keep theirs, and are
// settled later the same way. The lead is then what its sales make it: `sold` once any post is
// settled sold (its revenue the sum of its sales, the supplier's payout its payout rule and the
// campaign's margin on that sum, sold_to their count, sold_channel the highest), `unsold` (reason
// `resolved: unsold`) when none was and none is left open, else still `error`. While a post is
// open the lead keeps its reason `post_outcome_unknown`, so the listing by reason finds it, sold or
// not. Each settlement restates the rolled-up reports; each sale's buyer hears `lead.delivered`;
// the supplier hears `lead.sold` or `lead.unsold` once, when no post is left open (its payout is
// final then); the lead's history and the audit log say who settled which post, when and how.
//
// The lead's row lock and the settling updates' own conditions (the post still unknown, the lead
// still waiting) make two settlements of one post, from any process, one: the second is a 409.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { claimOf } from "../auction/caps";
import { payoutCents, payoutRuleFor } from "../auction/payout";
import { recordAudit, type Actor } from "../db/audit";
import type { Database, Db } from "../db/client";
import { addLeadEvent } from "../db/after-sale";
import {
  campaignChannelBuyer,
  enqueueDeliveredNotice,
  enqueueSupplierNotice,
  forceReservation,
  giveBackBuyerClaim,
  giveBackReservation,
  leadPosts,
  lockLead,
  settleLeadRow,
  settleOpenPost,
  type LeadPost,
  type UnsettledLead,
} from "../db/reconciliation";
import { campaigns, channels, leadEvents, leads, suppliers } from "../db/schema";
import { GavelError } from "../errors";
import { dedupKeys } from "../leads/dedup";
import { fromCents, leadPrice, toCents } from "../money";
import { reasonText, splitReason } from "../reasons";
import { restateRolledLeads } from "../reports/rollup";
import type { Channel } from "../channels/config";
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
        confirm: z
          .boolean()
          .optional()
          .meta({
            description:
              "A lead whose process died before recording its posts: what the channel offered is not known, so a price for a channel without a fixed price is taken only with `confirm: true`",
          }),
        note,
      })
      .strict(),
    z
      .object({
        outcome: z.literal("unsold"),
        channel_id: slug.optional().meta({ description: "The channel whose post was not taken (absent: every post of the lead still open)" }),
        note,
      })
      .strict(),
  ])
  .meta({
    id: "Resolution",
    description: "How a post's unknown outcome turned out: the buyer has the lead (sold), or no buyer took it (unsold). One post at a time: resolve again for another",
  });
export type Resolution = z.infer<typeof Resolution>;

export const ResolvedLead = z
  .object({
    lead_id: z.string(),
    status: z.enum(["sold", "unsold", "error"]).meta({
      description: "The lead's status now: `sold` once any of its posts is settled sold, `error` while none is and some are still open, else `unsold`",
    }),
    price: z.number().meta({ description: "Paid to the supplier: its payout rule and the campaign's margin on the revenue (0 unsold)" }),
    revenue: z.number().meta({ description: "Paid by the buyers: the sum of the lead's sales (0 unsold)" }),
    sold_to: z.number().int().meta({ description: "The lead's sales so far" }),
    sold_channel: z.string().nullable().meta({ description: "The lead's highest sale's channel" }),
    sold_buyer: z.string().nullable(),
    posts: z
      .array(z.object({ channel_id: z.string(), outcome: z.enum(["accepted", "rejected"]), price: z.number().nullable() }))
      .meta({ description: "The posts this resolution settled, each with its outcome now and price (a sale's, or what a post not taken had offered)" }),
    open_channels: z.array(z.string()).meta({ description: "Channels whose post's outcome is still unknown: each is settled on its own (resolve again, or its buyer's postback)" }),
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

/** A post's outcome settled here before (settleIn writes its detail so). */
const wasSettled = (post: LeadPost) => post.outcome !== "unknown" && post.outcome !== "invalid_response" && (splitReason(post.reason)?.detail ?? "").startsWith("settled");

/**
 * A lead still waiting for a post's outcome: reason `post_outcome_unknown` (any detail), status
 * `error`, or `sold` once one of its posts was settled sold while others are still open.
 */
export const isUnsettled = (lead: Pick<UnsettledLead, "status" | "reason">) =>
  (lead.status === "error" || lead.status === "sold") && splitReason(lead.reason)?.reason === "post_outcome_unknown";

/** How one resolve settles a lead: a post sold, one post unsold, or (no channel) every post still open unsold. */
type Ruling = { outcome: "sold"; channelId: string; priceCents: number | null; confirmed: boolean } | { outcome: "unsold"; channelId: string | null };

const invalid = (path: string, message: string) => new GavelError("validation", `The resolution was refused: ${path} ${message}`, { errors: [{ path, message }] });

/** An operator's settlement, in its own transaction. */
export async function resolveLead(deps: ResolveDeps, leadId: string, resolution: Resolution, actor: Actor): Promise<ResolvedLead> {
  const settlement: Ruling =
    resolution.outcome === "sold"
      ? { outcome: "sold", channelId: resolution.channel_id, priceCents: toCents(resolution.price), confirmed: resolution.confirm === true }
      : { outcome: "unsold", channelId: resolution.channel_id ?? null };
  return deps.database.db.transaction(async (tx) => {
    const lead = await lockLead(tx, leadId);
    if (!lead) throw new GavelError("not_found", `No lead '${leadId}'`);
    // A lead waiting for its buyer's postback (confirm.ts) is settled as its confirmation would.
    if (lead.status === "pending") {
      const settled = await resolvePending(tx, deps, lead, settlement, { actor, by: actor.id, note: resolution.note });
      return { ...settled, sold_to: settled.status === "sold" ? 1 : 0, posts: [], open_channels: [] };
    }
    return settleIn(tx, deps, lead, settlement, { actor, by: actor.id, note: resolution.note });
  });
}

/**
 * A buyer's `contacted` or `converted` postback for a lead it may have: when the lead still waits
 * for the outcome of a post to a channel of this buyer, that post is settled sold at the price it
 * offered, inside `tx` (the postback's own transaction). Null when there is nothing to settle.
 */
export async function settleByBuyer(tx: Db, deps: ResolveDeps, leadId: string, buyerId: string, settler: Settler): Promise<ResolvedLead | null> {
  const lead = await lockLead(tx, leadId);
  if (!lead || !isUnsettled(lead)) return null;
  const post = (await leadPosts(tx, lead)).find((p) => isUnknown(p) && p.buyerId === buyerId);
  if (!post) return null;
  return settleIn(tx, deps, lead, { outcome: "sold", channelId: post.channelId, priceCents: null, confirmed: false }, settler);
}

/**
 * What a postback's settlement sold, for its answer: the post it settled sold (a lead's other
 * sales are not this buyer's), or a confirmed sale's channel and price.
 */
export function settledSale(settled: { sold_channel: string | null; revenue: number; posts?: ResolvedLead["posts"] }): { status: "sold"; channel_id: string; price: number } {
  const post = settled.posts?.find((p) => p.outcome === "accepted");
  return { status: "sold", channel_id: post?.channel_id ?? settled.sold_channel!, price: post?.price ?? settled.revenue };
}

/** How the lead was settled before, for the 409 of a second settlement. */
async function earlierSettlement(tx: Db, lead: UnsettledLead): Promise<string> {
  const events = await tx.select().from(leadEvents).where(eq(leadEvents.leadId, lead.id));
  const settled = events.filter((e) => splitReason(e.reason)?.reason === "resolved").at(-1);
  if (settled) return `Lead '${lead.id}' was settled already (${settled.at.toISOString()}: ${settled.status}, ${splitReason(settled.reason)?.detail}): its outcome is settled once`;
  return `Lead '${lead.id}' is ${lead.status}${lead.reason ? ` (${lead.reason})` : ""}: only a lead that ended error with reason post_outcome_unknown can be resolved`;
}

/** A post settled already, for the 409 of a second settlement of it. */
const postSettledAlready = (lead: UnsettledLead, post: LeadPost) =>
  new GavelError(
    "conflict",
    `Lead '${lead.id}''s post to ${post.channelId} was settled already (${post.outcome}${post.priceCents === null ? "" : ` at ${fromCents(post.priceCents).toFixed(2)}`}, ${splitReason(post.reason)?.detail}): a post's outcome is settled once`,
  );

/** A sale of the lead: an accepted post's, or the one sale of a lead whose posts were never recorded. */
interface LeadSale {
  post: LeadPost | null;
  channelId: string;
  buyerId: string;
  priceCents: number;
}

/** The most a channel of a lead whose posts were never recorded could have paid: its fixed prices (null: not known). */
async function plausibleMaxCents(tx: Db, channelId: string): Promise<number | null> {
  const channel = await configOf<Channel>(tx, channels, channelId);
  const prices = [channel?.fixed_price, channel?.shared_fixed_price].filter((p): p is number => p !== undefined);
  return prices.length ? toCents(Math.max(...prices)) : null;
}

async function settleIn(tx: Db, deps: ResolveDeps, lead: UnsettledLead, settlement: Ruling, settler: Settler): Promise<ResolvedLead> {
  if (!isUnsettled(lead)) throw new GavelError("conflict", await earlierSettlement(tx, lead));
  const posts = await leadPosts(tx, lead);
  const open = posts.filter(isUnknown);
  // Its process died before recording any post (the interrupted sweep settled it): which buyer got
  // it, and at what price, is unknown to Gavel, so any channel of the campaign may be named, once.
  const unrecorded = posts.length === 0 && lead.status === "error";

  // The posts this resolve settles, and the sale it makes.
  let settling: LeadPost[];
  let sale: LeadSale | null = null;
  if (settlement.outcome === "sold") {
    const post = open.find((p) => p.channelId === settlement.channelId) ?? null;
    const done = posts.find((p) => p.channelId === settlement.channelId && wasSettled(p));
    if (!post && done) throw postSettledAlready(lead, done);
    let buyerId: string | undefined;
    if (post) buyerId = post.buyerId ?? undefined;
    else if (unrecorded) buyerId = await campaignChannelBuyer(tx, lead.campaignId, settlement.channelId);
    if (!buyerId) {
      const named = [...new Set(open.map((p) => p.channelId))];
      throw invalid(
        "channel_id",
        unrecorded
          ? `is not a channel of campaign '${lead.campaignId}'`
          : `was not posted this lead with an unknown outcome (${named.length ? `posted so: ${named.join(", ")}` : "none was"})`,
      );
    }
    const offered = post?.priceCents ?? null;
    const priceCents = settlement.priceCents ?? offered ?? 0;
    if (offered !== null && priceCents > offered)
      throw invalid("price", `is above what the post offered the lead at (${fromCents(offered).toFixed(2)}): a buyer never pays more than it bid`);
    if (!post) {
      // No post says what it offered: a fixed price bounds it, else the operator confirms it.
      const most = await plausibleMaxCents(tx, settlement.channelId);
      if (most !== null && priceCents > most)
        throw invalid("price", `is above what channel '${settlement.channelId}' sells a lead at (${fromCents(most).toFixed(2)}): a buyer never pays more than its price`);
      if (most === null && !settlement.confirmed)
        throw invalid(
          "confirm",
          `must be true: the lead's process died before recording its posts, so what channel '${settlement.channelId}' offered is not known; check ${fromCents(priceCents).toFixed(2)} (its invoice) and resolve with confirm: true`,
        );
    }
    settling = post ? [post] : [];
    sale = { post, channelId: settlement.channelId, buyerId, priceCents };
  } else if (settlement.channelId !== null) {
    const channelId = settlement.channelId;
    const post = open.find((p) => p.channelId === channelId);
    const done = posts.find((p) => p.channelId === channelId && wasSettled(p));
    if (!post && done) throw postSettledAlready(lead, done);
    if (!post) {
      const named = [...new Set(open.map((p) => p.channelId))];
      throw invalid("channel_id", `was not posted this lead with an unknown outcome (${named.length ? `posted so: ${named.join(", ")}` : "none was"})`);
    }
    settling = [post];
  } else {
    settling = open;
    if (open.length === 0 && !unrecorded) throw new GavelError("conflict", await earlierSettlement(tx, lead));
  }

  // The lead as its sales make it once these posts are settled: the others still open keep it waiting.
  const stillOpen = open.filter((p) => !settling.includes(p));
  const sales: LeadSale[] = posts
    .filter((p) => p.outcome === "accepted" && p.buyerId !== null)
    .map((p) => ({ post: p, channelId: p.channelId, buyerId: p.buyerId!, priceCents: p.priceCents ?? 0 }));
  if (sale) sales.push(sale);
  sales.sort((a, b) => b.priceCents - a.priceCents);
  const revenueCents = sales.reduce((sum, s) => sum + s.priceCents, 0);
  const campaign = await configOf<Campaign>(tx, campaigns, lead.campaignId);
  let payout = 0;
  if (sales.length && campaign) {
    const supplier = await configOf<Supplier>(tx, suppliers, lead.supplierId);
    payout = payoutCents(payoutRuleFor(supplier, campaign), revenueCents, campaign.margin);
  }
  const status = sales.length ? "sold" : stillOpen.length ? "error" : "unsold";
  const at = new Date(deps.clock.now());
  const what = sale
    ? `sold to ${sale.channelId} at ${fromCents(sale.priceCents).toFixed(2)}`
    : settlement.channelId !== null
      ? `unsold to ${settlement.channelId}`
      : "unsold";
  // Who settled it is in its history and the audit log only: the lead's own reason is the supplier's to read.
  const historyReason = reasonText("resolved", `${what}, by ${settler.by}`);
  const leadReason = stillOpen.length ? lead.reason : sales.length ? null : reasonText("resolved", "unsold");

  const [before] = await tx
    .select({ soldChannel: leads.soldChannelId, revenueCents: leads.revenueCents, payoutCents: leads.priceCents })
    .from(leads)
    .where(eq(leads.id, lead.id));

  // The lead and its posts change together, and the reports' rolled-up figures with them.
  const changed = await restateRolledLeads(tx, [lead.id], async () => {
    for (const post of settling) {
      const taken = sale?.post?.id === post.id;
      const ok = await settleOpenPost(tx, post, {
        outcome: taken ? "accepted" : "rejected",
        priceCents: taken ? sale!.priceCents : post.priceCents,
        reason: reasonText(taken ? "accepted" : "rejected", `settled (${splitReason(post.reason)?.reason ?? post.outcome}), by ${settler.by}`),
      });
      if (!ok) return false;
    }
    return settleLeadRow(tx, lead.id, {
      status,
      reason: leadReason,
      priceCents: payout,
      revenueCents,
      soldTo: sales.length,
      soldChannelId: sales[0]?.channelId ?? null,
      soldBuyerId: sales[0]?.buyerId ?? null,
    });
  });
  // Settled meanwhile by another: nothing of this one is kept.
  if (!changed) throw new GavelError("conflict", await earlierSettlement(tx, lead));

  // The caps. A test lead reserved none.
  if (!lead.test) {
    // Each post settled kept its reservation at what it offered: a sale keeps it (less the spend
    // it did not use), a post not taken gives it back with the buyer's dedup claim.
    for (const post of settling) {
      if (post.priceCents === null) continue;
      const rules = await reservedRules(tx, post.channelId, campaign);
      const keys = rules.rules.map((rule) => claimOf(rule, lead.receivedAt.getTime(), post.priceCents!));
      if (sale?.post?.id === post.id) {
        if (post.priceCents > sale.priceCents) await giveBackReservation(tx, keys, 0, post.priceCents - sale.priceCents);
      } else {
        await giveBackReservation(tx, keys, 1, post.priceCents);
        if (rules.buyer?.dedup && post.buyerId) await giveBackBuyerClaim(tx, post.buyerId, lead.id, dedupKeys(rules.buyer.dedup, lead.data));
      }
    }
    // A sale with no recorded post has no reservation: it is counted as a sale reserves, forced.
    if (sale && !sale.post) {
      const rules = await reservedRules(tx, sale.channelId, campaign);
      const claims = rules.rules.map((rule) => claimOf(rule, lead.receivedAt.getTime(), sale!.priceCents));
      const dedup = rules.buyer?.dedup;
      await forceReservation(
        tx,
        claims,
        dedup ? { buyerId: sale.buyerId, leadId: lead.id, keys: dedupKeys(dedup, lead.data), seenAt: lead.receivedAt.getTime() } : undefined,
      );
    }
  }

  // A sale's buyer hears of it at once; the supplier hears the lead's outcome once, when it is
  // settled in whole (its payout final), as if the auction had settled it.
  if (sale) await enqueueDeliveredNotice(tx, lead.id, sale.channelId, sale.priceCents, at.getTime());
  if (stillOpen.length === 0) await enqueueSupplierNotice(tx, lead.id, at.getTime());
  await addLeadEvent(tx, { leadId: lead.id, status, at, reason: historyReason });
  await recordAudit(tx, settler.actor, {
    resource: `leads/${lead.id}`,
    action: "lead.resolve",
    diff: [
      ...(status !== lead.status ? [{ path: "status", before: lead.status, after: status }] : []),
      ...settling.map((p) => ({ path: `posts.${p.channelId}`, before: p.outcome, after: sale?.post?.id === p.id ? "accepted" : "rejected" })),
      ...(sale
        ? [
            { path: "sold_channel", before: before.soldChannel, after: sales[0].channelId },
            ...(sales.length > 1 ? [{ path: "sold_to", before: sales.length - 1, after: sales.length }] : []),
            { path: "revenue", before: fromCents(before.revenueCents), after: fromCents(revenueCents) },
            { path: "price", before: fromCents(before.payoutCents), after: fromCents(payout) },
          ]
        : []),
      { path: "resolved_by", after: settler.by },
      ...(settler.note ? [{ path: "note", after: settler.note }] : []),
    ],
  });
  return {
    lead_id: lead.id,
    status,
    price: fromCents(payout),
    revenue: fromCents(revenueCents),
    sold_to: sales.length,
    sold_channel: sales[0]?.channelId ?? null,
    sold_buyer: sales[0]?.buyerId ?? null,
    posts: settling.map((p) => {
      const taken = sale?.post?.id === p.id;
      const cents = taken ? sale!.priceCents : p.priceCents;
      return { channel_id: p.channelId, outcome: taken ? ("accepted" as const) : ("rejected" as const), price: cents === null ? null : fromCents(cents) };
    }),
    open_channels: stillOpen.map((p) => p.channelId),
    resolved_at: at.toISOString(),
    resolved_by: settler.by,
  };
}
