// The process logger never writes lead data or channel secrets, wherever they sit in a log object.
import { describe, expect, it } from "vitest";
import { createLogger, redactSecrets } from "../src/logger";

function capture() {
  const lines: string[] = [];
  const logger = createLogger("info", { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

describe("logging", () => {
  it("redacts lead data and channel secrets", () => {
    const { logger, lines } = capture();
    logger.info(
      {
        data: { email: "jo@example.com" },
        channel: { auth: { type: "bearer", token: "tok-secret" }, signing: { secret: "sign-secret-0123456789" } },
        auth: { type: "basic", username: "u", password: "pw-secret" },
        signing: { secret: "sign-secret-0123456789", previous_secret: "old-secret-0123456789" },
        request: { headers: { authorization: "Bearer tok-secret" } },
      },
      "config",
    );
    expect(lines).toHaveLength(1);
    for (const secret of ["jo@example.com", "tok-secret", "sign-secret", "old-secret", "pw-secret"]) expect(lines[0]).not.toContain(secret);
    expect(JSON.parse(lines[0])).toMatchObject({ auth: { type: "basic", username: "u", password: "[redacted]" }, signing: "[redacted]" });
  });

  it("redacts at any depth and inside arrays, and keeps what is not secret", () => {
    const { logger, lines } = capture();
    logger.info(
      {
        lead_id: "l1",
        attempts: [{ channel: "c1", request: { body: { data: { phone: "+15555550100" } } } }, { channel: "c2" }],
        buyer: { channels: [{ auth: { type: "header", name: "X-Key", value: "hdr-secret" } }] },
        deep: { a: { b: { c: { api_key: "key-secret" } } } },
      },
      "nested",
    );
    const line = JSON.parse(lines[0]) as Record<string, any>;
    for (const secret of ["+15555550100", "hdr-secret", "key-secret"]) expect(lines[0]).not.toContain(secret);
    expect(line.attempts[0].request.body.data).toBe("[redacted]");
    expect(line.attempts[1]).toEqual({ channel: "c2" });
    expect(line.buyer.channels[0].auth).toEqual({ type: "header", name: "X-Key", value: "[redacted]" });
    expect(line.lead_id).toBe("l1");
  });

  it("never changes the logged object, and shares what it does not redact", () => {
    const flat = { lead_id: "l1", status: "sold", price: 12.5, pings: 10 };
    expect(redactSecrets(flat)).toBe(flat);
    const nested = { keep: { a: 1 }, lead: { data: { email: "jo@example.com" } } };
    const redacted = redactSecrets(nested);
    expect(redacted.keep).toBe(nested.keep);
    expect(redacted.lead).toEqual({ data: "[redacted]" });
    expect(nested.lead.data.email).toBe("jo@example.com");
  });

  it("leaves errors to pino's error serializer", () => {
    const { logger, lines } = capture();
    logger.error({ err: new Error("buyer pool closed") }, "failed");
    expect(JSON.parse(lines[0]).err).toMatchObject({ type: "Error", message: "buyer pool closed" });
  });
});
