// Admission control: a bound on auctions running at once in one process. Past it a lead is answered
// 503 + Retry-After at once, before any ping and without recording a lead.
import { describe, expect, it } from "vitest";
import { defaultMaxAuctions, loadConfig } from "../src/config";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

describe("admission control", () => {
  it("defaults to 32 auctions per core", () => {
    expect(defaultMaxAuctions(2)).toBe(64);
    expect(defaultMaxAuctions(0)).toBe(32);
    expect(loadConfig({}).GAVEL_MAX_AUCTIONS).toBe(defaultMaxAuctions());
    expect(loadConfig({ GAVEL_MAX_AUCTIONS: "5" }).GAVEL_MAX_AUCTIONS).toBe(5);
  });

  const t = useTestGavel({ GAVEL_MAX_AUCTIONS: "2" });

  it("answers leads past the bound 503 + Retry-After before any ping, records none, and admits again after", async () => {
    const slow = await t.buyer({ ping: () => ({ json: { bid: 5 }, delayMs: 300 }) });
    const key = await t.g.setup({ campaign: { id: "admission" }, channels: [pingPost("admission-slow", slow)], supplier: { id: "admission-sup" } });
    const running = [t.g.lead(key, { campaign: "admission", data: consumer() }), t.g.lead(key, { campaign: "admission", data: consumer() })];
    // Both admitted auctions are waiting on the buyer's ping now.
    for (let i = 0; i < 100 && slow.pings.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(slow.pings).toHaveLength(2);
    const refused = await t.g.lead(key, { campaign: "admission", data: consumer() });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body).toMatchObject({ type: "urn:gavel:problem:overloaded", status: 503 });
    expect(refused.ms).toBeLessThan(250);
    // Shed before the request is read at all: not even the key is looked at.
    const unread = await fetch(`${t.g.url}/v1/leads`, { method: "POST", headers: { authorization: "Bearer nope" }, body: "{not json" });
    expect(unread.status).toBe(503);
    expect(unread.headers.get("content-type")).toBe("application/problem+json");
    expect(slow.pings).toHaveLength(2);
    expect((await Promise.all(running)).map((a) => a.body.status)).toEqual(["sold", "sold"]);
    expect((await t.g.admin("GET", "/v1/leads?supplier=admission-sup")).body.items).toHaveLength(2);
    expect((await t.g.lead(key, { campaign: "admission", data: consumer() })).body.status).toBe("sold");
  });
});
