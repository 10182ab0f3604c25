// The do-not-sell list: uploaded as CSV or JSON, stored hashed, counted and deleted through the API;
// a lead whose email or phone is listed is rejected with reason `suppressed` before any ping.
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";

describe("suppression lists", () => {
  const fixture = useTestGavel();
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const upload = (method: string, body: string, type = "text/csv", token = ADMIN) =>
    fetch(`${g.url}/v1/suppressions`, { method, headers: { authorization: `Bearer ${token}`, "content-type": type }, body }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as any }),
    );
  const count = async () => (await g.admin("GET", "/v1/suppressions")).body;

  it("takes a CSV upload, counts it, stores only hashes, and rejects a matching lead before any ping", async () => {
    const b = await fixture.buyer({ ping: () => ({ json: { bid: 5 } }) });
    const key = await g.setup({ campaign: { id: "dns" }, channels: [pingPost("dns-a", b)] });
    const csv = "email,phone\n Blocked@Example.com ,(512) 555-0100\nother@example.com,\n,+1 512 555 0101\n\n";
    const res = await upload("POST", csv);
    expect(res).toEqual({ status: 200, body: { received: 4, added: 4, already_listed: 0 } });
    expect(await count()).toEqual({ emails: 2, phones: 2, total: 4 });
    expect((await upload("POST", "blocked@example.com\n5125550100\n")).body).toEqual({ received: 2, added: 0, already_listed: 2 });

    const stored = await g.gavel.database.rows<{ value_hash: string }>(sql`select value_hash from suppressions`);
    expect(stored.map((r) => r.value_hash).join(" ")).not.toMatch(/example|5550100/);

    const byEmail = await g.lead(key, { campaign: "dns", data: consumer({ email: "BLOCKED@example.com" }) });
    expect(byEmail.status).toBe(200);
    expect(byEmail.body).toMatchObject({ status: "rejected", reason: "suppressed", price: 0, sold_to: 0 });
    const byPhone = await g.lead(key, { campaign: "dns", data: consumer({ phone: "512.555.0101" }) });
    expect(byPhone.body).toMatchObject({ status: "rejected", reason: "suppressed" });
    expect(b.pings).toHaveLength(0);
    const t = (await g.admin("GET", `/v1/leads/${byEmail.body.lead_id}`)).body;
    expect(t).toMatchObject({ status: "rejected", reason: "suppressed", detail: null, attempts: [] });
    expect(t.history.map((h: any) => [h.status, h.reason, h.detail])).toEqual([
      ["received", null, null],
      ["rejected", "suppressed", null],
    ]);
    expect((await g.lead(key, { campaign: "dns", data: consumer() })).body.status).toBe("sold");
  });

  it("deletes entries, so the consumer may be sold again", async () => {
    const b = await fixture.buyer({ ping: () => ({ json: { bid: 5 } }) });
    const key = await g.setup({ campaign: { id: "dns-delete" }, channels: [pingPost("dns-delete-a", b)] });
    await upload("POST", JSON.stringify({ emails: ["gone@example.com"], phones: ["5125550177"] }), "application/json");
    const person = consumer({ email: "gone@example.com" });
    expect((await g.lead(key, { campaign: "dns-delete", data: person })).body.status).toBe("rejected");
    const removed = await upload("DELETE", JSON.stringify({ emails: ["Gone@Example.com", "never@example.com"] }), "application/json");
    expect(removed.body).toEqual({ received: 2, removed: 1, not_listed: 1 });
    expect((await g.lead(key, { campaign: "dns-delete", data: person })).body.status).toBe("sold");
  });

  it("refuses an upload with any bad value whole, listing each by line or index", async () => {
    const before = await count();
    const csv = await upload("POST", "email\nfine@example.com\nnot-an-email\n\nalso bad\n");
    expect(csv.status).toBe(422);
    expect(csv.body.errors.map((e: any) => e.path)).toEqual(["line 3", "line 5"]);
    const json = await upload("POST", JSON.stringify({ emails: ["ok@example.com"], phones: ["12"], extra: 1 }), "application/json");
    expect(json.status).toBe(422);
    expect(json.body.errors.map((e: any) => e.path)).toEqual(["extra"]);
    const phones = await upload("POST", JSON.stringify({ phones: ["5125550123", "12"] }), "application/json");
    expect(phones.body.errors).toEqual([{ path: "phones[1]", message: "is not a phone number" }]);
    expect((await upload("POST", "\n\n")).status).toBe(422);
    expect(await count()).toEqual(before);
  });

  it("lets analysts count but not change the list", async () => {
    const token = (await g.admin("POST", "/v1/tokens", { name: "a", role: "analyst" })).body.token;
    expect((await g.admin("GET", "/v1/suppressions", undefined, token)).status).toBe(200);
    expect((await upload("POST", "x@example.com", "text/csv", token)).status).toBe(403);
  });
});
