// Buyer postbacks (README "After the sale"): a buyer tells Gavel what became of a lead it bought —
// it contacted the consumer, the consumer converted (with a value), or it asks to return the lead.
// A postback is idempotent by its event_id: the same event_id and body get the stored answer again,
// the same event_id with another body is refused (422), as a lead's Idempotency-Key is.
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Actor } from "../db/audit";
import type { Db } from "../db/client";
import { addLeadEvent, findPostback, insertPostback, leadSales } from "../db/after-sale";
import { channels, leads } from "../db/schema";
import { GavelError } from "../errors";
import { leadPrice, toCents } from "../money";
import { reasonText } from "../reasons";
import type { Buyer } from "../resources/schemas";
import { confirmByBuyer } from "../reconciliation/confirm";
import { settleByBuyer, settledSale } from "../reconciliation/resolve";
import { requestReturn, type ReturnDeps } from "../returns/returns";

export const POSTBACK_EVENTS = ["contacted", "converted", "return_requested"] as const;

export const Postback = z
  .object({
    event_id: z.string().min(1).max(200).meta({ description: "The buyer's id for this event: sending it again is safe" }),
    lead_id: z.string().min(1).max(100),
    event: z.enum(POSTBACK_EVENTS),
    value: leadPrice.optional().meta({ description: "What the conversion was worth to the buyer (converted only)" }),
    reason: z.string().min(1).max(100).optional().meta({ description: "One of the buyer's returns.reasons (return_requested only, and needed there)" }),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.value !== undefined && p.event !== "converted") ctx.addIssue({ code: "custom", path: ["value"], message: "is for a converted event only" });
    if (p.event === "return_requested" && p.reason === undefined) ctx.addIssue({ code: "custom", path: ["reason"], message: "is needed to return a lead" });
    if (p.reason !== undefined && p.event !== "return_requested") ctx.addIssue({ code: "custom", path: ["reason"], message: "is for a return_requested event only" });
  })
  .meta({ id: "Postback" });
export type Postback = z.infer<typeof Postback>;

export const PostbackAnswer = z
  .object({
    event_id: z.string(),
    lead_id: z.string(),
    event: z.enum(POSTBACK_EVENTS),
    received_at: z.string(),
    return: z
      .object({ id: z.string(), state: z.enum(["pending", "accepted", "rejected"]), auto_accept_at: z.string().nullable() })
      .optional()
      .meta({ description: "The return asked for (return_requested)" }),
    settled: z
      .object({ status: z.literal("sold"), channel_id: z.string(), price: z.number() })
      .optional()
      .meta({
        description:
          "The sale this postback made (contacted or converted): of a lead `pending` its confirmation by this buyer (`post.confirmed_by: postback`), at the price its post was accepted at; or of a lead that ended error/post_outcome_unknown after a post to this buyer, to that post's channel at the price it offered",
      }),
  })
  .meta({ id: "PostbackAnswer" });
export type PostbackAnswer = z.infer<typeof PostbackAnswer>;

/** Any key order, the same hash: what makes a repeat "the same body". */
function bodyHash(p: Postback): string {
  const canonical = JSON.stringify([p.event_id, p.lead_id, p.event, p.value ?? null, p.reason ?? null]);
  return createHash("sha256").update(canonical).digest("hex");
}

/** The stored answer to an event id seen before, or a 422 when this body is not the one it came with. */
function replay(stored: { requestHash: string; answer: unknown }, hash: string, eventId: string): PostbackAnswer {
  if (stored.requestHash !== hash)
    throw new GavelError("idempotency_mismatch", `event_id '${eventId}' was sent before with another body: send a new event_id for a new event`);
  return stored.answer as PostbackAnswer;
}

class TakenMeanwhile extends Error {}

/** Seconds a buyer is asked to wait before sending again a postback of a lead still being auctioned. */
export const AUCTIONING_RETRY_AFTER_S = 2;

/** Whether `buyerId` has a channel in `campaignId`: only such a buyer may be posted a lead of it. */
async function buysIn(tx: Db, buyerId: string, campaignId: string): Promise<boolean> {
  const rows = await tx.select({ id: channels.id }).from(channels).where(and(eq(channels.buyerId, buyerId), eq(channels.campaignId, campaignId))).limit(1);
  return rows.length > 0;
}

/** Records one postback of `buyer` (its signature already checked) and does what it asks. */
export async function recordPostback(deps: ReturnDeps, buyer: Buyer, postback: Postback): Promise<PostbackAnswer> {
  const { db } = deps.database;
  const hash = bodyHash(postback);
  const seen = await findPostback(db, buyer.id, postback.event_id);
  if (seen) return replay(seen, hash, postback.event_id);
  try {
    return await db.transaction(async (tx) => {
      const now = deps.clock.now();
      const receivedAt = new Date(now);
      const answer: PostbackAnswer = { event_id: postback.event_id, lead_id: postback.lead_id, event: postback.event, received_at: receivedAt.toISOString() };
      const actor: Actor = { id: `buyer:${buyer.id}`, name: buyer.name, via: "api" };
      if (postback.event === "return_requested") {
        const ret = await requestReturn(tx, deps, {
          leadId: postback.lead_id,
          buyerId: buyer.id,
          reason: postback.reason!,
          requestedBy: `postback:${postback.event_id}`,
          actor,
        });
        answer.return = { id: ret.id, state: ret.state as "pending", auto_accept_at: ret.autoAcceptAt?.toISOString() ?? null };
      } else {
        // The buyer has the lead: a sale it is to confirm is made (confirm.ts), and a post to it
        // whose outcome was unknown is settled as its sale.
        const settler = { actor, by: `postback:${buyer.id}/${postback.event_id}` };
        const settled =
          (await confirmByBuyer(tx, deps, postback.lead_id, buyer.id, settler)) ?? (await settleByBuyer(tx, deps, postback.lead_id, buyer.id, settler));
        if (settled) answer.settled = settledSale(settled);
        const [lead] = await tx.select().from(leads).where(eq(leads.id, postback.lead_id));
        // Sent from inside the buyer's post handler, before it answered: the lead is still being
        // auctioned and its post to this buyer is in flight. Not a refusal: sent again once the
        // post is answered, it finds the lead the buyer bought (or pending its confirmation).
        if (lead?.status === "auctioning" && (await buysIn(tx, buyer.id, lead.campaignId)))
          throw new GavelError(
            "conflict",
            `Lead '${lead.id}' is still being auctioned (a post to buyer '${buyer.id}' may be awaiting its answer): send the postback again after Retry-After`,
            { retryAfter: AUCTIONING_RETRY_AFTER_S },
          );
        // A buyer learns nothing of leads it did not buy: another's lead reads as no lead.
        if (!lead || !(await leadSales(tx, lead)).some((s) => s.buyerId === buyer.id))
          throw new GavelError("not_found", `Buyer '${buyer.id}' bought no lead '${postback.lead_id}'`);
        const detail =
          postback.event === "converted"
            ? `${buyer.id}${postback.value === undefined ? "" : `, value ${postback.value.toFixed(2)}`}, event ${postback.event_id}`
            : `${buyer.id}, event ${postback.event_id}`;
        await addLeadEvent(tx, { leadId: lead.id, status: lead.status, at: receivedAt, reason: reasonText(postback.event, detail) });
      }
      const inserted = await insertPostback(tx, {
        buyerId: buyer.id,
        eventId: postback.event_id,
        leadId: postback.lead_id,
        event: postback.event,
        valueCents: postback.value === undefined ? null : toCents(postback.value),
        reason: postback.reason ?? null,
        requestHash: hash,
        receivedAt,
        answerStatus: 200,
        answer,
      });
      // The same event id, sent twice at once: the other one is recorded; this one's work is undone.
      if (!inserted) throw new TakenMeanwhile();
      return answer;
    });
  } catch (error) {
    if (!(error instanceof TakenMeanwhile) && !(error instanceof GavelError)) throw error;
    // Refused because the same event, sent at once, did it first (its return exists now): its answer.
    const stored = await findPostback(db, buyer.id, postback.event_id);
    if (!stored) {
      if (error instanceof GavelError) throw error;
      throw new Error(`postback ${buyer.id}/${postback.event_id} was taken, and is gone`);
    }
    return replay(stored, hash, postback.event_id);
  }
}
