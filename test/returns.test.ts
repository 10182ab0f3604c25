// Returns (README "After the sale"): asked for by a buyer's postback or an operator, with a reason
// from the buyer's list, within its window and under its rate; pending until accepted (by an
// operator, or by the sweeper after auto_accept_hours) or rejected. Accepting reverses the sale's
// revenue, claws back the supplier's payout per the campaign, gives caps back per the buyer, and
// makes the lead `returned`; every step is in the history and the audit log; the after-sale report
// shows return rates and net revenue. A real Gavel, loopback buyers, a clock moved by hand.
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { signature } from "../src/channels/signing";
import { answerBody, consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";

const clock = testClock("2026-11-02T15:00:00Z");
const T0 = clock.now();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SECRET = "returns-postback-secret-01";

describe("returns", () => {
  const t = useTestGavel({}, { clock });
  let g: TestGavel;
  /** Leads sold to ret-acme (campaign ret-auto, revshare 50 % of 20), and one of ret-keep (supplier keeps its payout). */
  const sold: string[] = [];
  let kept: string;

  async function postback(payload: Record<string, unknown>) {
    const body = JSON.stringify(payload);
    const ts = Math.floor(clock.now() / 1000);
    const res = await fetch(`${g.url}/v1/postbacks/ret-acme`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gavel-timestamp": String(ts), "x-gavel-signature": `sha256=${signature(SECRET, ts, body)}` },
      body,
    });
    return { status: res.status, body: await answerBody(res) };
  }
  const trace = async (id: string) => (await g.admin("GET", `/v1/leads/${id}`)).body;
  const channelCaps = async () => (await g.admin("GET", "/v1/channels/ret-acme-ch")).body.caps;

  beforeAll(async () => {
    g = t.g;
    const acme = await t.buyer({ ping: () => ({ json: { bid: 20 } }) });
    const returns = { window_days: 7, reasons: ["bad_phone", "duplicate"], max_rate_percent: 50, auto_accept_hours: 48, release_caps: true };
    expect((await g.admin("POST", "/v1/buyers", { id: "ret-acme", name: "Acme", postbacks: { secret: SECRET }, returns })).status).toBe(201);
    const key = await g.setup({
      campaign: { id: "ret-auto", payout: { type: "revshare", percent: 50 } },
      channels: [pingPost("ret-acme-ch", acme, { buyer_id: "ret-acme", caps: [{ period: "day", leads: 100 }] })],
    });
    for (let i = 0; i < 4; i++) {
      const res = await g.lead(key, { campaign: "ret-auto", data: consumer(), source: "social" });
      expect(res.body).toMatchObject({ status: "sold", price: 10 });
      sold.push(res.body.lead_id);
    }
    const keepKey = await g.setup({
      campaign: { id: "ret-keep", payout: { type: "revshare", percent: 50 }, returns: { charge_supplier: false } },
      channels: [pingPost("ret-keep-ch", acme, { buyer_id: "ret-acme" })],
    });
    const res = await g.lead(keepKey, { campaign: "ret-keep", data: consumer() });
    expect(res.body.status).toBe("sold");
    kept = res.body.lead_id;
    expect((await channelCaps())[0].used).toEqual({ leads: 4, spend: 80 });
  });

  it("takes a return by postback as pending, with its auto-accept time, in the history, the trace and the audit log", async () => {
    clock.set(new Date(T0 + HOUR).toISOString());
    const res = await postback({ event_id: "ret-1", lead_id: sold[0], event: "return_requested", reason: "bad_phone" });
    expect(res.status).toBe(200);
    expect(res.body.return).toEqual({ id: expect.any(String), state: "pending", auto_accept_at: new Date(T0 + HOUR + 48 * HOUR).toISOString() });
    const lead = await trace(sold[0]);
    expect(lead.status).toBe("sold");
    expect(lead.returns).toEqual([
      expect.objectContaining({ id: res.body.return.id, buyer_id: "ret-acme", channel_id: "ret-acme-ch", reason: "bad_phone", state: "pending", requested_by: "postback:ret-1", revenue: 20, payout_clawed_back: 0 }),
    ]);
    expect(lead.history.at(-1)).toMatchObject({ status: "sold", reason: "return_requested", detail: "ret-acme, bad_phone" });
    const audit = (await g.admin("GET", `/v1/audit?resource=leads/${sold[0]}`)).body.items;
    expect(audit).toMatchObject([{ action: "return.request", actor: "buyer:ret-acme", resource: `leads/${sold[0]}/returns/${res.body.return.id}` }]);
    // The same sale again: a conflict; an unknown reason: refused, naming the allowed ones.
    expect((await postback({ event_id: "ret-1b", lead_id: sold[0], event: "return_requested", reason: "duplicate" })).status).toBe(409);
    const badReason = await postback({ event_id: "ret-2", lead_id: sold[1], event: "return_requested", reason: "changed_mind" });
    expect(badReason.status).toBe(422);
    expect(badReason.body.errors).toEqual([{ path: "reason", message: "must be one of 'bad_phone', 'duplicate'" }]);
  });

  it("holds the buyer to max_rate_percent of its sales in the window", async () => {
    // 5 sales (4 + the kept campaign's): 50 % allows 2 returns; the first is pending, this is the second, the third is over.
    const operatorReturn = await g.admin("POST", `/v1/leads/${sold[1]}/returns`, { reason: "duplicate", note: "called us" });
    expect(operatorReturn.status).toBe(201);
    expect(operatorReturn.body).toMatchObject({ state: "pending", requested_by: "operator:env:ADMIN_TOKEN", note: "called us" });
    const over = await postback({ event_id: "ret-3", lead_id: sold[2], event: "return_requested", reason: "bad_phone" });
    expect(over.status).toBe(422);
    expect(over.body.detail).toContain("3 returns of 5 sales");
    // A rejected return no longer counts toward the rate.
    const rejected = await g.admin("POST", `/v1/returns/${operatorReturn.body.id}/reject`, { note: "the phone works" });
    expect(rejected.body).toMatchObject({ state: "rejected", decided_by: "env:ADMIN_TOKEN", decided_at: new Date(clock.now()).toISOString() });
    expect((await g.admin("POST", `/v1/returns/${operatorReturn.body.id}/accept`, {})).status).toBe(409);
    expect((await trace(sold[1])).status).toBe("sold");
    expect((await trace(sold[1])).history.at(-1)).toMatchObject({ reason: "return_rejected", detail: "ret-acme, by env:ADMIN_TOKEN" });
    const allowed = await postback({ event_id: "ret-3", lead_id: sold[2], event: "return_requested", reason: "bad_phone" });
    expect(allowed.status).toBe(200);
  });

  it("accepts a pending return once auto_accept_hours pass: revenue reversed, payout clawed back, caps given back, lead returned", async () => {
    const [first] = (await trace(sold[0])).returns;
    // Not yet due: a sweep an hour early accepts nothing.
    clock.set(new Date(T0 + HOUR + 47 * HOUR).toISOString());
    expect(await g.gavel.acceptDueReturns()).toBe(0);
    clock.set(new Date(T0 + HOUR + 48 * HOUR).toISOString());
    // Both pending returns (sold[0] and sold[2], asked for at the same instant) are due.
    expect(await g.gavel.acceptDueReturns()).toBe(2);
    const lead = await trace(sold[0]);
    expect(lead.status).toBe("returned");
    expect(lead.returns[0]).toMatchObject({ id: first.id, state: "accepted", decided_by: "system:returns", revenue: 20, payout_clawed_back: 10, caps_released: true });
    expect(lead.history.at(-1)).toMatchObject({ status: "returned", reason: "return_accepted" });
    expect(lead.history.at(-1).detail).toBe("ret-acme, revenue 20.00 reversed, payout 10.00 clawed back, by system:returns");
    const audit = (await g.admin("GET", `/v1/audit?resource=leads/${sold[0]}`)).body.items;
    expect(audit.map((a: any) => [a.action, a.actor, a.via])).toEqual([
      ["return.accept", "system:returns", "system"],
      ["return.request", "buyer:ret-acme", "api"],
    ]);
    // The channel's day cap got the two returned sales back, in the day of the sales (today's is another).
    const saleDay = await g.gavel.database.rows<{ leads: number; spend: number }>(
      sql`select leads, spend_cents::int as spend from cap_usage where scope = 'channel' and owner_id = 'ret-acme-ch' and period = 'day'`,
    );
    expect(saleDay.map((r) => ({ leads: Number(r.leads), spend: Number(r.spend) }))).toEqual([{ leads: 2, spend: 4000 }]);
    // A second sweep finds nothing more to do for these.
    await g.gavel.acceptDueReturns();
    expect((await g.admin("GET", "/v1/returns?state=pending&buyer=ret-acme")).body.items).toEqual([]);
  });

  it("refuses a return after the window closes", async () => {
    clock.set(new Date(T0 + 7 * DAY + HOUR).toISOString());
    const late = await postback({ event_id: "ret-late", lead_id: sold[3], event: "return_requested", reason: "duplicate" });
    expect(late.status).toBe(422);
    expect(late.body.errors[0].path).toBe("lead_id");
    expect(late.body.errors[0].message).toContain("return window of 7 days closed");
  });

  it("keeps the supplier's payout under the campaign's returns.charge_supplier false, accepted by an operator", async () => {
    clock.set(new Date(T0 + 2 * DAY).toISOString());
    // Two of five sales returned: a third is over 50 % until the operator raises the buyer's rate.
    expect((await g.admin("POST", `/v1/leads/${kept}/returns`, { reason: "duplicate" })).status).toBe(422);
    const raised = await g.admin("PATCH", "/v1/buyers/ret-acme", { returns: { window_days: 7, reasons: ["bad_phone", "duplicate"], max_rate_percent: 60, auto_accept_hours: 48, release_caps: true } });
    expect(raised.status).toBe(200);
    const asked = await g.admin("POST", `/v1/leads/${kept}/returns`, { buyer_id: "ret-acme", reason: "duplicate" });
    expect(asked.status).toBe(201);
    const done = await g.admin("POST", `/v1/returns/${asked.body.id}/accept`, { note: "ok" });
    expect(done.body).toMatchObject({ state: "accepted", revenue: 20, payout_clawed_back: 0, decided_by: "env:ADMIN_TOKEN" });
    expect((await trace(kept)).status).toBe("returned");
    expect((await g.admin("GET", `/v1/returns/${asked.body.id}`)).body).toEqual(done.body);
    // A lead with no such buyer, or not sold: 404; bad body: 422.
    expect((await g.admin("POST", `/v1/leads/${kept}/returns`, { buyer_id: "nobody", reason: "duplicate" })).status).toBe(404);
    expect((await g.admin("POST", `/v1/leads/${kept}/returns`, { reason: "" })).status).toBe(422);
  });

  it("returns one sale of a shared lead at a time: each claws back its share of the payout, and the lead is returned with the last", async () => {
    const returns = { window_days: 7, reasons: ["duplicate"], max_rate_percent: 100 };
    const high = await t.buyer({ ping: () => ({ json: { bid: 10.01, shared_bid: 10.01 } }) });
    const low = await t.buyer({ ping: () => ({ json: { bid: 7, shared_bid: 7 } }) });
    for (const id of ["ret-sh-high", "ret-sh-low"]) expect((await g.admin("POST", "/v1/buyers", { id, name: id, returns })).status).toBe(201);
    const key = await g.setup({
      campaign: { id: "ret-shared", auction: { mode: "shared", max_sells: 2 }, payout: { type: "revshare", percent: 33 } },
      channels: [
        pingPost("ret-sh-high-ch", high, { buyer_id: "ret-sh-high", buys: ["shared"] }),
        pingPost("ret-sh-low-ch", low, { buyer_id: "ret-sh-low", buys: ["shared"] }),
      ],
    });
    const res = await g.lead(key, { campaign: "ret-shared", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", sold_to: 2 });
    const id = res.body.lead_id;
    const payoutCents = Math.round(res.body.price * 100);
    // Split by price, rounded down; the highest sale takes what rounding left (as the reports do).
    const lowShare = Math.floor((payoutCents * 700) / 1701);
    const first = await g.admin("POST", `/v1/leads/${id}/returns`, { reason: "duplicate" });
    expect(first.status).toBe(422);
    expect(first.body.errors).toEqual([{ path: "buyer_id", message: `is needed: lead '${id}' was sold to ret-sh-high, ret-sh-low` }]);
    const lowReturn = await g.admin("POST", `/v1/leads/${id}/returns`, { buyer_id: "ret-sh-low", reason: "duplicate" });
    expect(lowReturn.status, JSON.stringify(lowReturn.body)).toBe(201);
    const lowDone = await g.admin("POST", `/v1/returns/${lowReturn.body.id}/accept`, {});
    expect(lowDone.body).toMatchObject({ state: "accepted", channel_id: "ret-sh-low-ch", revenue: 7, payout_clawed_back: lowShare / 100 });
    expect((await trace(id)).status).toBe("sold");
    const highReturn = await g.admin("POST", `/v1/leads/${id}/returns`, { buyer_id: "ret-sh-high", reason: "duplicate" });
    const highDone = await g.admin("POST", `/v1/returns/${highReturn.body.id}/accept`, {});
    expect(highDone.body).toMatchObject({ revenue: 10.01, payout_clawed_back: (payoutCents - lowShare) / 100 });
    const lead = await trace(id);
    expect(lead.status).toBe("returned");
    expect(lead.returns.map((r: any) => r.state)).toEqual(["accepted", "accepted"]);
    const report = await g.admin("GET", "/v1/reports/after-sale?by=campaign&from=2026-11-04&to=2026-11-05");
    expect(report.body.rows).toEqual([
      expect.objectContaining({ key: "ret-shared", sold: 2, revenue: 17.01, returns: 2, return_rate: 1, net_revenue: 0, net_payout: 0 }),
    ]);
  });

  it("shows return rates and net revenue in the after-sale report", async () => {
    const res = await g.admin("GET", "/v1/reports/after-sale?by=buyer&from=2026-11-01&to=2026-11-03");
    expect(res.status).toBe(200);
    const row = res.body.rows.find((r: any) => r.key === "ret-acme");
    // 5 sales of 20; returned: sold[0] (clawed back 10), sold[2] (10) and kept (0).
    expect(row).toMatchObject({ sold: 5, revenue: 100, payout: 50, returns: 3, return_rate: 0.6, returned_revenue: 60, net_revenue: 40, payout_clawed_back: 20, net_payout: 30 });
    const bySource = await g.admin("GET", "/v1/reports/after-sale?by=source&from=2026-11-01&to=2026-11-03");
    expect(bySource.body.rows.find((r: any) => r.key === "social")).toMatchObject({ sold: 4, returns: 2, net_revenue: 40, net_payout: 20 });
  });
});
