// A buyer answering JSON nested 20,000 levels deep (SPEC.md: a buyer's fault is an outcome with a
// reason, never the supplier's error). What reads an answer recurses (JSON.stringify of a capture or
// a bid element, JSONPath), so such an answer once threw mid-auction: a 500 to the supplier, and the
// concurrency slots of the channels that did bid were never given back. Now it is that channel's
// invalid_response; the lead sells to another buyer, and that buyer's max_concurrency 1 slot is free
// for the next lead. Real Gavel, loopback buyers, both databases.
import { beforeAll, describe, expect, it } from "vitest";
import type { Answer } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";

const DEEP = 20_000;
const nested = "[".repeat(DEEP) + "]".repeat(DEEP);
const json = (text: string): Answer => ({ text, contentType: "application/json" });

describe("a buyer answer nested 20,000 levels deep", () => {
  const fixture = useTestGavel();
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  /** A campaign of its own: three buyers answering deep (a capture, a bid element, a native bid) and one bidding 5 with max_concurrency 1. */
  async function market(id: string) {
    const capture = await fixture.buyer({ ping: () => json(`{"bid": 9, "token": ${nested}}`) });
    const element = await fixture.buyer({ ping: () => json(`{"bids": [${nested}, {"price": 8}]}`) });
    const native = await fixture.buyer({ ping: () => json(`{"bid": ${nested}}`) });
    const good = await fixture.buyer({ ping: () => ({ json: { bid: 5, ping_ref: "good" } }) });
    const key = await g.setup({
      campaign: { id, payout: { type: "revshare", percent: 50 }, auction: { timeout_ms: 20_000, ping_timeout_ms: 5000 } },
      channels: [
        pingPost(`${id}-capture`, capture, {
          buyer_id: `${id}-capture`,
          post: { url: capture.postUrl, headers: { authorization: "Bearer {{ping.token}}" } },
          response: { ping: { bid: "$.bid", capture: { token: "$.token" } } },
        }),
        pingPost(`${id}-element`, element, { buyer_id: `${id}-element`, response: { ping: { bids: { path: "$.bids[*]", bid: "$.price" } } } }),
        pingPost(`${id}-native`, native, { buyer_id: `${id}-native` }),
        pingPost(`${id}-good`, good, { buyer_id: `${id}-good`, max_concurrency: 1 }),
      ],
    });
    return { key, good, deep: [`${id}-capture`, `${id}-element`, `${id}-native`] };
  }

  async function expectUnreadable(leadId: string, channels: string[]) {
    const t = (await g.admin("GET", `/v1/leads/${leadId}`)).body;
    for (const channel of channels) {
      const pings = t.attempts.filter((a: any) => a.kind === "ping" && a.channel_id === channel);
      expect(pings, channel).toHaveLength(1);
      expect(pings[0], channel).toMatchObject({ outcome: "invalid_response", http_status: 200, price: null });
      expect(pings[0].reason, channel).toBe("unparseable_body");
    }
    expect(t.attempts.filter((a: any) => a.kind === "post")).toHaveLength(1);
  }

  it("is that buyer's invalid_response, the lead sells to another buyer, and its slot is free for the next lead", async () => {
    const m = await market("deep-leads");
    for (const round of [1, 2]) {
      const res = await g.lead(m.key, { campaign: "deep-leads", data: consumer() });
      expect(res.status, `lead ${round}`).toBe(200);
      expect(res.body).toMatchObject({ status: "sold", price: 2.5 });
      await expectUnreadable(res.body.lead_id, m.deep);
    }
    // max_concurrency 1: both leads pinged and sold to the good buyer, none left it out as throttled.
    expect(m.good.pings).toHaveLength(2);
    expect(m.good.posts).toHaveLength(2);
  });

  it("is the same through POST /v1/pings: the supplier is quoted the good buyer's bid, twice", async () => {
    const m = await market("deep-pings");
    for (const round of [1, 2]) {
      const lead = consumer();
      const res = await fetch(`${g.url}/v1/pings`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${m.key}` },
        body: JSON.stringify({ campaign: "deep-pings", data: { zip: lead.zip, state: lead.state, age: lead.age, coverage: lead.coverage } }),
      });
      expect(res.status, `ping ${round}`).toBe(200);
      expect(await res.json()).toMatchObject({ status: "bid", price: 2.5 });
    }
    expect(m.good.pings).toHaveLength(2);
  });
});
