// Notifications through the durable outbox (README "Notifications"): a supplier's postback_url
// hears its leads sold, unsold (held and expired too) and returned, with its payout and never the
// buyer; a buyer's notify hears each lead delivered to it. Each notice is written with its event,
// signed, sent at least once with one event id, retried with exponential backoff and jitter on the
// tests' clock, dead after GAVEL_DELIVERY_MAX_ATTEMPTS, replayed by an operator, and delivered by
// another process after a restart. Real Gavels, loopback receivers, both databases.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { signature } from "../src/channels/signing";
import { txRows, type Db, type DatabaseTarget } from "../src/db/client";
import { claimDueDeliveries, finishAttempt } from "../src/db/deliveries";
import { startBuyer, type Received, type TestBuyer } from "./helpers/buyers";
import { freshDatabase, onPostgres } from "./helpers/db";
import { consumer, pingPost, startTestGavel, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";

const SECRET = "supplier-postback-secret-1";
const BUYER_SECRET = "buyer-notify-secret-00001";
/** No background sweep during a test: each is run by hand, on the tests' clock. */
const ENV = { GAVEL_DELIVERY_POLL_MS: "3600000", GAVEL_DELIVERY_MAX_ATTEMPTS: "5", GAVEL_DELIVERY_RETRY_MS: "1000", GAVEL_DELIVERY_TIMEOUT_MS: "10000" };

/** The jitter's draws, in order, cycling: the backoffs below follow from them. */
const DRAWS = [0.5, 0.25, 1 - 2 ** -20, 0];
let drawn = 0;
const random = () => DRAWS[drawn++ % DRAWS.length];

/** A notification receiver on loopback: fails while `failing` says so, and counts each event id once (it dedups). */
async function startReceiver(failing: (n: number) => boolean = () => false) {
  const seen = new Set<string>();
  const effects: Received[] = [];
  let n = 0;
  const server: TestBuyer = await startBuyer({
    post: (req) => {
      n++;
      const eventId = String(req.headers["x-gavel-event-id"]);
      if (failing(n)) return { status: 500, json: { error: "down" } };
      if (!seen.has(eventId)) {
        seen.add(eventId);
        effects.push(req);
      }
      return { status: 204 };
    },
  });
  return { server, url: server.postUrl, requests: () => server.posts, effects };
}

/** Leases are on the database's clock, which the tests' clock does not move: this ends them as if their time had passed there. */
async function lapseLeases(db: Db) {
  await db.execute(sql`update deliveries set leased_until = now() - interval '1 millisecond' where leased_until is not null`);
}

function expectSigned(req: Received, secret: string) {
  const ts = Number(req.headers["x-gavel-timestamp"]);
  expect(req.headers["x-gavel-signature"]).toBe(`sha256=${signature(secret, ts, req.raw)}`);
}

describe("notifications through the outbox", () => {
  const clock = testClock("2026-06-01T05:00:00Z");
  const t = useTestGavel(ENV, { clock, jitter: random });
  let g: TestGavel;
  let n = 0;

  /** A campaign, a buyer bidding 10 with its notify, and a supplier paid 50 % with its postback_url. */
  async function market(options: {
    supplierUrl: string;
    buyerUrl?: string;
    bid?: number | null;
    sharedBid?: number;
    campaign?: Record<string, unknown>;
    channel?: Record<string, unknown>;
  }) {
    g = t.g;
    const id = `ntf-${++n}`;
    const bid = options.bid === undefined ? 10 : options.bid;
    const buyer = await t.buyer({ ping: () => (bid === null ? { json: { bid: 0 } } : { json: { bid, shared_bid: options.sharedBid } }) });
    const buyerDoc = {
      id: `${id}-buyer`,
      name: "Buyer",
      ...(options.buyerUrl && { notify: { url: options.buyerUrl, signing: { secret: BUYER_SECRET } } }),
      returns: { window_days: 7, reasons: ["bad_phone"], max_rate_percent: 100 },
    };
    expect((await g.admin("POST", "/v1/buyers", buyerDoc)).status).toBe(201);
    const key = await g.setup({
      campaign: { id, payout: { type: "revshare", percent: 50 }, ...options.campaign },
      channels: [pingPost(`${id}-ch`, buyer, { buyer_id: `${id}-buyer`, ...options.channel })],
      supplier: { id: `${id}-sup`, postback_url: options.supplierUrl, postback_signing: { secret: SECRET } },
    });
    return { id, key, buyer, supplierId: `${id}-sup` };
  }
  const deliveries = async (query: string) => (await g.admin("GET", `/v1/deliveries?${query}`)).body;

  it("sends a supplier its sale with its payout (never the buyer), retried with exponential backoff and jitter until the receiver takes it", async () => {
    clock.set("2026-06-01T05:00:00Z");
    drawn = 0;
    const supplier = await startReceiver((k) => k <= 2);
    const buyer = await startReceiver();
    const m = await market({ supplierUrl: supplier.url, buyerUrl: buyer.url });
    const lead = await g.lead(m.key, { campaign: m.id, data: consumer(), source: "fb", sub_id: "a1" });
    expect(lead.body).toMatchObject({ status: "sold", price: 5 });
    const id = lead.body.lead_id;

    // Written with the lead's outcome, due at once: the first sweep tries both.
    expect(await g.gavel.deliverNotifications()).toBe(2);
    let [row] = (await deliveries(`receiver=supplier:${m.supplierId}`)).items;
    // Attempt 1 failed: 1 s × 2^0, half sure and half drawn (0.5): 750 ms.
    expect(row).toMatchObject({ event: "lead.sold", event_id: `lead.sold:${id}`, lead_id: id, state: "pending", attempts: 1, last_status: 500, last_error: "HTTP 500" });
    expect(Date.parse(row.next_attempt_at) - clock.now()).toBe(750);
    clock.advance(749);
    expect(await g.gavel.deliverNotifications()).toBe(0);
    clock.advance(1);
    expect(await g.gavel.deliverNotifications()).toBe(1);
    [row] = (await deliveries(`receiver=supplier:${m.supplierId}`)).items;
    // Attempt 2 failed: 2 s, half of it and a quarter of the other half (0.25): 1,250 ms.
    expect(row).toMatchObject({ state: "pending", attempts: 2 });
    expect(Date.parse(row.next_attempt_at) - clock.now()).toBe(1250);
    clock.advance(1250);
    expect(await g.gavel.deliverNotifications()).toBe(1);
    [row] = (await deliveries(`receiver=supplier:${m.supplierId}`)).items;
    expect(row).toMatchObject({ state: "delivered", attempts: 3, last_status: 204, last_error: null, next_attempt_at: null, delivered_at: new Date(clock.now()).toISOString() });

    // Three requests, one event id, each signed; the payload is the supplier's view.
    expect(supplier.requests()).toHaveLength(3);
    expect(new Set(supplier.requests().map((r) => r.headers["x-gavel-event-id"]))).toEqual(new Set([`lead.sold:${id}`]));
    expect(supplier.requests().map((r) => r.headers["x-gavel-attempt"])).toEqual(["1", "2", "3"]);
    for (const r of supplier.requests()) expectSigned(r, SECRET);
    expect(supplier.effects[0].body).toEqual({
      event_id: `lead.sold:${id}`,
      event: "lead.sold",
      lead_id: id,
      campaign_id: m.id,
      status: "sold",
      reason: null,
      price: 5,
      source: "fb",
      sub_id: "a1",
      test: false,
      was_held: false,
      occurred_at: expect.any(String),
    });
    expect(JSON.stringify(supplier.effects[0].body)).not.toContain(`${m.id}-buyer`);

    // The buyer heard of its delivery once, at its price, signed with its own secret.
    expect(buyer.requests()).toHaveLength(1);
    expectSigned(buyer.requests()[0], BUYER_SECRET);
    expect(buyer.effects[0].body).toEqual({
      event_id: `lead.delivered:${id}:${m.id}-ch`,
      event: "lead.delivered",
      lead_id: id,
      campaign_id: m.id,
      channel_id: `${m.id}-ch`,
      buyer_id: `${m.id}-buyer`,
      price: 10,
      sale: "exclusive",
      test: false,
      occurred_at: expect.any(String),
    });
    expect((await deliveries(`lead_id=${id}`)).items.map((d: any) => [d.receiver, d.state]).sort()).toEqual([
      [`buyer:${m.id}-buyer`, "delivered"],
      [`supplier:${m.supplierId}`, "delivered"],
    ]);
    await Promise.all([supplier.server.close(), buyer.server.close()]);
  });

  it("tells a buyer its sale was shared when a routing tier of strategy all sold it, even to it alone", async () => {
    clock.set("2026-06-02T04:00:00Z");
    const supplier = await startReceiver();
    const buyer = await startReceiver();
    const m = await market({
      supplierUrl: supplier.url,
      buyerUrl: buyer.url,
      sharedBid: 4,
      campaign: { routing: { strategy: "all" } },
      channel: { buys: ["exclusive", "shared"] },
    });
    const lead = await g.lead(m.key, { campaign: m.id, data: consumer() });
    expect(lead.body).toMatchObject({ status: "sold", sold_to: 1 });
    expect(await g.gavel.deliverNotifications()).toBe(2);
    expect(buyer.effects.map((r) => r.body)).toEqual([expect.objectContaining({ lead_id: lead.body.lead_id, sale: "shared", price: 4 })]);
    await Promise.all([supplier.server.close(), buyer.server.close()]);
  });

  it("dead-letters a notice after 5 failed attempts; an operator replays it (audited), with the same event id, and it is delivered", async () => {
    clock.set("2026-06-02T05:00:00Z");
    drawn = 0;
    let up = false;
    const supplier = await startReceiver(() => !up);
    const m = await market({ supplierUrl: supplier.url, bid: null });
    const lead = await g.lead(m.key, { campaign: m.id, data: consumer() });
    expect(lead.body.status).toBe("unsold");
    const id = lead.body.lead_id;
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect(await g.gavel.deliverNotifications()).toBe(1);
      const [row] = (await deliveries(`receiver=supplier:${m.supplierId}`)).items;
      if (attempt < 5) {
        expect(row).toMatchObject({ state: "pending", attempts: attempt });
        waits.push(Date.parse(row.next_attempt_at) - clock.now());
        clock.advance(waits.at(-1)!);
      } else expect(row).toMatchObject({ state: "dead", attempts: 5, last_error: "HTTP 500", next_attempt_at: null });
    }
    // 1, 2, 4 and 8 s, each half sure and half drawn (0.5, 0.25, ~1, 0): exponential, jittered.
    expect(waits).toEqual([750, 1250, 4000, 4000]);
    clock.advance(3_600_000);
    expect(await g.gavel.deliverNotifications()).toBe(0);

    const dead = (await deliveries("state=dead")).items.filter((d: any) => d.lead_id === id);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ event: "lead.unsold", payload: expect.objectContaining({ status: "unsold", reason: "no_bids", price: 0 }) });

    up = true;
    const replayed = await g.admin("POST", `/v1/deliveries/${dead[0].id}/replay`, { note: "receiver fixed" });
    expect(replayed.status).toBe(200);
    expect(replayed.body).toMatchObject({ id: dead[0].id, state: "pending", attempts: 0, next_attempt_at: new Date(clock.now()).toISOString() });
    expect((await g.admin("POST", `/v1/deliveries/${dead[0].id}/replay`, {})).status).toBe(409);
    const audit = (await g.admin("GET", `/v1/audit?resource=deliveries/${dead[0].id}`)).body.items;
    expect(audit).toMatchObject([{ action: "delivery.replay", actor: "env:ADMIN_TOKEN" }]);
    expect(await g.gavel.deliverNotifications()).toBe(1);
    expect((await g.admin("GET", `/v1/deliveries/${dead[0].id}`)).body).toMatchObject({ state: "delivered", attempts: 1 });
    expect(new Set(supplier.requests().map((r) => r.headers["x-gavel-event-id"]))).toEqual(new Set([`lead.unsold:${id}`]));
    expect(supplier.requests()).toHaveLength(6);
    expect(supplier.effects).toHaveLength(1);

    // Bad ids and queries: 404 and 422, never 500.
    expect((await g.admin("POST", "/v1/deliveries/abc/replay", {})).status).toBe(404);
    expect((await g.admin("POST", "/v1/deliveries/99999999/replay", {})).status).toBe(404);
    expect((await g.admin("GET", "/v1/deliveries?receiver=nobody")).status).toBe(422);
    expect((await g.admin("GET", "/v1/deliveries?state=lost")).status).toBe(422);
    await supplier.server.close();
  });

  it("gives a receiver that dedups by event id each event once, though an attempt whose answer was lost is sent again", async () => {
    clock.set("2026-06-03T05:00:00Z");
    // The receiver acts on the first request and then fails to answer it well (its 2xx never arrives).
    const requests: Received[] = [];
    const acted = new Set<string>();
    const receiver = await startBuyer({
      post: (req) => {
        requests.push(req);
        acted.add(String(req.headers["x-gavel-event-id"]));
        return requests.length === 1 ? { status: 502 } : { status: 200, json: { ok: true } };
      },
    });
    const m = await market({ supplierUrl: receiver.postUrl });
    const id = (await g.lead(m.key, { campaign: m.id, data: consumer() })).body.lead_id;
    await g.gavel.deliverNotifications();
    clock.advance(3_600_000);
    await g.gavel.deliverNotifications();
    expect(requests.map((r) => r.body.event_id)).toEqual([`lead.sold:${id}`, `lead.sold:${id}`]);
    expect([...acted]).toEqual([`lead.sold:${id}`]);
    // And nothing more is sent once delivered.
    clock.advance(3_600_000);
    expect(await g.gavel.deliverNotifications()).toBe(0);
    await receiver.close();
  });

  it("tells the supplier a held lead was sold once its buyer opened, and an expired one unsold", async () => {
    clock.set("2026-06-08T05:00:00Z"); // a Monday; the channels open at 09:00
    const supplier = await startReceiver();
    const weekdays = { schedule: { hours: { "mon-fri": "09:00-17:00" } } };
    const sells = await market({ supplierUrl: supplier.url, campaign: { hold: { max_hours: 6 } }, channel: weekdays });
    const expires = await market({ supplierUrl: supplier.url, campaign: { hold: { max_hours: 6 } }, channel: weekdays });
    const held = await g.lead(sells.key, { campaign: sells.id, data: consumer() });
    const expiring = await g.lead(expires.key, { campaign: expires.id, data: consumer() });
    expect([held.body.status, expiring.body.status]).toEqual(["held", "held"]);
    expect(await g.gavel.deliverNotifications()).toBe(0);
    // The second channel's hours move to the weekend: its lead waits until its 6 hours are over.
    expect((await g.admin("PATCH", `/v1/channels/${expires.id}-ch`, { schedule: { hours: { "mon-fri": null, sat: "09:00-17:00" } } })).status).toBe(200);

    clock.set("2026-06-08T09:00:30Z");
    await g.gavel.releaseHeld();
    expect(await g.gavel.deliverNotifications()).toBe(1);
    clock.set("2026-06-08T11:00:00Z");
    await g.gavel.releaseHeld();
    expect(await g.gavel.deliverNotifications()).toBe(1);
    const byLead = new Map(supplier.effects.map((r) => [r.body.lead_id, r.body]));
    expect(byLead.get(held.body.lead_id)).toMatchObject({ event: "lead.sold", status: "sold", was_held: true, price: 5 });
    expect(byLead.get(expiring.body.lead_id)).toMatchObject({
      event: "lead.unsold",
      event_id: `lead.unsold:${expiring.body.lead_id}`,
      status: "expired",
      reason: "hold_expired",
      was_held: true,
      price: 0,
      occurred_at: "2026-06-08T11:00:00.000Z",
    });
    await supplier.server.close();
  });

  it("tells the supplier a return of its lead was accepted, with the payout clawed back", async () => {
    clock.set("2026-06-09T05:00:00Z");
    const supplier = await startReceiver();
    const m = await market({ supplierUrl: supplier.url });
    const id = (await g.lead(m.key, { campaign: m.id, data: consumer() })).body.lead_id;
    const asked = await g.admin("POST", `/v1/leads/${id}/returns`, { reason: "bad_phone" });
    expect(asked.status).toBe(201);
    expect((await g.admin("POST", `/v1/returns/${asked.body.id}/accept`, {})).status).toBe(200);
    expect(await g.gavel.deliverNotifications()).toBe(2);
    expect(supplier.effects.map((r) => r.body.event)).toEqual(expect.arrayContaining(["lead.sold", "lead.returned"]));
    expect(supplier.effects.find((r) => r.body.event === "lead.returned")!.body).toMatchObject({
      event_id: `lead.returned:${asked.body.id}`,
      lead_id: id,
      status: "returned",
      return_id: asked.body.id,
      price: 5,
      payout_clawed_back: 5,
    });
    await supplier.server.close();
  });

  it("exports the receivers' settings as config as code, secrets as references, and applies them back as no change", async () => {
    const res = await fetch(`${t.g.url}/v1/config/export`, { headers: { authorization: `Bearer ${t.g.gavel.adminToken}` } });
    const text = await res.text();
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(BUYER_SECRET);
    const doc = parse(text);
    const supplier = doc.suppliers.find((s: any) => s.id === "ntf-1-sup");
    expect(supplier.postback_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/post$/);
    expect(supplier.postback_signing.secret).toMatch(/^\$\{[A-Z0-9_]+:-\*\*\*\}$/);
    const buyer = doc.buyers.find((b: any) => b.id === "ntf-1-buyer");
    expect(buyer.notify.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/post$/);
    expect(buyer.notify.signing.secret).toMatch(/^\$\{[A-Z0-9_]+:-\*\*\*\}$/);
    const applied = await fetch(`${t.g.url}/v1/config/apply`, {
      method: "POST",
      headers: { "content-type": "application/yaml", authorization: `Bearer ${t.g.gavel.adminToken}` },
      body: text,
    });
    expect(applied.status).toBe(200);
    expect(await applied.json()).toMatchObject({ applied: false, changes: { created: [], changed: [], archived: [] } });
  });

  it("keeps secrets write-only and refuses a signing without a URL", async () => {
    const res = await t.g.admin("GET", `/v1/suppliers/ntf-1-sup`);
    expect(res.body.postback_signing).toEqual({ secret: "***" });
    const bad = await t.g.admin("POST", "/v1/suppliers", { id: "ntf-bad", name: "Bad", postback_signing: { secret: SECRET } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: "postback_signing" })]);
    const badUrl = await t.g.admin("POST", "/v1/buyers", { id: "ntf-bad-b", name: "Bad", notify: { url: "ftp://x" } });
    expect(badUrl.status).toBe(422);
  });

  it("sends a replayed dead letter to the receiver's URL as it is now (the old one kept for audit), and ends unsent what a removed URL was to get", async () => {
    clock.set("2026-06-12T05:00:00Z");
    await g.gavel.deliverNotifications(); // what earlier tests left due is tried (and, if failing, put off) first
    const broken = await startReceiver(() => true);
    const fixed = await startReceiver();
    const m = await market({ supplierUrl: broken.url, bid: null });
    const receiver = `receiver=supplier:${m.supplierId}`;
    const lead = await g.lead(m.key, { campaign: m.id, data: consumer() });
    expect(lead.body.status).toBe("unsold");
    for (let i = 0; i < 5; i++) {
      await g.gavel.deliverNotifications();
      clock.advance(3_600_000);
    }
    const [dead] = (await deliveries(receiver)).items;
    expect(dead).toMatchObject({ state: "dead", attempts: 5, target: broken.url });
    expect(broken.requests()).toHaveLength(5);

    // The admin points the supplier at a working receiver and replays: the new URL gets it, the old nothing more.
    expect((await g.admin("PATCH", `/v1/suppliers/${m.supplierId}`, { postback_url: fixed.url })).status).toBe(200);
    expect((await g.admin("POST", `/v1/deliveries/${dead.id}/replay`, {})).status).toBe(200);
    await g.gavel.deliverNotifications();
    expect(fixed.effects.map((r) => [r.headers["x-gavel-event-id"], r.body.lead_id])).toEqual([[`lead.unsold:${lead.body.lead_id}`, lead.body.lead_id]]);
    expectSigned(fixed.effects[0], SECRET);
    expect(broken.requests()).toHaveLength(5);
    expect((await g.admin("GET", `/v1/deliveries/${dead.id}`)).body).toMatchObject({ state: "delivered", attempts: 1, target: broken.url });

    // A notice still pending when the URL is removed is never sent: it ends cancelled, receiver_removed.
    const second = await g.lead(m.key, { campaign: m.id, data: consumer() });
    expect((await g.admin("PATCH", `/v1/suppliers/${m.supplierId}`, { postback_url: null, postback_signing: null })).status).toBe(200);
    await g.gavel.deliverNotifications();
    expect(fixed.requests()).toHaveLength(1);
    const [cancelled] = (await deliveries(`${receiver}&lead_id=${second.body.lead_id}`)).items;
    expect(cancelled).toMatchObject({ state: "cancelled", attempts: 0, last_error: "receiver_removed", last_status: null, next_attempt_at: null, target: fixed.url });
    expect((await deliveries(`${receiver}&state=cancelled`)).items.map((r: any) => r.id)).toEqual([cancelled.id]);
    // Once the supplier has a URL again, the operator may send it after all.
    expect((await g.admin("PATCH", `/v1/suppliers/${m.supplierId}`, { postback_url: fixed.url })).status).toBe(200);
    const replayed = await g.admin("POST", `/v1/deliveries/${cancelled.id}/replay`, { note: "receiver back" });
    expect(replayed.body).toMatchObject({ state: "pending", attempts: 0 });
    await g.gavel.deliverNotifications();
    expect(fixed.effects.map((r) => r.body.lead_id)).toEqual([lead.body.lead_id, second.body.lead_id]);
    await Promise.all([broken.server.close(), fixed.server.close()]);
  });

  it("lets no attempt from before a replay record its end on the replayed notice", async () => {
    clock.set("2026-06-13T05:00:00Z");
    await g.gavel.deliverNotifications();
    const receiver = await startReceiver((n) => n <= 4);
    const m = await market({ supplierUrl: receiver.url, bid: null });
    const lead = await g.lead(m.key, { campaign: m.id, data: consumer() });
    const db = g.gavel.database.db;
    // A process claims the notice and stalls (its attempt 1 still out) ...
    const [stale] = await claimDueDeliveries(db, clock.now(), 1, 30_000);
    expect(stale).toMatchObject({ leadId: lead.body.lead_id, attempt: 1 });
    // ... its lease runs out; the sweeps fail 4 times more and the notice is dead; an admin replays it.
    await lapseLeases(db);
    for (let i = 0; i < 4; i++) {
      await g.gavel.deliverNotifications();
      clock.advance(3_600_000);
    }
    const [dead] = (await deliveries(`receiver=supplier:${m.supplierId}`)).items;
    expect(dead).toMatchObject({ state: "dead", attempts: 5 });
    expect((await g.admin("POST", `/v1/deliveries/${dead.id}/replay`, {})).body).toMatchObject({ state: "pending", attempts: 0 });
    // The replay's first attempt is claimed: attempt 1 again, but not the stalled claim's.
    const [fresh] = await claimDueDeliveries(db, clock.now(), 1, 30_000);
    expect(fresh).toMatchObject({ id: stale.id, attempt: 1 });
    expect(fresh.claim).not.toBe(stale.claim);
    // The stalled attempt's answer comes in late: it is not recorded.
    expect(await finishAttempt(db, stale, clock.now(), { kind: "dead", status: 500, error: "HTTP 500" })).toBe(false);
    expect((await g.admin("GET", `/v1/deliveries/${dead.id}`)).body).toMatchObject({ state: "pending", attempts: 1 });
    // The fresh claim's process dies too; after its lease the sweep delivers the notice.
    await lapseLeases(db);
    await g.gavel.deliverNotifications();
    expect(receiver.effects.map((r) => r.body.lead_id)).toEqual([lead.body.lead_id]);
    expect((await g.admin("GET", `/v1/deliveries/${dead.id}`)).body).toMatchObject({ state: "delivered", attempts: 2 });
    await receiver.server.close();
  });

  it("shows analysts a target's user:password and query values masked, admins all of it", async () => {
    clock.set("2026-06-14T05:00:00Z");
    await g.gavel.deliverNotifications();
    const receiver = await startReceiver();
    const url = new URL(receiver.url);
    const secretUrl = `http://hook:s3cret@${url.host}${url.pathname}?token=abc123&token=def&site=acme`;
    const m = await market({ supplierUrl: secretUrl, bid: null });
    await g.lead(m.key, { campaign: m.id, data: consumer() });
    const analyst = (await g.admin("POST", "/v1/tokens", { name: "deliveries analyst", role: "analyst" })).body.token as string;
    const listed = await g.admin("GET", `/v1/deliveries?receiver=supplier:${m.supplierId}`, undefined, analyst);
    expect(listed.status).toBe(200);
    const masked = `http://***:***@${url.host}${url.pathname}?token=***&site=***`;
    expect(listed.body.items.map((r: any) => r.target)).toEqual([masked]);
    expect(JSON.stringify(listed.body)).not.toContain("s3cret");
    expect(JSON.stringify(listed.body)).not.toContain("abc123");
    const one = await g.admin("GET", `/v1/deliveries/${listed.body.items[0].id}`, undefined, analyst);
    expect(one.body.target).toBe(masked);
    expect((await g.admin("GET", `/v1/deliveries/${listed.body.items[0].id}`)).body.target).toBe(secretUrl);
    // Not left due for later sweeps of this file's Gavel.
    expect((await g.admin("PATCH", `/v1/suppliers/${m.supplierId}`, { postback_url: null, postback_signing: null })).status).toBe(200);
    await g.gavel.deliverNotifications();
    await receiver.server.close();
  });
});

describe("notifications survive a restart", () => {
  it("delivers what a stopped process left pending, and takes over a claim whose process died once its lease runs out", async () => {
    const clock = testClock("2026-06-10T05:00:00Z");
    const fresh = await freshDatabase();
    const dir = "memory" in fresh.target ? mkdtempSync(join(tmpdir(), "gavel-notify-")) : undefined;
    const target: DatabaseTarget = dir ? { dataDir: dir } : fresh.target;
    const supplier = await startReceiver();
    const buyer = await startBuyer({ ping: () => ({ json: { bid: 10 } }) });
    let first: TestGavel | undefined;
    let second: TestGavel | undefined;
    try {
      first = await startTestGavel(ENV, { clock, target });
      const key = await first.setup({
        campaign: { id: "ntf-restart", payout: { type: "revshare", percent: 50 } },
        channels: [pingPost("ntf-restart-ch", buyer, { buyer_id: "ntf-restart-buyer" })],
        supplier: { id: "ntf-restart-sup", postback_url: supplier.url },
      });
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push((await first.lead(key, { campaign: "ntf-restart", data: consumer() })).body.lead_id);
      // A process claims the first lead's notice and dies before sending it (its claim is all it did).
      const [claimed] = await claimDueDeliveries(first.gavel.database.db, clock.now(), 1, 30_000);
      expect(claimed.leadId).toBe(ids[0]);
      await first.close();
      first = undefined;
      expect(supplier.requests()).toHaveLength(0);

      second = await startTestGavel(ENV, { clock, target });
      // The pending notice goes at once; the claimed one waits for its lease.
      expect(await second.gavel.deliverNotifications()).toBe(1);
      expect(supplier.effects.map((r) => r.body.lead_id)).toEqual([ids[1]]);
      // The lease is on the database's clock: a process whose own clock runs 30 s ahead does not take it.
      clock.advance(30_000);
      expect(await second.gavel.deliverNotifications()).toBe(0);
      // Once it is over there, it does.
      await lapseLeases(second.gavel.database.db);
      expect(await second.gavel.deliverNotifications()).toBe(1);
      expect(supplier.effects.map((r) => r.body.lead_id)).toEqual([ids[1], ids[0]]);
      const rows = (await second.admin("GET", "/v1/deliveries?receiver=supplier:ntf-restart-sup")).body.items;
      expect(rows.map((r: any) => [r.lead_id, r.state, r.attempts])).toEqual([
        [ids[1], "delivered", 1],
        [ids[0], "delivered", 2],
      ]);
    } finally {
      await first?.close();
      await second?.close();
      await supplier.server.close();
      await buyer.close();
      await fresh.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("notifications to a receiver that hangs", () => {
  it("holds at most 5 sends to it while others' notices go, and a stop cuts those sends off and lets their rows go", async () => {
    const clock = testClock("2026-06-15T05:00:00Z");
    const fresh = await freshDatabase();
    const dir = "memory" in fresh.target ? mkdtempSync(join(tmpdir(), "gavel-notify-")) : undefined;
    const target: DatabaseTarget = dir ? { dataDir: dir } : fresh.target;
    const good = await startReceiver();
    const hanging = await startBuyer({ post: () => ({ hang: true }) });
    const buyer = await startBuyer({ ping: () => ({ json: { bid: 0 } }) });
    // A send's own bound is 120 s, four times the test's: only the stop can end them in time.
    const env = { ...ENV, GAVEL_DELIVERY_TIMEOUT_MS: "120000" };
    let first: TestGavel | undefined;
    let second: TestGavel | undefined;
    try {
      first = await startTestGavel(env, { clock, target });
      const market = { campaign: { id: "ntf-hang" }, channels: [pingPost("ntf-hang-ch", buyer, { buyer_id: "ntf-hang-buyer" })] };
      const slowKey = await first.setup({ ...market, supplier: { id: "ntf-hang-slow", postback_url: hanging.postUrl } });
      const goodKey = await first.setup({ ...market, supplier: { id: "ntf-hang-good", postback_url: good.url } });
      for (let i = 0; i < 8; i++) expect((await first.lead(slowKey, { campaign: "ntf-hang", data: consumer() })).body.status).toBe("unsold");
      for (let i = 0; i < 3; i++) expect((await first.lead(goodKey, { campaign: "ntf-hang", data: consumer() })).body.status).toBe("unsold");

      const sweep = first.gavel.deliverNotifications();
      const listed = (g: TestGavel, q: string) => g.admin("GET", `/v1/deliveries?${q}`).then((r) => r.body.items as any[]);
      // The good receiver's notices are delivered while the hanging one holds its 5 sends.
      await vi.waitFor(
        async () => {
          expect(hanging.posts).toHaveLength(5);
          expect((await listed(first!, "receiver=supplier:ntf-hang-good&state=delivered")).length).toBe(3);
        },
        { timeout: 20_000, interval: 50 },
      );
      expect(good.effects).toHaveLength(3);
      await first.close();
      first = undefined;
      expect(await sweep).toBe(8);
      expect(hanging.posts).toHaveLength(5);

      // Its rows were let go: all pending, none counted as an attempt, due for the next process at once.
      second = await startTestGavel(env, { clock, target });
      const slow = await listed(second, "receiver=supplier:ntf-hang-slow");
      expect(slow.map((r) => [r.state, r.attempts, r.last_error])).toEqual(Array(8).fill(["pending", 0, null]));
    } finally {
      await first?.close();
      await second?.close();
      await Promise.all([good.server.close(), hanging.close(), buyer.close()]);
      await fresh.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("notifications behind one receiver's backlog", () => {
  it("delivers another receiver's notices at once while a hanging buyer has 1,100 due, holding at most 5 sends to it", async () => {
    const clock = testClock("2026-06-16T05:00:00Z");
    const fresh = await freshDatabase();
    const good = await startReceiver();
    const hanging = await startBuyer({ post: () => ({ hang: true }) });
    const bidder = await startBuyer({ ping: () => ({ json: { bid: 0 } }) });
    // A send's own bound is 120 s, six times the test's: the good receiver's notices must not wait for it.
    const env = { ...ENV, GAVEL_DELIVERY_TIMEOUT_MS: "120000" };
    let g: TestGavel | undefined;
    try {
      g = await startTestGavel(env, { clock, target: fresh.target });
      const db = g.gavel.database.db;
      expect((await g.admin("POST", "/v1/buyers", { id: "ntf-backlog-slow", name: "Slow", notify: { url: hanging.postUrl } })).status).toBe(201);
      // Its backlog: 1,100 notices, all due and older than anyone else's, so the claim's look ahead (batch × 20) sees only them.
      const since = new Date(clock.now() - 3_600_000).toISOString();
      await db.execute(
        sql`insert into deliveries (event_id, event, receiver_kind, receiver_id, via, target, payload, next_attempt_at, created_at, updated_at)
            select 'lead.delivered:backlog-' || i, 'lead.delivered', 'buyer', 'ntf-backlog-slow', 'webhook', ${hanging.postUrl},
                   jsonb_build_object('event_id', 'lead.delivered:backlog-' || i, 'event', 'lead.delivered'),
                   ${since}::timestamptz, ${since}::timestamptz, ${since}::timestamptz
            from generate_series(1, 1100) i`,
      );
      const key = await g.setup({
        campaign: { id: "ntf-backlog" },
        channels: [pingPost("ntf-backlog-ch", bidder, { buyer_id: "ntf-backlog-bidder" })],
        supplier: { id: "ntf-backlog-good", postback_url: good.url },
      });
      for (let i = 0; i < 3; i++) expect((await g.lead(key, { campaign: "ntf-backlog", data: consumer() })).body.status).toBe("unsold");

      const sweep = g.gavel.deliverNotifications();
      const delivered = async () => (await g!.admin("GET", "/v1/deliveries?receiver=supplier:ntf-backlog-good&state=delivered")).body.items.length;
      await vi.waitFor(
        async () => {
          expect(hanging.posts).toHaveLength(5);
          expect(await delivered()).toBe(3);
        },
        { timeout: 20_000, interval: 50 },
      );
      expect(good.effects).toHaveLength(3);
      // The hanging buyer holds 5 claims (its sends in flight); the rest of its backlog waits unclaimed.
      const held = await txRows<{ n: number }>(db, sql`select count(*)::int as n from deliveries where receiver_id = 'ntf-backlog-slow' and leased_until is not null`);
      expect(held).toEqual([{ n: 5 }]);
      await g.close();
      g = undefined;
      expect(await sweep).toBe(8);
      expect(hanging.posts).toHaveLength(5);
    } finally {
      await g?.close();
      await Promise.all([good.server.close(), hanging.close(), bidder.close()]);
      await fresh.drop();
    }
  }, 60_000);
});

// Two processes on one PostgreSQL database (PGlite is one process's): whichever sweeps first sends
// each notice, and none is sent twice however the two sweeps interleave.
describe.skipIf(!onPostgres)("notifications from two processes", () => {
  it("sends each notice once when two processes sweep at the same time", async () => {
    const clock = testClock("2026-06-11T05:00:00Z");
    const fresh = await freshDatabase();
    const supplier = await startReceiver();
    const buyer = await startBuyer({ ping: () => ({ json: { bid: 10 } }) });
    let a: TestGavel | undefined;
    let b: TestGavel | undefined;
    try {
      a = await startTestGavel(ENV, { clock, target: fresh.target });
      b = await startTestGavel(ENV, { clock, target: fresh.target });
      const key = await a.setup({
        campaign: { id: "ntf-two", payout: { type: "revshare", percent: 50 } },
        channels: [pingPost("ntf-two-ch", buyer, { buyer_id: "ntf-two-buyer" })],
        supplier: { id: "ntf-two-sup", postback_url: supplier.url },
      });
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push((await a.lead(key, { campaign: "ntf-two", data: consumer() })).body.lead_id);
      const [fromA, fromB] = await Promise.all([a.gavel.deliverNotifications(), b.gavel.deliverNotifications()]);
      expect(fromA + fromB).toBe(12);
      expect(supplier.requests()).toHaveLength(12);
      expect(supplier.effects.map((r) => r.body.lead_id).sort()).toEqual([...ids].sort());
    } finally {
      await a?.close();
      await b?.close();
      await supplier.server.close();
      await buyer.close();
      await fresh.drop();
    }
  });
});
