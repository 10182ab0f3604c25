// Returns (README "After the sale"): a buyer (by postback) or an operator asks to return one of its
// sales, with a reason from the buyer's `returns.reasons`, within `returns.window_days` of the sale
// and under `returns.max_rate_percent`. The return is pending until an operator accepts or rejects
// it, or the sweeper accepts it `auto_accept_hours` after it was asked for.
//
// Accepting reverses the sale's revenue and, per the campaign's `returns.charge_supplier`, claws
// back the supplier's share of the payout; with the buyer's `returns.release_caps` it gives the
// sale's lead and spend back to the caps it counted in. The lead becomes `returned` once every
// sale of it is returned. The lead's own columns keep the sale's figures (reports roll them up by
// the hour the lead arrived, long before a return): what was reversed is on the return's row, and
// net figures are gross minus those rows (src/reports/after-sale.ts).
//
// Every step writes the lead's history and the audit log in the transaction that makes it.
import { eq } from "drizzle-orm";
import { capRules, claimOf } from "../auction/caps";
import type { Channel } from "../channels/config";
import type { Actor } from "../db/audit";
import { recordAudit } from "../db/audit";
import {
  addLeadEvent,
  buyerReturnRate,
  dueReturns,
  findReturn,
  findReturnOf,
  giveBackUsage,
  insertReturn,
  leadReturnsOf,
  leadSales,
  lockBuyer,
  updateReturn,
  type ReturnRow,
  type Sale,
} from "../db/after-sale";
import type { Database, Db } from "../db/client";
import { enqueueReturnNotice } from "../db/deliveries";
import { buyers, campaigns, channels, leads } from "../db/schema";
import { GavelError } from "../errors";
import { fromCents } from "../money";
import { reasonText } from "../reasons";
import type { Buyer, Campaign } from "../resources/schemas";
import { DAY_MS, type Clock } from "../time/clock";

const HOUR_MS = 3_600_000;

export interface ReturnDeps {
  database: Database;
  clock: Clock;
  newId(): string;
}

type LeadRow = typeof leads.$inferSelect;

export interface ReturnRequest {
  leadId: string;
  /** Whose sale is returned; may be left out when the lead has one sale. */
  buyerId?: string;
  reason: string;
  /** `postback:<event id>` or `operator:<actor id>`. */
  requestedBy: string;
  actor: Actor;
  note?: string;
}

/** The lead, locked until the transaction ends (its returns are decided one at a time). */
async function lockedLead(tx: Db, id: string): Promise<LeadRow | undefined> {
  const [lead] = await tx.select().from(leads).where(eq(leads.id, id)).for("update");
  return lead;
}

async function configOf<T>(tx: Db, table: typeof buyers | typeof campaigns | typeof channels, id: string): Promise<T | undefined> {
  const [row] = await tx.select({ config: table.config }).from(table).where(eq(table.id, id));
  return row?.config as T | undefined;
}

const refused = (path: string, message: string) => new GavelError("validation", `The return was refused: ${path} ${message}`, { errors: [{ path, message }] });

/**
 * Asks for a return inside `tx` (the postback that asks is written in the same one). Refusals are
 * GavelErrors: 404 for a lead this buyer did not buy, 422 for a reason, window or rate the buyer's
 * settings refuse, 409 for a sale already asked about.
 */
export async function requestReturn(tx: Db, deps: ReturnDeps, req: ReturnRequest): Promise<ReturnRow> {
  const now = deps.clock.now();
  const lead = await lockedLead(tx, req.leadId);
  if (!lead) throw new GavelError("not_found", `No lead '${req.leadId}'`);
  // A sale its buyer's postback is still to confirm is no sale yet: there is nothing to return.
  if (lead.status === "pending")
    throw new GavelError("conflict", `Lead '${lead.id}' is pending: its sale is not confirmed yet, so there is nothing to return (its buyer's contacted postback confirms it)`);
  // A lead with a post still unknown (a shared lead half settled) is settled before any of its sales
  // is returned: a return would end it `returned`, and its open post could never be settled after.
  if (lead.reason === "post_outcome_unknown" || lead.reason?.startsWith("post_outcome_unknown:"))
    throw new GavelError("conflict", `Lead '${lead.id}' has a post whose outcome is unknown: settle it first (POST /v1/leads/${lead.id}/resolve, or that buyer's postback), then ask for the return`);
  const sales = await leadSales(tx, lead);
  let sale: Sale | undefined;
  if (req.buyerId) sale = sales.find((s) => s.buyerId === req.buyerId);
  else if (sales.length === 1) sale = sales[0];
  else if (sales.length > 1) throw refused("buyer_id", `is needed: lead '${lead.id}' was sold to ${sales.map((s) => s.buyerId).join(", ")}`);
  if (!sale) throw new GavelError("not_found", req.buyerId ? `Lead '${lead.id}' was not sold to buyer '${req.buyerId}'` : `Lead '${lead.id}' was not sold`);

  // One buyer's returns are asked for one at a time, so two cannot both fit under its rate.
  await lockBuyer(tx, sale.buyerId);
  const buyer = await configOf<Buyer>(tx, buyers, sale.buyerId);
  const policy = buyer?.returns;
  if (!policy) throw refused("event", `buyer '${sale.buyerId}' takes no returns (its returns settings are not set)`);
  if (!policy.reasons.includes(req.reason)) throw refused("reason", `must be one of ${policy.reasons.map((r) => `'${r}'`).join(", ")}`);
  const closesAt = sale.atMs + policy.window_days * DAY_MS;
  if (now > closesAt)
    throw refused("lead_id", `was sold ${new Date(sale.atMs).toISOString()}: its return window of ${policy.window_days} days closed ${new Date(closesAt).toISOString()}`);
  const earlier = await findReturnOf(tx, lead.id, sale.buyerId);
  if (earlier) throw new GavelError("conflict", `Lead '${lead.id}' has a return for buyer '${sale.buyerId}' already (${earlier.id}, ${earlier.state})`);
  // Up to a day ahead: a post's start is its lead's arrival plus the auction's elapsed time, which
  // may read a few ms past a clock that has not moved since (a test's); no sale is later than now.
  const rate = await buyerReturnRate(tx, sale.buyerId, now - policy.window_days * DAY_MS, now + DAY_MS);
  // This return counts toward the rate it must fit under.
  if ((rate.returns + 1) * 100 > policy.max_rate_percent * rate.sales)
    throw refused(
      "event",
      `would take buyer '${sale.buyerId}' over its return rate: ${rate.returns + 1} returns of ${rate.sales} sales in the last ${policy.window_days} days, over max_rate_percent ${policy.max_rate_percent}`,
    );

  const requestedAt = new Date(now);
  const row = await insertReturn(tx, {
    id: deps.newId(),
    leadId: lead.id,
    buyerId: sale.buyerId,
    channelId: sale.channelId,
    campaignId: lead.campaignId,
    supplierId: lead.supplierId,
    reason: req.reason,
    state: "pending",
    requestedBy: req.requestedBy,
    requestedAt,
    autoAcceptAt: policy.auto_accept_hours === null ? null : new Date(now + policy.auto_accept_hours * HOUR_MS),
    note: req.note ?? null,
    revenueCents: sale.priceCents,
  });
  await addLeadEvent(tx, { leadId: lead.id, status: lead.status, at: requestedAt, reason: reasonText("return_requested", `${sale.buyerId}, ${req.reason}`) });
  await recordAudit(tx, req.actor, {
    resource: `leads/${lead.id}/returns/${row.id}`,
    action: "return.request",
    diff: [
      { path: "state", after: "pending" },
      { path: "buyer_id", after: sale.buyerId },
      { path: "reason", after: req.reason },
      { path: "requested_by", after: req.requestedBy },
    ],
  });
  return row;
}

/**
 * The supplier's share of one sale's payout: a lead sold once pays its whole payout; a shared lead's
 * payout is split by price, rounded down, the highest sale (the lead's sold channel) taking what
 * rounding left, as the reports split it (src/reports/facts.ts), so clawbacks add up exactly.
 */
export function payoutShare(lead: Pick<LeadRow, "priceCents" | "revenueCents" | "soldChannelId">, sales: readonly Sale[], channelId: string): number {
  if (sales.length <= 1) return lead.priceCents;
  const share = (s: Sale) => (lead.revenueCents > 0 ? Math.floor((lead.priceCents * s.priceCents) / lead.revenueCents) : 0);
  const sale = sales.find((s) => s.channelId === channelId);
  if (!sale) return 0;
  if (channelId !== lead.soldChannelId) return share(sale);
  return lead.priceCents - sales.filter((s) => s.channelId !== channelId).reduce((sum, s) => sum + share(s), 0);
}

/** The cap period instances a sale counted in: its channel's and its buyer's caps, at the sale's instant. */
async function saleUsageKeys(tx: Db, sale: { channelId: string; atMs: number; priceCents: number }, buyer: Buyer, campaign: Campaign | undefined) {
  const channel = await configOf<Channel>(tx, channels, sale.channelId);
  const zone = channel?.timezone ?? campaign?.timezone ?? "UTC";
  const rules = [...capRules("channel", sale.channelId, channel?.caps ?? [], zone, "cap"), ...capRules("buyer", buyer.id, buyer.caps ?? [], buyer.timezone, "buyer_cap")];
  return rules.map((rule) => claimOf(rule, sale.atMs, sale.priceCents));
}

export type Decision = "accept" | "reject";

/** Accepts or rejects a pending return (409 when it is decided already). */
export async function decideReturn(deps: ReturnDeps, id: string, decision: Decision, actor: Actor, note?: string): Promise<ReturnRow> {
  return deps.database.db.transaction((tx) => decideIn(tx, deps, id, decision, actor, note));
}

async function decideIn(tx: Db, deps: ReturnDeps, id: string, decision: Decision, actor: Actor, note?: string): Promise<ReturnRow> {
  // The return, then its lead: the order every decision (an operator's or the sweeper's) locks in.
  const ret = await findReturn(tx, id, { lock: true });
  if (!ret) throw new GavelError("not_found", `No return '${id}'`);
  const lead = await lockedLead(tx, ret.leadId);
  if (!lead) throw new GavelError("not_found", `No lead '${ret.leadId}'`);
  if (ret.state !== "pending") throw new GavelError("conflict", `Return '${id}' was ${ret.state} already (${ret.decidedAt?.toISOString()} by ${ret.decidedBy})`);
  const at = new Date(deps.clock.now());
  const who = actor.id;

  if (decision === "reject") {
    const row = await updateReturn(tx, id, { state: "rejected", decidedAt: at, decidedBy: who, note: note ?? ret.note });
    await addLeadEvent(tx, { leadId: lead.id, status: lead.status, at, reason: reasonText("return_rejected", `${ret.buyerId}, by ${who}`) });
    await recordAudit(tx, actor, {
      resource: `leads/${lead.id}/returns/${id}`,
      action: "return.reject",
      diff: [{ path: "state", before: "pending", after: "rejected" }, ...(note ? [{ path: "note", after: note }] : [])],
    });
    return row;
  }

  const sales = await leadSales(tx, lead);
  const sale = sales.find((s) => s.channelId === ret.channelId) ?? { channelId: ret.channelId, buyerId: ret.buyerId, priceCents: ret.revenueCents, atMs: lead.decidedAt?.getTime() ?? lead.receivedAt.getTime() };
  const campaign = await configOf<Campaign>(tx, campaigns, lead.campaignId);
  const buyer = await configOf<Buyer>(tx, buyers, ret.buyerId);
  const chargeSupplier = campaign?.returns?.charge_supplier ?? true;
  const clawbackCents = chargeSupplier ? payoutShare(lead, sales, ret.channelId) : 0;
  let capsReleased = false;
  if (buyer?.returns?.release_caps) {
    await giveBackUsage(tx, await saleUsageKeys(tx, sale, buyer, campaign), sale.priceCents);
    capsReleased = true;
  }
  const row = await updateReturn(tx, id, { state: "accepted", decidedAt: at, decidedBy: who, note: note ?? ret.note, clawbackCents, capsReleased });

  // The lead is returned once every one of its sales is.
  const accepted = (await leadReturnsOf(tx, lead.id)).filter((r) => r.state === "accepted").length;
  const whole = accepted >= Math.max(1, sales.length);
  const status = whole && lead.status === "sold" ? "returned" : lead.status;
  if (status !== lead.status) await tx.update(leads).set({ status }).where(eq(leads.id, lead.id));
  // The supplier hears of it (a postback_url), with what was clawed back, in this transaction.
  await enqueueReturnNotice(tx, {
    returnId: id,
    leadId: lead.id,
    campaignId: lead.campaignId,
    supplierId: lead.supplierId,
    status,
    payoutCents: lead.priceCents,
    clawbackCents,
    test: lead.test,
    atMs: at.getTime(),
  });
  await addLeadEvent(tx, {
    leadId: lead.id,
    status,
    at,
    reason: reasonText("return_accepted", `${ret.buyerId}, revenue ${fromCents(ret.revenueCents).toFixed(2)} reversed, payout ${fromCents(clawbackCents).toFixed(2)} clawed back, by ${who}`),
  });
  await recordAudit(tx, actor, {
    resource: `leads/${lead.id}/returns/${id}`,
    action: "return.accept",
    diff: [
      { path: "state", before: "pending", after: "accepted" },
      { path: "revenue_reversed", after: fromCents(ret.revenueCents) },
      { path: "payout_clawed_back", after: fromCents(clawbackCents) },
      { path: "caps_released", after: capsReleased },
      ...(status !== lead.status ? [{ path: "lead.status", before: lead.status, after: status }] : []),
      ...(note ? [{ path: "note", after: note }] : []),
    ],
  });
  return row;
}

/** Gavel itself, accepting returns whose auto_accept_hours have passed. */
export const SWEEPER: Actor = { id: "system:returns", name: "returns sweeper", via: "system" };

/**
 * One sweep: accepts the pending returns whose auto-accept time has come, each in its own
 * transaction; processes sharing the database skip the ones another is deciding.
 */
export async function acceptDueReturns(deps: ReturnDeps, limit = 50): Promise<number> {
  let accepted = 0;
  for (let i = 0; i < limit; i++) {
    const done = await deps.database.db.transaction(async (tx) => {
      const [due] = await dueReturns(tx, deps.clock.now(), 1);
      if (!due) return false;
      await decideIn(tx, deps, due.id, "accept", SWEEPER, "accepted automatically: auto_accept_hours passed");
      return true;
    });
    if (!done) break;
    accepted++;
  }
  return accepted;
}
