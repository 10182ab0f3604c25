// Test leads ("test": true) run the whole auction with buyers told it is a test, never take a
// consumer's dedup keys, and can be listed apart from real leads.
import { beforeAll, describe, expect, it } from "vitest";
import type { TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

describe("test leads", () => {
  const t = useTestGavel();
  let buyer: TestBuyer;
  let key: string;

  beforeAll(async () => {
    buyer = await t.buyer({ ping: () => ({ json: { bid: 6 } }) });
    key = await t.g.setup({
      campaign: { id: "tl", dedup: { fields: ["email"], match: "any", lookback_days: 30 } },
      supplier: { id: "tl-sup" },
      channels: [pingPost("tl-buyer", buyer)],
    });
  });

  it("runs the whole auction, telling the buyer in the body and the X-Gavel-Test header", async () => {
    const res = await t.g.lead(key, { campaign: "tl", data: consumer(), test: true });
    expect(res.body).toMatchObject({ status: "sold", sold_to: 1 });
    const ping = buyer.pings.find((p) => p.body.lead_id === res.body.lead_id)!;
    const post = buyer.posts.find((p) => p.body.lead_id === res.body.lead_id)!;
    expect(ping.body.test).toBe(true);
    expect(ping.headers["x-gavel-test"]).toBe("1");
    expect(post.body.test).toBe(true);
    expect(post.headers["x-gavel-test"]).toBe("1");
    const trace = await t.g.admin("GET", `/v1/leads/${res.body.lead_id}`);
    expect(trace.body).toMatchObject({ test: true, status: "sold" });
  });

  it("sends real leads without the test marks", async () => {
    const res = await t.g.lead(key, { campaign: "tl", data: consumer() });
    const ping = buyer.pings.find((p) => p.body.lead_id === res.body.lead_id)!;
    const post = buyer.posts.find((p) => p.body.lead_id === res.body.lead_id)!;
    expect(ping.body.test).toBe(false);
    expect(post.body.test).toBe(false);
    expect(ping.headers["x-gavel-test"]).toBeUndefined();
    expect(post.headers["x-gavel-test"]).toBeUndefined();
  });

  it("never takes a consumer's dedup keys", async () => {
    const person = consumer();
    expect((await t.g.lead(key, { campaign: "tl", data: person, test: true })).body.status).toBe("sold");
    expect((await t.g.lead(key, { campaign: "tl", data: person, test: true })).body.status).toBe("sold");
    expect((await t.g.lead(key, { campaign: "tl", data: person })).body.status).toBe("sold");
    expect((await t.g.lead(key, { campaign: "tl", data: person })).body.status).toBe("duplicate");
  });

  it("lists test and real leads apart with ?test=", async () => {
    const tests = await t.g.admin("GET", "/v1/leads?campaign=tl&test=true&limit=500");
    const real = await t.g.admin("GET", "/v1/leads?campaign=tl&test=false&limit=500");
    const all = await t.g.admin("GET", "/v1/leads?campaign=tl&limit=500");
    expect(tests.body.items.length).toBeGreaterThanOrEqual(3);
    expect(tests.body.items.every((l: any) => l.test === true)).toBe(true);
    expect(real.body.items.every((l: any) => l.test === false)).toBe(true);
    expect(tests.body.items.length + real.body.items.length).toBe(all.body.items.length);
    expect((await t.g.admin("GET", "/v1/leads?test=maybe")).status).toBe(422);
  });
});
