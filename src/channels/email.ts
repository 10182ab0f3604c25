// An `email` channel (README "Email channels"): a buyer that takes its leads by email, at a fixed
// price, never pinged. Its post is a message rendered from the channel's subject and text
// templates and sent through Gavel's SMTP server; the server accepting the message is the sale, a
// refusal is a rejected post (the auction falls back to the next buyer), and a failure is read
// like an HTTP post's: not sent (the next buyer), or sent with its fate unknown (README "Post
// outcomes").
//
// The auction needs to know nothing of this: the message travels as a BuyerRequest with `mail`
// through the buyer transport, which `mailingTransport` hands to the mailer, and the mailer's
// answer comes back as a BuyerResponse whose status is the SMTP reply code.
import type { Mailer, MailMessage } from "../email/mailer";
import { reasonText } from "../reasons";
import type { Channel } from "./config";
import { acceptedAt, buyerWords, postFault, postTemplateVars, refused, type PostInput, type PostOutcome } from "./native";
import { compileTemplate, renderText } from "./template";
import type { BuyerRequest, BuyerResponse, BuyerTransport } from "./transport";

/** The connection error of an email post in a process without an SMTP server. */
export const SMTP_NOT_CONFIGURED = "SMTP_NOT_CONFIGURED";

/**
 * The message's Message-ID: the same for every send of one sale (a repeat is recognisably the
 * same message), another for a shared sale of the same lead.
 */
export const emailMessageId = (leadId: string, channelId: string, sale?: "shared") => `${leadId}.${channelId}${sale ? `.${sale}` : ""}@gavel`;

/** Every field of the lead, one a line: the text of a channel that names none. */
function fieldLines(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([name, value]) => `${name}: ${value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value)}`)
    .join("\n");
}

/** Reads the SMTP server's answer to an email post: 2xx sells at the bid, any other reply is a refusal. */
export function readMailAnswer(response: BuyerResponse, bidCents: number): PostOutcome {
  if (response.kind === "connection_error" && response.code === SMTP_NOT_CONFIGURED) return refused("error", "smtp_not_configured");
  const fault = postFault(response);
  if (fault) return fault;
  if (response.kind !== "response") throw new Error("unreachable");
  if (response.status >= 200 && response.status < 300) return acceptedAt(undefined, bidCents, buyerWords(response.body), null);
  return refused("rejected", reasonText("smtp_refused", buyerWords(response.body)));
}

/** An email channel's part of a ChannelIO (./channel.ts): it is never pinged. */
export interface EmailIO {
  buildPing(): never;
  readPing(): never;
  explainPing(): never;
  buildPost(input: PostInput, timeoutMs: number, maxBodyBytes: number): BuyerRequest;
  readPost(response: BuyerResponse, bidCents: number): PostOutcome;
  explainPost(response: BuyerResponse, bidCents: number): { outcome: PostOutcome; rules: [] };
}

export function compileEmailChannel(channel: Channel): EmailIO {
  const email = channel.email;
  if (!email) throw new Error(`channel ${channel.id} has no email settings`);
  const subject = compileTemplate(email.subject, "post").template;
  const text = email.text === undefined ? null : compileTemplate(email.text, "post").template;
  const notPinged = (): never => {
    throw new Error(`channel ${channel.id} sends email: it is not pinged`);
  };

  return {
    buildPing: notPinged,
    readPing: notPinged,
    explainPing: notPinged,
    buildPost(input, timeoutMs, maxBodyBytes) {
      const vars = postTemplateVars(input);
      // A subject is one line, whatever a lead's fields hold.
      const title = renderText(subject, vars).replace(/[\r\n]+/g, " ").trim();
      const message: MailMessage = {
        ...(email.from !== undefined && { from: email.from }),
        to: email.to,
        cc: email.cc,
        subject: input.test ? `[TEST] ${title}` : title,
        text: text ? renderText(text, vars) : fieldLines(input.data),
        messageId: emailMessageId(input.leadId, input.channelId, input.sale),
        headers: {
          "X-Gavel-Lead-Id": input.leadId,
          "X-Gavel-Channel-Id": input.channelId,
          "X-Gavel-Price": (input.priceCents / 100).toFixed(2),
          ...(input.sale && { "X-Gavel-Sale": input.sale }),
          ...(input.test && { "X-Gavel-Test": "1" }),
        },
      };
      // The request as traces and the test console show it: where the message goes, its headers and its text.
      const shown: Record<string, string> = { subject: message.subject, "message-id": `<${message.messageId}>` };
      if (email.cc.length) shown.cc = email.cc.join(", ");
      for (const [name, value] of Object.entries(message.headers ?? {})) shown[name.toLowerCase()] = value;
      return { url: `mailto:${email.to.join(",")}`, method: "POST", headers: shown, body: message.text, timeoutMs, maxBodyBytes, mail: message };
    },
    readPost: readMailAnswer,
    explainPost: (response, bidCents) => ({ outcome: readMailAnswer(response, bidCents), rules: [] }),
  };
}

/**
 * The buyer transport with email: a request carrying `mail` goes to the SMTP server, any other to
 * `http`. The mailer's answer is written as a buyer's: the SMTP reply code as the status, a failure
 * before the message was handed over as not sent, one after it as sent (its fate unknown).
 */
export function mailingTransport(http: BuyerTransport, mailer: Mailer | null): BuyerTransport {
  return {
    async send(request) {
      if (!request.mail) return http.send(request);
      if (!mailer) return { kind: "connection_error", code: SMTP_NOT_CONFIGURED, sent: false, durationMs: 0 };
      const result = await mailer.send(request.mail, request.timeoutMs);
      switch (result.kind) {
        case "sent":
        case "refused":
          return { kind: "response", status: result.code, contentType: "text/plain", headers: {}, body: result.response, durationMs: result.durationMs };
        case "failed":
          return result.timeout
            ? { kind: "timeout", durationMs: result.durationMs, sent: result.delivered === "maybe" }
            : { kind: "connection_error", code: result.code, sent: result.delivered === "maybe", durationMs: result.durationMs };
      }
    },
    close: () => http.close(),
  };
}
