// Auth and signing as a buyer sees them: Basic, Bearer and header keys arrive on every request;
// signatures verify exactly as README's recipe does it, including while a secret rotates; secrets
// read back as "***" and survive a PUT that sends "***" back.
import { createHmac, timingSafeEqual } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { Received } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";

/** The buyer-side check from README "Verifying Gavel's signature", verbatim in spirit. */
function verifyGavelSignature(headers: Received["headers"], signedPayload: string, secrets: string[], toleranceSeconds = 300): boolean {
  const timestamp = String(headers["x-gavel-timestamp"] ?? "");
  const header = String(headers["x-gavel-signature"] ?? "");
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const presented = header.split(",").map((part) => part.trim().replace(/^sha256=/, ""));
  return secrets.some((secret) => {
    const expected = createHmac("sha256", secret).update(`${timestamp}.${signedPayload}`).digest();
    return presented.some((sig) => {
      const given = Buffer.from(sig, "hex");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  });
}

/** What a buyer signs over: the raw body, or for a GET the query string. */
const payloadOf = (r: Received) => (r.method === "GET" ? new URL(r.path, "http://x").search.slice(1) : r.raw);

const OLD = "old-secret-0123456789abcdef";
const NEW = "new-secret-0123456789abcdef";

describe("buyer auth and signing", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  /** A buyer that bids only on requests signed with one of `secrets`, and says 401 otherwise. */
  const verifying = (secrets: () => string[], bid = 5) => ({
    ping: (r: Received) => (verifyGavelSignature(r.headers, payloadOf(r), secrets()) ? { json: { bid } } : { status: 401, json: { error: "bad signature" } }),
    post: (r: Received) => (verifyGavelSignature(r.headers, payloadOf(r), secrets()) ? { json: { accepted: true } } : { status: 401, json: {} }),
  });

  it("signs native, form and GET requests so that the buyer's verification passes", async () => {
    const native = await buyer(verifying(() => [NEW], 9));
    const form = await buyer(verifying(() => [NEW], 8));
    const get = await buyer({ ...verifying(() => [NEW], 7), ping: (r) => (verifyGavelSignature(r.headers, payloadOf(r), [NEW]) ? { text: "bid=7", contentType: "application/x-www-form-urlencoded" } : { status: 401 }) });
    const key = await g.setup({
      campaign: { id: "sign" },
      channels: [
        pingPost("sign-native", native, { signing: { secret: NEW } }),
        {
          id: "sign-form",
          type: "ping_post",
          signing: { secret: NEW },
          ping: { url: form.pingUrl, format: "form", body: { zip: "{{data.zip}}", lead: "{{lead_id}}" } },
          post: { url: form.postUrl, format: "form", body: { email: "{{data.email}}" } },
          response: { ping: { bid: "$.bid" } },
        },
        {
          id: "sign-get",
          type: "ping_post",
          signing: { secret: NEW },
          ping: { url: `${get.pingUrl}?partner=1`, method: "GET", body: { zip: "{{data.zip}}" } },
          post: { url: get.postUrl },
          response: { ping: { bid: "$.bid" } },
        },
      ],
    });

    const res = await g.lead(key, { campaign: "sign", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 9 });
    const t = (await g.admin("GET", `/v1/leads/${res.body.lead_id}`)).body;
    for (const id of ["sign-native", "sign-form", "sign-get"])
      expect(t.attempts.find((a: any) => a.kind === "ping" && a.channel_id === id), id).toMatchObject({ outcome: "bid" });
    expect(t.attempts.find((a: any) => a.kind === "post")).toMatchObject({ channel_id: "sign-native", outcome: "accepted" });

    const ping = native.pings[0];
    expect(ping.headers["x-gavel-timestamp"]).toMatch(/^\d{10}$/);
    expect(Math.abs(Number(ping.headers["x-gavel-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(ping.headers["x-gavel-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyGavelSignature(ping.headers, ping.raw, ["some-other-secret-000000"])).toBe(false);
    expect(verifyGavelSignature(ping.headers, ping.raw + " ", [NEW])).toBe(false);
  });

  it("keeps buyers on the old and the new secret both verifying during a rotation, then only the new", async () => {
    let onOld = [OLD];
    const migrating = await buyer(verifying(() => onOld, 6));
    const migrated = await buyer(verifying(() => [NEW], 4));
    const key = await g.setup({
      campaign: { id: "rotate" },
      channels: [
        pingPost("rotate-migrating", migrating, { signing: { secret: OLD } }),
        pingPost("rotate-migrated", migrated, { signing: { secret: NEW, previous_secret: OLD } }),
      ],
    });

    // Both hold one secret each; the second channel signs with both.
    const first = await g.lead(key, { campaign: "rotate", data: consumer() });
    expect(first.body).toMatchObject({ status: "sold", price: 6 });
    expect(migrated.pings[0].headers["x-gavel-signature"]).toMatch(/^sha256=[0-9a-f]{64},sha256=[0-9a-f]{64}$/);
    expect(verifyGavelSignature(migrated.pings[0].headers, migrated.pings[0].raw, [OLD])).toBe(true);

    // The operator starts the rotation of the first channel: new secret, old one still signing.
    const rotating = await g.admin("PATCH", "/v1/channels/rotate-migrating", { signing: { secret: NEW, previous_secret: OLD } });
    expect(rotating.status).toBe(200);
    expect(rotating.body.signing).toEqual({ secret: "***", previous_secret: "***" });
    const during = await g.lead(key, { campaign: "rotate", data: consumer() });
    expect(during.body).toMatchObject({ status: "sold", price: 6 });

    // The buyer moves to the new secret whenever it likes; then the old one is dropped.
    onOld = [NEW];
    const after = await g.lead(key, { campaign: "rotate", data: consumer() });
    expect(after.body).toMatchObject({ status: "sold", price: 6 });
    const dropped = await g.admin("PATCH", "/v1/channels/rotate-migrating", { signing: { previous_secret: null } });
    expect(dropped.body.signing).toEqual({ secret: "***" });
    const final = await g.lead(key, { campaign: "rotate", data: consumer() });
    expect(final.body).toMatchObject({ status: "sold", price: 6 });
    expect(migrating.pings.at(-1)!.headers["x-gavel-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);

    // A buyer still on the old secret after the rotation ended fails verification.
    onOld = [OLD];
    const stale = await g.lead(key, { campaign: "rotate", data: consumer() });
    expect(stale.body).toMatchObject({ status: "sold", price: 4 });
    const t = (await g.admin("GET", `/v1/leads/${stale.body.lead_id}`)).body;
    expect(t.attempts.find((a: any) => a.channel_id === "rotate-migrating")).toMatchObject({ outcome: "error", reason: "http_error", detail: "401" });
  });

  it("sends Basic, Bearer and header API keys, and never shows a secret back", async () => {
    const seen: Record<string, Received["headers"][]> = { basic: [], bearer: [], header: [] };
    const make = (kind: string) => buyer({ ping: (r) => (seen[kind].push(r.headers), { json: { bid: 1 } }), post: (r) => (seen[kind].push(r.headers), { json: { accepted: true } }) });
    const [basic, bearer, header] = await Promise.all([make("basic"), make("bearer"), make("header")]);
    const key = await g.setup({
      campaign: { id: "auth" },
      channels: [
        pingPost("auth-basic", basic, { auth: { type: "basic", username: "acme", password: "pa:ss" }, priority: 1 }),
        pingPost("auth-bearer", bearer, { auth: { type: "bearer", token: "tok-123456" }, priority: 2 }),
        pingPost("auth-header", header, {
          auth: { type: "header", name: "X-Api-Key", value: "key-abcdef" },
          secret_headers: ["X-Partner-Secret"],
          ping: { url: header.pingUrl, headers: { "X-Partner-Secret": "partner-s3cret", "X-Plain": "visible" } },
          signing: { secret: NEW },
          priority: 3,
        }),
      ],
    });
    const res = await g.lead(key, { campaign: "auth", data: consumer() });
    expect(res.body.status).toBe("sold");
    expect(seen.basic[0].authorization).toBe(`Basic ${Buffer.from("acme:pa:ss").toString("base64")}`);
    expect(seen.basic.at(-1)!.authorization).toBe(`Basic ${Buffer.from("acme:pa:ss").toString("base64")}`);
    expect(seen.bearer[0].authorization).toBe("Bearer tok-123456");
    expect(seen.header[0]["x-api-key"]).toBe("key-abcdef");
    expect(seen.header[0]["x-partner-secret"]).toBe("partner-s3cret");

    const shown = (await g.admin("GET", "/v1/channels/auth-header")).body;
    expect(shown.auth).toEqual({ type: "header", name: "X-Api-Key", value: "***" });
    expect(shown.ping.headers).toEqual({ "X-Partner-Secret": "***", "X-Plain": "visible" });
    expect(shown.signing).toEqual({ secret: "***" });
    expect((await g.admin("GET", "/v1/channels/auth-basic")).body.auth).toEqual({ type: "basic", username: "acme", password: "***" });
    const listed = JSON.stringify((await g.admin("GET", "/v1/channels?campaign_id=auth")).body);
    for (const secret of ["pa:ss", "tok-123456", "key-abcdef", "partner-s3cret", NEW]) expect(listed).not.toContain(secret);

    // Sending the masked document back keeps every secret.
    const { created_at, updated_at, health, ...doc } = shown;
    void created_at, updated_at, health;
    expect((await g.admin("PUT", "/v1/channels/auth-header", doc)).status).toBe(200);
    const again = await g.lead(key, { campaign: "auth", data: consumer() });
    expect(again.body.status).toBe("sold");
    expect(seen.header.at(-1)!["x-api-key"]).toBe("key-abcdef");
    const last = header.pings.at(-1)!;
    expect(verifyGavelSignature(last.headers, last.raw, [NEW])).toBe(true);

    // A new channel cannot send "***" for a secret it never had, and a signing secret must be long enough.
    const masked = await g.admin("POST", "/v1/channels", { ...pingPost("auth-new", header), buyer_id: "acme", campaign_id: "auth", signing: { secret: "***" } });
    expect(masked.status).toBe(422);
    expect(masked.body.errors).toEqual([{ path: "signing.secret", message: "is write-only: send the secret itself" }]);
    const short = await g.admin("POST", "/v1/channels", { ...pingPost("auth-short", header), buyer_id: "acme", campaign_id: "auth", signing: { secret: "short" } });
    expect(short.body.errors).toEqual([{ path: "signing.secret", message: "must be at least 16 characters" }]);
  });
});
