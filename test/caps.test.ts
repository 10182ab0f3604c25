// Channel and buyer caps against a real Gavel and loopback buyers, on a clock the test sets: what
// is reserved before a post, what is given back after it, what a read-back shows, and when a
// period starts again.
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { deleteEndedUsage } from "../src/db/caps";
import type { Behaviour } from "./helpers/buyers";
import { consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";

// Monday 1 June 2026, 10:00 in Chicago (UTC-5).
const clock = testClock("2026-06-01T15:00:00Z");

describe("caps", () => {
  const fixture = useTestGavel({}, { clock });
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const bidding = (bid: number): Behaviour => () => ({ json: { bid, ping_ref: `r${bid}` } });
  const trace = async (leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;
  const reasonFor = (t: any, channel: string) => {
    const e = t.excluded.find((x: any) => x.channel_id === channel);
    return e && { reason: e.reason, detail: e.detail };
  };
  const soldTo = (t: any) => t.attempts.find((a: any) => a.kind === "post" && a.outcome === "accepted")?.channel_id;
  const capsOf = async (path: string) => (await g.admin("GET", path)).body.caps;

  it("stops at a channel's daily lead cap, falls through to the next bidder, and starts again at local midnight", async () => {
    const capped = await buyer({ ping: bidding(10) });
    const next = await buyer({ ping: bidding(5) });
    const key = await g.setup({
      campaign: { id: "cap-day" },
      channels: [
        pingPost("cap-day-a", capped, { timezone: "America/Chicago", caps: [{ period: "day", leads: 2 }] }),
        pingPost("cap-day-b", next),
      ],
    });
    const sold = [];
    for (let i = 0; i < 3; i++) sold.push(await g.lead(key, { campaign: "cap-day", data: consumer() }));
    expect(sold.map((r) => r.body.price)).toEqual([10, 10, 5]);
    const third = await trace(sold[2].body.lead_id);
    expect(reasonFor(third, "cap-day-a")).toEqual({ reason: "cap_leads", detail: "day" });
    expect(soldTo(third)).toBe("cap-day-b");
    expect(capped.posts).toHaveLength(2);

    expect(await capsOf("/v1/channels/cap-day-a")).toEqual([
      { period: "day", leads: 2, used: { leads: 2, spend: 20 }, resets_at: "2026-06-02T05:00:00.000Z" },
    ]);

    // 23:59:59 in Chicago is still the same day; midnight is a new one.
    clock.set("2026-06-02T04:59:59Z");
    expect((await g.lead(key, { campaign: "cap-day", data: consumer() })).body.price).toBe(5);
    clock.set("2026-06-02T05:00:00Z");
    expect((await g.lead(key, { campaign: "cap-day", data: consumer() })).body.price).toBe(10);
    expect((await capsOf("/v1/channels/cap-day-a"))[0]).toMatchObject({ used: { leads: 1, spend: 10 }, resets_at: "2026-06-03T05:00:00.000Z" });
    clock.set("2026-06-01T15:00:00Z");
  });

  it("sells under a spend cap while used + price ≤ spend, and skips a bid that would pass it at post time", async () => {
    const spender = await buyer({ ping: bidding(4) });
    const next = await buyer({ ping: bidding(3) });
    const key = await g.setup({
      campaign: { id: "cap-spend" },
      channels: [pingPost("cap-spend-a", spender, { caps: [{ period: "month", spend: 10 }] }), pingPost("cap-spend-b", next)],
    });
    const prices = [];
    for (let i = 0; i < 3; i++) prices.push((await g.lead(key, { campaign: "cap-spend", data: consumer() })).body);
    expect(prices.map((p) => p.price)).toEqual([4, 4, 3]);
    // 8 used: a bid of 4 no longer fits 10, but a lower bid still could, so the channel was pinged.
    const third = await trace(prices[2].lead_id);
    expect(third.attempts.filter((a: any) => a.channel_id === "cap-spend-a").map((a: any) => a.kind)).toEqual(["ping"]);
    expect(reasonFor(third, "cap-spend-a")).toEqual({ reason: "cap_spend", detail: "month" });

    // With a min_bid of 3, nothing it could bid fits: it is not even pinged.
    await g.admin("PATCH", "/v1/channels/cap-spend-a", { min_bid: 3 });
    const pingsBefore = spender.pings.length;
    const fourth = await g.lead(key, { campaign: "cap-spend", data: consumer() });
    expect(reasonFor(await trace(fourth.body.lead_id), "cap-spend-a")).toEqual({ reason: "cap_spend", detail: "month" });
    expect(spender.pings.length).toBe(pingsBefore);
    expect((await capsOf("/v1/channels/cap-spend-a"))[0]).toMatchObject({ period: "month", spend: 10, used: { leads: 2, spend: 8 } });
  });

  it("gives a reservation back when the buyer rejects or errors, and keeps it when the outcome is unknown", async () => {
    let post: Behaviour = () => ({ json: { accepted: false, reason: "not today" } });
    const fickle = await buyer({ ping: bidding(9), post: (r) => post(r) });
    const next = await buyer({ ping: bidding(2) });
    const key = await g.setup({
      campaign: { id: "cap-release", auction: { timeout_ms: 3000, post_timeout_ms: 300 } },
      channels: [pingPost("cap-release-a", fickle, { caps: [{ period: "day", leads: 1 }] }), pingPost("cap-release-b", next)],
    });
    const usedLeads = async () => (await capsOf("/v1/channels/cap-release-a"))[0].used.leads;

    expect((await g.lead(key, { campaign: "cap-release", data: consumer() })).body.price).toBe(2);
    expect(await usedLeads()).toBe(0);
    post = () => ({ status: 503, json: {} });
    expect((await g.lead(key, { campaign: "cap-release", data: consumer() })).body.price).toBe(2);
    expect(await usedLeads()).toBe(0);
    expect(fickle.posts).toHaveLength(2);

    // A post that times out may have sold the lead: the cap stays used, and the channel is full.
    post = () => ({ hang: true });
    const unknown = await g.lead(key, { campaign: "cap-release", data: consumer() });
    expect(unknown.body.status).toBe("error");
    expect(await usedLeads()).toBe(1);
    const after = await g.lead(key, { campaign: "cap-release", data: consumer() });
    expect(after.body.price).toBe(2);
    expect(reasonFor(await trace(after.body.lead_id), "cap-release-a")).toEqual({ reason: "cap_leads", detail: "day" });
  });

  it("counts a buyer's cap across its channels in two campaigns, in the buyer's time zone", async () => {
    await g.admin("POST", "/v1/buyers", { id: "capped-buyer", name: "Capped", timezone: "Europe/Berlin", caps: [{ period: "day", leads: 2 }] });
    const capped = await buyer({ ping: bidding(8) });
    const other = await buyer({ ping: bidding(1) });
    const keyX = await g.setup({
      campaign: { id: "bcap-x" },
      channels: [pingPost("bcap-x-capped", capped, { buyer_id: "capped-buyer" }), pingPost("bcap-x-other", other)],
    });
    const keyY = await g.setup({
      campaign: { id: "bcap-y" },
      channels: [pingPost("bcap-y-capped", capped, { buyer_id: "capped-buyer" }), pingPost("bcap-y-other", other)],
    });
    const a = await g.lead(keyX, { campaign: "bcap-x", data: consumer() });
    const b = await g.lead(keyY, { campaign: "bcap-y", data: consumer() });
    const c = await g.lead(keyX, { campaign: "bcap-x", data: consumer() });
    expect([a.body.price, b.body.price, c.body.price]).toEqual([8, 8, 1]);
    expect(reasonFor(await trace(c.body.lead_id), "bcap-x-capped")).toEqual({ reason: "buyer_cap_leads", detail: "day" });
    const buyerRead = (await g.admin("GET", "/v1/buyers/capped-buyer")).body;
    // Midnight in Berlin (UTC+2 in June).
    expect(buyerRead.caps).toEqual([{ period: "day", leads: 2, used: { leads: 2, spend: 16 }, resets_at: "2026-06-01T22:00:00.000Z" }]);
  });

  it("never counts a test lead, and never refuses one for a full cap", async () => {
    const b = await buyer({ ping: bidding(6) });
    const key = await g.setup({ campaign: { id: "cap-test" }, channels: [pingPost("cap-test-a", b, { caps: [{ period: "total", leads: 1 }] })] });
    const test1 = await g.lead(key, { campaign: "cap-test", data: consumer(), test: true });
    expect(test1.body.status).toBe("sold");
    expect((await capsOf("/v1/channels/cap-test-a"))[0]).toEqual({ period: "total", leads: 1, used: { leads: 0, spend: 0 }, resets_at: null });
    expect((await g.lead(key, { campaign: "cap-test", data: consumer() })).body.status).toBe("sold");
    expect((await g.lead(key, { campaign: "cap-test", data: consumer() })).body.status).toBe("unsold");
    expect((await g.lead(key, { campaign: "cap-test", data: consumer(), test: true })).body.status).toBe("sold");
    expect((await capsOf("/v1/channels/cap-test-a"))[0].used.leads).toBe(1);
  });

  it("gives back the unspent part of a spend reservation when the buyer accepts below its bid", async () => {
    const b = await buyer({ ping: bidding(10), post: () => ({ json: { accepted: true, price: 6.5 } }) });
    const key = await g.setup({ campaign: { id: "cap-lower" }, channels: [pingPost("cap-lower-a", b, { caps: [{ period: "week", spend: 100, leads: 50 }] })] });
    expect((await g.lead(key, { campaign: "cap-lower", data: consumer() })).body.status).toBe("sold");
    const [cap] = await capsOf("/v1/channels/cap-lower-a");
    // The week of Monday 1 June, in the campaign's zone (UTC).
    expect(cap).toEqual({ period: "week", leads: 50, spend: 100, used: { leads: 1, spend: 6.5 }, resets_at: "2026-06-08T00:00:00.000Z" });
  });

  it("refuses bad caps with field errors, and takes a read-back sent straight back", async () => {
    const b = await buyer({});
    await g.setup({ campaign: { id: "cap-config" }, channels: [] });
    const bad = await g.admin("POST", "/v1/channels", {
      ...pingPost("cap-config-a", b),
      buyer_id: "acme",
      campaign_id: "cap-config",
      caps: [{ period: "day", leads: 5 }, { period: "year", leads: 1 }, { period: "hour" }, { period: "week", spend: 1.234 }],
      pacing: { leads_per_minute: 0 },
      timezone: "Mars/Olympus",
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(["caps[1].period", "caps[2]", "caps[3].spend", "pacing.leads_per_minute", "timezone"]);
    const twice = await g.admin("POST", "/v1/channels", {
      ...pingPost("cap-config-a", b),
      buyer_id: "acme",
      campaign_id: "cap-config",
      caps: [{ period: "day", leads: 5 }, { period: "day", spend: 3 }],
    });
    expect(twice.status).toBe(422);
    expect(twice.body.errors.map((e: any) => e.path)).toEqual(["caps[1].period"]);
    const supplier = await g.admin("POST", "/v1/suppliers", { id: "spendy", name: "S", caps: [{ period: "day", spend: 5 }] });
    expect(supplier.status).toBe(422);
    expect(supplier.body.errors).toEqual([{ path: "caps[0].spend", message: "a supplier cap counts leads only" }]);

    const created = await g.admin("POST", "/v1/channels", {
      ...pingPost("cap-config-b", b),
      buyer_id: "acme",
      campaign_id: "cap-config",
      caps: [{ period: "day", leads: 5 }],
    });
    expect(created.status).toBe(201);
    expect(created.body.caps[0].used).toEqual({ leads: 0, spend: 0 });
    const put = await g.admin("PUT", "/v1/channels/cap-config-b", created.body);
    expect(put.status).toBe(200);
    expect(put.body.caps).toEqual(created.body.caps);
  });

  it("sweeps usage of periods that ended long ago, and pacing windows an hour after they end", async () => {
    const db = g.gavel.database;
    await db.rows(sql`
      insert into cap_usage (scope, owner_id, period, period_start, resets_at, leads) values
        ('channel', 'sweep', 'day', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 3),
        ('channel', 'sweep', 'day', '2026-05-31T00:00:00Z', '2026-06-01T00:00:00Z', 3),
        ('channel', 'sweep', 'pace', '2026-06-01T13:00:00Z', '2026-06-01T13:01:00Z', 1),
        ('channel', 'sweep', 'pace', '2026-06-01T14:30:00Z', '2026-06-01T14:31:00Z', 1),
        ('channel', 'sweep', 'total', '1970-01-01T00:00:00Z', null, 9)`);
    const now = clock.now();
    await deleteEndedUsage(db, now - 35 * 86_400_000, now);
    const left = await db.rows<{ period: string; start: string }>(
      sql`select period, to_char(period_start at time zone 'UTC', 'MM-DD HH24:MI') as start from cap_usage where owner_id = 'sweep' order by period, period_start`,
    );
    expect(left).toEqual([
      { period: "day", start: "05-31 00:00" },
      { period: "pace", start: "06-01 14:30" },
      { period: "total", start: "01-01 00:00" },
    ]);
  });
});
