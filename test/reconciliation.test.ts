// Reconciliation (README "After the sale"): leads that ended error/post_outcome_unknown (their
// buyer's post timed out) are listed, settled once by an operator (POST /v1/leads/{id}/resolve) or
// by the buyer's postback, and the settlement shows in the lead, its trace and history, the audit
// log, the caps and the reports. A real Gavel, real loopback buyers that hang on the post, a clock
// that moves only when told.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { signature } from "../src/channels/signing";
import { timeRange } from "../src/http/body";
import { bidLandscape, dimensionReport, DIMENSIONS, reasonReport } from "../src/reports/query";
import { reportRange } from "../src/reports/range";
import { rollUp } from "../src/reports/rollup";
import type { Database } from "../src/db/client";
import { ADMIN, answerBody, consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";
import { jsonObjects, section } from "./helpers/readme";
import { repoRoot, runShell, terminalEnv } from "./helpers/shell";

// Ahead of real time: the background roller (which rolls up to the database's clock) never reaches
// these leads, so this file's own rollUp rolls them, and they are all in the rollups before any is settled.
const clock = testClock("2027-03-01T10:00:00Z");
const SECRET = "rc-acme-postback-secret-01";
const OTHER_SECRET = "rc-other-postback-secret-1";
const SHARED_A_SECRET = "rc-shared-a-postback-secret";
const SHARED_B_SECRET = "rc-shared-b-postback-secret";

function signedHeaders(secret: string, body: string) {
  const ts = Math.floor(clock.now() / 1000);
  return { "x-gavel-timestamp": String(ts), "x-gavel-signature": `sha256=${signature(secret, ts, body)}` };
}

/** Every report over ranges that read hour, day, week and four-week rollup rows. */
async function everyReport(database: Database) {
  const end = Date.parse("2027-04-05T00:00:00Z");
  const ranges = [
    { from: "2027-02-26", to: "2027-04-05" },
    { from: "2027-03-01", to: "2027-03-29" },
    { from: "2027-03-01", to: "2027-03-08", interval: "day" },
    { from: "2027-03-01T10:00:00Z", to: "2027-03-01T11:00:00Z" },
    { from: "2027-02-26", to: "2027-04-05", interval: "week" },
  ];
  const out: unknown[] = [];
  for (const r of ranges) {
    const range = reportRange({ ...timeRange(r), interval: r.interval }, end);
    for (const dimension of DIMENSIONS) out.push(await dimensionReport(database, dimension, range, {}, false));
    out.push(await bidLandscape(database, range, {}, false, 100));
    out.push(await reasonReport(database, range, {}, false));
  }
  return out;
}

describe("reconciling leads whose post's outcome is unknown", () => {
  const t = useTestGavel({}, { clock });
  let g: TestGavel;
  let key: string;
  let soldLead: string;
  /** Leads that ended error/post_outcome_unknown, each taken by one test. */
  const unknown: string[] = [];
  let analystToken: string;
  /** The shared campaign's two hanging buyers, its supplier's key, and its leads (each with two unknown posts). */
  let sharedA: Awaited<ReturnType<typeof t.buyer>>;
  let sharedB: Awaited<ReturnType<typeof t.buyer>>;
  let sharedKey: string;
  const sharedLeads: string[] = [];
  /** Leads sold at auction with another post still unknown: a shared one, and two of an exclusive campaign with on_post_timeout next. */
  const soldOpen = { shared: "", next: [] as string[] };

  async function postback(buyerId: string, secret: string, payload: unknown) {
    const body = JSON.stringify(payload);
    const res = await fetch(`${g.url}/v1/postbacks/${buyerId}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signedHeaders(secret, body) },
      body,
    });
    return { status: res.status, body: await answerBody(res) };
  }
  const resolve = (id: string, body: unknown, token?: string) => g.admin("POST", `/v1/leads/${id}/resolve`, body, token);
  const trace = async (id: string) => (await g.admin("GET", `/v1/leads/${id}`)).body;
  const used = async (path: string) => (await g.admin("GET", path)).body.caps[0].used;
  /** The notifications written to the outbox for a lead: event, receiver and price. */
  const notices = async (id: string) =>
    (
      await g.gavel.database.rows<{ event: string; receiver_id: string; payload: any }>(
        sql`select event, receiver_id, payload from deliveries where lead_id = ${id} order by event`,
      )
    ).map((d) => ({ event: d.event, receiver: d.receiver_id, price: (typeof d.payload === "string" ? JSON.parse(d.payload) : d.payload).price }));

  beforeAll(async () => {
    g = t.g;
    // Acme bids 12 and never answers its posts: each lead ends error/post_outcome_unknown.
    const hanging = await t.buyer({ ping: () => ({ json: { bid: 12 } }), post: () => ({ hang: true }) });
    const other = await t.buyer({ ping: () => ({ json: { bid: 8 } }) });
    const buyer = (id: string, secret: string) =>
      g.admin("POST", "/v1/buyers", {
        id,
        name: id,
        postbacks: { secret },
        caps: [{ period: "day", leads: 100, spend: 5000 }],
        dedup: { fields: ["email"], lookback_days: 30 },
        notify: { url: "http://127.0.0.1:9/crm" },
      });
    expect((await buyer("rc-acme", SECRET)).status).toBe(201);
    expect((await buyer("rc-other", OTHER_SECRET)).status).toBe(201);
    key = await g.setup({
      campaign: { id: "rc-auto", auction: { timeout_ms: 20_000, post_timeout_ms: 300 }, payout: { type: "revshare", percent: 50 } },
      supplier: { postback_url: "http://127.0.0.1:9/postbacks" },
      channels: [
        pingPost("rc-acme-ch", hanging, { buyer_id: "rc-acme", caps: [{ period: "day", leads: 100, spend: 5000 }] }),
        pingPost("rc-other-ch", other, { buyer_id: "rc-other" }),
      ],
    });
    for (let i = 0; i < 7; i++) {
      const res = await g.lead(key, { campaign: "rc-auto", data: consumer() });
      expect(res.body).toMatchObject({ status: "error", price: 0 });
      unknown.push(res.body.lead_id);
    }
    // A lead that sold, for contrast: acme's channel is paused for it.
    expect((await g.admin("PATCH", "/v1/channels/rc-acme-ch", { status: "paused" })).status).toBe(200);
    const sold = await g.lead(key, { campaign: "rc-auto", data: consumer() });
    expect(sold.body).toMatchObject({ status: "sold", price: 4 });
    soldLead = sold.body.lead_id;
    expect((await g.admin("PATCH", "/v1/channels/rc-acme-ch", { status: "active" })).status).toBe(200);

    // A shared campaign (two sales) whose two buyers both hang on the post: each lead ends
    // error/post_outcome_unknown with two posts whose outcome is unknown.
    sharedA = await t.buyer({ ping: () => ({ json: { bid: 12 } }), post: () => ({ hang: true }) });
    sharedB = await t.buyer({ ping: () => ({ json: { bid: 10 } }), post: () => ({ hang: true }) });
    for (const [id, secret] of [
      ["rc-sa", SHARED_A_SECRET],
      ["rc-sb", SHARED_B_SECRET],
    ])
      expect(
        (
          await g.admin("POST", "/v1/buyers", {
            id,
            name: id,
            postbacks: { secret },
            caps: [{ period: "day", leads: 100, spend: 5000 }],
            dedup: { fields: ["email"], lookback_days: 90 },
            notify: { url: "http://127.0.0.1:9/crm" },
          })
        ).status,
      ).toBe(201);
    sharedKey = await g.setup({
      campaign: { id: "rc-shared", auction: { mode: "shared", max_sells: 2, timeout_ms: 20_000, post_timeout_ms: 300 }, payout: { type: "revshare", percent: 50 } },
      supplier: { postback_url: "http://127.0.0.1:9/postbacks" },
      channels: [
        pingPost("rc-sa-ch", sharedA, { buyer_id: "rc-sa", buys: ["shared"] }),
        pingPost("rc-sb-ch", sharedB, { buyer_id: "rc-sb", buys: ["shared"] }),
      ],
    });
    for (let i = 0; i < 2; i++) {
      const res = await g.lead(sharedKey, { campaign: "rc-shared", data: consumer({ email: `rc-shared-${i}@example.com` }) });
      expect(res.body).toMatchObject({ status: "error", price: 0 });
      sharedLeads.push(res.body.lead_id);
    }

    // Leads sold at auction while another of their posts has an unknown outcome. A shared campaign
    // whose A accepts and whose B hangs; an exclusive one with on_post_timeout next whose A (bid 12)
    // hangs and whose B (bid 8) accepts.
    const openBuyer = async (id: string, secret: string) =>
      expect(
        (
          await g.admin("POST", "/v1/buyers", {
            id,
            name: id,
            postbacks: { secret },
            caps: [{ period: "day", leads: 100, spend: 5000 }],
            dedup: { fields: ["email"], lookback_days: 90 },
            notify: { url: "http://127.0.0.1:9/crm" },
          })
        ).status,
      ).toBe(201);
    for (const id of ["rc-ha", "rc-hb", "rc-na", "rc-nb"]) await openBuyer(id, `${id}-postback-secret-0001`);
    const halfKey = await g.setup({
      campaign: { id: "rc-half", auction: { mode: "shared", max_sells: 2, timeout_ms: 20_000, post_timeout_ms: 300 }, payout: { type: "revshare", percent: 50 } },
      supplier: { postback_url: "http://127.0.0.1:9/postbacks" },
      channels: [
        pingPost("rc-ha-ch", await t.buyer({ ping: () => ({ json: { bid: 12 } }) }), { buyer_id: "rc-ha", buys: ["shared"] }),
        pingPost("rc-hb-ch", await t.buyer({ ping: () => ({ json: { bid: 10 } }), post: () => ({ hang: true }) }), { buyer_id: "rc-hb", buys: ["shared"] }),
      ],
    });
    const half = await g.lead(halfKey, { campaign: "rc-half", data: consumer({ email: "rc-half-0@example.com" }) });
    expect(half.body).toMatchObject({ status: "sold", price: 6, sold_to: 1 });
    soldOpen.shared = half.body.lead_id;
    const nextKey = await g.setup({
      campaign: { id: "rc-next", auction: { timeout_ms: 20_000, post_timeout_ms: 300, on_post_timeout: "next" }, payout: { type: "revshare", percent: 50 } },
      supplier: { postback_url: "http://127.0.0.1:9/postbacks" },
      channels: [
        pingPost("rc-na-ch", await t.buyer({ ping: () => ({ json: { bid: 12 } }), post: () => ({ hang: true }) }), { buyer_id: "rc-na" }),
        pingPost("rc-nb-ch", await t.buyer({ ping: () => ({ json: { bid: 8 } }) }), { buyer_id: "rc-nb" }),
      ],
    });
    for (let i = 0; i < 2; i++) {
      const res = await g.lead(nextKey, { campaign: "rc-next", data: consumer({ email: `rc-next-${i}@example.com` }) });
      expect(res.body).toMatchObject({ status: "sold", price: 4, sold_to: 1 });
      soldOpen.next.push(res.body.lead_id);
    }

    const token = await g.admin("POST", "/v1/tokens", { name: "rc-analyst", role: "analyst" });
    analystToken = token.body.token;
    // Every lead is in the rollups (its hour, day, week and four weeks) before any is settled.
    await rollUp(g.gavel.database, { until: new Date("2027-04-05T00:00:00Z") });
  }, 60_000);

  it("lists the leads that ended error/post_outcome_unknown", async () => {
    const res = await g.admin("GET", "/v1/leads?status=error&reason=post_outcome_unknown&campaign=rc-auto&limit=500");
    expect(res.status).toBe(200);
    expect(res.body.items.map((l: any) => l.id).sort()).toEqual([...unknown].sort());
    for (const l of res.body.items) expect(l).toMatchObject({ status: "error", reason: "post_outcome_unknown", trace_url: `/v1/leads/${l.id}` });
    const posts = (await trace(unknown[0])).attempts.filter((a: any) => a.kind === "post");
    expect(posts).toMatchObject([{ channel_id: "rc-acme-ch", outcome: "unknown", reason: "post_timeout", price: 12 }]);
    // The post's reservation was kept: seven leads at 12.
    expect(await used("/v1/channels/rc-acme-ch")).toEqual({ leads: 7, spend: 84 });
  });

  it("settles a lead sold by an operator: the lead, its post, payout, caps, history and audit log", async () => {
    const id = unknown[0];
    const res = await resolve(id, { outcome: "sold", channel_id: "rc-acme-ch", price: 10, note: "acme's invoice lists it" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      lead_id: id,
      status: "sold",
      price: 5,
      revenue: 10,
      sold_to: 1,
      sold_channel: "rc-acme-ch",
      sold_buyer: "rc-acme",
      posts: [{ channel_id: "rc-acme-ch", outcome: "accepted", price: 10 }],
      open_channels: [],
      resolved_at: new Date(clock.now()).toISOString(),
      resolved_by: "env:ADMIN_TOKEN",
    });
    const lead = await trace(id);
    expect(lead).toMatchObject({ status: "sold", reason: null, price: 5, revenue: 10, sold_to: 1, sold_channel: "rc-acme-ch", sold_buyer: "rc-acme" });
    expect(lead.sales).toEqual([{ channel_id: "rc-acme-ch", buyer_id: "rc-acme", price: 10 }]);
    expect(lead.attempts.filter((a: any) => a.kind === "post")).toMatchObject([
      { channel_id: "rc-acme-ch", outcome: "accepted", price: 10, reason: "accepted", detail: "settled (post_timeout), by env:ADMIN_TOKEN" },
    ]);
    expect(lead.history.at(-2)).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    expect(lead.history.at(-1)).toEqual({ status: "sold", at: res.body.resolved_at, reason: "resolved", detail: "sold to rc-acme-ch at 10.00, by env:ADMIN_TOKEN" });
    // Its supplier hears it sold, with its payout, and the buyer that it has the lead (none was told of the error).
    expect(await notices(id)).toEqual([
      { event: "lead.delivered", receiver: "rc-acme", price: 10 },
      { event: "lead.sold", receiver: expect.stringMatching(/^sup-/), price: 5 },
    ]);
    expect(await notices(unknown[1])).toEqual([]);
    // Sold for 2 less than the post offered: the lead stays counted, the unspent 2 is given back.
    expect(await used("/v1/channels/rc-acme-ch")).toEqual({ leads: 7, spend: 82 });
    expect(await used("/v1/buyers/rc-acme")).toEqual({ leads: 7, spend: 82 });
    const audit = await g.admin("GET", `/v1/audit?resource=leads/${id}`);
    expect(audit.body.items).toMatchObject([
      {
        actor: "env:ADMIN_TOKEN",
        action: "lead.resolve",
        resource: `leads/${id}`,
        diff: [
          { path: "status", before: "error", after: "sold" },
          { path: "posts.rc-acme-ch", before: "unknown", after: "accepted" },
          { path: "sold_channel", before: null, after: "rc-acme-ch" },
          { path: "revenue", before: 0, after: 10 },
          { path: "price", before: 0, after: 5 },
          { path: "resolved_by", after: "env:ADMIN_TOKEN" },
          { path: "note", after: "acme's invoice lists it" },
        ],
      },
    ]);
    // Settled once: the same resolve again is a 409 that says how it was settled.
    const again = await resolve(id, { outcome: "sold", channel_id: "rc-acme-ch", price: 10 });
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain("settled already");
    expect(again.body.detail).toContain("sold to rc-acme-ch at 10.00");
    // The supplier's own read of its lead says sold, with its payout.
    const supplierView = await fetch(`${g.url}/v1/leads/${id}`, { headers: { authorization: `Bearer ${key}` } });
    expect(await supplierView.json()).toMatchObject({ status: "sold", price: 5 });
  });

  it("refuses a bad resolution field by field (422), an unknown lead (404), a lead not unsettled (409) and an analyst (403)", async () => {
    const id = unknown[1];
    const missing = await resolve(id, { outcome: "sold" });
    expect(missing.status).toBe(422);
    expect(missing.body.errors.map((e: any) => e.path).sort()).toEqual(["channel_id", "price"]);
    const bad = await resolve(id, { outcome: "sold", channel_id: "rc-acme-ch", price: -1, extra: true });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(["extra", "price"]);
    const outcome = await resolve(id, { outcome: "maybe" });
    expect(outcome.status).toBe(422);
    expect(outcome.body.errors.map((e: any) => e.path)).toEqual(["outcome"]);
    expect((await resolve(id, { outcome: "unsold", price: 3 })).body.errors.map((e: any) => e.path)).toEqual(["price"]);
    // A channel that was never posted the lead, and a price above what the post offered.
    const notPosted = await resolve(id, { outcome: "sold", channel_id: "rc-other-ch", price: 8 });
    expect(notPosted.status).toBe(422);
    expect(notPosted.body.errors).toEqual([{ path: "channel_id", message: "was not posted this lead with an unknown outcome (posted so: rc-acme-ch)" }]);
    const tooMuch = await resolve(id, { outcome: "sold", channel_id: "rc-acme-ch", price: 12.01 });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body.errors[0].path).toBe("price");
    expect((await resolve("no-such-lead", { outcome: "unsold" })).status).toBe(404);
    const sold = await resolve(soldLead, { outcome: "unsold" });
    expect(sold.status).toBe(409);
    expect(sold.body.detail).toContain("only a lead that ended error with reason post_outcome_unknown");
    expect((await resolve(id, { outcome: "unsold" }, analystToken)).status).toBe(403);
    // None of it changed the lead.
    expect(await trace(id)).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
  });

  it("settles a lead unsold: the post's reservation and the buyer's dedup claim are given back", async () => {
    const id = unknown[1];
    const res = await resolve(id, { outcome: "unsold" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "unsold", price: 0, revenue: 0, sold_channel: null, sold_buyer: null });
    const lead = await trace(id);
    // Who settled it is in its history and the audit log only: the lead's reason is the supplier's to read.
    expect(lead).toMatchObject({ status: "unsold", reason: "resolved", detail: "unsold", revenue: 0, sold_to: 0 });
    expect(lead.history.at(-1)).toMatchObject({ status: "unsold", reason: "resolved", detail: "unsold, by env:ADMIN_TOKEN" });
    const supplierView = await (await fetch(`${g.url}/v1/leads/${id}`, { headers: { authorization: `Bearer ${key}` } })).json();
    expect(supplierView).toMatchObject({ status: "unsold", reason: "resolved", detail: "unsold" });
    expect(JSON.stringify(supplierView)).not.toContain("ADMIN_TOKEN");
    const [unsoldNotice] = await g.gavel.database.rows<{ payload: any }>(sql`select payload from deliveries where lead_id = ${id} and event = 'lead.unsold'`);
    const unsoldPayload = typeof unsoldNotice.payload === "string" ? JSON.parse(unsoldNotice.payload) : unsoldNotice.payload;
    expect(unsoldPayload.reason).toBe("resolved: unsold");
    expect(lead.attempts.filter((a: any) => a.kind === "post")).toMatchObject([{ outcome: "rejected", reason: "rejected", price: 12 }]);
    expect(await used("/v1/channels/rc-acme-ch")).toEqual({ leads: 6, spend: 70 });
    expect(await used("/v1/buyers/rc-acme")).toEqual({ leads: 6, spend: 70 });
    expect(await notices(id)).toEqual([{ event: "lead.unsold", receiver: expect.stringMatching(/^sup-/), price: 0 }]);
    const [claims] = await g.gavel.database.rows<{ n: number }>(sql`select count(*)::int as n from buyer_dedup_keys where lead_id = ${id}`);
    expect(claims.n).toBe(0);
    const [kept] = await g.gavel.database.rows<{ n: number }>(sql`select count(*)::int as n from buyer_dedup_keys where lead_id = ${unknown[0]}`);
    expect(kept.n).toBe(1);
  });

  it("takes one of several resolves racing for a lead: the others are 409 and nothing is counted twice", async () => {
    const id = unknown[2];
    const bodies = [
      { outcome: "sold", channel_id: "rc-acme-ch", price: 11 },
      { outcome: "unsold" },
      { outcome: "sold", channel_id: "rc-acme-ch", price: 9 },
      { outcome: "unsold" },
      { outcome: "sold", channel_id: "rc-acme-ch", price: 12 },
      { outcome: "unsold" },
    ];
    const answers = await Promise.all(bodies.map((b) => resolve(id, b)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    const won = answers.find((a) => a.status === 200)!.body;
    const lead = await trace(id);
    expect(lead.status).toBe(won.status);
    expect(lead.revenue).toBe(won.revenue);
    expect(lead.history.filter((h: any) => h.reason === "resolved")).toHaveLength(1);
    const audit = await g.admin("GET", `/v1/audit?resource=leads/${id}`);
    expect(audit.body.items).toHaveLength(1);
    // The caps moved once, by the winner: sold keeps the lead at its price, unsold gives it back.
    const expected = won.status === "sold" ? { leads: 6, spend: 70 - (12 - won.revenue) } : { leads: 5, spend: 58 };
    expect(await used("/v1/channels/rc-acme-ch")).toEqual(expected);
  });

  it("settles a lead by the buyer's converted postback, sold at its post's price; the operator's resolve is then a 409", async () => {
    const id = unknown[3];
    const res = await postback("rc-acme", SECRET, { event_id: "rc-evt-1", lead_id: id, event: "converted", value: 150 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ event_id: "rc-evt-1", event: "converted", settled: { status: "sold", channel_id: "rc-acme-ch", price: 12 } });
    const lead = await trace(id);
    expect(lead).toMatchObject({ status: "sold", price: 6, revenue: 12, sold_channel: "rc-acme-ch", sold_buyer: "rc-acme" });
    expect(lead.history.slice(-2)).toMatchObject([
      { status: "sold", reason: "resolved", detail: "sold to rc-acme-ch at 12.00, by postback:rc-acme/rc-evt-1" },
      { status: "sold", reason: "converted", detail: "rc-acme, value 150.00, event rc-evt-1" },
    ]);
    const audit = await g.admin("GET", `/v1/audit?resource=leads/${id}`);
    expect(audit.body.items).toMatchObject([{ actor: "buyer:rc-acme", action: "lead.resolve" }]);
    // The same event again: the stored answer, nothing settled twice.
    expect(await postback("rc-acme", SECRET, { event_id: "rc-evt-1", lead_id: id, event: "converted", value: 150 })).toEqual(res);
    expect((await resolve(id, { outcome: "unsold" })).status).toBe(409);
    expect((await trace(id)).history.filter((h: any) => h.reason === "resolved")).toHaveLength(1);
  });

  it("does not let a buyer that was never posted a lead settle it by postback", async () => {
    const id = unknown[4];
    const res = await postback("rc-other", OTHER_SECRET, { event_id: "rc-evt-2", lead_id: id, event: "contacted" });
    expect(res.status).toBe(404);
    expect(await trace(id)).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
  });

  it("settles a lead once when the buyer's postback and an operator's resolve race", async () => {
    const id = unknown[5];
    const [pb, op] = await Promise.all([
      postback("rc-acme", SECRET, { event_id: "rc-evt-3", lead_id: id, event: "contacted" }),
      resolve(id, { outcome: "unsold" }),
    ]);
    const lead = await trace(id);
    expect(lead.history.filter((h: any) => h.reason === "resolved")).toHaveLength(1);
    if (op.status === 200) {
      // The operator settled it unsold first: the buyer did not buy it, so its postback finds no sale.
      expect(pb.status).toBe(404);
      expect(lead).toMatchObject({ status: "unsold", reason: "resolved" });
    } else {
      expect(op.status).toBe(409);
      expect(pb).toMatchObject({ status: 200, body: { settled: { status: "sold", price: 12 } } });
      expect(lead).toMatchObject({ status: "sold", revenue: 12 });
    }
  });

  it("settles a lead whose process died before recording its posts: any channel of its campaign, its price bounded or confirmed, its caps counted", async () => {
    // As the interrupted sweep leaves such a lead (db/leads.ts settleInterruptedLeads): error, no
    // attempts. Received after the hours this file rolls up, as a lead arriving now would be.
    const model = await trace(unknown[4]);
    const interrupted = async (id: string) =>
      g.gavel.database.rows(sql`
        insert into leads (id, campaign_id, supplier_id, status, reason, test, data, received_at, decided_at)
        values (${id}, 'rc-auto', ${model.supplier}, 'error', 'post_outcome_unknown', false, ${JSON.stringify(consumer({ email: `${id}@example.com` }))}::jsonb,
                '2027-04-10T10:00:00Z', '2027-04-10T10:00:20Z')`);
    const usage = async (scope: string, owner: string) =>
      (
        await g.gavel.database.rows<{ leads: number; spend: number; leads_limit: number | null }>(
          sql`select leads, (spend_cents / 100.0)::float8 as spend, leads_limit from cap_usage
              where scope = ${scope} and owner_id = ${owner} and period = 'day' and period_start = '2027-04-10T00:00:00Z'`,
        )
      ).map((r) => ({ leads: Number(r.leads), spend: Number(r.spend), limit: r.leads_limit === null ? null : Number(r.leads_limit) }));
    await interrupted("rc-interrupted-1");
    const elsewhere = await resolve("rc-interrupted-1", { outcome: "sold", channel_id: "pb-nowhere", price: 5 });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.errors).toEqual([{ path: "channel_id", message: "is not a channel of campaign 'rc-auto'" }]);
    // A ping_post channel has no price to bound it by: the operator confirms the price.
    const unconfirmed = await resolve("rc-interrupted-1", { outcome: "sold", channel_id: "rc-other-ch", price: 8 });
    expect(unconfirmed.status).toBe(422);
    expect(unconfirmed.body.errors.map((e: any) => e.path)).toEqual(["confirm"]);
    expect(await trace("rc-interrupted-1")).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    const res = await resolve("rc-interrupted-1", { outcome: "sold", channel_id: "rc-other-ch", price: 8, confirm: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "sold", revenue: 8, price: 4, sold_to: 1, sold_channel: "rc-other-ch", sold_buyer: "rc-other", posts: [], open_channels: [] });
    expect(await trace("rc-interrupted-1")).toMatchObject({ status: "sold", revenue: 8, price: 4, sold_channel: "rc-other-ch", attempts: [] });
    expect((await resolve("rc-interrupted-1", { outcome: "unsold" })).status).toBe(409);
    // Counted as its sale would have been: the buyer's day cap (of the day it arrived), and the
    // consumer's claim in the buyer's dedup window.
    expect(await usage("buyer", "rc-other")).toEqual([{ leads: 1, spend: 8, limit: 100 }]);
    const [claim] = await g.gavel.database.rows<{ n: number }>(sql`select count(*)::int as n from buyer_dedup_keys where buyer_id = 'rc-other' and lead_id = 'rc-interrupted-1'`);
    expect(claim.n).toBe(1);

    // A direct_post channel (paused, so no auction here posts to it) is bounded by its fixed price,
    // and its cap of one lead a day is counted past, never refused: the sale was made.
    const direct = await g.admin("POST", "/v1/channels", {
      id: "rc-direct-ch",
      campaign_id: "rc-auto",
      buyer_id: "rc-other",
      type: "direct_post",
      status: "paused",
      post: { url: "http://127.0.0.1:9/post" },
      fixed_price: 9,
      caps: [{ period: "day", leads: 1 }],
    });
    expect(direct.status, JSON.stringify(direct.body)).toBe(201);
    await interrupted("rc-interrupted-2");
    await interrupted("rc-interrupted-3");
    const above = await resolve("rc-interrupted-2", { outcome: "sold", channel_id: "rc-direct-ch", price: 9.01, confirm: true });
    expect(above.status).toBe(422);
    expect(above.body.errors).toEqual([{ path: "price", message: "is above what channel 'rc-direct-ch' sells a lead at (9.00): a buyer never pays more than its price" }]);
    expect((await resolve("rc-interrupted-2", { outcome: "sold", channel_id: "rc-direct-ch", price: 9 })).status).toBe(200);
    expect(await usage("channel", "rc-direct-ch")).toEqual([{ leads: 1, spend: 9, limit: 1 }]);
    expect((await resolve("rc-interrupted-3", { outcome: "sold", channel_id: "rc-direct-ch", price: 7 })).status).toBe(200);
    expect(await usage("channel", "rc-direct-ch")).toEqual([{ leads: 2, spend: 16, limit: null }]);
    expect(await usage("buyer", "rc-other")).toEqual([{ leads: 3, spend: 24, limit: 100 }]);
  });

  it("settles each post of a shared lead on its own: A's postback sells to A, B's post stays open (its reservation and dedup claim kept) until B's postback sells to B too", async () => {
    const id = sharedLeads[0];
    const posts = async () => (await trace(id)).attempts.filter((a: any) => a.kind === "post").map((a: any) => [a.channel_id, a.outcome, a.price]);
    const claims = async (buyer: string) =>
      (await g.gavel.database.rows<{ n: number }>(sql`select count(*)::int as n from buyer_dedup_keys where buyer_id = ${buyer} and lead_id = ${id}`))[0].n;
    const payloads = async (event: string) =>
      (await g.gavel.database.rows<{ payload: any }>(sql`select payload from deliveries where lead_id = ${id} and event = ${event} order by event_id`)).map((d) =>
        typeof d.payload === "string" ? JSON.parse(d.payload) : d.payload,
      );
    expect((await posts()).sort()).toEqual([
      ["rc-sa-ch", "unknown", 12],
      ["rc-sb-ch", "unknown", 10],
    ]);
    expect([await used("/v1/buyers/rc-sa"), await used("/v1/buyers/rc-sb")]).toEqual([
      { leads: 2, spend: 24 },
      { leads: 2, spend: 20 },
    ]);

    // A's contacted postback settles A's post alone: the lead is sold (to A), B's post still open.
    const a = await postback("rc-sa", SHARED_A_SECRET, { event_id: "rc-sa-1", lead_id: id, event: "contacted" });
    expect(a.status).toBe(200);
    expect(a.body.settled).toEqual({ status: "sold", channel_id: "rc-sa-ch", price: 12 });
    expect(await trace(id)).toMatchObject({ status: "sold", reason: "post_outcome_unknown", sold_to: 1, revenue: 12, price: 6, sold_channel: "rc-sa-ch", sold_buyer: "rc-sa" });
    expect((await posts()).sort()).toEqual([
      ["rc-sa-ch", "accepted", 12],
      ["rc-sb-ch", "unknown", 10],
    ]);
    // B keeps its reservation and its claim on the consumer; A's sale keeps its own.
    expect(await used("/v1/buyers/rc-sb")).toEqual({ leads: 2, spend: 20 });
    expect(await used("/v1/buyers/rc-sa")).toEqual({ leads: 2, spend: 24 });
    expect([await claims("rc-sa"), await claims("rc-sb")]).toEqual([1, 1]);
    // Listed still, by its reason: sold, with a post open.
    const listed = await g.admin("GET", "/v1/leads?reason=post_outcome_unknown&campaign=rc-shared&limit=500");
    expect(listed.body.items.filter((l: any) => l.id === id)).toMatchObject([{ status: "sold", reason: "post_outcome_unknown" }]);
    // A hears of its sale, a shared one; the supplier is told once no post is open (its payout final).
    expect(await payloads("lead.delivered")).toMatchObject([{ channel_id: "rc-sa-ch", buyer_id: "rc-sa", price: 12, sale: "shared" }]);
    expect(await payloads("lead.sold")).toEqual([]);
    // A's post is settled once.
    const again = await resolve(id, { outcome: "sold", channel_id: "rc-sa-ch", price: 12 });
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain("post to rc-sa-ch was settled already (accepted at 12.00");
    // A return of A's sale waits until B's post is settled: returned, the lead could not settle B after.
    const early = await postback("rc-sa", SHARED_A_SECRET, { event_id: "rc-sa-2", lead_id: id, event: "return_requested", reason: "bad_phone" });
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain("has a post whose outcome is unknown: settle it first");
    expect((await trace(id)).status).toBe("sold");

    // The same consumer again (five weeks on, within the buyers' 90-day dedup windows): neither
    // buyer is offered it, B no more than A, and B is never posted it.
    const later = "2027-04-06T10:00:00Z";
    clock.set(later);
    const postsToB = sharedB.posts.length;
    const resent = await g.lead(sharedKey, { campaign: "rc-shared", data: consumer({ email: "rc-shared-0@example.com" }) });
    clock.set("2027-03-01T10:00:00Z");
    expect(resent.body.status).toBe("unsold");
    const resentTrace = await trace(resent.body.lead_id);
    expect(resentTrace.excluded.map((e: any) => [e.channel_id, e.reason]).sort()).toEqual([
      ["rc-sa-ch", "buyer_duplicate"],
      ["rc-sb-ch", "buyer_duplicate"],
    ]);
    expect(resentTrace.attempts.filter((x: any) => x.kind === "post")).toEqual([]);
    expect(sharedB.posts.length).toBe(postsToB);

    // B's own contacted postback then settles B's post: a second sale, no longer "bought no lead".
    const b = await postback("rc-sb", SHARED_B_SECRET, { event_id: "rc-sb-1", lead_id: id, event: "contacted" });
    expect(b.status).toBe(200);
    expect(b.body.settled).toEqual({ status: "sold", channel_id: "rc-sb-ch", price: 10 });
    const lead = await trace(id);
    expect(lead).toMatchObject({ status: "sold", reason: null, sold_to: 2, revenue: 22, price: 11, sold_channel: "rc-sa-ch", sold_buyer: "rc-sa" });
    expect(lead.sales).toEqual([
      { channel_id: "rc-sa-ch", buyer_id: "rc-sa", price: 12 },
      { channel_id: "rc-sb-ch", buyer_id: "rc-sb", price: 10 },
    ]);
    expect(lead.history.filter((h: any) => h.reason === "resolved").map((h: any) => [h.status, h.detail])).toEqual([
      ["sold", "sold to rc-sa-ch at 12.00, by postback:rc-sa/rc-sa-1"],
      ["sold", "sold to rc-sb-ch at 10.00, by postback:rc-sb/rc-sb-1"],
    ]);
    expect(await used("/v1/buyers/rc-sb")).toEqual({ leads: 2, spend: 20 });
    expect(await payloads("lead.delivered")).toMatchObject([
      { channel_id: "rc-sa-ch", price: 12, sale: "shared" },
      { channel_id: "rc-sb-ch", price: 10, sale: "shared" },
    ]);
    // The supplier hears it sold once, with the payout of both sales.
    expect(await payloads("lead.sold")).toMatchObject([{ event: "lead.sold", price: 11, reason: null }]);
    const audit = await g.admin("GET", `/v1/audit?resource=leads/${id}`);
    expect(audit.body.items.map((i: any) => [i.actor, i.diff.find((d: any) => d.path.startsWith("posts."))?.path])).toEqual(
      expect.arrayContaining([
        ["buyer:rc-sa", "posts.rc-sa-ch"],
        ["buyer:rc-sb", "posts.rc-sb-ch"],
      ]),
    );
    // Nothing is left to settle.
    expect((await resolve(id, { outcome: "unsold" })).status).toBe(409);

    // The reports count both sales at their prices, the payout split between them (6 and 5).
    const report = await g.admin("GET", "/v1/reports/channels?campaign=rc-shared&from=2027-02-26&to=2027-04-05");
    const row = (channel: string) => report.body.rows.find((r: any) => r.key.channel === channel);
    expect(row("rc-sa-ch")).toMatchObject({ sold: 1, revenue: 12, payout: 6 });
    expect(row("rc-sb-ch")).toMatchObject({ sold: 1, revenue: 10, payout: 5 });
  });

  it("settles one post of a shared lead unsold: its reservation and claim given back, the lead still error until its last post is settled", async () => {
    const id = sharedLeads[1];
    const claims = async (buyer: string) =>
      (await g.gavel.database.rows<{ n: number }>(sql`select count(*)::int as n from buyer_dedup_keys where buyer_id = ${buyer} and lead_id = ${id}`))[0].n;
    const before = await used("/v1/buyers/rc-sb");
    const res = await resolve(id, { outcome: "unsold", channel_id: "rc-sb-ch", note: "rc-sb has no record of it" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: "error",
      sold_to: 0,
      revenue: 0,
      posts: [{ channel_id: "rc-sb-ch", outcome: "rejected", price: 10 }],
      open_channels: ["rc-sa-ch"],
    });
    expect(await trace(id)).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    expect(await used("/v1/buyers/rc-sb")).toEqual({ leads: before.leads - 1, spend: before.spend - 10 });
    expect([await claims("rc-sa"), await claims("rc-sb")]).toEqual([1, 0]);
    expect(await notices(id)).toEqual([]);
    // A channel whose post is not open is refused, by field; the settled one again is a 409.
    const nowhere = await resolve(id, { outcome: "unsold", channel_id: "rc-other-ch" });
    expect(nowhere.status).toBe(422);
    expect(nowhere.body.errors).toEqual([{ path: "channel_id", message: "was not posted this lead with an unknown outcome (posted so: rc-sa-ch)" }]);
    expect((await resolve(id, { outcome: "unsold", channel_id: "rc-sb-ch" })).status).toBe(409);
    // The last open post settled sold: the lead is sold once, and its supplier told so.
    const sold = await resolve(id, { outcome: "sold", channel_id: "rc-sa-ch", price: 11 });
    expect(sold.body).toMatchObject({ status: "sold", sold_to: 1, revenue: 11, price: 5.5, sold_channel: "rc-sa-ch", open_channels: [] });
    expect(await trace(id)).toMatchObject({ status: "sold", reason: null, sold_to: 1 });
    expect(await notices(id)).toEqual([
      { event: "lead.delivered", receiver: "rc-sa", price: 11 },
      { event: "lead.sold", receiver: expect.stringMatching(/^sup-/), price: 5.5 },
    ]);
  });

  /** A lead's posts as [channel, outcome, price], its buyer's dedup claims, and its outbox notices of one event. */
  const postsOf = async (id: string) => (await trace(id)).attempts.filter((a: any) => a.kind === "post").map((a: any) => [a.channel_id, a.outcome, a.price]);
  const claimsOf = async (buyer: string, id: string) =>
    (await g.gavel.database.rows<{ n: number }>(sql`select count(*)::int as n from buyer_dedup_keys where buyer_id = ${buyer} and lead_id = ${id}`))[0].n;
  const payloadsOf = async (id: string, event: string) =>
    (await g.gavel.database.rows<{ payload: any }>(sql`select payload from deliveries where lead_id = ${id} and event = ${event} order by event_id`)).map((d) =>
      typeof d.payload === "string" ? JSON.parse(d.payload) : d.payload,
    );

  it("a shared lead sold to A while B's post hung is sold with reason post_outcome_unknown, B's post open until B's postback sells B too", async () => {
    const id = soldOpen.shared;
    expect(await trace(id)).toMatchObject({ status: "sold", reason: "post_outcome_unknown", sold_to: 1, revenue: 12, price: 6, sold_channel: "rc-ha-ch" });
    expect((await postsOf(id)).sort()).toEqual([
      ["rc-ha-ch", "accepted", 12],
      ["rc-hb-ch", "unknown", 10],
    ]);
    // B keeps its reservation and its claim on the consumer; the lead is listed by its reason.
    expect(await used("/v1/buyers/rc-hb")).toEqual({ leads: 1, spend: 10 });
    expect([await claimsOf("rc-ha", id), await claimsOf("rc-hb", id)]).toEqual([1, 1]);
    const listed = await g.admin("GET", "/v1/leads?reason=post_outcome_unknown&campaign=rc-half");
    expect(listed.body.items.map((l: any) => [l.id, l.status, l.reason])).toEqual([[id, "sold", "post_outcome_unknown"]]);
    // A heard of its sale; the supplier hears once no post is open (its payout final then).
    expect(await payloadsOf(id, "lead.delivered")).toMatchObject([{ channel_id: "rc-ha-ch", price: 12, sale: "shared" }]);
    expect(await payloadsOf(id, "lead.sold")).toEqual([]);

    const b = await postback("rc-hb", "rc-hb-postback-secret-0001", { event_id: "rc-hb-1", lead_id: id, event: "contacted" });
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(b.body.settled).toEqual({ status: "sold", channel_id: "rc-hb-ch", price: 10 });
    expect(await trace(id)).toMatchObject({ status: "sold", reason: null, sold_to: 2, revenue: 22, price: 11, sold_channel: "rc-ha-ch" });
    expect((await postsOf(id)).sort()).toEqual([
      ["rc-ha-ch", "accepted", 12],
      ["rc-hb-ch", "accepted", 10],
    ]);
    expect(await used("/v1/buyers/rc-hb")).toEqual({ leads: 1, spend: 10 });
    expect(await payloadsOf(id, "lead.delivered")).toMatchObject([
      { channel_id: "rc-ha-ch", price: 12, sale: "shared" },
      { channel_id: "rc-hb-ch", price: 10, sale: "shared" },
    ]);
    expect(await payloadsOf(id, "lead.sold")).toMatchObject([{ price: 11, reason: null }]);
    expect((await g.admin("GET", "/v1/leads?reason=post_outcome_unknown&campaign=rc-half")).body.items).toEqual([]);
    expect((await resolve(id, { outcome: "unsold" })).status).toBe(409);
  });

  it("an exclusive lead (on_post_timeout next) whose post to A hung and B bought is sold with reason post_outcome_unknown until A's post is settled", async () => {
    const [unsoldToA, soldToA] = soldOpen.next;
    for (const id of soldOpen.next) {
      expect(await trace(id)).toMatchObject({ status: "sold", reason: "post_outcome_unknown", sold_to: 1, revenue: 8, price: 4, sold_channel: "rc-nb-ch", sold_buyer: "rc-nb" });
      expect(await postsOf(id)).toEqual([
        ["rc-na-ch", "unknown", 12],
        ["rc-nb-ch", "accepted", 8],
      ]);
      expect([await claimsOf("rc-na", id), await claimsOf("rc-nb", id)]).toEqual([1, 1]);
      expect(await payloadsOf(id, "lead.sold")).toEqual([]);
    }
    expect(await used("/v1/buyers/rc-na")).toEqual({ leads: 2, spend: 24 });
    const listed = await g.admin("GET", "/v1/leads?reason=post_outcome_unknown&campaign=rc-next");
    expect(listed.body.items.map((l: any) => l.id).sort()).toEqual([...soldOpen.next].sort());

    // A says it never took the first: its reservation and claim are given back, the lead sold to B alone.
    const res = await resolve(unsoldToA, { outcome: "unsold", channel_id: "rc-na-ch" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: "sold", sold_to: 1, revenue: 8, price: 4, sold_channel: "rc-nb-ch", posts: [{ channel_id: "rc-na-ch", outcome: "rejected", price: 12 }], open_channels: [] });
    expect(await trace(unsoldToA)).toMatchObject({ status: "sold", reason: null, sold_to: 1, revenue: 8, price: 4 });
    expect(await used("/v1/buyers/rc-na")).toEqual({ leads: 1, spend: 12 });
    expect([await claimsOf("rc-na", unsoldToA), await claimsOf("rc-nb", unsoldToA)]).toEqual([0, 1]);
    expect(await payloadsOf(unsoldToA, "lead.sold")).toMatchObject([{ price: 4, reason: null }]);

    // A's postback says it has the second: the lead was sold twice by accident, and A's sale is
    // recorded too (sold_to 2) so the broker can bill it.
    const a = await postback("rc-na", "rc-na-postback-secret-0001", { event_id: "rc-na-1", lead_id: soldToA, event: "contacted" });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.settled).toEqual({ status: "sold", channel_id: "rc-na-ch", price: 12 });
    expect(await trace(soldToA)).toMatchObject({ status: "sold", reason: null, sold_to: 2, revenue: 20, price: 10, sold_channel: "rc-na-ch" });
    expect(await used("/v1/buyers/rc-na")).toEqual({ leads: 1, spend: 12 });
    expect(await payloadsOf(soldToA, "lead.sold")).toMatchObject([{ price: 10, reason: null }]);
    expect(await payloadsOf(soldToA, "lead.delivered")).toMatchObject([
      { channel_id: "rc-na-ch", price: 12, sale: "shared" },
      { channel_id: "rc-nb-ch", price: 8, sale: "exclusive" },
    ]);
    expect((await g.admin("GET", "/v1/leads?reason=post_outcome_unknown&campaign=rc-next")).body.items).toEqual([]);
  });

  it("runs the README's recipe: lists the lead, settles it sold, and refuses a second settlement", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const recipe = section(readme, "After the sale").match(/### Reconciliation[\s\S]*?^```bash\n([\s\S]*?)^```$/m)![1];
    // The walkthrough's names are this file's: its acme channel, and its admin token.
    const script = [
      `auth=(-H "Authorization: Bearer ${ADMIN}" -H "Content-Type: application/json")`,
      `json() { node -pe "JSON.parse(fs.readFileSync(0, 'utf8'))$1"; }`,
      recipe.replaceAll("acme-auto-tx", "rc-acme-ch"),
    ].join("\n");
    const run = await runShell(`set -euo pipefail\n${script}`, terminalEnv([], { GAVEL: g.url }), 60_000);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const [listing, settled, again] = jsonObjects(run.stdout);
    // The answers shown (the listing's is abridged, so not JSON).
    const shown = [...recipe.matchAll(/^# → (\{.*\})$/gm)].slice(1).map((m) => JSON.parse(m[1]));
    expect(listing.items[0]).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    // The first lead listed, one that no test had settled.
    expect(unknown).toContain(listing.items[0].id);
    expect(settled).toMatchObject({ lead_id: listing.items[0].id, status: "sold", revenue: 11, sold_channel: "rc-acme-ch", sold_buyer: "rc-acme", price: 5.5 });
    expect(Object.keys(settled)).toEqual(Object.keys(shown[0]));
    expect(again).toMatchObject({ type: shown[1].type, status: 409 });
    expect(again.detail).toContain("sold to rc-acme-ch at 11.00, by env:ADMIN_TOKEN");
    expect((await trace(settled.lead_id)).history.at(-1)).toMatchObject({ reason: "resolved" });
  }, 90_000);

  it("restates the rolled-up reports: every report equals one rolled from scratch", async () => {
    const database = g.gavel.database;
    const all = reportRange({ ...timeRange({ from: "2027-02-26", to: "2027-04-05" }) }, Date.parse("2027-04-05T00:00:00Z"));
    const campaign = (await dimensionReport(database, "campaigns", all, {}, false)).rows.find((r: any) => r.key.campaign === "rc-auto");
    const leads = await Promise.all([...unknown, soldLead].map(trace));
    const sold = leads.filter((l) => l.status === "sold");
    const cents = (f: (l: any) => number) => Math.round(sold.reduce((s, l) => s + f(l) * 100, 0)) / 100;
    expect(campaign).toMatchObject({
      leads: 8,
      sold: sold.length,
      errors: leads.filter((l) => l.status === "error").length,
      unsold: leads.filter((l) => l.status === "unsold").length,
      revenue: cents((l) => l.revenue),
      payout: cents((l) => l.price),
    });
    const restated = await everyReport(database);
    for (const table of ["report_leads", "report_channels", "report_bids", "report_reasons", "report_deferred", "report_progress"])
      await database.rows(sql`delete from ${sql.raw(table)}`);
    await rollUp(database, { until: new Date("2027-04-05T00:00:00Z") });
    expect(await everyReport(database)).toEqual(restated);
  }, 60_000);
});
