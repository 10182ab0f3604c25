// Notifications (README "Notifications"): the outbox as an operator sees it, and the replay of a
// dead letter. Thin handlers over src/db/deliveries.ts and src/notifications/replay.ts.
import { z } from "zod";
import { findDelivery, listDeliveries, type DeliveryRow } from "../db/deliveries";
import type { Database } from "../db/client";
import { GavelError } from "../errors";
import { replayDelivery } from "../notifications/replay";
import type { Clock } from "../time/clock";
import { operatorOf } from "./auth";
import { pageLimit } from "./body";
import { route, type AnyRoute } from "./route";

const STATES = ["pending", "delivered", "dead", "cancelled"] as const;

export const DeliverySchema = z
  .object({
    id: z.string().meta({ description: "The delivery's id (one event to one receiver)" }),
    event_id: z.string().meta({ description: "The event's id, sent as X-Gavel-Event-Id and `event_id`: the same on every attempt and replay" }),
    event: z.string().meta({ description: "`lead.sold`, `lead.unsold`, `lead.returned` (suppliers) or `lead.delivered` (buyers)" }),
    lead_id: z.string().nullable(),
    receiver: z.string().meta({ description: "`supplier:<id>` or `buyer:<id>`" }),
    via: z.string().meta({ description: "How it is sent: `webhook`, or `email` (a supplier's notify_email)" }),
    target: z.string().meta({
      description:
        "The URL it is posted to, or the address it is mailed to, as configured when the event happened, kept for audit: each attempt goes where the receiver's settings say at that attempt. Analysts see a URL's user:password and query values as `***`",
    }),
    state: z.enum(STATES),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable().meta({ description: "When a pending delivery is tried next; null once delivered, dead or cancelled" }),
    last_status: z.number().int().nullable().meta({ description: "The HTTP status (by email: the SMTP reply code) of the last attempt; null when it got no answer" }),
    last_error: z.string().nullable().meta({ description: "Why the last attempt failed; `receiver_removed` for a cancelled delivery (its receiver no longer has the URL or address: never sent)" }),
    created_at: z.string(),
    updated_at: z.string(),
    delivered_at: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).meta({ description: "The JSON body sent" }),
  })
  .meta({ id: "Delivery" });

/**
 * A postback URL may carry credentials (`https://user:pass@host/…`, `?token=…`): analysts see them
 * as `***`, as they see channel secrets. Anything that is no URL (an email address) is shown as is.
 */
export function maskTarget(target: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return target;
  }
  if (url.username) url.username = "***";
  if (url.password) url.password = "***";
  if (url.search) {
    const masked = new URLSearchParams();
    for (const key of url.searchParams.keys()) if (!masked.has(key)) masked.append(key, "***");
    url.search = masked.toString();
  }
  return url.toString();
}

export function deliveryJson(r: DeliveryRow, role: "admin" | "analyst"): z.infer<typeof DeliverySchema> {
  return {
    id: String(r.id),
    event_id: r.eventId,
    event: r.event,
    lead_id: r.leadId,
    receiver: `${r.receiverKind}:${r.receiverId}`,
    via: r.via,
    target: role === "admin" ? r.target : maskTarget(r.target),
    state: r.state as (typeof STATES)[number],
    attempts: r.attempts,
    next_attempt_at: r.state === "pending" ? r.nextAttemptAt.toISOString() : null,
    last_status: r.lastStatus,
    last_error: r.lastError,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    delivered_at: r.deliveredAt?.toISOString() ?? null,
    payload: r.payload as Record<string, unknown>,
  };
}

const DeliveryQuery = z
  .object({
    state: z.enum(STATES).optional(),
    receiver: z
      .string()
      .regex(/^(supplier|buyer):[^\s]{1,200}$/, "must be supplier:<id> or buyer:<id>")
      .optional()
      .meta({ description: "`supplier:<id>` or `buyer:<id>`" }),
    lead_id: z.string().min(1).max(100).optional(),
    cursor: z.string().regex(/^[0-9]{1,18}$/, "must be the next_cursor of the previous page").optional().meta({ description: "The next_cursor of the previous page" }),
    limit: pageLimit,
  })
  .strict();

const Replay = z.object({ note: z.string().max(2000).optional() }).strict();

/** A delivery's id from the path: anything that is not one is simply not found. */
function deliveryId(raw: string): number {
  if (!/^[0-9]{1,15}$/.test(raw)) throw new GavelError("not_found", `No delivery '${raw}'`);
  return Number(raw);
}

export function deliveryRoutes(deps: { database: Database; clock: Clock }): AnyRoute[] {
  const { db } = deps.database;
  return [
    route({
      method: "get",
      path: "/v1/deliveries",
      access: "analyst",
      operationId: "listDeliveries",
      summary: "Notifications to suppliers and buyers, newest first, paged: pending, delivered or dead",
      description: "Dead letters are `state=dead`: their attempts ran out; `POST /v1/deliveries/{id}/replay` sends one again.",
      tags: ["After the sale"],
      query: DeliveryQuery,
      responses: { 200: { description: "A page of deliveries", schema: z.object({ items: z.array(DeliverySchema), next_cursor: z.string().nullable() }) } },
      async handler(c, { query }) {
        const [receiverKind, ...rest] = query.receiver?.split(":") ?? [];
        const page = await listDeliveries(db, {
          state: query.state,
          receiverKind,
          receiverId: rest.length ? rest.join(":") : undefined,
          leadId: query.lead_id,
          cursor: query.cursor === undefined ? undefined : Number(query.cursor),
          limit: query.limit,
        });
        const { role } = operatorOf(c);
        return c.json({ items: page.rows.map((r) => deliveryJson(r, role)), next_cursor: page.nextCursor });
      },
    }),
    route({
      method: "get",
      path: "/v1/deliveries/{id}",
      access: "analyst",
      operationId: "getDelivery",
      summary: "One notification and how its attempts went",
      tags: ["After the sale"],
      responses: { 200: { description: "The delivery", schema: DeliverySchema } },
      async handler(c, { params }) {
        const row = await findDelivery(db, deliveryId(params.id));
        if (!row) throw new GavelError("not_found", `No delivery '${params.id}'`);
        return c.json(deliveryJson(row, operatorOf(c).role));
      },
    }),
    route({
      method: "post",
      path: "/v1/deliveries/{id}/replay",
      access: "admin",
      operationId: "replayDelivery",
      summary: "Send a dead or cancelled notification again: it is pending, due now, with its attempts counted afresh (audited)",
      description:
        "The event id stays the same, so a receiver that already has the event can drop it. It goes to the receiver's URL as it is now (fix the URL, then replay). Only a dead or cancelled delivery can be replayed (409 otherwise); an attempt still out from before the replay cannot record its end on it.",
      tags: ["After the sale"],
      body: Replay,
      responses: { 200: { description: "The delivery, pending again", schema: DeliverySchema }, 409: { description: "The delivery is not dead or cancelled" } },
      async handler(c, { params, body }) {
        const row = await replayDelivery(deps, deliveryId(params.id), operatorOf(c).actor, body.note);
        return c.json(deliveryJson(row, operatorOf(c).role));
      },
    }),
  ];
}
