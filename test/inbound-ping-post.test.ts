// Suppliers that ping first (POST /v1/pings, POST /v1/posts): the real app, loopback buyers and a
// clock the tests set, so a ping's expiry is reached by moving the clock, never by waiting.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { contactHash } from "../src/leads/suppression";
import { consumer, pingPost, testClock, useTestGavel } from "./helpers/gavel";
import type { TestBuyer } from "./helpers/buyers";

const clock = testClock("2026-06-01T15:00:00Z");
const t = useTestGavel({}, { clock });

const PUBLIC = ["zip", "state", "age", "coverage"];
const publicOf = (lead: Record<string, unknown>) => Object.fromEntries(PUBLIC.map((k) => [k, lead[k]]));

async function call(key: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(t.g.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

let n = 0;
/** A campaign of its own with two buyers bidding 12 and 8 (each ping answered with its ping_ref); returns the supplier key. */
async function market(campaign: Record<string, unknown>, behaviour: { a?: Parameters<typeof t.buyer>[0]; b?: Parameters<typeof t.buyer>[0] } = {}) {
  const id = `ping-first-${++n}`;
  const a = await t.buyer({ ping: () => ({ json: { bid: 12, ping_ref: `a-${n}` } }), ...behaviour.a });
  const b = await t.buyer({ ping: () => ({ json: { bid: 8, ping_ref: `b-${n}` } }), ...behaviour.b });
  const key = await t.g.setup({
    campaign: { id, payout: { type: "revshare", percent: 50 }, ...campaign },
    channels: [pingPost(`${id}-a`, a, { buyer_id: `${id}-buyer-a` }), pingPost(`${id}-b`, b, { buyer_id: `${id}-buyer-b` })],
  });
  return { id, a, b, key };
}

const pingOf = (campaign: string, lead: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ campaign, data: publicOf(lead), ...extra });
const postsOf = (buyer: TestBuyer) => buyer.posts.length;

describe("POST /v1/pings then POST /v1/posts", () => {
  it("quotes the supplier's payout on the top bid, and sells at it to the winner with its ping_ref, without pinging again", async () => {
    const m = await market({});
    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, lead, { source: "site-a" }));
    expect(ping.status).toBe(200);
    // 50 % of the top bid, 12.00.
    expect(ping.body).toMatchObject({ status: "bid", price: 6 });
    expect(Date.parse(ping.body.expires_at)).toBe(clock.now() + 60_000);
    // Buyers saw the non-PII fields only.
    expect(m.a.pings).toHaveLength(1);
    expect(m.a.pings[0].body.data).toEqual(publicOf({ ...lead, state: "TX" }));
    expect(JSON.stringify(m.a.pings[0].body)).not.toContain(String(lead.email));

    const post = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(post.status).toBe(200);
    expect(post.body).toMatchObject({ ping_id: ping.body.ping_id, lead_id: ping.body.ping_id, status: "sold", price: 6, sold_to: 1 });
    expect(m.a.pings).toHaveLength(1);
    expect(m.b.pings).toHaveLength(1);
    expect(m.a.posts).toHaveLength(1);
    expect(m.a.posts[0].body).toMatchObject({ ping_ref: `a-${n}`, data: { email: lead.email } });
    expect(postsOf(m.b)).toBe(0);

    // The supplier side is in the lead's history, the buyers' pings in its attempts.
    const trace = await t.g.admin("GET", `/v1/leads/${ping.body.ping_id}`);
    expect(trace.body.history.map((e: { reason: string | null }) => e.reason)).toEqual(expect.arrayContaining(["pinged", "quoted", "posted", "sold_to"]));
    expect(trace.body.history.find((e: { reason: string }) => e.reason === "quoted").detail).toBe("6.00");
    expect(trace.body.attempts.map((a: { kind: string }) => a.kind).sort()).toEqual(["ping", "ping", "post"]);
    expect(trace.body).toMatchObject({ status: "sold", price: 6, revenue: 12, source: "site-a" });
  });

  it("refuses PII and undeclared fields in a ping, field by field, and pings no buyer", async () => {
    const m = await market({});
    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", { campaign: m.id, data: { ...publicOf(lead), email: lead.email, phone: lead.phone, favourite: "blue" } });
    expect(ping.status).toBe(422);
    expect(ping.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["data.email", "data.favourite", "data.phone"]);
    expect(m.a.pings).toHaveLength(0);
    // A bad non-PII field is refused too; a missing PII field is not asked for yet.
    const bad = await call(m.key, "/v1/pings", { campaign: m.id, data: { ...publicOf(lead), zip: "nope" } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual([{ path: "data.zip", message: expect.any(String) }]);
  });

  it("judges a filter on a PII field at the post, not at the ping", async () => {
    const m = await market({});
    await t.g.admin("PATCH", `/v1/channels/${m.id}-a`, { filters: [{ field: "email", op: "prefix", value: ["vip"] }] });
    const vip = consumer({ email: `vip.${n}@example.com` });
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, vip));
    // Pinged: the ping has no email to judge.
    expect(m.a.pings).toHaveLength(1);
    expect((await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: vip })).body).toMatchObject({ status: "sold", price: 6 });
    expect(m.a.posts).toHaveLength(1);

    const plain = consumer();
    const ping2 = await call(m.key, "/v1/pings", pingOf(m.id, plain));
    expect(ping2.body.price).toBe(6);
    // The post's email fails the filter: the 12.00 bid is left out, and 8.00 pays less than the quote.
    const post = await call(m.key, "/v1/posts", { ping_id: ping2.body.ping_id, data: plain });
    expect(post.body.status).toBe("unsold");
    const trace = await t.g.admin("GET", `/v1/leads/${ping2.body.ping_id}`);
    expect(trace.body.excluded).toEqual(
      expect.arrayContaining([
        { channel_id: `${m.id}-a`, reason: "filtered", detail: "email" },
        { channel_id: `${m.id}-b`, reason: "below_quote", detail: null },
      ]),
    );
  });

  it("answers 410 ping_expired to a post after the ping's TTL", async () => {
    const m = await market({ inbound: { ping_ttl_seconds: 30 } });
    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, lead));
    expect(Date.parse(ping.body.expires_at)).toBe(clock.now() + 30_000);
    clock.advance(30_000);
    const post = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(post.status).toBe(410);
    expect(post.body.type).toBe("urn:gavel:problem:ping_expired");
    expect(postsOf(m.a) + postsOf(m.b)).toBe(0);
  });

  it("refuses a post whose non-PII fields differ from the ping's (422 ping_mismatch, naming each), then takes the right one", async () => {
    const m = await market({});
    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, lead));
    const wrong = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: { ...lead, zip: "75002", age: 31 } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.type).toBe("urn:gavel:problem:ping_mismatch");
    expect(wrong.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["data.age", "data.zip"]);
    expect(postsOf(m.a)).toBe(0);
    // Before any lead exists, the ping's own record has its history, bids and buyers' pings.
    const record = await t.g.admin("GET", `/v1/pings/${ping.body.ping_id}`);
    expect(record.body).toMatchObject({ status: "bid", price: 6, state: "open", lead_url: null, campaign: m.id });
    expect(record.body.history.map((e: { reason: string }) => e.reason)).toEqual(["pinged", "quoted", "ping_mismatch"]);
    expect(record.body.bids.map((b: { channel_id: string; price: number }) => [b.channel_id, b.price])).toEqual([[`${m.id}-a`, 12], [`${m.id}-b`, 8]]);
    expect(record.body.attempts).toHaveLength(2);

    const right = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(right.body.status).toBe("sold");
    const trace = await t.g.admin("GET", `/v1/leads/${ping.body.ping_id}`);
    expect(trace.body.history).toContainEqual(expect.objectContaining({ reason: "ping_mismatch", detail: "zip,age" }));
  });

  it("replays the first post's answer to a second post of the same ping, and to two posts at once sells once", async () => {
    const m = await market({});
    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, lead));
    const first = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    const second = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.body).toEqual(first.body);
    expect(postsOf(m.a)).toBe(1);

    const other = consumer();
    const ping2 = await call(m.key, "/v1/pings", pingOf(m.id, other));
    const both = await Promise.all([0, 1, 2].map(() => call(m.key, "/v1/posts", { ping_id: ping2.body.ping_id, data: other })));
    // One sells; each other either replays it or is told the first is still running.
    expect(both.filter((r) => r.status === 200 && r.headers.get("idempotent-replayed") === null)).toHaveLength(1);
    for (const r of both) expect([200, 409]).toContain(r.status);
    expect(postsOf(m.a)).toBe(2);
  });

  it("takes a ping back from a post that died before recording its lead, once its claim is stale", async () => {
    const m = await market({ inbound: { ping_ttl_seconds: 3600 } });
    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, lead));
    // As a process that claimed the ping and died before its intake leaves it.
    const claimed = async (ago: number) =>
      t.g.gavel.database.rows(
        sql`update inbound_pings set state = 'posting', posted_at = ${new Date(clock.now() - ago).toISOString()}::timestamptz where id = ${ping.body.ping_id}`,
      );
    await claimed(1000);
    const running = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(running.status).toBe(409);
    await claimed(10 * 60_000);
    const taken = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(taken.body).toMatchObject({ status: "sold", price: 6 });
    expect(postsOf(m.a)).toBe(1);
  });

  it("answers 410 to a post of an expired ping whose claim died with its post before recording the lead, once the claim is stale", async () => {
    const m = await market({});
    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, lead));
    // A process claimed the ping 10 s in and died before its intake (the default TTL is 60 s).
    clock.advance(10_000);
    await t.g.gavel.database.rows(sql`update inbound_pings set state = 'posting', posted_at = ${new Date(clock.now()).toISOString()}::timestamptz where id = ${ping.body.ping_id}`);
    clock.advance(1_000);
    expect((await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead })).status).toBe(409);
    // Expired, but the claim is fresh: its post may still be running.
    clock.advance(60_000);
    expect((await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead })).status).toBe(409);
    // Expired, and the claim stale: the ping is over (it was 409 forever).
    clock.advance(120_000);
    const over = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(over.status).toBe(410);
    expect(over.body.type).toBe("urn:gavel:problem:ping_expired");
    expect(postsOf(m.a) + postsOf(m.b)).toBe(0);
  });

  it("when the quoted winner refuses: no sale under `no_sale`, the lower bid at its own payout under `sell_lower`", async () => {
    const refuse = { post: () => ({ json: { accepted: false, reason: "full" } }) };
    const strict = await market({ inbound: { below_quote: "no_sale" } }, { a: refuse });
    const lead = consumer();
    const ping = await call(strict.key, "/v1/pings", pingOf(strict.id, lead));
    const post = await call(strict.key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(post.body).toMatchObject({ status: "unsold", price: 0 });
    expect(postsOf(strict.b)).toBe(0);
    const trace = await t.g.admin("GET", `/v1/leads/${ping.body.ping_id}`);
    expect(trace.body.excluded).toContainEqual({ channel_id: `${strict.id}-b`, reason: "below_quote", detail: null });

    const lower = await market({ inbound: { below_quote: "sell_lower" } }, { a: refuse });
    const lead2 = consumer();
    const ping2 = await call(lower.key, "/v1/pings", pingOf(lower.id, lead2));
    expect(ping2.body.price).toBe(6);
    const post2 = await call(lower.key, "/v1/posts", { ping_id: ping2.body.ping_id, data: lead2 });
    // 50 % of the 8.00 that bought: never more than the quote.
    expect(post2.body).toMatchObject({ status: "sold", price: 4 });
    expect(lower.b.posts[0].body.ping_ref).toBe(`b-${n}`);
  });

  it("checks a ping's contact hashes against the do-not-sell list, and the post's contacts against them", async () => {
    const m = await market({ inbound: { contact_hashes: "optional" } });
    const listed = consumer();
    const added = await t.g.admin("POST", "/v1/suppressions", { emails: [String(listed.email)] });
    expect(added.status).toBeLessThan(300);
    const hashes = (lead: Record<string, unknown>) => ({ email: contactHash(String(lead.email).toLowerCase()) });
    const refused = await call(m.key, "/v1/pings", pingOf(m.id, listed, { contact_hashes: hashes(listed) }));
    expect(refused.body).toMatchObject({ status: "no_bid", price: 0, reason: "suppressed" });
    expect(m.a.pings).toHaveLength(0);

    const lead = consumer();
    const ping = await call(m.key, "/v1/pings", pingOf(m.id, lead, { contact_hashes: hashes(lead) }));
    expect(ping.body.status).toBe("bid");
    const swapped = await call(m.key, "/v1/posts", { ping_id: ping.body.ping_id, data: { ...lead, email: "someone.else@example.com" } });
    expect(swapped.status).toBe(422);
    expect(swapped.body.errors).toEqual([{ path: "data.email", message: expect.stringContaining("contact_hashes") }]);
    // A campaign that takes no hashes says so.
    const plain = await market({});
    const no = await call(plain.key, "/v1/pings", pingOf(plain.id, lead, { contact_hashes: hashes(lead) }));
    expect(no.status).toBe(422);
    expect(no.body.errors[0].path).toBe("contact_hashes");
  });

  it("replays a ping under its Idempotency-Key without pinging the buyers again", async () => {
    const m = await market({});
    const body = pingOf(m.id, consumer());
    const first = await call(m.key, "/v1/pings", body, { "idempotency-key": `ping-${n}` });
    const again = await call(m.key, "/v1/pings", body, { "idempotency-key": `ping-${n}` });
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(m.a.pings).toHaveLength(1);
  });

  it("answers a shared campaign's ping with its offers, and posts to those buyers at once, refilling a refusal from the kept ranking", async () => {
    const id = `ping-shared-${++n}`;
    const bids = [7, 6, 5, 4];
    const buyers = await Promise.all(
      bids.map((bid, i) => t.buyer({ ping: () => ({ json: { shared_bid: bid, ping_ref: `${id}-${i}` } }), post: () => ({ json: { accepted: i !== 1 } }) })),
    );
    const key = await t.g.setup({
      campaign: { id, auction: { mode: "shared", max_sells: 2 }, payout: { type: "revshare", percent: 50 } },
      channels: buyers.map((b, i) => pingPost(`${id}-${i}`, b, { buyer_id: `${id}-buyer-${i}`, buys: ["shared"] })),
    });
    const lead = consumer();
    const ping = await call(key, "/v1/pings", pingOf(id, lead));
    // The best two, one per buyer: 50 % of 7.00 and of 6.00; the price is the payout over both.
    expect(ping.body).toMatchObject({ status: "bid", price: 6.5, offers: [{ offer_id: "o1", price: 3.5 }, { offer_id: "o2", price: 3 }] });
    const post = await call(key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    // The 6.00 buyer refuses: its slot goes to the 5.00 bid, without pinging again.
    expect(post.body).toMatchObject({ status: "sold", sold_to: 2, price: 6 });
    expect(buyers.map((b) => b.posts.length)).toEqual([1, 1, 1, 0]);
    expect(buyers.map((b) => b.pings.length)).toEqual([1, 1, 1, 1]);
    expect(buyers[2].posts[0].body).toMatchObject({ sale: "shared", ping_ref: `${id}-2` });
  });

  it("user choice: answers 4 ranked offers with the buyers' names, and sells to exactly the 2 the consumer picks", async () => {
    const id = `choice-${++n}`;
    const bids = [9, 8, 7, 6];
    const buyers = await Promise.all(bids.map((bid) => t.buyer({ ping: () => ({ json: { bid } }) })));
    const key = await t.g.setup({
      // Two buyers of one lead: a shared campaign, whose buyers buy shared sales.
      campaign: { id, auction: { mode: "shared", max_sells: 2 }, payout: { type: "revshare", percent: 50 } },
      // One lead at a time per channel: a channel the consumer did not choose must not be left holding a slot.
      channels: buyers.map((b, i) => pingPost(`${id}-${i}`, b, { buyer_id: `${id}-buyer-${i}`, max_concurrency: 1, buys: ["shared"] })),
    });
    for (let i = 0; i < 4; i++) await t.g.admin("PATCH", `/v1/buyers/${id}-buyer-${i}`, { name: `Insurer ${"ABCD"[i]}` });
    const lead = consumer();
    const offers = await call(key, "/v1/offers", { ...pingOf(id, lead), n: 4 });
    expect(offers.status).toBe(200);
    expect(offers.body).toMatchObject({
      status: "bid",
      offers: [
        { offer_id: "o1", buyer: "Insurer A", price: 4.5 },
        { offer_id: "o2", buyer: "Insurer B", price: 4 },
        { offer_id: "o3", buyer: "Insurer C", price: 3.5 },
        { offer_id: "o4", buyer: "Insurer D", price: 3 },
      ],
    });
    const unknown = await call(key, "/v1/posts", { ping_id: offers.body.ping_id, offer_ids: ["o2", "o9"], data: lead });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([{ path: "offer_ids[1]", message: expect.stringContaining("not an offer") }]);
    // More than max_sells (2) is refused before any buyer hears of it.
    const three = await call(key, "/v1/posts", { ping_id: offers.body.ping_id, offer_ids: ["o1", "o2", "o4"], data: lead });
    expect(three.status).toBe(422);
    expect(three.body.errors).toEqual([{ path: "offer_ids", message: expect.stringContaining("max_sells (2)") }]);
    const post = await call(key, "/v1/posts", { ping_id: offers.body.ping_id, offer_ids: ["o2", "o4"], data: lead });
    // 50 % of 8.00 + 6.00.
    expect(post.body).toMatchObject({ status: "sold", sold_to: 2, price: 7 });
    expect(buyers.map((b) => b.posts.length)).toEqual([0, 1, 0, 1]);
    // Each buyer is told it buys one of several sales.
    expect(buyers[1].posts[0].body).toMatchObject({ sale: "shared", price: 8 });
    expect(buyers[3].posts[0].body).toMatchObject({ sale: "shared", price: 6 });
    const trace = await t.g.admin("GET", `/v1/leads/${offers.body.ping_id}`);
    expect(trace.body.history).toContainEqual(expect.objectContaining({ reason: "quoted", detail: "4 offers (offers 4.50, 4.00, 3.50, 3.00)" }));
    const next = await call(key, "/v1/offers", { ...pingOf(id, consumer()), n: 4 });
    expect(next.body.offers).toHaveLength(4);
    expect(buyers.map((b) => b.pings.length)).toEqual([2, 2, 2, 2]);
  });

  it("charges a best campaign's second price as a lead's auction does: the exclusive winner at least what beats the shared sale it displaced", async () => {
    const id = `best-second-${++n}`;
    const bidding = (json: Record<string, unknown>) => t.buyer({ ping: () => ({ json }) });
    // One ranking would charge a (30) against d's 12; the shared sale it beat is 10 + 9: 19.01, as POST /v1/leads charges.
    const [a, d, b, c] = await Promise.all([bidding({ bid: 30 }), bidding({ bid: 12 }), bidding({ shared_bid: 10 }), bidding({ shared_bid: 9 })]);
    const key = await t.g.setup({
      campaign: { id, auction: { mode: "best", max_sells: 2, pricing: "second", floor: 1 }, payout: { type: "revshare", percent: 50 } },
      channels: [
        pingPost(`${id}-a`, a, { buyer_id: `${id}-a` }),
        pingPost(`${id}-d`, d, { buyer_id: `${id}-d` }),
        pingPost(`${id}-b`, b, { buyer_id: `${id}-b`, buys: ["shared"] }),
        pingPost(`${id}-c`, c, { buyer_id: `${id}-c`, buys: ["shared"] }),
      ],
    });
    const lead = consumer();
    const ping = await call(key, "/v1/pings", pingOf(id, lead));
    expect(ping.body.price).toBe(9.5);
    const post = await call(key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(post.body).toMatchObject({ status: "sold", sold_to: 1 });
    expect(a.posts[0].body.price).toBe(19.01);
    const direct = await t.g.lead(key, { campaign: id, data: consumer() });
    expect(a.posts[1].body.price).toBe(19.01);
    expect(direct.body.price).toBe(post.body.price);
  });

  it("user choice on an exclusive campaign sells to one buyer: choosing two offers is a 422 and no buyer is posted", async () => {
    const id = `choice-excl-${++n}`;
    const buyers = await Promise.all([9, 8, 7].map((bid) => t.buyer({ ping: () => ({ json: { bid } }) })));
    const key = await t.g.setup({
      campaign: { id, payout: { type: "revshare", percent: 50 } },
      channels: buyers.map((b, i) => pingPost(`${id}-${i}`, b, { buyer_id: `${id}-buyer-${i}` })),
    });
    const lead = consumer();
    const offers = await call(key, "/v1/offers", { ...pingOf(id, lead), n: 3 });
    expect(offers.body.offers).toHaveLength(3);
    const two = await call(key, "/v1/posts", { ping_id: offers.body.ping_id, offer_ids: ["o1", "o3"], data: lead });
    expect(two.status).toBe(422);
    expect(two.body.errors).toEqual([{ path: "offer_ids", message: expect.stringContaining("exclusive") }]);
    expect(buyers.map((b) => b.posts.length)).toEqual([0, 0, 0]);
    // One chosen offer is sold exclusively, unmarked, at its bid.
    const one = await call(key, "/v1/posts", { ping_id: offers.body.ping_id, offer_ids: ["o3"], data: lead });
    expect(one.body).toMatchObject({ status: "sold", sold_to: 1, price: 3.5 });
    expect(buyers.map((b) => b.posts.length)).toEqual([0, 0, 1]);
    expect(buyers[2].posts[0].body.sale).toBeUndefined();
  });

  it("reports pings and posts per supplier and source, with the ping-to-post rate", async () => {
    const m = await market({});
    const from = new Date(clock.now()).toISOString();
    const leads = [consumer(), consumer(), consumer(), consumer()];
    const pings = [];
    for (const lead of leads) pings.push(await call(m.key, "/v1/pings", pingOf(m.id, lead, { source: "report-src" })));
    // Half of them are posted.
    for (const i of [0, 1]) await call(m.key, "/v1/posts", { ping_id: pings[i].body.ping_id, data: leads[i] });
    const to = new Date(clock.now() + 1000).toISOString();
    const report = await t.g.admin("GET", `/v1/reports/pings?from=${from}&to=${to}&campaign=${m.id}`);
    expect(report.status).toBe(200);
    expect(report.body.rows).toEqual([
      expect.objectContaining({ source: "report-src", pings: 4, bids: 4, posts: 2, sold: 2, ping_to_post: 0.5, bid_to_post: 0.5, quoted: 24, payout: 12 }),
    ]);
    // Analysts only: a supplier's key is refused.
    const res = await fetch(`${t.g.url}/v1/reports/pings?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${m.key}` } });
    expect(res.status).toBe(403);
  });
});

describe("a pinged lead's posts under rank_by expected", () => {
  it("count for the channels' acceptance rates: a buyer that refused a posted ping is quoted below an honest one at the next ping", async () => {
    // a bids 11 and refuses every post; b bids 10 and buys. With 5 prior posts, one refusal takes a's
    // rate to 5/6: 11 × 5/6 = 9.17 < 10.
    const m = await market(
      { auction: { rank_by: "expected", acceptance: { floor: 0.1, prior_posts: 5, half_life_hours: 24 } }, inbound: { below_quote: "sell_lower" } },
      { a: { ping: () => ({ json: { bid: 11, ping_ref: "a" } }), post: () => ({ json: { accepted: false } }) }, b: { ping: () => ({ json: { bid: 10, ping_ref: "b" } }) } },
    );
    const lead = consumer();
    const first = await call(m.key, "/v1/pings", pingOf(m.id, lead));
    expect(first.body).toMatchObject({ status: "bid", price: 5.5 });
    const post = await call(m.key, "/v1/posts", { ping_id: first.body.ping_id, data: lead });
    expect(post.body).toMatchObject({ status: "sold", price: 5 });
    expect([m.a.posts.length, m.b.posts.length]).toEqual([1, 1]);

    const second = await call(m.key, "/v1/pings", pingOf(m.id, consumer()));
    expect(second.body).toMatchObject({ status: "bid", price: 5 });
    const record = (await t.g.admin("GET", `/v1/pings/${second.body.ping_id}`)).body;
    expect(record.bids.map((b: { channel_id: string }) => b.channel_id)).toEqual([`${m.id}-b`, `${m.id}-a`]);
  });
});
