// Notifications by email (README "Notifications"): the outbox's sender for rows with via `email`,
// whose target is the receiver's address (a supplier's `notify_email`). The message says the event
// in its subject and carries the notice's JSON, so a person reads it and a mail rule can parse it;
// its Message-ID is made of the event id and the receiver, the same on every attempt, so a
// mailbox that dedups by Message-ID shows a retried notice once.
import { createHash } from "node:crypto";
import type { Mailer } from "../email/mailer";
import type { ClaimedDelivery } from "../db/deliveries";
import type { Sender } from "./outbox";

const SUBJECTS: Record<string, string> = {
  "lead.sold": "Lead sold",
  "lead.unsold": "Lead unsold",
  "lead.returned": "Lead returned",
  "lead.delivered": "Lead delivered",
};

function subjectOf(delivery: ClaimedDelivery): string {
  const payload = (delivery.payload ?? {}) as Record<string, unknown>;
  const what = SUBJECTS[delivery.event] ?? delivery.event;
  const price = typeof payload.price === "number" ? ` at ${payload.price.toFixed(2)}` : "";
  return `${payload.test ? "[TEST] " : ""}${what}${price}: ${delivery.leadId ?? delivery.eventId}`;
}

/** The outbox's `email` sender: a message the SMTP server accepts is delivered; anything else is tried again. */
export function emailSender(mailer: Mailer, timeoutMs: number): Sender {
  return async (delivery) => {
    const digest = createHash("sha256").update(`${delivery.eventId}\n${delivery.receiverKind}:${delivery.receiverId}`).digest("hex").slice(0, 32);
    const result = await mailer.send(
      {
        to: [delivery.target],
        subject: subjectOf(delivery),
        text: `${JSON.stringify(delivery.payload, null, 2)}\n`,
        messageId: `${digest}@gavel`,
        headers: {
          "X-Gavel-Event": delivery.event,
          "X-Gavel-Event-Id": delivery.eventId,
          "X-Gavel-Delivery": String(delivery.id),
          "X-Gavel-Attempt": String(delivery.attempt),
        },
      },
      timeoutMs,
    );
    switch (result.kind) {
      case "sent":
        return { ok: true, status: result.code };
      case "refused":
        return { ok: false, status: result.code, error: `SMTP ${result.response}` };
      case "failed":
        // A message that may have arrived is sent again: at least once, one event id.
        return { ok: false, status: null, error: result.timeout ? `timeout after ${timeoutMs} ms` : `SMTP ${result.code}` };
    }
  };
}
