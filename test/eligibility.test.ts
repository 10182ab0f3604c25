import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, startTestGavel, type TestGavel } from "./helpers/gavel";

describe("channel eligibility", () => {
  let g: TestGavel;
  let buyer: TestBuyer;
  let key: string;
  beforeAll(async () => {
    g = await startTestGavel();
    buyer = await startBuyer({ ping: () => ({ json: { bid: 7 } }) });
    await g.admin("POST", "/v1/buyers", { id: "sleepy", name: "Sleepy", status: "paused" });
    key = await g.setup({
      campaign: { id: "elig" },
      supplier: { id: "main-supplier" },
      channels: [
        pingPost("open", buyer),
        pingPost("paused", buyer, { status: "paused" }),
        pingPost("buyer-paused", buyer, { buyer_id: "sleepy" }),
        pingPost("other-suppliers", buyer, { suppliers: ["someone-else"] }),
        pingPost("texas-only", buyer, { filters: [{ field: "state", op: "in", value: ["TX"] }] }),
        pingPost("adults-25", buyer, { filters: [{ field: "age", op: "gte", value: 25 }] }),
      ],
    });
  });
  afterAll(async () => {
    await buyer?.close();
    await g?.close();
  });

  it("excludes channels with a machine-readable reason for each, and pings only the rest", async () => {
    const res = await g.lead(key, { campaign: "elig", data: consumer({ state: "OK", age: 22 }) });
    expect(res.body.status).toBe("sold");
    const trace = await g.admin("GET", `/v1/leads/${res.body.lead_id}`);
    const reasons = Object.fromEntries(trace.body.excluded.map((e: any) => [e.channel_id, [e.reason, e.detail]]));
    expect(reasons).toEqual({
      paused: ["paused", null],
      "buyer-paused": ["buyer_paused", null],
      "other-suppliers": ["supplier", null],
      "texas-only": ["filtered", "state"],
      "adults-25": ["filtered", "age"],
    });
    expect(trace.body.attempts.filter((a: any) => a.kind === "ping").map((a: any) => a.channel_id)).toEqual(["open"]);
  });

  it("applies a configuration change to the next lead at once", async () => {
    expect((await g.admin("PATCH", "/v1/channels/open", { status: "paused" })).status).toBe(200);
    const res = await g.lead(key, { campaign: "elig", data: consumer({ state: "TX", age: 30 }) });
    const trace = await g.admin("GET", `/v1/leads/${res.body.lead_id}`);
    expect(trace.body.excluded).toContainEqual({ channel_id: "open", reason: "paused", detail: null });
    expect(trace.body.attempts.filter((a: any) => a.kind === "ping").map((a: any) => a.channel_id).sort()).toEqual([
      "adults-25",
      "texas-only",
    ]);
    await g.admin("PATCH", "/v1/channels/open", { status: "active" });
  });

  it("ends unsold with reason no_eligible_channels when nothing may bid", async () => {
    const other = await g.setup({ campaign: { id: "elig" }, channels: [], supplier: { id: "outsider" } });
    await g.admin("PATCH", "/v1/channels/open", { suppliers: ["main-supplier"] });
    await g.admin("PATCH", "/v1/channels/texas-only", { suppliers: ["main-supplier"] });
    await g.admin("PATCH", "/v1/channels/adults-25", { suppliers: ["main-supplier"] });
    const res = await g.lead(other, { campaign: "elig", data: consumer() });
    expect(res.body).toMatchObject({ status: "unsold", price: 0 });
    const trace = await g.admin("GET", `/v1/leads/${res.body.lead_id}`);
    expect(trace.body.reason).toBe("no_eligible_channels");
    expect(trace.body.attempts).toEqual([]);
  });

  it("refuses leads for a paused campaign without recording them", async () => {
    await g.admin("PATCH", "/v1/campaigns/elig", { status: "paused" });
    const res = await g.lead(key, { campaign: "elig", data: consumer() });
    expect(res.status).toBe(403);
    expect(res.body.type).toBe("urn:gavel:problem:campaign_inactive");
    await g.admin("PATCH", "/v1/campaigns/elig", { status: "active" });
  });
});
