// Sending one email through an SMTP server (nodemailer's SMTP client): an email channel's post
// (src/channels/email.ts) and an email notification both come here. A send is a value, never an
// exception: `sent` once the server accepted the message, `refused` when it answered no (an SMTP
// reply code), `failed` when the exchange broke, with whether the message may have been delivered
// all the same — a connection lost after the message went out leaves its fate unknown, like a post
// whose answer never came.
//
// One connection per message: email volumes are small next to HTTP pings, and a fresh connection
// makes the stage a failure happened at certain (before the message was handed over, or after).
import MailComposer from "nodemailer/lib/mail-composer";
import SMTPConnection from "nodemailer/lib/smtp-connection";

/** Where and how to reach the SMTP server, and whom mail is from by default (README "Environment"). */
export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user?: string;
  pass?: string;
  /** The From of every message that names none of its own (GAVEL_MAIL_FROM). */
  from: string;
  /** Accept a server certificate that does not verify (a test or internal relay): from the URL's `?tls=insecure`. */
  insecureTls?: boolean;
}

export interface MailMessage {
  from?: string;
  to: string[];
  cc?: string[];
  subject: string;
  text: string;
  /**
   * The Message-ID, without angle brackets. The same message sent twice carries the same id, so a
   * mailbox or a buyer's mail parser can tell a repeat.
   */
  messageId: string;
  headers?: Record<string, string>;
}

export type MailResult =
  | { kind: "sent"; code: number; response: string; durationMs: number }
  | { kind: "refused"; code: number; response: string; durationMs: number }
  /**
   * `delivered: "no"`: the message never reached the server (connection, TLS or login failed, or
   * the time ran out before it was handed over). `"maybe"`: the exchange broke after it was.
   */
  | { kind: "failed"; code: string; delivered: "no" | "maybe"; timeout: boolean; durationMs: number };

export interface Mailer {
  /** The default From (GAVEL_MAIL_FROM). */
  readonly from: string;
  send(message: MailMessage, timeoutMs: number): Promise<MailResult>;
}

export type SmtpEnv = Partial<
  Record<"GAVEL_SMTP_URL" | "GAVEL_SMTP_HOST" | "GAVEL_SMTP_PORT" | "GAVEL_SMTP_USER" | "GAVEL_SMTP_PASS" | "GAVEL_SMTP_SECURE" | "GAVEL_MAIL_FROM", string | number | boolean>
>;

/** What to set for email to work: the answer of a channel saved without it, and of a send without it. */
export const SMTP_MISSING = "set GAVEL_SMTP_URL (smtp://user:pass@host:587, or smtps:// for TLS on 465) or GAVEL_SMTP_HOST, and GAVEL_MAIL_FROM";

/**
 * The SMTP settings of the environment, null when email is not set up; a half-set one is an error
 * (the process stops with its line).
 */
export function smtpSettings(env: SmtpEnv): SmtpSettings | null {
  const url = env.GAVEL_SMTP_URL === undefined ? undefined : String(env.GAVEL_SMTP_URL);
  const host = env.GAVEL_SMTP_HOST === undefined ? undefined : String(env.GAVEL_SMTP_HOST);
  const from = env.GAVEL_MAIL_FROM === undefined ? undefined : String(env.GAVEL_MAIL_FROM);
  if (!url && !host) {
    if (from) throw new Error(`GAVEL_MAIL_FROM is set but no SMTP server: ${SMTP_MISSING}`);
    return null;
  }
  if (url && host) throw new Error("GAVEL_SMTP_URL and GAVEL_SMTP_HOST: set one of them");
  if (!from) throw new Error(`GAVEL_MAIL_FROM: the address email is sent from (an SMTP server is set)`);
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error("GAVEL_SMTP_URL: must be a URL such as smtp://user:pass@host:587");
    }
    if (parsed.protocol !== "smtp:" && parsed.protocol !== "smtps:") throw new Error("GAVEL_SMTP_URL: must start smtp:// or smtps://");
    const secure = parsed.protocol === "smtps:";
    return {
      host: parsed.hostname.replace(/^\[|\]$/g, ""),
      port: parsed.port ? Number(parsed.port) : secure ? 465 : 587,
      secure,
      ...(parsed.username && { user: decodeURIComponent(parsed.username) }),
      ...(parsed.password && { pass: decodeURIComponent(parsed.password) }),
      from,
      ...(parsed.searchParams.get("tls") === "insecure" && { insecureTls: true }),
    };
  }
  const secure = env.GAVEL_SMTP_SECURE === true || env.GAVEL_SMTP_SECURE === "true";
  return {
    host: host!,
    port: env.GAVEL_SMTP_PORT === undefined ? (secure ? 465 : 587) : Number(env.GAVEL_SMTP_PORT),
    secure,
    ...(env.GAVEL_SMTP_USER !== undefined && { user: String(env.GAVEL_SMTP_USER) }),
    ...(env.GAVEL_SMTP_PASS !== undefined && { pass: String(env.GAVEL_SMTP_PASS) }),
    from,
  };
}

/** An SMTP reply's code: its first three digits. */
function replyCode(response: string | undefined, fallback: number): number {
  const match = /^([2-5]\d\d)/.exec(response ?? "");
  return match ? Number(match[1]) : fallback;
}

export function createMailer(settings: SmtpSettings): Mailer {
  return {
    from: settings.from,
    send(message, timeoutMs) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      return new Promise<MailResult>((resolve) => {
        // Whether the message has been handed to the server (its envelope and body are under way).
        let handedOver = false;
        let settled = false;
        const connection = new SMTPConnection({
          host: settings.host,
          port: settings.port,
          secure: settings.secure,
          connectionTimeout: timeoutMs,
          greetingTimeout: timeoutMs,
          socketTimeout: timeoutMs,
          socketCloseTimeout: 0,
          ...(settings.insecureTls && { tls: { rejectUnauthorized: false } }),
        });
        const settle = (result: MailResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (result.kind === "sent") connection.quit();
          else connection.close();
          resolve(result);
        };
        const fail = (error: { code?: string; responseCode?: number; response?: string } | undefined, timeout = false) => {
          // The server refused the message (its sender, every recipient, or its content): nothing was
          // delivered. A no before that (a greeting or a login refused) is a fault of the set-up.
          if (handedOver && error?.responseCode && error.responseCode >= 400)
            return settle({ kind: "refused", code: error.responseCode, response: error.response ?? String(error.responseCode), durationMs: elapsed() });
          const code = timeout ? "ETIMEDOUT" : (error?.code ?? "ECONNECTION");
          settle({ kind: "failed", code, delivered: handedOver ? "maybe" : "no", timeout: timeout || code === "ETIMEDOUT", durationMs: elapsed() });
        };
        // The whole exchange has one deadline, as a post to a buyer has.
        const timer = setTimeout(() => fail(undefined, true), timeoutMs);
        connection.on("error", (error) => fail(error));
        connection.connect((error) => {
          if (error) return fail(error);
          const auth = settings.user === undefined ? undefined : { user: settings.user, pass: settings.pass ?? "" };
          const go = () => {
            // A login answered after the deadline's verdict ("failed", not delivered) must not send.
            if (settled) return;
            const compiled = new MailComposer({
              from: message.from ?? settings.from,
              to: message.to,
              cc: message.cc?.length ? message.cc : undefined,
              subject: message.subject,
              text: message.text,
              messageId: `<${message.messageId}>`,
              headers: message.headers,
            }).compile();
            handedOver = true;
            connection.send(compiled.getEnvelope(), compiled.createReadStream(), (sendError, info) => {
              if (sendError) return fail(sendError);
              settle({ kind: "sent", code: replyCode(info?.response, 250), response: info?.response ?? "250", durationMs: elapsed() });
            });
          };
          if (!auth) return go();
          connection.login(auth, (loginError) => (loginError ? fail(loginError) : go()));
        });
      });
    },
  };
}
