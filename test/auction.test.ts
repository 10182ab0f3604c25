import { describe, expect, it } from "vitest";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

describe("the auction", () => {
  const fixture = useTestGavel();

  it("sells to the highest bidder and pays the supplier its revenue share", async () => {
    const g = fixture.g;
    const low = await fixture.buyer({ ping: () => ({ json: { bid: 4.5, ping_ref: "low-1" } }) });
    const high = await fixture.buyer({ ping: () => ({ json: { bid: 12.5, ping_ref: "high-1" } }) });
    const key = await g.setup({
      campaign: { id: "sale", payout: { type: "revshare", percent: 70 } },
      channels: [pingPost("low", low), pingPost("high", high)],
    });
    const res = await g.lead(key, { campaign: "sale", data: consumer() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "sold", price: 8.75, sold_to: 1 });
    expect(high.posts).toHaveLength(1);
    expect(low.posts).toHaveLength(0);
    expect(high.posts[0].body).toMatchObject({ ping_ref: "high-1", price: 12.5, lead_id: res.body.lead_id });
    expect(high.posts[0].headers["idempotency-key"]).toBe(`${res.body.lead_id}:high`);

    const trace = await g.admin("GET", `/v1/leads/${res.body.lead_id}`);
    expect(trace.body).toMatchObject({ status: "sold", price: 8.75, revenue: 12.5 });
    expect(trace.body.history.map((h: any) => h.status)).toEqual(["received", "auctioning", "sold"]);
    expect(trace.body.attempts.filter((a: any) => a.kind === "ping")).toHaveLength(2);
  });
});
