// The process logger never writes lead data or channel secrets, wherever they sit in a log object.
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/server";

describe("logging", () => {
  it("redacts lead data and channel secrets", () => {
    const lines: string[] = [];
    const logger = createLogger("info", { write: (line: string) => void lines.push(line) });
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
});
