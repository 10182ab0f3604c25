// Statements (README "Statements"): a supplier's payout statement and a buyer's invoice for a
// period, lead by lead, net of accepted returns, in JSON and CSV; equal to the reports over the same
// period. Sales go through a real Gavel to loopback buyers (exclusive and shared), returns are
// accepted (with the campaign's charge_supplier both ways), pending and rejected; a lead before and
// one after the period, and test leads, are left out. A clock moved by hand.
import { beforeAll, describe, expect, it } from "vitest";
import { rolledTo, rollUp } from "../src/reports/rollup";
import { ADMIN, consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";

const clock = testClock("2027-11-07T12:00:00Z");
const NY = "America/New_York";
/** The supplier's day of 8 November in New York (EST, UTC−5): 05:00Z to 05:00Z. */
const DAY = "from=2027-11-08&to=2027-11-09";

/** CSV text as lines of cells (statement cells hold no comma or quote). */
const csvLines = (text: string) =>
  text
    .trimEnd()
    .split("\r\n")
    .map((line) => line.split(","));

describe("statements", () => {
  const t = useTestGavel({}, { clock });
  let g: TestGavel;
  let supplierKey: string;
  let otherKey: string;
  const lead: Record<string, string> = {};

  async function sell(name: string, key: string, campaign: string, at: string, test = false) {
    clock.set(at);
    const res = await g.lead(key, { campaign, data: consumer(), test });
    expect(res.body.status, JSON.stringify(res.body)).toBe("sold");
    lead[name] = res.body.lead_id;
    return res.body;
  }
  async function returned(name: string, buyer: string, decision: "accept" | "reject" | null) {
    const asked = await g.admin("POST", `/v1/leads/${lead[name]}/returns`, { buyer_id: buyer, reason: "bad_phone" });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    if (decision) expect((await g.admin("POST", `/v1/returns/${asked.body.id}/${decision}`, {})).status).toBe(200);
  }

  beforeAll(async () => {
    g = t.g;
    const returns = { window_days: 7, reasons: ["bad_phone"], max_rate_percent: 100, auto_accept_hours: null };
    for (const id of ["st-acme", "st-high", "st-low"]) expect((await g.admin("POST", "/v1/buyers", { id, name: `Buyer ${id}`, returns })).status).toBe(201);
    const acme = await t.buyer({ ping: () => ({ json: { bid: 20 } }) });
    const high = await t.buyer({ ping: () => ({ json: { bid: 10.01, shared_bid: 10.01 } }) });
    const low = await t.buyer({ ping: () => ({ json: { bid: 7, shared_bid: 7 } }) });
    await g.setup({ campaign: { id: "st-excl", payout: { type: "revshare", percent: 50 } }, channels: [pingPost("st-acme-excl", acme, { buyer_id: "st-acme" })] });
    await g.setup({
      campaign: { id: "st-keep", payout: { type: "revshare", percent: 50 }, returns: { charge_supplier: false } },
      channels: [pingPost("st-acme-keep", acme, { buyer_id: "st-acme" })],
    });
    await g.setup({
      campaign: { id: "st-shared", auction: { mode: "shared", max_sells: 2 }, payout: { type: "revshare", percent: 33 } },
      channels: [
        pingPost("st-high-ch", high, { buyer_id: "st-high", buys: ["shared"] }),
        pingPost("st-low-ch", low, { buyer_id: "st-low", buys: ["shared"] }),
      ],
    });
    const made = await g.admin("POST", "/v1/suppliers", { id: "st-pub", name: "Publisher", timezone: NY });
    expect(made.status).toBe(201);
    supplierKey = made.body.api_key;
    otherKey = (await g.admin("POST", "/v1/suppliers", { id: "st-other", name: "Other" })).body.api_key;

    // Before the period (7 November), then 8 November in New York, then after it.
    await sell("before", supplierKey, "st-excl", "2027-11-07T12:00:00Z");
    await sell("e1", supplierKey, "st-excl", "2027-11-08T15:00:00Z");
    await sell("e2", supplierKey, "st-excl", "2027-11-08T15:01:00Z");
    await sell("e3", supplierKey, "st-excl", "2027-11-08T15:02:00Z");
    await sell("k1", supplierKey, "st-keep", "2027-11-08T16:00:00Z");
    expect(await sell("s1", supplierKey, "st-shared", "2027-11-08T17:00:00Z")).toMatchObject({ sold_to: 2, price: 5.61 });
    await sell("test1", supplierKey, "st-excl", "2027-11-08T18:00:00Z", true);
    await sell("test2", supplierKey, "st-shared", "2027-11-08T18:01:00Z", true);
    // 22:00 in New York, 9 November in UTC.
    await sell("s2", supplierKey, "st-shared", "2027-11-09T03:00:00Z");
    await sell("after", supplierKey, "st-excl", "2027-11-09T06:00:00Z");

    clock.set("2027-11-09T12:00:00Z");
    await returned("before", "st-acme", "accept");
    await returned("e1", "st-acme", "accept");
    await returned("e2", "st-acme", null);
    await returned("k1", "st-acme", "accept");
    await returned("s1", "st-low", "accept");
    await returned("s1", "st-high", "reject");
    await returned("test1", "st-acme", "accept");
    await returned("after", "st-acme", "accept");
  });

  it("pays the supplier each sold lead of its day once, less the payout clawed back, in its own time zone", async () => {
    const res = await g.admin("GET", `/v1/statements/suppliers/st-pub?${DAY}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      statement: "supplier_payout",
      supplier: { id: "st-pub", name: "Publisher" },
      from: "2027-11-08T05:00:00.000Z",
      to: "2027-11-09T05:00:00.000Z",
      tz: NY,
      generated_at: "2027-11-09T12:00:00.000Z",
    });
    expect(res.body.leads.map((l: any) => l.lead_id)).toEqual(["e1", "e2", "e3", "k1", "s1", "s2"].map((n) => lead[n]));
    const byName = (name: string) => res.body.leads.find((l: any) => l.lead_id === lead[name]);
    expect(byName("e1")).toEqual({
      lead_id: lead.e1,
      received_at: "2027-11-08T15:00:00.000Z",
      sold_at: expect.any(String),
      campaign_id: "st-excl",
      source: null,
      sub_id: null,
      channel_id: "st-acme-excl",
      sales: 1,
      payout: 10,
      returns: 1,
      pending_returns: 0,
      returned: 10,
      net: 0,
    });
    expect(byName("e2")).toMatchObject({ payout: 10, returns: 0, pending_returns: 1, returned: 0, net: 10 });
    // charge_supplier false: returned by the buyer, and the supplier keeps its payout.
    expect(byName("k1")).toMatchObject({ campaign_id: "st-keep", payout: 10, returns: 1, returned: 0, net: 10 });
    // Shared: 33 % of 17.01 paid once; the low sale's share (700/1701 of 5.61, rounded down) clawed back.
    expect(byName("s1")).toMatchObject({ channel_id: "st-high-ch", sales: 2, payout: 5.61, returns: 1, returned: 2.3, net: 3.31 });
    expect(byName("s2")).toMatchObject({ sales: 2, payout: 5.61, returns: 0, returned: 0, net: 5.61 });
    expect(res.body.totals).toEqual({ leads: 6, gross: 51.22, returns: 3, pending_returns: 1, returned: 12.3, net: 38.92 });
  });

  it("invoices each buyer its sales: an exclusive lead at its price, each shared sale at its own, less the returns accepted", async () => {
    const acme = await g.admin("GET", `/v1/statements/buyers/st-acme?${DAY}`);
    expect(acme.status).toBe(200);
    // The buyer's own zone is UTC: its 8 November.
    expect(acme.body).toMatchObject({ statement: "buyer_invoice", buyer: { id: "st-acme", name: "Buyer st-acme" }, from: "2027-11-08T00:00:00.000Z", tz: "UTC" });
    expect(acme.body.leads.map((l: any) => l.lead_id)).toEqual(["e1", "e2", "e3", "k1"].map((n) => lead[n]));
    expect(acme.body.leads[0]).toEqual({
      lead_id: lead.e1,
      received_at: "2027-11-08T15:00:00.000Z",
      sold_at: expect.any(String),
      campaign_id: "st-excl",
      channel_id: "st-acme-excl",
      sale: "exclusive",
      price: 20,
      return_state: "accepted",
      return_reason: "bad_phone",
      return_decided_at: "2027-11-09T12:00:00.000Z",
      returned: 20,
      net: 0,
    });
    expect(acme.body.leads[1]).toMatchObject({ return_state: "pending", return_decided_at: null, returned: 0, net: 20 });
    expect(acme.body.totals).toEqual({ leads: 4, gross: 80, returns: 2, pending_returns: 1, returned: 40, net: 40 });

    const low = await g.admin("GET", `/v1/statements/buyers/st-low?${DAY}&tz=${NY}`);
    expect(low.body.leads).toEqual([
      expect.objectContaining({ lead_id: lead.s1, channel_id: "st-low-ch", sale: "shared", price: 7, return_state: "accepted", returned: 7, net: 0 }),
      expect.objectContaining({ lead_id: lead.s2, sale: "shared", price: 7, return_state: null, net: 7 }),
    ]);
    expect(low.body.totals).toEqual({ leads: 2, gross: 14, returns: 1, pending_returns: 0, returned: 7, net: 7 });
    // A rejected return takes nothing off; in UTC, s2 falls on 9 November.
    const high = await g.admin("GET", `/v1/statements/buyers/st-high?${DAY}`);
    expect(high.body.leads).toEqual([expect.objectContaining({ lead_id: lead.s1, price: 10.01, return_state: "rejected", returned: 0, net: 10.01 })]);
    expect(high.body.totals).toEqual({ leads: 1, gross: 10.01, returns: 0, pending_returns: 0, returned: 0, net: 10.01 });
  });

  it("equals the reports over the same period, to the cent, in JSON and in CSV, before and after the leads are rolled up", async () => {
    // The test clock is a year ahead of the database's: the roller has not reached these leads (the
    // reports read them raw) until they are rolled up by hand, up to when the returns were decided.
    const rolled = await rolledTo(g.gavel.database);
    expect(rolled === null || rolled.getTime() < Date.parse("2027-11-07T00:00:00Z")).toBe(true);
    expect(await agreeWithReports()).toBe(12);
    await rollUp(g.gavel.database, { until: new Date("2027-11-09T12:00:00Z"), stepMs: 400 * 86_400_000 });
    expect((await rolledTo(g.gavel.database))?.toISOString()).toBe("2027-11-09T12:00:00.000Z");
    expect(await agreeWithReports()).toBe(12);
    // Accept: text/csv answers CSV too.
    const negotiated = await fetch(`${g.url}/v1/statements/buyers/st-acme?${DAY}`, { headers: { authorization: `Bearer ${ADMIN}`, accept: "text/csv" } });
    expect(negotiated.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect((await negotiated.text()).split("\r\n")[0]).toBe("lead_id,received_at,sold_at,campaign_id,channel_id,sale,price,return_state,return_reason,return_decided_at,returned,net");
  });

  /** Compares every statement with the reports over the same period; answers how many it compared. */
  async function agreeWithReports(): Promise<number> {
    const report = async (path: string) => {
      const res = await g.admin("GET", path);
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
      return res.body;
    };
    const compared: [string, string][] = [
      ["suppliers", "st-pub"],
      ["buyers", "st-acme"],
      ["buyers", "st-high"],
      ["buyers", "st-low"],
    ];
    let checked = 0;
    for (const [kind, id] of compared)
      for (const tz of [NY, "UTC", "Asia/Kolkata"]) {
        const range = `${DAY}&tz=${encodeURIComponent(tz)}`;
        const statement = await report(`/v1/statements/${kind}/${id}?${range}`);
        const dimension = await report(`/v1/reports/${kind}?${range}&${kind === "suppliers" ? "supplier" : "buyer"}=${id}`);
        const afterSale = await report(`/v1/reports/after-sale?by=${kind === "suppliers" ? "supplier" : "buyer"}&${range}`);
        const row = afterSale.rows.find((r: any) => r.key === id) ?? { returns: 0, pending_returns: 0, payout_clawed_back: 0, returned_revenue: 0, net_payout: 0, net_revenue: 0 };
        const totals = statement.totals;
        const where = `${kind}/${id} in ${tz}`;
        expect(totals.leads, where).toBe(dimension.totals.sold);
        expect(totals.gross, where).toBe(kind === "suppliers" ? dimension.totals.payout : dimension.totals.revenue);
        expect(totals.returns, where).toBe(row.returns);
        expect(totals.pending_returns, where).toBe(row.pending_returns);
        expect(totals.returned, where).toBe(kind === "suppliers" ? row.payout_clawed_back : row.returned_revenue);
        expect(totals.net, where).toBe(kind === "suppliers" ? row.net_payout : row.net_revenue);
        if (kind === "buyers") expect(totals.leads, where).toBe(row.sold ?? 0);

        // The CSV: a line per lead, then the total line, the same sums to the cent.
        const csv = await fetch(`${g.url}/v1/statements/${kind}/${id}?${range}&format=csv`, { headers: { authorization: `Bearer ${ADMIN}` } });
        expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
        expect(csv.headers.get("content-disposition")).toBe(`attachment; filename="statement-${kind === "suppliers" ? "supplier" : "buyer"}-${id}.csv"`);
        const [header, ...lines] = csvLines(await csv.text());
        const total = lines.pop()!;
        expect(total[0]).toBe("total");
        const cell = (line: string[], name: string) => line[header.indexOf(name)];
        expect(lines.map((l) => cell(l, "lead_id")), where).toEqual(statement.leads.map((l: any) => l.lead_id));
        expect(cell(total, kind === "suppliers" ? "payout" : "price"), where).toBe(totals.gross.toFixed(2));
        expect(cell(total, "returned"), where).toBe(totals.returned.toFixed(2));
        expect(cell(total, "net"), where).toBe(totals.net.toFixed(2));
        // Each line's figures add up to the total line, cent by cent.
        const sumCents = (name: string) => lines.reduce((sum, l) => sum + Math.round(Number(cell(l, name)) * 100), 0);
        expect(sumCents("net"), where).toBe(Math.round(totals.net * 100));
        if (kind === "suppliers") expect([cell(total, "returns"), cell(total, "pending_returns")]).toEqual([String(totals.returns), String(totals.pending_returns)]);
        else expect(lines.filter((l) => cell(l, "return_state") === "accepted").length).toBe(totals.returns);
        checked++;
      }
    return checked;
  }

  it("lets an analyst read statements, and a supplier's key its own (without who bought), never another's", async () => {
    const analyst = (await g.admin("POST", "/v1/tokens", { name: "statements analyst", role: "analyst" })).body.token as string;
    const asAnalyst = await g.admin("GET", `/v1/statements/buyers/st-acme?${DAY}`, undefined, analyst);
    expect(asAnalyst.status).toBe(200);
    expect(asAnalyst.body.totals.net).toBe(40);
    const own = await g.admin("GET", `/v1/statements/suppliers/st-pub?${DAY}`, undefined, supplierKey);
    expect(own.status).toBe(200);
    expect(own.body.totals).toEqual({ leads: 6, gross: 51.22, returns: 3, pending_returns: 1, returned: 12.3, net: 38.92 });
    expect(own.body.leads.map((l: any) => l.channel_id)).toEqual([null, null, null, null, null, null]);
    const ownCsv = await fetch(`${g.url}/v1/statements/suppliers/st-pub?${DAY}&format=csv`, { headers: { authorization: `Bearer ${supplierKey}` } });
    const [header, ...lines] = csvLines(await ownCsv.text());
    expect(lines.every((l) => l[header.indexOf("channel_id")] === "")).toBe(true);
    const another = await g.admin("GET", `/v1/statements/suppliers/st-pub?${DAY}`, undefined, otherKey);
    expect(another.status).toBe(403);
    expect(another.body.detail).toBe("A supplier API key reads its own statement only (supplier 'st-other')");
    expect((await g.admin("GET", `/v1/statements/buyers/st-acme?${DAY}`, undefined, supplierKey)).status).toBe(403);
    expect((await g.admin("GET", `/v1/statements/buyers/st-acme?${DAY}`, undefined, "")).status).toBe(401);
  });

  it("answers 404 for an unknown supplier or buyer, and 422 naming each bad parameter", async () => {
    const unknown = await g.admin("GET", `/v1/statements/buyers/nobody?${DAY}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toBe("No buyer 'nobody'");
    expect((await g.admin("GET", `/v1/statements/suppliers/nobody?${DAY}`)).status).toBe(404);

    const missing = await g.admin("GET", "/v1/statements/suppliers/st-pub?tz=Mars/Olympus&format=xml");
    expect(missing.status).toBe(422);
    expect(missing.body.errors.map((e: any) => e.path).sort()).toEqual(["format", "from", "tz"]);
    // Without `to`: up to now (the test clock), a statement to date.
    const toDate = await g.admin("GET", "/v1/statements/buyers/st-acme?from=2027-11-08");
    expect(toDate.body).toMatchObject({ to: "2027-11-09T12:00:00.000Z", totals: { leads: 5 } });
    const notDates = await g.admin("GET", "/v1/statements/buyers/st-acme?from=2026-02-30&to=yesterday");
    expect(notDates.body.errors).toEqual([
      { path: "from", message: "must be a real date (YYYY-MM-DD)" },
      { path: "to", message: "must be an ISO 8601 date (2026-11-28) or date and time (2026-11-28T09:30:00Z)" },
    ]);
    const backwards = await g.admin("GET", "/v1/statements/buyers/st-acme?from=2027-11-09&to=2027-11-08T23:00:00Z");
    expect(backwards.status).toBe(422);
    expect(backwards.body.errors).toEqual([{ path: "from", message: "must be before `to` (the period is from `from` up to, not including, `to`)" }]);
    const long = await g.admin("GET", "/v1/statements/buyers/st-acme?from=2026-01-01&to=2026-04-05");
    expect(long.status).toBe(422);
    expect(long.body.errors).toEqual([{ path: "to", message: "the period may span 93 days at most: ask for a long one a quarter at a time" }]);
    expect((await g.admin("GET", "/v1/statements/buyers/st-acme?from=2026-01-01&to=2026-04-04")).status).toBe(200);
    expect((await g.admin("GET", "/v1/statements/buyers/st-acme?from=2027-11-08&to=2027-11-09&extra=1")).status).toBe(422);
  });
});
