// Signing headers: HMAC-SHA256 of "timestamp.body", both signatures while a secret rotates.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signature, signingHeaders } from "../src/channels/signing";

describe("request signing", () => {
  it("signs timestamp.body with HMAC-SHA256, timestamp in Unix seconds", () => {
    const headers = signingHeaders({ secret: "s3cret-s3cret-s3cret" }, '{"a":1}', 1_700_000_000_999);
    const expected = createHmac("sha256", "s3cret-s3cret-s3cret").update('1700000000.{"a":1}').digest("hex");
    expect(headers).toEqual({ "x-gavel-timestamp": "1700000000", "x-gavel-signature": `sha256=${expected}` });
    expect(signature("s3cret-s3cret-s3cret", 1700000000, '{"a":1}')).toBe(expected);
  });

  it("carries both signatures during a rotation, the current secret's first", () => {
    const headers = signingHeaders({ secret: "new-secret-0123456789", previous_secret: "old-secret-0123456789" }, "x=1", 5000);
    expect(headers["x-gavel-signature"]).toBe(`sha256=${signature("new-secret-0123456789", 5, "x=1")},sha256=${signature("old-secret-0123456789", 5, "x=1")}`);
  });
});
