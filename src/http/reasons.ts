// A reason as the API shows it, wherever one appears: `reason`, the code (an enum of its stage's
// codes in the OpenAPI document, src/reasons.ts), and beside it `detail`, what the code leaves open
// (null when nothing). Stored rows, those written before the codes included, are read through the
// kernel's readers, never shown as stored.
import { z } from "zod";
import { STAGE_CODES, type Reason, type ReasonStage } from "../reasons";

/** The `reason` of a stage: one of its codes. */
export const reasonOf = <S extends ReasonStage>(stage: S) => z.enum(STAGE_CODES[stage]);

/** The `reason` of an attempt: a ping's or a post's code. */
export const attemptReasonCode = z.enum([...new Set([...STAGE_CODES.ping, ...STAGE_CODES.post])]);

export const reasonDetail = z
  .string()
  .nullable()
  .meta({
    description:
      "What the code leaves open: a filter's field, a cap's period, an HTTP status, an error code, the buyer's own message, the start of an unreadable answer; null when there is none",
  });

/** `{ reason, detail }` of a read reason (both null when there is none). */
export const shown = (r: Reason | null) => ({ reason: r?.reason ?? null, detail: r?.detail ?? null });
