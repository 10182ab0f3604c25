// The mailer's one verdict per message: when the deadline has already said "failed, not delivered",
// a login the server answers afterwards must not go on to send the message (it would be delivered
// while Gavel records it as never sent, and the lead offered to another buyer). nodemailer's SMTP
// connection is replaced by a fake whose login the test answers by hand, after the verdict.
import { describe, expect, it, vi } from "vitest";

const fake = vi.hoisted(() => ({ login: [] as ((error?: Error) => void)[], sent: 0 }));

vi.mock("nodemailer/lib/smtp-connection", () => ({
  default: class {
    on() {}
    connect(callback: (error?: Error) => void) {
      callback();
    }
    login(_auth: unknown, callback: (error?: Error) => void) {
      fake.login.push(callback);
    }
    send(_envelope: unknown, _stream: unknown, callback: (error: Error | null, info: { response: string }) => void) {
      fake.sent++;
      callback(null, { response: "250 OK" });
    }
    quit() {}
    close() {}
  },
}));

const { createMailer } = await import("../src/email/mailer");

describe("a login answered after the deadline", () => {
  it("does not send the message once the mailer has said it was not delivered", async () => {
    const mailer = createMailer({ host: "smtp.test", port: 587, secure: false, user: "gavel", pass: "secret", from: "gavel@example.com" });
    // The login is never answered in time: the 20 ms deadline gives the verdict.
    const result = await mailer.send({ to: ["buyer@example.com"], subject: "Lead", text: "hello", messageId: "m-1@gavel" } as never, 20);
    expect(result).toMatchObject({ kind: "failed", delivered: "no", timeout: true });
    // The server's late yes to the login.
    expect(fake.login).toHaveLength(1);
    fake.login[0]();
    expect(fake.sent).toBe(0);
  });
});
