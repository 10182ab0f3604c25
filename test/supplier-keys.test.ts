// Supplier key rotation: a new key works alongside the old one until the old one is revoked or
// reaches the expiry the operator set; revocation takes effect at once in the answering process.
import { describe, expect, it } from "vitest";
import { consumer, testClock, useTestGavel } from "./helpers/gavel";

// Gavel judges key expiry on its clock: the test's, which moves only when the test says so.
const clock = testClock("2026-06-01T12:00:00Z");

describe("supplier keys", () => {
  const t = useTestGavel({}, { clock });
  const sell = (key: string) => t.g.lead(key, { campaign: "keys", data: consumer() });

  it("keeps the old key valid beside a new one until it is revoked, which takes effect at once", async () => {
    const oldKey = await t.g.setup({ campaign: { id: "keys" }, channels: [], supplier: { id: "rotating" } });
    expect((await sell(oldKey)).status).toBe(200); // now cached by the key lookup

    const issued = await t.g.admin("POST", "/v1/suppliers/rotating/keys", {});
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({ status: "active", expires_at: null, revoked_at: null });
    const newKey = issued.body.api_key as string;
    expect(newKey).toMatch(/^gvl_[0-9a-f]{16}_/);
    expect(newKey.startsWith(issued.body.prefix)).toBe(true);

    // Overlap: both work.
    expect((await sell(oldKey)).status).toBe(200);
    expect((await sell(newKey)).status).toBe(200);

    const keys = await t.g.admin("GET", "/v1/suppliers/rotating/keys");
    expect(keys.body.items).toHaveLength(2);
    expect(JSON.stringify(keys.body)).not.toContain(newKey.slice(24));
    const oldId = keys.body.items.find((k: any) => k.id !== issued.body.id).id;

    const revoked = await t.g.admin("DELETE", `/v1/suppliers/rotating/keys/${oldId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe("revoked");
    // At once, although GAVEL_CONFIG_TTL_MS (5 s) would still cache the key.
    const refused = await sell(oldKey);
    expect(refused.status).toBe(401);
    expect((await sell(newKey)).status).toBe(200);
    expect((await t.g.admin("DELETE", "/v1/suppliers/rotating/keys/0000000000000000")).status).toBe(404);
  });

  it("ends the previous keys at the expiry set when rotating", async () => {
    const oldKey = await t.g.setup({ campaign: { id: "keys" }, channels: [], supplier: { id: "expiring" } });
    const cutoff = new Date(clock.now() + 60_000);
    const issued = await t.g.admin("POST", "/v1/suppliers/expiring/keys", { previous_keys_expire_at: cutoff.toISOString() });
    expect(issued.status).toBe(201);
    expect(issued.body.expires_at).toBeNull();
    expect((await sell(oldKey)).status).toBe(200);

    const listed = await t.g.admin("GET", "/v1/suppliers/expiring/keys");
    const old = listed.body.items.find((k: any) => k.id !== issued.body.id);
    expect(Date.parse(old.expires_at)).toBe(cutoff.getTime());

    clock.set(new Date(cutoff.getTime() - 1).toISOString());
    expect((await sell(oldKey)).status).toBe(200);
    clock.set(cutoff.toISOString());
    expect((await sell(oldKey)).status).toBe(401);
    expect((await sell(issued.body.api_key)).status).toBe(200);
    const after = await t.g.admin("GET", "/v1/suppliers/expiring/keys");
    expect(after.body.items.find((k: any) => k.id === old.id).status).toBe("expired");
  });

  it("issues keys with their own expiry, and none for an archived supplier", async () => {
    await t.g.setup({ campaign: { id: "keys" }, channels: [], supplier: { id: "short-lived" } });
    const past = await t.g.admin("POST", "/v1/suppliers/short-lived/keys", { expires_at: new Date(clock.now() - 1000).toISOString() });
    expect(past.body.status).toBe("expired");
    expect((await sell(past.body.api_key)).status).toBe(401);
    expect((await t.g.admin("POST", "/v1/suppliers/short-lived/keys", { expires_at: "soon" })).status).toBe(422);
    expect((await t.g.admin("POST", "/v1/suppliers/nobody/keys", {})).status).toBe(404);
    await t.g.admin("DELETE", "/v1/suppliers/short-lived");
    expect((await t.g.admin("POST", "/v1/suppliers/short-lived/keys", {})).status).toBe(409);
  });
});
