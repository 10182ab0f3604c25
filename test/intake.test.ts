import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, startTestGavel, type TestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";

describe("lead intake", () => {
  let g: TestGavel;
  let buyer: TestBuyer;
  let slow: TestBuyer;
  let key: string;
  /** The slow buyer's bids wait for this. */
  const slowBids = latch();
  beforeAll(async () => {
    g = await startTestGavel();
    buyer = await startBuyer({ ping: () => ({ json: { bid: 10, ping_ref: "r" } }) });
    slow = await startBuyer({ ping: () => ({ held: slowBids.promise.then(() => ({ json: { bid: 10 } })) }) });
    key = await g.setup({ campaign: { id: "intake", dedup: { fields: ["email", "phone"] } }, channels: [pingPost("fast", buyer)] });
    await g.setup({ campaign: { id: "slow-campaign", auction: { timeout_ms: 20_000, ping_timeout_ms: 15_000 } }, channels: [pingPost("slow", slow)] });
  });
  afterAll(async () => {
    await buyer?.close();
    await slow?.close();
    await g?.close();
  });

  describe("idempotency", () => {
    it("replays the stored answer for the same key and body, with no second auction", async () => {
      const body = { campaign: "intake", data: consumer() };
      const first = await g.lead(key, body, { "idempotency-key": "k-replay" });
      expect(first.body.status).toBe("sold");
      const pingsBefore = buyer.pings.length;
      const again = await g.lead(key, body, { "idempotency-key": "k-replay" });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(buyer.pings.length).toBe(pingsBefore);
    });

    it("answers 422 for the same key with a different body", async () => {
      await g.lead(key, { campaign: "intake", data: consumer() }, { "idempotency-key": "k-diff" });
      const other = await g.lead(key, { campaign: "intake", data: consumer() }, { "idempotency-key": "k-diff" });
      expect(other.status).toBe(422);
      expect(other.headers.get("content-type")).toContain("application/problem+json");
      expect(other.body.type).toBe("urn:gavel:problem:idempotency_mismatch");
    });

    it("answers 409 while the first request with the key is still running", async () => {
      const body = { campaign: "slow-campaign", data: consumer() };
      const slowKey = await g.setup({ campaign: { id: "slow-campaign" }, channels: [] });
      const first = g.lead(slowKey, body, { "idempotency-key": "k-running" });
      // Its auction is running (it has pinged), and its bid waits until the second request is answered.
      await eventually(() => slow.pings.length === 1, "the first request's ping");
      const second = await g.lead(slowKey, body, { "idempotency-key": "k-running" });
      expect(second.status).toBe(409);
      slowBids.open();
      expect((await first).body.status).toBe("sold");
      const third = await g.lead(slowKey, body, { "idempotency-key": "k-running" });
      expect(third.body).toEqual((await first).body);
    });

    it("scopes keys to the supplier", async () => {
      const otherKey = await g.setup({ campaign: { id: "intake" }, channels: [] });
      const a = await g.lead(key, { campaign: "intake", data: consumer() }, { "idempotency-key": "k-shared" });
      const b = await g.lead(otherKey, { campaign: "intake", data: consumer() }, { "idempotency-key": "k-shared" });
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(b.body.lead_id).not.toBe(a.body.lead_id);
    });

    it("replays a validation failure too", async () => {
      const body = { campaign: "intake", data: { zip: "nope" } };
      const first = await g.lead(key, body, { "idempotency-key": "k-invalid" });
      expect(first.status).toBe(422);
      const again = await g.lead(key, body, { "idempotency-key": "k-invalid" });
      expect(again.status).toBe(422);
      expect(again.body.lead_id).toBe(first.body.lead_id);
      expect(again.body.errors).toEqual(first.body.errors);
    });
  });

  describe("dedup", () => {
    it("marks a repeat of the same consumer within the lookback window as duplicate", async () => {
      const person = consumer();
      const first = await g.lead(key, { campaign: "intake", data: person });
      expect(first.body.status).toBe("sold");
      const again = await g.lead(key, { campaign: "intake", data: { ...person, email: person.email!.toString().toUpperCase() } });
      expect(again.body).toMatchObject({ status: "duplicate", price: 0, sold_to: 0 });
      expect(again.body.lead_id).not.toBe(first.body.lead_id);
    });

    it("runs exactly one auction for identical leads sent at the same instant", async () => {
      await g.setup({ campaign: { id: "race", dedup: { fields: ["email", "phone"], match: "any", lookback_days: 30 } }, channels: [pingPost("race-ch", buyer)] });
      const person = consumer();
      const pingsBefore = buyer.pings.filter((p) => p.body.campaign === "race").length;
      const answers = await Promise.all(Array.from({ length: 12 }, () => g.lead(key, { campaign: "race", data: person })));
      const statuses = answers.map((a) => a.body.status);
      expect(statuses.filter((s) => s === "duplicate")).toHaveLength(11);
      expect(statuses.filter((s) => s === "sold")).toHaveLength(1);
      expect(buyer.pings.filter((p) => p.body.campaign === "race").length - pingsBefore).toBe(1);
    });

    it("matches on any configured field, and never on an empty one", async () => {
      await g.setup({
        campaign: {
          id: "any-field",
          fields: [
            { name: "zip", type: "zip", required: true },
            { name: "email", type: "email", pii: true },
            { name: "phone", type: "phone", pii: true },
          ],
          dedup: { fields: ["email", "phone"], match: "any" },
        },
        channels: [pingPost("any-ch", buyer)],
      });
      const a = await g.lead(key, { campaign: "any-field", data: { zip: "10001", email: "same@example.com", phone: "+15125550101" } });
      const b = await g.lead(key, { campaign: "any-field", data: { zip: "10001", email: "other@example.com", phone: "+15125550101" } });
      const c = await g.lead(key, { campaign: "any-field", data: { zip: "10001" } });
      const d = await g.lead(key, { campaign: "any-field", data: { zip: "10001" } });
      expect([a.body.status, b.body.status, c.body.status, d.body.status]).toEqual(["sold", "duplicate", "sold", "sold"]);
    });

    it("lets a consumer through again once the lookback window has passed", async () => {
      await g.setup({ campaign: { id: "no-lookback", dedup: { fields: ["email"], lookback_days: 0 } }, channels: [pingPost("nl-ch", buyer)] });
      const person = consumer();
      const a = await g.lead(key, { campaign: "no-lookback", data: person });
      await new Promise((r) => setTimeout(r, 5));
      const b = await g.lead(key, { campaign: "no-lookback", data: person });
      expect([a.body.status, b.body.status]).toEqual(["sold", "sold"]);
    });
  });

  describe("validation", () => {
    it("lists every field error, records the lead as rejected, and normalises valid values", async () => {
      const bad = await g.lead(key, {
        campaign: "intake",
        data: { zip: "123", state: "Atlantis", age: 12, coverage: "boat", email: "not-an-email", phone: "12" },
      });
      expect(bad.status).toBe(422);
      expect(bad.headers.get("content-type")).toContain("application/problem+json");
      const paths = bad.body.errors.map((e: any) => e.path).sort();
      expect(paths).toEqual(["data.age", "data.coverage", "data.email", "data.phone", "data.state", "data.zip"]);
      const trace = await g.admin("GET", `/v1/leads/${bad.body.lead_id}`);
      expect(trace.body.status).toBe("rejected");

      const good = await g.lead(key, {
        campaign: "intake",
        data: { zip: "75001-1234", state: "texas", age: "44", coverage: "AUTO", email: "  Mixed.Case@Example.COM ", phone: "(512) 555-0199", source: 7 },
      });
      expect(good.body.status).toBe("sold");
      const stored = await g.admin("GET", `/v1/leads/${good.body.lead_id}`);
      expect(stored.body.data).toEqual({
        zip: "75001",
        state: "TX",
        age: 44,
        coverage: "auto",
        email: "mixed.case@example.com",
        phone: "+15125550199",
        source: "7",
      });
      // Undeclared fields are pii: never in a ping.
      const ping = buyer.pings.find((p) => p.body.lead_id === good.body.lead_id)!;
      expect(ping.body.data).toEqual({ zip: "75001", state: "TX", age: 44, coverage: "auto" });
    });

    it("reports required fields that are missing", async () => {
      const res = await g.lead(key, { campaign: "intake", data: { zip: "75001" } });
      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual(
        expect.arrayContaining([
          { path: "data.state", message: "is required" },
          { path: "data.email", message: "is required" },
          { path: "data.phone", message: "is required" },
        ]),
      );
    });

    it("answers 400 to a body that is not JSON, and 422 to a malformed envelope, recording no lead", async () => {
      const before = (await g.admin("GET", "/v1/leads?campaign=intake&limit=500")).body.items.length;
      const garbage = await g.lead(key, "{nope");
      expect(garbage.status).toBe(400);
      const envelope = await g.lead(key, { campaign: 5, data: [] });
      expect(envelope.status).toBe(422);
      expect(envelope.body.errors.map((e: any) => e.path).sort()).toEqual(["campaign", "data"]);
      const after = (await g.admin("GET", "/v1/leads?campaign=intake&limit=500")).body.items.length;
      expect(after).toBe(before);
    });

    it("answers 413 to a body over the limit", async () => {
      const res = await g.lead(key, { campaign: "intake", data: { ...consumer(), note: "x".repeat(70_000) } });
      expect(res.status).toBe(413);
    });

    it("answers 413 to a chunked body (no Content-Length) that grows over the limit, and still takes the next lead", async () => {
      const big = JSON.stringify({ campaign: "intake", data: { ...consumer(), note: "x".repeat(70_000) } });
      const chunks = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < big.length; i += 8_192) controller.enqueue(new TextEncoder().encode(big.slice(i, i + 8_192)));
          controller.close();
        },
      });
      const res = await fetch(`${g.url}/v1/leads`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: chunks,
        duplex: "half",
      } as RequestInit);
      expect(res.headers.get("content-length")).not.toBeNull();
      expect(res.status).toBe(413);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/over the limit/);
      const next = await g.lead(key, { campaign: "intake", data: consumer() });
      expect(next.status).toBe(200);
    });

    it("answers 404 for an unknown campaign", async () => {
      const res = await g.lead(key, { campaign: "nope", data: consumer() });
      expect(res.status).toBe(404);
      expect(res.body.type).toBe("urn:gavel:problem:not_found");
    });
  });

  describe("supplier auth", () => {
    it("refuses a missing key and a wrong key with 401", async () => {
      const none = await fetch(`${g.url}/v1/leads`, { method: "POST", body: JSON.stringify({ campaign: "intake", data: consumer() }) });
      expect(none.status).toBe(401);
      const wrong = await g.lead("gvl_0000000000000000_" + "a".repeat(43), { campaign: "intake", data: consumer() });
      expect(wrong.status).toBe(401);
      const junk = await g.lead("junk", { campaign: "intake", data: consumer() });
      expect(junk.status).toBe(401);
    });

    it("refuses an archived supplier with 401", async () => {
      const k = await g.setup({ campaign: { id: "intake" }, channels: [], supplier: { id: "to-archive" } });
      expect((await g.lead(k, { campaign: "intake", data: consumer() })).status).toBe(200);
      expect((await g.admin("DELETE", "/v1/suppliers/to-archive")).status).toBe(200);
      expect((await g.lead(k, { campaign: "intake", data: consumer() })).status).toBe(401);
    });

    it("refuses a supplier not allowed on the campaign with 403", async () => {
      const k = await g.setup({ campaign: { id: "intake" }, channels: [], supplier: { id: "only-slow", campaigns: ["slow-campaign"] } });
      const res = await g.lead(k, { campaign: "intake", data: consumer() });
      expect(res.status).toBe(403);
    });
  });
});
