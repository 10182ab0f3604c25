// What becomes of a lead, as a value: `sellLead` returns one `LeadFate`, and the HTTP layer maps
// each kind to its answer in one exhaustive switch. `LeadAnswer` is the one shape of the supplier's
// answer for a lead that reached a verdict (the OpenAPI document describes it from here).
// Exceptions are left for bugs, request errors before anything is recorded, and infrastructure
// failures (`leadUnsettled`).
import { z } from "zod";
import { GavelError, type FieldError } from "../errors";
import { fromCents } from "../money";
import { stageReason, STAGE_CODES, type LeadCode, type ReasonText } from "../reasons";

export const LeadAnswer = z
  .object({
    lead_id: z.string(),
    status: z
      .enum(["sold", "unsold", "duplicate", "rejected", "error", "held", "pending"])
      .meta({
        description:
          "`rejected` (with `reason`: `suppressed`) is a lead on the do-not-sell list; `held` (answered 202) a lead kept until a channel opens (README \"Held leads\"): read its outcome at `trace_url` with the supplier key; `pending` a lead a buyer accepted whose sale its postback is to confirm (README \"Sales confirmed by postback\"): `price` is the payout its confirmation brings, `sold_to` 0 until then, and its outcome is read at `trace_url`",
      }),
    reason: z.enum(STAGE_CODES.lead).optional().meta({ description: "Why a lead was `rejected` without an auction: `suppressed`" }),
    detail: z.string().nullable().optional().meta({ description: "What the reason's code leaves open; null when there is none" }),
    price: z.number().meta({ description: "The supplier's payout (0 unless sold or pending): for a shared lead, its payout rule applied to the revenue of all its sales" }),
    sold_to: z
      .number()
      .int()
      .meta({ description: "Number of sales: 1 for an exclusive sale, up to the campaign's `max_sells` for a shared one, else 0 (a count, not who bought: the trace's `sales` say who)" }),
    trace_url: z.string(),
    redirect_url: z
      .string()
      .optional()
      .meta({ description: "On a sale, the buyer's redirect for the consumer, when the campaign hands it on (`return_redirect_url`)" }),
  })
  .meta({ id: "LeadAnswer" });
export type LeadAnswer = z.infer<typeof LeadAnswer>;

/** The supplier's answer for a lead with a verdict: a lead rejected without an auction says why, as a code with its detail. */
export function leadAnswer(leadId: string, status: LeadAnswer["status"], priceCents: number, soldTo: number, why?: { reason: LeadCode; detail: string | null }): LeadAnswer {
  const answer: LeadAnswer = { lead_id: leadId, status, price: fromCents(priceCents), sold_to: soldTo, trace_url: `/v1/leads/${leadId}` };
  if (why) {
    answer.reason = why.reason;
    answer.detail = why.detail;
  }
  return answer;
}

/**
 * A stored answer, as replayed for its Idempotency-Key: one stored before the reason codes (a
 * rejected lead's `reason: "suppressed"` alone) gets its code and detail as an answer has them now.
 */
export function replayedAnswer(body: unknown): unknown {
  const reason = (body as { reason?: unknown } | null)?.reason;
  if (typeof reason !== "string") return body;
  const read = stageReason("lead", reason);
  return { ...(body as object), reason: read?.reason, detail: read?.detail ?? null };
}

/**
 * The answer to a lead whose fields are invalid: the fields of its 422 problem (the HTTP layer adds
 * `type`, `title` and `detail`). Stored as is for its Idempotency-Key, so a replay is the same answer.
 */
export interface InvalidLeadAnswer {
  status: 422;
  errors: FieldError[];
  lead_id: string;
}

/** The fate of a submission: each kind says whether a lead was recorded by this request. */
export type LeadFate =
  /** Its fields failed validation: recorded as `rejected` with every field error, answered 422. */
  | { kind: "invalid"; recorded: true; answer: InvalidLeadAnswer }
  /** Rejected without an auction (its consumer is on the suppression list). */
  | { kind: "rejected"; recorded: true; answer: LeadAnswer }
  | { kind: "duplicate"; recorded: true; answer: LeadAnswer }
  /**
   * Over a cap of its supplier: recorded as `rejected` with the cap's reason, answered 429 until the
   * cap resets (`retryAfter` seconds; undefined for a `total` cap). Its Idempotency-Key is given back.
   */
  | { kind: "over_cap"; recorded: true; leadId: string; reason: ReasonText<"cap_leads" | "cap_spend">; retryAfter: number | undefined }
  | { kind: "sold"; recorded: true; answer: LeadAnswer }
  /** A buyer accepted it, and its postback is to confirm the sale (`post.confirmed_by`): answered 200. */
  | { kind: "pending"; recorded: true; answer: LeadAnswer }
  | { kind: "unsold"; recorded: true; answer: LeadAnswer }
  | { kind: "error"; recorded: true; answer: LeadAnswer }
  /** Every channel that could take it is closed: kept until the first opens (hold.ts), answered 202. */
  | { kind: "held"; recorded: true; answer: LeadAnswer }
  /** The stored answer of an earlier request with the same Idempotency-Key and body: nothing new is recorded. */
  | { kind: "replay"; recorded: false; status: number; body: unknown };

/** A lead that could not be settled now (the database is failing): 503, with its id when one may have been recorded. */
export function leadUnsettled(why: string, leadId: string | undefined, keyed: boolean): GavelError {
  const after = leadId
    ? `; the lead was recorded${keyed ? ": send the same request with the same Idempotency-Key to read its outcome once it is settled" : ""}`
    : "";
  return new GavelError("database_unavailable", why + after, { ...(leadId && { lead_id: leadId }), retryAfter: 2 });
}
