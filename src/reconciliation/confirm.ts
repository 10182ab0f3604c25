// Sales confirmed by postback (README "Sales confirmed by postback"): a channel with
// `post.confirmed_by: "postback"` buys a lead by accepting its post, but the sale is only made
// when the buyer's postback says it contacted the consumer (or the consumer converted). Until
// then the lead is `pending` (outcome.ts): offered to no one else, its post's reservation of the
// caps and the buyer's dedup claim kept, counted pending (not sold) by the reports, its supplier
// answered `pending`. Then, exactly once:
// - the buyer's `contacted`/`converted` postback (or an operator's resolve, sold) makes it sold at
//   the price its post was accepted at, the supplier's payout the one quoted;
// - no confirmation within the channel's `confirm_within_hours` (the sweep, in every process, on
//   the injectable clock), or an operator's resolve unsold, makes it unsold (`not_confirmed`): the
//   post reads rejected, its reservation and the buyer's dedup claim are given back.
// Either way the rolled-up reports are restated, the supplier (and a sale's buyer) notified
// through the outbox, and the lead's history and the audit log say who settled it.
//
// The lead's row lock and the settling update's own condition (it changes only a lead still
// `pending`) make a racing postback, resolve and expiry one outcome: the others find it settled.
import { sql } from "drizzle-orm";
import type { Logger } from "pino";
import { claimOf } from "../auction/caps";
import { recordAudit, type Actor } from "../db/audit";
import { txRows, type Database, type Db } from "../db/client";
import { addLeadEvent } from "../db/after-sale";
import { rememberStickyBuyerIn } from "../db/routing";
import { confirmPendingRow, duePendingLeads, pendingUntil, unconfirmPendingRow } from "../db/pending";
import { enqueueSettlementNotices, giveBackBuyerClaim, giveBackReservation, leadPosts, lockLead, settlePost, type LeadPost, type UnsettledLead } from "../db/reconciliation";
import { campaigns } from "../db/schema";
import { GavelError } from "../errors";
import { dedupKeys } from "../leads/dedup";
import { fromCents } from "../money";
import { reasonText } from "../reasons";
import { restateRolledLeads } from "../reports/rollup";
import type { Campaign } from "../resources/schemas";
import type { Clock } from "../time/clock";
import { configOf, reservedRules, type Settlement, type Settler } from "./reservation";

export interface ConfirmDeps {
  database: Database;
  clock: Clock;
}

/** A pending lead settled: the shape of a resolve's answer (resolve.ts ResolvedLead). */
export interface SettledPending {
  lead_id: string;
  status: "sold" | "unsold";
  price: number;
  revenue: number;
  sold_channel: string | null;
  sold_buyer: string | null;
  resolved_at: string;
  resolved_by: string;
}

/** The sale a pending lead waits to have confirmed: written when its post was accepted. */
interface PendingSale {
  post: LeadPost;
  channelId: string;
  buyerId: string;
  revenueCents: number;
  payoutCents: number;
}

const SWEEPER: Actor = { id: "system:pending-sweep", name: "pending sales sweep", via: "system" };

async function pendingSale(tx: Db, lead: UnsettledLead): Promise<PendingSale | null> {
  const [row] = await txRows<{ sold_channel_id: string | null; sold_buyer_id: string | null; revenue_cents: number; price_cents: number }>(
    tx,
    sql`select sold_channel_id, sold_buyer_id, revenue_cents, price_cents from leads where id = ${lead.id}`,
  );
  if (!row?.sold_channel_id || !row.sold_buyer_id) return null;
  const post = (await leadPosts(tx, lead)).filter((p) => p.outcome === "accepted" && p.channelId === row.sold_channel_id).at(-1);
  if (!post) return null;
  return { post, channelId: row.sold_channel_id, buyerId: row.sold_buyer_id, revenueCents: Number(row.revenue_cents), payoutCents: Number(row.price_cents) };
}

/**
 * A buyer's `contacted` or `converted` postback: when the lead is pending a sale to this buyer, it
 * is sold, inside `tx` (the postback's own transaction). Null when there is nothing to confirm.
 */
export async function confirmByBuyer(tx: Db, deps: ConfirmDeps, leadId: string, buyerId: string, settler: Settler): Promise<SettledPending | null> {
  const lead = await lockLead(tx, leadId);
  if (!lead || lead.status !== "pending") return null;
  const sale = await pendingSale(tx, lead);
  if (!sale || sale.buyerId !== buyerId) return null;
  // The wait ended (its `until`, as the sweep reads it): too late to confirm. The postback and the
  // sweep agree: a confirmation counts only before the lead is due, and the lead ends not_confirmed.
  const until = await pendingUntil(tx, lead.id);
  if (until !== null && until <= deps.clock.now())
    throw new GavelError(
      "conflict",
      `Lead '${lead.id}' waited for its confirmation until ${new Date(until).toISOString()}: a postback after that does not sell it, and it ends not_confirmed`,
    );
  return settlePending(tx, deps, lead, sale, "sold", settler);
}

/**
 * An operator's resolve of a pending lead (resolve.ts), under its row lock: sold to its channel at
 * the price its post was accepted at, or unsold (`not_confirmed`).
 */
export async function resolvePending(tx: Db, deps: ConfirmDeps, lead: UnsettledLead, settlement: Settlement, settler: Settler): Promise<SettledPending> {
  const sale = await pendingSale(tx, lead);
  if (!sale) throw new GavelError("conflict", `Lead '${lead.id}' is pending, but its accepted post is not found: it cannot be settled`);
  if (settlement.outcome === "sold") {
    const invalid = (path: string, message: string) => new GavelError("validation", `The resolution was refused: ${path} ${message}`, { errors: [{ path, message }] });
    if (settlement.channelId !== sale.channelId) throw invalid("channel_id", `is not the channel whose confirmation the lead waits for (${sale.channelId})`);
    if (settlement.priceCents !== null && settlement.priceCents !== sale.revenueCents)
      throw invalid("price", `is not the price the post was accepted at (${fromCents(sale.revenueCents).toFixed(2)}): a confirmed sale is made at that price`);
  }
  return settlePending(tx, deps, lead, sale, settlement.outcome, settler);
}

/**
 * One sweep: every pending lead whose wait has ended by the clock's now is made unsold
 * (`not_confirmed`), each in its own transaction under its row lock (a lead a postback or another
 * process settled meanwhile is passed over). It walks the due leads page by page, by id, so a lead
 * that cannot be settled (logged, left pending for an operator's resolve) never holds back the
 * ones after it. Returns how many it settled.
 */
export async function expirePendingLeads(deps: ConfirmDeps & { logger?: Logger }, limit = 500): Promise<number> {
  const now = deps.clock.now();
  let settled = 0;
  let after = "";
  for (;;) {
    const due = await duePendingLeads(deps.database.db, now, limit, after);
    for (const id of due) {
      try {
        const done = await deps.database.db.transaction(async (tx) => {
          const lead = await lockLead(tx, id);
          if (!lead || lead.status !== "pending") return false;
          const sale = await pendingSale(tx, lead);
          if (!sale) throw new GavelError("conflict", `its accepted post is not found`);
          await settlePending(tx, deps, lead, sale, "unsold", { actor: SWEEPER, by: "sweep" }, "no postback in time");
          return true;
        });
        if (done) settled++;
      } catch (err) {
        // This lead waits for an operator (POST /v1/leads/{id}/resolve); the others go on.
        deps.logger?.error({ err, lead_id: id }, "a pending lead whose wait ended could not be settled unsold");
      }
    }
    if (due.length < limit) break;
    after = due.at(-1)!;
  }
  if (settled) deps.logger?.info({ settled }, "pending leads not confirmed in time: unsold");
  return settled;
}

async function settlePending(
  tx: Db,
  deps: ConfirmDeps,
  lead: UnsettledLead,
  sale: PendingSale,
  outcome: "sold" | "unsold",
  settler: Settler,
  why?: string,
): Promise<SettledPending> {
  const at = new Date(deps.clock.now());
  const sold = outcome === "sold";
  const reason = sold
    ? reasonText("confirmed", `${sale.channelId} at ${fromCents(sale.revenueCents).toFixed(2)}, by ${settler.by}`)
    : reasonText("not_confirmed", `${sale.channelId}, ${why ? `${why}, ` : ""}by ${settler.by}`);
  const changed = await restateRolledLeads(tx, [lead.id], async () => {
    if (sold) return confirmPendingRow(tx, lead.id);
    if (!(await unconfirmPendingRow(tx, lead.id, reason))) return false;
    await settlePost(tx, sale.post, { outcome: "rejected", priceCents: sale.post.priceCents, reason: reasonText("rejected", `not confirmed, by ${settler.by}`) });
    return true;
  });
  if (!changed) throw new GavelError("conflict", `Lead '${lead.id}' was settled already: a pending sale is confirmed or not once`);

  // Unconfirmed: the post's reservation (at what it was accepted at) and the buyer's dedup claim
  // are given back. A test lead reserved none.
  if (!sold && !lead.test && sale.post.priceCents !== null) {
    const campaign = await configOf<Campaign>(tx, campaigns, lead.campaignId);
    const rules = await reservedRules(tx, sale.channelId, campaign);
    const keys = rules.rules.map((rule) => claimOf(rule, lead.receivedAt.getTime(), sale.post.priceCents!));
    await giveBackReservation(tx, keys, 1, sale.post.priceCents);
    if (rules.buyer?.dedup) await giveBackBuyerClaim(tx, sale.buyerId, lead.id, dedupKeys(rules.buyer.dedup, lead.data));
  }

  // Confirmed: now the consumer's buyer for sticky routing, as a sale made at once is (routing.ts).
  if (sold && !lead.test) {
    const campaign = await configOf<Campaign>(tx, campaigns, lead.campaignId);
    if (campaign?.routing?.sticky_days !== undefined && campaign.dedup)
      await rememberStickyBuyerIn(tx, lead.campaignId, dedupKeys(campaign.dedup, lead.data), {
        buyerId: sale.buyerId,
        channelId: sale.channelId,
        leadId: lead.id,
        soldAt: lead.receivedAt,
      });
  }

  await enqueueSettlementNotices(tx, lead.id, sold ? sale.channelId : null, at.getTime());
  await addLeadEvent(tx, { leadId: lead.id, status: outcome, at, reason });
  await recordAudit(tx, settler.actor, {
    resource: `leads/${lead.id}`,
    action: sold ? "lead.confirm" : "lead.not_confirmed",
    diff: [
      { path: "status", before: "pending", after: outcome },
      ...(sold ? [] : [{ path: "revenue", before: fromCents(sale.revenueCents), after: 0 }, { path: "price", before: fromCents(sale.payoutCents), after: 0 }]),
      { path: "resolved_by", after: settler.by },
      ...(settler.note ? [{ path: "note", after: settler.note }] : []),
    ],
  });
  return {
    lead_id: lead.id,
    status: outcome,
    price: sold ? fromCents(sale.payoutCents) : 0,
    revenue: sold ? fromCents(sale.revenueCents) : 0,
    sold_channel: sold ? sale.channelId : null,
    sold_buyer: sold ? sale.buyerId : null,
    resolved_at: at.toISOString(),
    resolved_by: settler.by,
  };
}
