// The report API end to end: leads sold through a real Gavel to loopback buyers whose behaviour is
// known, then every report read over HTTP (JSON and CSV) and checked figure by figure.
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, consumer, pingPost, useTestGavel } from "./helpers/gavel";

describe("reports", () => {
  const t = useTestGavel();
  let key: string;
  let analyst: string;
  let from: string;
  const sold: string[] = [];

  beforeAll(async () => {
    // The best bid is refused at the post, so every lead falls back to the next: `rp-fickle` wins
    // and is refused, `rp-steady` buys at 12.50, `rp-low` bids and is never posted; `rp-ca` is
    // excluded by its filter.
    const fickle = await t.buyer({ ping: () => ({ json: { bid: 20 } }), post: () => ({ json: { accepted: false, reason: "not_today" } }) });
    const steady = await t.buyer({ ping: () => ({ json: { bid: 12.5 } }) });
    const low = await t.buyer({ ping: () => ({ json: { bid: 4 } }) });
    const ca = await t.buyer({ ping: () => ({ json: { bid: 30 } }) });
    key = await t.g.setup({
      campaign: { id: "rp", payout: { type: "revshare", percent: 60 } },
      supplier: { id: "rp-sup" },
      channels: [
        pingPost("rp-fickle", fickle, { buyer_id: "rp-gamma" }),
        pingPost("rp-steady", steady, { buyer_id: "rp-acme" }),
        pingPost("rp-low", low, { buyer_id: "rp-acme" }),
        pingPost("rp-ca", ca, { buyer_id: "rp-beta", filters: [{ field: "state", op: "in", value: ["CA"] }] }),
      ],
    });
    const token = await t.g.admin("POST", "/v1/tokens", { name: "reports", role: "analyst" });
    analyst = token.body.token;
    from = new Date(Date.now() - 60_000).toISOString();
    const sell = async (body: Record<string, unknown>) => {
      const res = await t.g.lead(key, { campaign: "rp", data: consumer(), ...body });
      expect(res.status).toBe(200);
      return res.body;
    };
    for (let i = 0; i < 4; i++) sold.push((await sell({ source: "google", sub_id: "g-1" })).lead_id);
    for (let i = 0; i < 2; i++) sold.push((await sell({ source: "facebook" })).lead_id);
    expect((await sell({ test: true, source: "google" })).status).toBe("sold");
    expect((await t.g.lead(key, { campaign: "rp", data: consumer({ zip: "nope" }), source: "google" })).status).toBe(422);
  });

  const report = (path: string, token = analyst) => t.g.admin("GET", path, undefined, token);
  const range = () => `from=${encodeURIComponent(from)}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`;

  it("campaigns: leads, sales, money and rates of the leads received", async () => {
    const res = await report(`/v1/reports/campaigns?${range()}`);
    expect(res.status).toBe(200);
    expect(res.body.rows).toHaveLength(1);
    expect(res.body.rows[0].key).toEqual({ campaign: "rp" });
    expect(res.body.totals).toMatchObject({
      leads: 7,
      rejected: 1,
      auctioned: 6,
      sold: 6,
      unsold: 0,
      sell_through: 1,
      pings: 18,
      bids: 18,
      bid_rate: 1,
      max_bid: 20,
      wins: 6,
      posts: 12,
      accepted: 6,
      accept_rate: 0.5,
      post_rejects: 6,
      revenue: 75,
      payout: 45,
      margin: 30,
      epl: 10.71,
    });
    expect(res.body.totals.avg_bid).toBe(12.17);
    expect(res.body.totals.decision_ms_p50).toBeGreaterThanOrEqual(0);
    expect(res.body.rows[0]).toMatchObject({ leads: 7, revenue: 75 });
  });

  it("channels and buyers: what each was offered, bid, won and bought", async () => {
    const res = await report(`/v1/reports/channels?campaign=rp&${range()}`);
    const row = (id: string) => res.body.rows.find((r: any) => r.key.channel === id);
    expect(row("rp-fickle")).toMatchObject({ key: { channel: "rp-fickle", buyer: "rp-gamma" }, pings: 6, bids: 6, wins: 6, posts: 6, accepted: 0, post_rejects: 6, sold: 0, revenue: 0 });
    expect(row("rp-steady")).toMatchObject({ leads: 6, pings: 6, wins: 0, posts: 6, accepted: 6, accept_rate: 1, sold: 6, revenue: 75, payout: 45, epl: 12.5 });
    expect(row("rp-low")).toMatchObject({ pings: 6, bids: 6, avg_bid: 4, posts: 0, sold: 0 });
    expect(row("rp-ca")).toMatchObject({ leads: 6, excluded: 6, pings: 0 });
    expect(row("rp-steady").ping_ms_p50).not.toBeNull();
    expect(row("rp-ca").ping_ms_p50).toBeNull();
    expect(res.body.rows[0].key.channel).toBe("rp-steady"); // most revenue first

    const buyers = await report(`/v1/reports/buyers?${range()}`);
    const acme = buyers.body.rows.find((r: any) => r.key.buyer === "rp-acme");
    expect(acme).toMatchObject({ pings: 12, bids: 12, sold: 6, revenue: 75 });
    expect(buyers.body.totals.revenue).toBe(75);

    const one = await report(`/v1/reports/channels?channel=rp-steady&${range()}`);
    expect(one.body.rows.map((r: any) => r.key.channel)).toEqual(["rp-steady"]);
    const bySource = await report(`/v1/reports/channels?source=facebook&${range()}`);
    expect(bySource.body.rows.find((r: any) => r.key.channel === "rp-steady")).toMatchObject({ sold: 2, revenue: 25 });
  });

  it("sources: by supplier, source and sub-id", async () => {
    const res = await report(`/v1/reports/sources?${range()}`);
    const keys = res.body.rows.map((r: any) => r.key);
    expect(keys).toContainEqual({ supplier: "rp-sup", source: "google", sub_id: "g-1" });
    expect(keys).toContainEqual({ supplier: "rp-sup", source: "facebook", sub_id: null });
    const row = (source: string, subId: string | null) => res.body.rows.find((r: any) => r.key.source === source && r.key.sub_id === subId);
    expect(row("google", "g-1")).toMatchObject({ leads: 4, rejected: 0, sold: 4, revenue: 50 });
    expect(row("google", null)).toMatchObject({ leads: 1, rejected: 1, sold: 0, revenue: 0 });
    const suppliers = await report(`/v1/reports/suppliers?source=facebook&${range()}`);
    expect(suppliers.body.totals).toMatchObject({ leads: 2, sold: 2, revenue: 25 });
  });

  it("keeps test leads apart", async () => {
    const res = await report(`/v1/reports/campaigns?test=true&${range()}`);
    expect(res.body.totals).toMatchObject({ leads: 1, sold: 1, revenue: 12.5 });
  });

  it("splits by period in the asked zone", async () => {
    const res = await report(`/v1/reports/campaigns?interval=hour&tz=America/Chicago&${range()}`);
    expect(res.body.interval).toBe("hour");
    expect(res.body.tz).toBe("America/Chicago");
    for (const row of res.body.rows) expect(row.period).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00-0[56]:00$/);
    expect(res.body.rows.reduce((s: number, r: any) => s + r.leads, 0)).toBe(7);
    expect(res.body.periods.map((p: any) => p.period)).toEqual([...new Set(res.body.rows.map((r: any) => r.period))].sort());
    expect(res.body.periods.reduce((s: number, p: any) => s + p.revenue, 0)).toBe(75);
    const day = await report(`/v1/reports/campaigns?interval=day&from=${new Date().toISOString().slice(0, 10)}`);
    expect(day.status).toBe(200);
  });

  it("the bid landscape: bids per price range, and what came of them", async () => {
    const res = await report(`/v1/reports/bids?campaign=rp&bucket=5&${range()}`);
    expect(res.body.bucket).toBe(5);
    expect((await report(`/v1/reports/bids?campaign=rp&bucket=0.5&${range()}`)).body.bucket).toBe(0.5);
    expect(res.body.rows).toEqual([
      { min_price: 0, max_price: 5, bids: 6, wins: 0, posts: 0, accepted: 0, post_reject_rate: null },
      { min_price: 10, max_price: 15, bids: 6, wins: 0, posts: 6, accepted: 6, post_reject_rate: 0 },
      { min_price: 20, max_price: 25, bids: 6, wins: 6, posts: 6, accepted: 0, post_reject_rate: 1 },
    ]);
    expect(res.body.totals).toEqual({ bids: 18, wins: 6, posts: 12, accepted: 6, post_reject_rate: 0.5 });
    const channel = await report(`/v1/reports/bids?channel=rp-low&${range()}`);
    expect(channel.body.rows).toEqual([{ min_price: 4, max_price: 5, bids: 6, wins: 0, posts: 0, accepted: 0, post_reject_rate: null }]);
  });

  it("reasons: exclusions, refused posts and leads' own reasons, by code, with a detail only where it is from a small set", async () => {
    const res = await report(`/v1/reports/reasons?campaign=rp&${range()}`);
    expect(res.body.rows).toContainEqual({ key: { channel: "rp-ca", stage: "excluded", outcome: null, reason: "filtered", detail: "state" }, count: 6, orphans: 0 });
    // The buyer's own words ("not_today") are never a key.
    expect(res.body.rows).toContainEqual({ key: { channel: "rp-fickle", stage: "post", outcome: "rejected", reason: "rejected", detail: null }, count: 6, orphans: 0 });
    expect(res.body.rows).toContainEqual({ key: { channel: null, stage: "lead", outcome: "rejected", reason: "invalid", detail: null }, count: 1, orphans: 0 });
    const csv = await fetch(`${t.g.url}/v1/reports/reasons?campaign=rp&format=csv&${range()}`, { headers: { authorization: `Bearer ${analyst}` } });
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toBe("channel,stage,outcome,reason,detail,count,orphans");
    expect(lines).toContain("rp-ca,excluded,,filtered,state,6,0");
  });

  it("answers CSV with the same columns, closed by a total line", async () => {
    const json = await report(`/v1/reports/channels?campaign=rp&${range()}`);
    const res = await fetch(`${t.g.url}/v1/reports/channels?campaign=rp&${range()}`, { headers: { authorization: `Bearer ${analyst}`, accept: "text/csv" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/csv");
    const lines = (await res.text()).trim().split("\r\n");
    const header = lines[0].split(",");
    expect(header.slice(0, 3)).toEqual(["channel", "buyer", "leads"]);
    expect(header.slice(2)).toEqual(Object.keys(json.body.totals));
    expect(lines).toHaveLength(json.body.rows.length + 2);
    const steady = lines.find((l) => l.startsWith("rp-steady,"))!.split(",");
    expect(steady[header.indexOf("revenue")]).toBe("75.00");
    expect(steady[header.indexOf("epl")]).toBe("12.50");
    expect(lines.at(-1)!.split(",")[0]).toBe("total");
    const viaParam = await fetch(`${t.g.url}/v1/reports/bids?format=csv&campaign=rp&${range()}`, { headers: { authorization: `Bearer ${analyst}` } });
    expect((await viaParam.text()).split("\r\n")[0]).toBe("min_price,max_price,bids,wins,posts,accepted,post_reject_rate");
  });

  it("refuses bad queries field by field, never with a 5xx", async () => {
    const cases: [string, string][] = [
      ["/v1/reports/campaigns?tz=Mars/Olympus", "tz"],
      ["/v1/reports/campaigns?interval=fortnight", "interval"],
      ["/v1/reports/campaigns?from=2026-13-45", "from"],
      ["/v1/reports/campaigns?from=2026-11-02&to=2026-11-01", "from"],
      ["/v1/reports/campaigns?interval=hour&from=2026-01-01&to=2026-06-01", "to"],
      ["/v1/reports/campaigns?interval=day&tz=Asia/Kolkata&from=2026-11-01&to=2026-11-03", "tz"],
      ["/v1/reports/campaigns?channel=rp-steady", "channel"],
      ["/v1/reports/campaigns?colour=red", "colour"],
      ["/v1/reports/bids?bucket=0.3", "bucket"],
      ["/v1/reports/bids?bucket=abc", "bucket"],
      ["/v1/reports/bids?bucket=", "bucket"],
      ["/v1/reports/bids?bucket=-1", "bucket"],
      ["/v1/reports/bids?bucket=1000.5", "bucket"],
      ["/v1/reports/bids?bucket=Infinity", "bucket"],
      ["/v1/reports/campaigns?from=0000-01-01", "from"],
    ];
    for (const [path, field] of cases) {
      const res = await report(path);
      expect(res.status, path).toBe(422);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.body.errors.map((e: any) => e.path), path).toContain(field);
    }
    expect((await report("/v1/reports/colours")).status).toBe(404);
    expect((await report("/v1/reports/campaigns", "nope")).status).toBe(401);
    // Without an interval any zone reads: the edges come from the raw leads.
    expect((await report(`/v1/reports/campaigns?tz=Asia/Kolkata&${range()}`)).body.totals.leads).toBe(7);
  });

  it("is for operators: a supplier key cannot read reports", async () => {
    expect((await report("/v1/reports/campaigns", key)).status).toBe(403);
    expect((await report("/v1/reports/campaigns", ADMIN)).status).toBe(200);
  });
});

describe("reports of shared sales", () => {
  const t = useTestGavel();
  const leads: any[] = [];
  let from: string;

  beforeAll(async () => {
    // Each lead is sold to three buyers at 10.01, 7 and 6 (23.01); the fourth bid is never posted.
    const prices = [10.01, 7, 6, 5];
    const buyers = await Promise.all(prices.map((bid) => t.buyer({ ping: () => ({ json: { bid } }) })));
    const key = await t.g.setup({
      campaign: { id: "rs", auction: { mode: "shared", max_sells: 3 }, payout: { type: "revshare", percent: 33 } },
      channels: buyers.map((b, i) => pingPost(`rs-${i}`, b, { buyer_id: `rs-buyer-${i}`, buys: ["shared"] })),
    });
    from = new Date(Date.now() - 60_000).toISOString();
    for (let i = 0; i < 2; i++) {
      const res = await t.g.lead(key, { campaign: "rs", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 3 });
      leads.push((await t.g.admin("GET", `/v1/leads/${res.body.lead_id}`)).body);
    }
  });

  const range = () => `from=${encodeURIComponent(from)}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`;

  it("counts every sale for its channel and buyer at its own price, and splits the payout so it adds up to the leads'", async () => {
    // The raw figures: 23.01 a lead; 33 % of it rounds down to 7.59.
    expect(leads.map((l) => [l.revenue, l.price, l.sold_to])).toEqual([
      [23.01, 7.59, 3],
      [23.01, 7.59, 3],
    ]);
    const channels = await t.g.admin("GET", `/v1/reports/channels?campaign=rs&${range()}`);
    const row = (id: string) => channels.body.rows.find((r: any) => r.key.channel === id);
    // Payout split by price, rounded down (3.30, 2.30, 1.97), the highest sale taking the rest (3.32).
    expect(row("rs-0")).toMatchObject({ key: { buyer: "rs-buyer-0" }, sold: 2, revenue: 20.02, payout: 6.64, accepted: 2 });
    expect(row("rs-1")).toMatchObject({ sold: 2, revenue: 14, payout: 4.6 });
    expect(row("rs-2")).toMatchObject({ sold: 2, revenue: 12, payout: 3.94 });
    expect(row("rs-3")).toMatchObject({ sold: 0, revenue: 0, posts: 0 });
    expect(channels.body.totals).toMatchObject({ sold: 6, revenue: 46.02, payout: 15.18 });

    const campaigns = await t.g.admin("GET", `/v1/reports/campaigns?${range()}`);
    expect(campaigns.body.totals).toMatchObject({ leads: 2, sold: 2, accepted: 6, revenue: 46.02, payout: 15.18 });
    const buyers = await t.g.admin("GET", `/v1/reports/buyers?${range()}`);
    expect(buyers.body.rows.find((r: any) => r.key.buyer === "rs-buyer-2")).toMatchObject({ sold: 2, revenue: 12 });
    expect(buyers.body.totals).toMatchObject({ sold: 6, revenue: 46.02, payout: 15.18 });
  });
});
