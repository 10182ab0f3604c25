// Dedup beyond the campaign's lookback: a buyer's own window across campaigns, and a supplier's
// short resubmission window. Matching is on any or all of the configured fields; an empty field
// never matches.
import { beforeAll, describe, expect, it } from "vitest";
import type { Behaviour } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";

describe("dedup scopes", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const bidding = (bid: number): Behaviour => () => ({ json: { bid } });
  const trace = async (leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;
  const reasonFor = (t: any, channel: string) => t.excluded.find((e: any) => e.channel_id === channel)?.reason;
  // Campaign dedup off, so only the scope under test can match.
  const noCampaignDedup = { dedup: { fields: [], lookback_days: 0 } };

  it("never sends a buyer the same consumer twice within its window, across campaigns", async () => {
    await g.admin("POST", "/v1/buyers", { id: "picky", name: "Picky", dedup: { fields: ["email", "phone"], match: "any", lookback_days: 90 } });
    const picky = await buyer({ ping: bidding(9) });
    const other = await buyer({ ping: bidding(2) });
    const keyA = await g.setup({
      campaign: { id: "bd-a", ...noCampaignDedup },
      channels: [pingPost("bd-a-picky", picky, { buyer_id: "picky" }), pingPost("bd-a-other", other)],
    });
    const keyB = await g.setup({
      campaign: { id: "bd-b", ...noCampaignDedup },
      channels: [pingPost("bd-b-picky", picky, { buyer_id: "picky" }), pingPost("bd-b-other", other)],
    });
    const person = consumer();
    expect((await g.lead(keyA, { campaign: "bd-a", data: person })).body.price).toBe(9);
    // Same phone, new email: "any" matches.
    const again = await g.lead(keyB, { campaign: "bd-b", data: { ...person, email: "new.address@example.com" } });
    expect(again.body).toMatchObject({ status: "sold", price: 2 });
    expect(reasonFor(await trace(again.body.lead_id), "bd-b-picky")).toBe("buyer_duplicate");
    expect(picky.posts).toHaveLength(1);
    expect(picky.pings).toHaveLength(1);
    // Someone else entirely still goes to the buyer.
    expect((await g.lead(keyB, { campaign: "bd-b", data: consumer() })).body.price).toBe(9);
  });

  it("matches a buyer's window on all fields together when told to, and never on an empty field", async () => {
    await g.admin("POST", "/v1/buyers", { id: "all-buyer", name: "All", dedup: { fields: ["email", "phone"], match: "all", lookback_days: 30 } });
    const b = await buyer({ ping: bidding(6) });
    const other = await buyer({ ping: bidding(1) });
    const key = await g.setup({
      campaign: {
        id: "bd-all",
        ...noCampaignDedup,
        fields: [
          { name: "zip", type: "zip", required: true },
          { name: "email", type: "email", pii: true },
          { name: "phone", type: "phone", pii: true },
        ],
      },
      channels: [pingPost("bd-all-buyer", b, { buyer_id: "all-buyer" }), pingPost("bd-all-other", other)],
    });
    const sell = async (data: Record<string, unknown>) => (await g.lead(key, { campaign: "bd-all", data })).body.price;
    expect(await sell({ zip: "10001", email: "a@example.com", phone: "+15125550111" })).toBe(6);
    expect(await sell({ zip: "10001", email: "a@example.com", phone: "+15125550112" })).toBe(6); // one field differs
    expect(await sell({ zip: "10001", email: "a@example.com", phone: "+15125550111" })).toBe(1); // both match
    expect(await sell({ zip: "10001" })).toBe(6); // no fields: never a match
    expect(await sell({ zip: "10001" })).toBe(6);
  });

  it("gives a buyer's claim back when it rejects the post, so it may get the consumer later", async () => {
    let accept = false;
    await g.admin("POST", "/v1/buyers", { id: "rejecter", name: "R", dedup: { fields: ["email"], lookback_days: 30 } });
    const b = await buyer({ ping: bidding(5), post: () => ({ json: { accepted: accept } }) });
    const key = await g.setup({ campaign: { id: "bd-release", ...noCampaignDedup }, channels: [pingPost("bd-release-a", b, { buyer_id: "rejecter" })] });
    const person = consumer();
    expect((await g.lead(key, { campaign: "bd-release", data: person })).body.status).toBe("unsold");
    accept = true;
    expect((await g.lead(key, { campaign: "bd-release", data: person })).body.status).toBe("sold");
    expect((await g.lead(key, { campaign: "bd-release", data: person })).body.status).toBe("unsold");
    expect(b.posts).toHaveLength(2);
  });

  it("treats the same supplier sending the same consumer again within its window as a duplicate", async () => {
    const b = await buyer({ ping: bidding(4) });
    const campaign = { id: "resubmit", dedup: { fields: ["email"], lookback_days: 0, supplier_window_minutes: 10 } };
    const first = await g.setup({ campaign, channels: [pingPost("resubmit-a", b)] });
    const second = await g.setup({ campaign, channels: [] });
    const person = consumer();
    expect((await g.lead(first, { campaign: "resubmit", data: person })).body.status).toBe("sold");
    const again = await g.lead(first, { campaign: "resubmit", data: person });
    expect(again.body).toMatchObject({ status: "duplicate", price: 0 });
    expect((await trace(again.body.lead_id)).reason).toBe("resubmitted");
    // Another supplier may send the same consumer: the campaign itself keeps no lookback here.
    expect((await g.lead(second, { campaign: "resubmit", data: person })).body.status).toBe("sold");
  });
});
