// A real SMTP server for tests (the smtp-server package) on a free loopback port: it keeps every
// message it accepts, and refuses, or hangs up on, whom a test says. No TLS and no login: Gavel
// talks to it as to a relay on the same network.
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";

export interface ReceivedMail {
  /** MAIL FROM and RCPT TO, as the envelope said. */
  from: string;
  to: string[];
  /** Header names lower-cased, values unfolded (several of one name: the first). */
  headers: Record<string, string>;
  /** The body, decoded from quoted-printable or base64 when it was. */
  text: string;
  raw: string;
}

export interface SmtpBehaviour {
  /** An address refused at RCPT TO: its reply (`550 5.1.1 No such user`). */
  refuse?: (address: string) => string | null;
  /** The connection is cut once the message has been received, before the server's answer. */
  hangUpAfterData?: () => boolean;
}

export interface TestSmtp {
  url: string;
  port: number;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

function decode(encoding: string | undefined, body: string): string {
  const e = (encoding ?? "").toLowerCase();
  if (e === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (e === "quoted-printable")
    return Buffer.from(
      body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      "latin1",
    ).toString("utf8");
  return body;
}

/** Reads one message: its header block (unfolded) and its body (a single text part, as Gavel sends). */
export function parseMail(raw: string): { headers: Record<string, string>; text: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  const headers: Record<string, string> = {};
  for (const line of head.split("\r\n")) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!(name in headers)) headers[name] = line.slice(colon + 1).trim();
  }
  const body = raw.slice(split + 4).replace(/\r\n$/, "");
  return { headers, text: decode(headers["content-transfer-encoding"], body).replace(/\r\n/g, "\n") };
}

export async function startSmtp(behaviour: SmtpBehaviour = {}): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const refusal = behaviour.refuse?.(address.address);
      if (!refusal) return callback();
      const error = new Error(refusal.replace(/^\d{3}\s*/, "")) as Error & { responseCode: number };
      error.responseCode = Number(refusal.slice(0, 3));
      callback(error);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if (behaviour.hangUpAfterData?.()) {
          // The message arrived, and the answer never does: the sender cannot know it was delivered.
          for (const connection of (server as unknown as { connections: Set<{ _socket: { destroy(): void } }> }).connections) connection._socket.destroy();
          return;
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          ...parseMail(raw),
          raw,
        });
        callback(null, `Queued as m${mails.length}`);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
