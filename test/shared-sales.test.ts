// Shared sales (SPEC.md shared mode, README "Shared sales"): a lead sold to up to `max_sells`
// buyers, posted at once and refilled down the ranking; `best` choosing between an exclusive and a
// shared sale; caps, buyer dedup and idempotency per sale. A real Gavel and real loopback buyers;
// the deadline's end of refilling runs on a clock that moves only when told.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { selectChannels } from "../src/auction/eligibility";
import { ChannelLimiter } from "../src/auction/limiter";
import { runAuction, type AuctionDeps } from "../src/auction/run";
import { readPingResponse, type PingAnswer } from "../src/channels/native";
import { compilePingReader, NATIVE_SHARED_PING_RULES } from "../src/channels/rules";
import type { BuyerResponse } from "../src/channels/transport";
import { accepted, auctionLead, bid, campaignPlan, deadlineFor, FakeLedger, FakeTransport, ManualClock, pingUrl, postUrl, rejected } from "./helpers/auction";
import type { Behaviour } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";
import { latch } from "./helpers/latch";

const bidding = (bid: number, shared?: number): Behaviour => () => ({ json: { bid, ...(shared !== undefined && { shared_bid: shared }), ping_ref: `ref-${bid}` } });
const refusing: Behaviour = () => ({ json: { accepted: false, reason: "not today" } });
const SHARED = { buys: ["shared"] };

describe("shared sales", () => {
  const fixture = useTestGavel();
  const buyer = fixture.buyer;
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });
  const trace = async (leadId: string) => {
    const res = await g.admin("GET", `/v1/leads/${leadId}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const posts = (t: any) => t.attempts.filter((a: any) => a.kind === "post");

  it("posts the top three at once, one per buyer, and refills each rejected slot from the ranking", async () => {
    // The top three hold their answers until all three posts have arrived: posted one after the
    // other, the first would wait for ever (and time out), so the sale shows they went out together.
    const together = latch();
    let arrived = 0;
    const heldUntilAllThree =
      (answer: { json: unknown }): Behaviour =>
      () => {
        if (++arrived === 3) together.open();
        return { held: together.promise.then(() => answer) };
      };
    const top = await buyer({ ping: bidding(10), post: heldUntilAllThree({ json: { accepted: false, reason: "dup" } }) });
    const second = await buyer({ ping: bidding(9), post: heldUntilAllThree({ json: { accepted: true } }) });
    const third = await buyer({ ping: bidding(8), post: heldUntilAllThree({ json: { accepted: false } }) });
    const fourth = await buyer({ ping: bidding(7) });
    const fifth = await buyer({ ping: bidding(6) });
    const sixth = await buyer({ ping: bidding(5) });
    const key = await g.setup({
      campaign: { id: "sh-refill", auction: { mode: "shared", max_sells: 3, timeout_ms: 20_000 }, payout: { type: "revshare", percent: 50 } },
      channels: [
        pingPost("sh-refill-10", top, { buyer_id: "sh-b10", ...SHARED }),
        pingPost("sh-refill-9", second, { buyer_id: "sh-b9", ...SHARED }),
        pingPost("sh-refill-8", third, { buyer_id: "sh-b8", ...SHARED }),
        pingPost("sh-refill-7", fourth, { buyer_id: "sh-b7", ...SHARED }),
        pingPost("sh-refill-6", fifth, { buyer_id: "sh-b6", ...SHARED }),
        pingPost("sh-refill-5", sixth, { buyer_id: "sh-b5", ...SHARED }),
      ],
    });
    const res = await g.lead(key, { campaign: "sh-refill", data: consumer() });
    expect(res.status).toBe(200);
    // 9 + 7 + 6 = 22, half of it to the supplier.
    expect(res.body).toMatchObject({ status: "sold", sold_to: 3, price: 11 });
    expect([top, second, third, fourth, fifth].map((b) => b.posts.length)).toEqual([1, 1, 1, 1, 1]);
    expect(sixth.posts).toHaveLength(0);
    // Each sale is its own, with its own Idempotency-Key, at its own price.
    const leadId = res.body.lead_id;
    expect(fourth.posts[0].headers["idempotency-key"]).toBe(`${leadId}:sh-refill-7:shared`);
    expect(fifth.posts[0].body).toMatchObject({ price: 6, ping_ref: "ref-6", sale: "shared" });

    const t = await trace(leadId);
    expect(t).toMatchObject({ status: "sold", sold_to: 3, revenue: 22, price: 11, sold_channel: "sh-refill-9", sold_buyer: "sh-b9" });
    expect(t.sales).toEqual([
      { channel_id: "sh-refill-9", buyer_id: "sh-b9", price: 9 },
      { channel_id: "sh-refill-7", buyer_id: "sh-b7", price: 7 },
      { channel_id: "sh-refill-6", buyer_id: "sh-b6", price: 6 },
    ]);
    expect(posts(t).map((p: any) => `${p.channel_id}:${p.outcome}`).sort()).toEqual(
      ["sh-refill-10:rejected", "sh-refill-9:accepted", "sh-refill-8:rejected", "sh-refill-7:accepted", "sh-refill-6:accepted"].sort(),
    );
    expect(t.history.filter((e: any) => e.status === "sold").map((e: any) => e.detail).sort()).toEqual(["sh-refill-6", "sh-refill-7", "sh-refill-9"]);
  });

  it("leaves out channels that do not buy the campaign's kind of sale, and reads the shared price next to the exclusive one", async () => {
    const both = await buyer({ ping: bidding(20, 7) });
    const exclusiveOnly = await buyer({ ping: bidding(30) });
    const sharedOnly = await buyer({ ping: () => ({ json: { shared_bid: 5 } }) });
    const key = await g.setup({
      campaign: { id: "sh-kinds", auction: { mode: "shared", max_sells: 2 } },
      channels: [
        pingPost("sh-kinds-both", both, { buyer_id: "sh-kb1", buys: ["exclusive", "shared"] }),
        pingPost("sh-kinds-excl", exclusiveOnly, { buyer_id: "sh-kb2" }),
        pingPost("sh-kinds-shared", sharedOnly, { buyer_id: "sh-kb3", ...SHARED }),
      ],
    });
    const res = await g.lead(key, { campaign: "sh-kinds", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", sold_to: 2, price: 12 });
    expect(exclusiveOnly.pings).toHaveLength(0);
    expect(both.posts[0].body.price).toBe(7);
    const t = await trace(res.body.lead_id);
    expect(t.excluded).toEqual([{ channel_id: "sh-kinds-excl", reason: "sale_type", detail: "shared" }]);
    // The ping's attempt shows the price the auction used: the shared one.
    expect(t.attempts.find((a: any) => a.kind === "ping" && a.channel_id === "sh-kinds-both")).toMatchObject({ outcome: "bid", price: 7 });

    // Explain says the same without pinging anyone.
    const explained = await g.admin("POST", "/v1/campaigns/sh-kinds/explain", { data: consumer() });
    expect(explained.status).toBe(200);
    expect(explained.body.sale).toEqual({ mode: "shared", max_sells: 2 });
    const byId = Object.fromEntries(explained.body.channels.map((c: any) => [c.channel_id, c]));
    expect(byId["sh-kinds-excl"]).toMatchObject({ buys: ["exclusive"], eligible: false, reasons: [{ reason: "sale_type", detail: "shared" }] });
    expect(byId["sh-kinds-both"]).toMatchObject({ buys: ["exclusive", "shared"], eligible: true });
  });

  describe("best", () => {
    it("sells exclusively when the best exclusive bid beats the best shared bids together", async () => {
      const a = await buyer({ ping: bidding(30, 8) });
      const b = await buyer({ ping: bidding(12, 7) });
      const c = await buyer({ ping: bidding(5, 6) });
      const key = await g.setup({
        campaign: { id: "sh-best-excl", auction: { mode: "best", max_sells: 3 } },
        channels: [
          pingPost("sh-bx-a", a, { buyer_id: "sh-bx-a", buys: ["exclusive", "shared"] }),
          pingPost("sh-bx-b", b, { buyer_id: "sh-bx-b", buys: ["exclusive", "shared"] }),
          pingPost("sh-bx-c", c, { buyer_id: "sh-bx-c", buys: ["exclusive", "shared"] }),
        ],
      });
      const res = await g.lead(key, { campaign: "sh-best-excl", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 1, price: 30 });
      expect([a, b, c].map((x) => x.posts.length)).toEqual([1, 0, 0]);
      expect(a.posts[0].body.price).toBe(30);
      expect(a.posts[0].body).not.toHaveProperty("sale");
      const t = await trace(res.body.lead_id);
      expect(t.sales).toEqual([{ channel_id: "sh-bx-a", buyer_id: "sh-bx-a", price: 30 }]);
      expect(t.history).toContainEqual(
        expect.objectContaining({ status: "auctioning", reason: "sale_chosen", detail: "exclusive: exclusive 30.00 > shared 21.00 (8.00 + 7.00 + 6.00)" }),
      );
    });

    it("sells shared when the best shared bids together match or beat the best exclusive bid", async () => {
      const a = await buyer({ ping: bidding(21, 8) });
      const b = await buyer({ ping: bidding(12, 7) });
      const c = await buyer({ ping: () => ({ json: { shared_bid: 6 } }) });
      const d = await buyer({ ping: bidding(9) });
      const key = await g.setup({
        campaign: { id: "sh-best-shared", auction: { mode: "best", max_sells: 3 } },
        channels: [
          pingPost("sh-bs-a", a, { buyer_id: "sh-bs-a", buys: ["exclusive", "shared"] }),
          pingPost("sh-bs-b", b, { buyer_id: "sh-bs-b", buys: ["exclusive", "shared"] }),
          pingPost("sh-bs-c", c, { buyer_id: "sh-bs-c", buys: ["exclusive", "shared"] }),
          pingPost("sh-bs-d", d, { buyer_id: "sh-bs-d" }),
        ],
      });
      const res = await g.lead(key, { campaign: "sh-best-shared", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 3, price: 21 });
      expect([a, b, c, d].map((x) => x.posts.length)).toEqual([1, 1, 1, 0]);
      expect([a, b, c].map((x) => x.posts[0].body.price)).toEqual([8, 7, 6]);
      const t = await trace(res.body.lead_id);
      expect(t.history).toContainEqual(
        expect.objectContaining({ reason: "sale_chosen", detail: "shared: exclusive 21.00 <= shared 21.00 (8.00 + 7.00 + 6.00)" }),
      );
    });

    it("compares the bids as ranked: a bid adjustment weighs in the choice as in the order", async () => {
      // 30 exclusive × 0.5 ranks as 15, no more than the shared 8 + 7: shared, though 30 > 15 raw.
      const a = await buyer({ ping: bidding(30) });
      const b = await buyer({ ping: () => ({ json: { shared_bid: 8 } }) });
      const c = await buyer({ ping: () => ({ json: { shared_bid: 7 } }) });
      const key = await g.setup({
        campaign: { id: "sh-best-adj", auction: { mode: "best", max_sells: 2 } },
        channels: [
          pingPost("sh-ba-a", a, { buyer_id: "sh-ba-a", bid_adjustment: { multiplier: 0.5 } }),
          pingPost("sh-ba-b", b, { buyer_id: "sh-ba-b", buys: ["shared"] }),
          pingPost("sh-ba-c", c, { buyer_id: "sh-ba-c", buys: ["shared"] }),
        ],
      });
      const res = await g.lead(key, { campaign: "sh-best-adj", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 2, price: 15 });
      expect([a, b, c].map((x) => x.posts.length)).toEqual([0, 1, 1]);
      const t = await trace(res.body.lead_id);
      expect(t.history).toContainEqual(
        expect.objectContaining({ reason: "sale_chosen", detail: "shared: exclusive 15.00 <= shared 15.00 (8.00 + 7.00), as ranked (adjusted bids)" }),
      );
    });

    it("leaves fallback channels out of the shared sum: they get only what no other channel took", async () => {
      // With the fallback's 10 the shared bids would come to 25 > 20; without it, 15 < 20: exclusive.
      const a = await buyer({ ping: bidding(20) });
      const b = await buyer({ ping: () => ({ json: { shared_bid: 8 } }) });
      const c = await buyer({ ping: () => ({ json: { shared_bid: 7 } }) });
      const f = await buyer({ ping: () => ({ json: { shared_bid: 10 } }) });
      const key = await g.setup({
        campaign: { id: "sh-best-fb", auction: { mode: "best", max_sells: 3 } },
        channels: [
          pingPost("sh-bf-a", a, { buyer_id: "sh-bf-a" }),
          pingPost("sh-bf-b", b, { buyer_id: "sh-bf-b", buys: ["shared"] }),
          pingPost("sh-bf-c", c, { buyer_id: "sh-bf-c", buys: ["shared"] }),
          pingPost("sh-bf-f", f, { buyer_id: "sh-bf-f", buys: ["shared"], role: "fallback" }),
        ],
      });
      const res = await g.lead(key, { campaign: "sh-best-fb", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 1, price: 20 });
      expect([a, b, c, f].map((x) => x.posts.length)).toEqual([1, 0, 0, 0]);
      const t = await trace(res.body.lead_id);
      expect(t.history).toContainEqual(expect.objectContaining({ reason: "sale_chosen", detail: "exclusive: exclusive 20.00 > shared 15.00 (8.00 + 7.00)" }));
    });

    it("sells shared to the shared bids when every exclusive post is refused, and to the fallback only after them", async () => {
      const a = await buyer({ ping: bidding(20, 4), post: refusing });
      const d = await buyer({ ping: bidding(18), post: refusing });
      const b = await buyer({ ping: () => ({ json: { shared_bid: 8 } }) });
      const c = await buyer({ ping: () => ({ json: { shared_bid: 7 } }) });
      const f = await buyer({ ping: bidding(2) });
      const key = await g.setup({
        campaign: { id: "sh-best-then-shared", auction: { mode: "best", max_sells: 3 } },
        channels: [
          pingPost("sh-bt-a", a, { buyer_id: "sh-bt-a", buys: ["exclusive", "shared"] }),
          pingPost("sh-bt-d", d, { buyer_id: "sh-bt-d" }),
          pingPost("sh-bt-b", b, { buyer_id: "sh-bt-b", buys: ["shared"] }),
          pingPost("sh-bt-c", c, { buyer_id: "sh-bt-c", buys: ["shared"] }),
          pingPost("sh-bt-f", f, { buyer_id: "sh-bt-f", role: "fallback" }),
        ],
      });
      const res = await g.lead(key, { campaign: "sh-best-then-shared", data: consumer() });
      // a refused its exclusive post (20) and its shared one (4); b and c bought shared; the fallback was never offered it.
      expect(res.body).toMatchObject({ status: "sold", sold_to: 2, price: 15 });
      expect([a, d, b, c, f].map((x) => x.posts.length)).toEqual([2, 1, 1, 1, 0]);
      expect(a.posts.map((p) => [p.body.price, p.body.sale])).toEqual([
        [20, undefined],
        [4, "shared"],
      ]);
      // The shared post is another sale than the refused exclusive one: its own Idempotency-Key.
      expect(a.posts.map((p) => p.headers["idempotency-key"])).toEqual([`${res.body.lead_id}:sh-bt-a`, `${res.body.lead_id}:sh-bt-a:shared`]);
      const t = await trace(res.body.lead_id);
      expect(t.sales.map((s: any) => [s.channel_id, s.price])).toEqual([
        ["sh-bt-b", 8],
        ["sh-bt-c", 7],
      ]);
      expect(t.history).toContainEqual(
        expect.objectContaining({ reason: "sale_chosen", detail: "exclusive: exclusive 20.00 > shared 19.00 (8.00 + 7.00 + 4.00); no exclusive sale: offered shared" }),
      );
    });

    it("offers no shared sale after an exclusive post whose outcome is unknown", async () => {
      const a = await buyer({ ping: bidding(20), post: () => ({ status: 200, text: "not json" }) });
      const b = await buyer({ ping: () => ({ json: { shared_bid: 8 } }) });
      const key = await g.setup({
        campaign: { id: "sh-best-unknown", auction: { mode: "best", max_sells: 2 } },
        channels: [pingPost("sh-bu-a", a, { buyer_id: "sh-bu-a" }), pingPost("sh-bu-b", b, { buyer_id: "sh-bu-b", buys: ["shared"] })],
      });
      const res = await g.lead(key, { campaign: "sh-best-unknown", data: consumer() });
      expect(res.body).toMatchObject({ status: "error" });
      expect([a, b].map((x) => x.posts.length)).toEqual([1, 0]);
    });

    it("charges second price within each kind: the exclusive winner at least what beats the shared sale it displaced", async () => {
      // One ranking would charge a (30) against b's shared 10; its kind's next bid is d's 12; the shared sale it beat is 10 + 9.
      const a = await buyer({ ping: bidding(30) });
      const d = await buyer({ ping: bidding(12) });
      const b = await buyer({ ping: () => ({ json: { shared_bid: 10 } }) });
      const c = await buyer({ ping: () => ({ json: { shared_bid: 9 } }) });
      const key = await g.setup({
        campaign: { id: "sh-best-second", auction: { mode: "best", max_sells: 2, pricing: "second", floor: 1 } },
        channels: [
          pingPost("sh-b2-a", a, { buyer_id: "sh-b2-a" }),
          pingPost("sh-b2-d", d, { buyer_id: "sh-b2-d" }),
          pingPost("sh-b2-b", b, { buyer_id: "sh-b2-b", buys: ["shared"] }),
          pingPost("sh-b2-c", c, { buyer_id: "sh-b2-c", buys: ["shared"] }),
        ],
      });
      const res = await g.lead(key, { campaign: "sh-best-second", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 1, price: 19.01 });
      expect(a.posts[0].body.price).toBe(19.01);
      const t = await trace(res.body.lead_id);
      // In the trace's ranking: d charged against nothing of its kind below it (the floor), b against c, c the floor.
      expect(t.ranking.bids.map((x: any) => [x.channel_id, x.charge])).toEqual([
        ["sh-b2-a", 19.01],
        ["sh-b2-d", 1],
        ["sh-b2-b", 9.01],
        ["sh-b2-c", 1],
      ]);
    });
  });

  it("lists a shared lead under the buyer and the channel of any of its sales, not only the highest", async () => {
    const x = await buyer({ ping: bidding(9) });
    const y = await buyer({ ping: bidding(7) });
    const z = await buyer({ ping: bidding(5) });
    const key = await g.setup({
      campaign: { id: "sh-list", auction: { mode: "shared", max_sells: 2 } },
      channels: [
        pingPost("sh-list-x", x, { buyer_id: "sh-lx", ...SHARED }),
        pingPost("sh-list-y", y, { buyer_id: "sh-ly", ...SHARED }),
        pingPost("sh-list-z", z, { buyer_id: "sh-lz", ...SHARED }),
      ],
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await g.lead(key, { campaign: "sh-list", data: consumer() });
      expect(res.body).toMatchObject({ status: "sold", sold_to: 2 });
      ids.push(res.body.lead_id);
    }
    const newestFirst = [...ids].reverse();
    const list = async (query: string) => {
      const res = await g.admin("GET", `/v1/leads?campaign=sh-list&${query}`);
      expect(res.status).toBe(200);
      return res.body as { items: { id: string; sold_buyer: string }[]; next_cursor: string | null };
    };
    const idsOf = (page: { items: { id: string }[] }) => page.items.map((l) => l.id);
    // Every lead's highest sale is x's; y bought each too, z none.
    expect(idsOf(await list("buyer=sh-lx"))).toEqual(newestFirst);
    const byY = await list("buyer=sh-ly");
    expect(idsOf(byY)).toEqual(newestFirst);
    expect(byY.items.every((l) => l.sold_buyer === "sh-lx")).toBe(true);
    expect(idsOf(await list("channel=sh-list-y"))).toEqual(newestFirst);
    expect(idsOf(await list("buyer=sh-ly&channel=sh-list-x"))).toEqual(newestFirst);
    expect(idsOf(await list("buyer=sh-lz"))).toEqual([]);
    expect(idsOf(await list("channel=sh-list-y&status=unsold"))).toEqual([]);
    // Pages of a filter by a sale that is never the highest.
    const first = await list("buyer=sh-ly&limit=2");
    expect(idsOf(first)).toEqual(newestFirst.slice(0, 2));
    expect(first.next_cursor).toBeTruthy();
    const second = await list(`buyer=sh-ly&limit=2&cursor=${first.next_cursor}`);
    expect(idsOf(second)).toEqual(newestFirst.slice(2));
    expect(second.next_cursor).toBeNull();
  });

  it("fills a custom post template's {{sale}} with the kind of sale, as the native post's `sale`", async () => {
    const template = { post: { body: { LeadId: "{{lead_id}}", Kind: "{{sale}}", Price: "{{price}}" } } };
    const x = await buyer({ ping: bidding(9) });
    const y = await buyer({ ping: bidding(7) });
    const sharedKey = await g.setup({
      campaign: { id: "sh-tpl", auction: { mode: "shared", max_sells: 2 } },
      channels: [
        { ...pingPost("sh-tpl-x", x, { buyer_id: "sh-tx", ...SHARED }), post: { url: x.postUrl, ...template.post } },
        pingPost("sh-tpl-y", y, { buyer_id: "sh-ty", ...SHARED }),
      ],
    });
    const shared = await g.lead(sharedKey, { campaign: "sh-tpl", data: consumer() });
    expect(shared.body).toMatchObject({ status: "sold", sold_to: 2 });
    expect(x.posts[0].body).toEqual({ LeadId: shared.body.lead_id, Kind: "shared", Price: 9 });
    expect(y.posts[0].body.sale).toBe("shared");

    const z = await buyer({ ping: bidding(12) });
    const exclusiveKey = await g.setup({
      campaign: { id: "sh-tpl-excl" },
      channels: [{ ...pingPost("sh-tpl-z", z, { buyer_id: "sh-tz" }), post: { url: z.postUrl, ...template.post } }],
    });
    const exclusive = await g.lead(exclusiveKey, { campaign: "sh-tpl-excl", data: consumer() });
    expect(exclusive.body).toMatchObject({ status: "sold", sold_to: 1 });
    expect(z.posts[0].body).toEqual({ LeadId: exclusive.body.lead_id, Kind: "exclusive", Price: 12 });
  });

  it("holds a fixed payout as a floor on all the sales together, not on each", async () => {
    // Owed 10 once per lead: shared bids of 6, 5 and 4 each clear the campaign's floor (1), and together 15.
    const a = await buyer({ ping: bidding(6) });
    const b = await buyer({ ping: bidding(5) });
    const c = await buyer({ ping: bidding(4) });
    const channels = (tag: string) => [
      pingPost(`sh-fx${tag}-a`, a, { buyer_id: `sh-fx${tag}-a`, ...SHARED }),
      pingPost(`sh-fx${tag}-b`, b, { buyer_id: `sh-fx${tag}-b`, ...SHARED }),
      pingPost(`sh-fx${tag}-c`, c, { buyer_id: `sh-fx${tag}-c`, ...SHARED }),
    ];
    const key = await g.setup({
      campaign: { id: "sh-fixed", auction: { mode: "shared", max_sells: 3, floor: 1 }, payout: { type: "fixed", amount: 10 } },
      channels: channels("1"),
    });
    const sold = await g.lead(key, { campaign: "sh-fixed", data: consumer() });
    expect(sold.body).toMatchObject({ status: "sold", sold_to: 3, price: 10 });
    expect((await trace(sold.body.lead_id)).revenue).toBe(15);
    expect([a, b, c].map((x) => x.posts.length)).toEqual([1, 1, 1]);

    // Owed 20: the same bids together bring in less, so no sale is posted.
    const shortKey = await g.setup({
      campaign: { id: "sh-fixed-short", auction: { mode: "shared", max_sells: 3, floor: 1 }, payout: { type: "fixed", amount: 20 } },
      channels: channels("2"),
    });
    const unsold = await g.lead(shortKey, { campaign: "sh-fixed-short", data: consumer() });
    expect(unsold.body).toMatchObject({ status: "unsold" });
    expect([a, b, c].map((x) => x.posts.length)).toEqual([1, 1, 1]);
    const t = await trace(unsold.body.lead_id);
    expect(t).toMatchObject({ status: "unsold", reason: "no_bids" });
    expect(t.attempts.filter((x: any) => x.kind === "ping").map((x: any) => x.outcome)).toEqual(["bid", "bid", "bid"]);
  });

  it("reserves caps per sale: a sale uses its channel's cap, a rejected post gives its reservation back", async () => {
    // Each lead's sale at this channel is its own: with a cap of one lead a day, the first lead
    // uses it and the second finds it full. The rejecting channel's cap is given back each time.
    let reject = true;
    const capped = await buyer({ ping: bidding(9) });
    const fickle = await buyer({ ping: bidding(8), post: () => (reject ? { json: { accepted: false } } : { json: { accepted: true } }) });
    const steady = await buyer({ ping: bidding(5) });
    const key = await g.setup({
      campaign: { id: "sh-caps", auction: { mode: "shared", max_sells: 2 } },
      channels: [
        pingPost("sh-caps-capped", capped, { buyer_id: "sh-cb1", ...SHARED, caps: [{ period: "day", leads: 1 }] }),
        pingPost("sh-caps-fickle", fickle, { buyer_id: "sh-cb2", ...SHARED, caps: [{ period: "day", leads: 1 }] }),
        pingPost("sh-caps-steady", steady, { buyer_id: "sh-cb3", ...SHARED }),
      ],
    });
    const first = await g.lead(key, { campaign: "sh-caps", data: consumer() });
    expect(first.body).toMatchObject({ status: "sold", sold_to: 2, price: 14 });
    reject = false;
    const second = await g.lead(key, { campaign: "sh-caps", data: consumer() });
    // The capped channel is full; the one that rejected the first lead still has its one lead.
    expect(second.body).toMatchObject({ status: "sold", sold_to: 2, price: 13 });
    const t = await trace(second.body.lead_id);
    expect(t.sales.map((s: any) => s.channel_id)).toEqual(["sh-caps-fickle", "sh-caps-steady"]);
    expect(t.excluded).toContainEqual({ channel_id: "sh-caps-capped", reason: "cap_leads", detail: "day" });
    expect(capped.posts).toHaveLength(1);
  });

  it("sells to a buyer once: its other channel waits, and is left out once the buyer bought", async () => {
    const rejectAge = 41;
    const b1 = await buyer({ ping: bidding(9), post: (r) => (r.body.data.age === rejectAge ? { json: { accepted: false } } : { json: { accepted: true } }) });
    const b2 = await buyer({ ping: bidding(8) });
    const c = await buyer({ ping: bidding(7) });
    const d = await buyer({ ping: bidding(6) });
    const key = await g.setup({
      campaign: { id: "sh-once", auction: { mode: "shared", max_sells: 3 } },
      channels: [
        pingPost("sh-once-b1", b1, { buyer_id: "sh-ob", ...SHARED }),
        pingPost("sh-once-b2", b2, { buyer_id: "sh-ob", ...SHARED }),
        pingPost("sh-once-c", c, { buyer_id: "sh-oc", ...SHARED }),
        pingPost("sh-once-d", d, { buyer_id: "sh-od", ...SHARED }),
      ],
    });
    const bought = await g.lead(key, { campaign: "sh-once", data: consumer() });
    expect(bought.body).toMatchObject({ status: "sold", sold_to: 3, price: 22 });
    let t = await trace(bought.body.lead_id);
    expect(t.sales.map((s: any) => s.channel_id)).toEqual(["sh-once-b1", "sh-once-c", "sh-once-d"]);
    expect(t.excluded).toContainEqual({ channel_id: "sh-once-b2", reason: "buyer_bought", detail: null });
    expect(b2.posts).toHaveLength(0);

    // When the buyer's first channel rejects, its second gets the buyer's turn.
    const refused = await g.lead(key, { campaign: "sh-once", data: consumer({ age: rejectAge }) });
    expect(refused.body).toMatchObject({ status: "sold", sold_to: 3, price: 21 });
    t = await trace(refused.body.lead_id);
    expect(t.sales.map((s: any) => s.channel_id)).toEqual(["sh-once-b2", "sh-once-c", "sh-once-d"]);
    expect(new Set(t.sales.map((s: any) => s.buyer_id)).size).toBe(3);
  });

  it("replays a shared lead's answer for its Idempotency-Key, without a second auction", async () => {
    const buyers = await Promise.all([9, 8, 7].map((price) => buyer({ ping: bidding(price) })));
    const key = await g.setup({
      campaign: { id: "sh-idem", auction: { mode: "shared", max_sells: 3 } },
      channels: buyers.map((b, i) => pingPost(`sh-idem-${i}`, b, { buyer_id: `sh-ib${i}`, ...SHARED })),
    });
    const body = { campaign: "sh-idem", data: consumer() };
    const first = await g.lead(key, body, { "idempotency-key": "shared-once" });
    expect(first.body).toMatchObject({ status: "sold", sold_to: 3, price: 24 });
    const again = await g.lead(key, body, { "idempotency-key": "shared-once" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(buyers.map((b) => [b.pings.length, b.posts.length])).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  it("exports its shared settings as code and applies them back as no change", async () => {
    const token = g.gavel.adminToken;
    const exported = await fetch(`${g.url}/v1/config/export`, { headers: { authorization: `Bearer ${token}` } });
    const text = await exported.text();
    expect(text).toContain("max_sells: 3");
    expect(text).toContain("- shared");
    // A channel's body template is exported as written (stored as JSON text), and applies back unchanged.
    expect(text).toContain("Kind: \"{{sale}}\"");
    const applied = await fetch(`${g.url}/v1/config/apply`, { method: "POST", headers: { "content-type": "application/yaml", authorization: `Bearer ${token}` }, body: text });
    expect(applied.status).toBe(200);
    expect(await applied.json()).toMatchObject({ applied: false, changes: { created: [], changed: [], archived: [] } });
  });

  it("refuses a shared setting that does not add up, field by field", async () => {
    const fields = (await g.admin("GET", "/v1/campaigns/sh-idem")).body.fields;
    const campaign = (auction: Record<string, unknown>) => g.admin("POST", "/v1/campaigns", { id: "sh-bad", name: "Bad", fields, auction });
    for (const [auction, message] of [
      [{ mode: "exclusive", max_sells: 3 }, /max_sells must be 1/],
      [{ mode: "shared" }, /2 to 10/],
      [{ mode: "best", max_sells: 11 }, /10/],
      [{ mode: "split", max_sells: 2 }, /exclusive|shared|best/],
    ] as const) {
      const res = await campaign(auction);
      expect(res.status, JSON.stringify(auction)).toBe(422);
      const error = res.body.errors.find((e: any) => /auction\.(max_sells|mode)/.test(e.path));
      expect(error?.message, JSON.stringify(res.body.errors)).toMatch(message);
    }
    const channel = (extra: Record<string, unknown>) =>
      g.admin("POST", "/v1/channels", { id: "sh-bad-ch", buyer_id: "sh-ib0", campaign_id: "sh-idem", type: "direct_post", post: { url: "http://127.0.0.1:9/post" }, ...extra });
    const noSharedPrice = await channel({ buys: ["shared"] });
    expect(noSharedPrice.status).toBe(422);
    expect(noSharedPrice.body.errors).toContainEqual(expect.objectContaining({ path: "shared_fixed_price" }));
    const twice = await channel({ fixed_price: 5, buys: ["exclusive", "exclusive"] });
    expect(twice.status).toBe(422);
    expect(twice.body.errors).toContainEqual(expect.objectContaining({ path: "buys" }));
  });
});

describe("shared posting and the deadline", () => {
  // A world without a database or sockets, whose monotonic clock moves only when a buyer says so.
  function world(answers: ConstructorParameters<typeof FakeTransport>[0], settings: Record<string, unknown>, channels: Record<string, unknown>[]) {
    const clock = new ManualClock();
    const plan = campaignPlan({ timeout_ms: 2000, ping_timeout_ms: 800, post_timeout_ms: 1500, post_reserve_ms: 500, ...settings }, channels);
    const transport = new FakeTransport(answers);
    const ledger = new FakeLedger();
    const limiter = new ChannelLimiter();
    let ids = 0;
    const deps: AuctionDeps = { transport, caps: ledger, newId: () => `id-${++ids}`, random: () => 0.5, maxBodyBytes: 65_536 };
    const lead = auctionLead();
    const deadline = deadlineFor(plan, clock);
    return {
      clock,
      transport,
      ledger,
      async run() {
        const eligibility = selectChannels(plan.channels, lead, { usage: () => ({ leads: 0, spendCents: 0 }), slots: limiter });
        const result = await runAuction(deps, plan, lead, eligibility, deadline, null);
        for (const channel of plan.channels) expect(limiter.count(channel.id), `${channel.id}'s slots`).toBe(0);
        return result;
      },
    };
  }
  const channels = ["a", "b", "c", "d"].map((id) => ({ id, buys: ["shared"] }));

  /**
   * The first round's two posts answer together, once both are out, after the clock has moved past
   * the deadline (each post's timeout was cut before that).
   */
  function pastTheDeadline(w: () => ReturnType<typeof world>) {
    const both = latch();
    let arrived = 0;
    return (answer: ReturnType<typeof rejected>) => async () => {
      if (++arrived === 2) {
        w().clock.advance(2500);
        both.open();
      }
      await both.promise;
      return answer;
    };
  }

  it("stops refilling once the deadline has passed: the rejected slots stay empty", async () => {
    let w: ReturnType<typeof world> | undefined;
    const late = pastTheDeadline(() => w!);
    w = world(
      {
        [pingUrl("a")]: bid(9),
        [pingUrl("b")]: bid(8),
        [pingUrl("c")]: bid(7),
        [pingUrl("d")]: bid(6),
        [postUrl("a")]: late(accepted()),
        [postUrl("b")]: late(rejected()),
        [postUrl("c")]: accepted(),
        [postUrl("d")]: accepted(),
      },
      { mode: "shared", max_sells: 2 },
      channels,
    );
    const result = await w.run();
    expect(w.transport.posted().sort()).toEqual(["a", "b"]);
    expect(result).toMatchObject({ status: "sold", revenueCents: 900 });
    expect(result.status === "sold" && result.sales.map((s) => s.channel.id)).toEqual(["a"]);
    // The rejected post's reservation was given back; the sale keeps its own.
    expect(w.ledger.held()).toEqual(["a"]);
  });

  it("ends unsold with reason deadline when every post of the first round is refused after it", async () => {
    let w: ReturnType<typeof world> | undefined;
    const late = pastTheDeadline(() => w!);
    w = world(
      { [pingUrl("a")]: bid(9), [pingUrl("b")]: bid(8), [pingUrl("c")]: bid(7), [pingUrl("d")]: bid(6), [postUrl("a")]: late(rejected()), [postUrl("b")]: late(rejected()) },
      { mode: "shared", max_sells: 2 },
      channels,
    );
    const result = await w.run();
    expect(result).toMatchObject({ status: "unsold", reason: "deadline" });
    expect(w.transport.posted().sort()).toEqual(["a", "b"]);
    expect(w.ledger.held()).toEqual([]);
  });

  it("keeps an unknown outcome's reservation and slot, and sells no more than max_sells", async () => {
    const w = world(
      {
        [pingUrl("a")]: bid(9),
        [pingUrl("b")]: bid(8),
        [pingUrl("c")]: bid(7),
        [pingUrl("d")]: bid(6),
        [postUrl("a")]: { kind: "timeout", durationMs: 1500, sent: true },
        [postUrl("b")]: rejected(),
        [postUrl("c")]: accepted(),
        [postUrl("d")]: accepted(),
      },
      { mode: "shared", max_sells: 2 },
      channels,
    );
    const result = await w.run();
    // a's slot stays taken (its buyer may have the lead); b's reject is refilled by c; d never posts.
    expect(w.transport.posted().sort()).toEqual(["a", "b", "c"]);
    expect(result.status === "sold" && result.sales.map((s) => s.channel.id)).toEqual(["c"]);
    expect(w.ledger.held().sort()).toEqual(["a", "c"]);
  });
});

describe("reading a shared price", () => {
  const json = (body: unknown): BuyerResponse => ({ kind: "response", status: 200, contentType: "application/json", headers: {}, body: JSON.stringify(body), durationMs: 1 });
  const byRules = compilePingReader(NATIVE_SHARED_PING_RULES, null);
  const withoutExpiry = ({ ...outcome }: PingAnswer & { expiresAt?: unknown }) => (delete outcome.expiresAt, outcome);

  it("reads `shared_bid` next to `bid`, or alone, and never makes a price of what is not one", () => {
    expect(readPingResponse(json({ bid: 20, shared_bid: 7.5, ping_ref: "r" }))).toMatchObject({ outcome: "bid", priceCents: 2000, sharedCents: 750, pingRef: "r" });
    expect(readPingResponse(json({ shared_bid: 6 }))).toMatchObject({ outcome: "bid", priceCents: 600, sharedCents: 600, sharedOnly: true });
    expect(readPingResponse(json({ bid: 20, shared_bid: 0 }))).not.toHaveProperty("sharedCents");
    expect(readPingResponse(json({ bid: 20, shared_bid: "lots" }))).toMatchObject({ outcome: "invalid_response", reason: 'bad_bid: "lots"' });
    expect(readPingResponse(json({ bid: null, shared_bid: null }))).toMatchObject({ outcome: "no_bid" });
  });

  it("reads it alike through the native protocol and through the native rules of a shared channel", () => {
    const price = fc.oneof(fc.constantFrom(0, "0", "7.25", "abc", null, undefined, true), fc.integer({ min: -5, max: 5000 }).map((c) => c / 100));
    fc.assert(
      fc.property(price, price, (bid, shared) => {
        const response = json({ bid, shared_bid: shared, ping_ref: "r" });
        expect(withoutExpiry(byRules(response, 0).outcome)).toEqual(readPingResponse(response));
      }),
    );
  });

  it("prices a yes of a yes/no channel at its fixed prices, exclusive and shared", () => {
    const yes = compilePingReader({ accepted: "$.ok" }, 1000, 400);
    expect(yes(json({ ok: true }), 0).outcome).toMatchObject({ outcome: "bid", priceCents: 1000, sharedCents: 400, sharedOnly: false });
    const sharedOnly = compilePingReader({ accepted: "$.ok" }, null, 400);
    expect(sharedOnly(json({ ok: true }), 0).outcome).toMatchObject({ outcome: "bid", priceCents: 400, sharedCents: 400, sharedOnly: true });
  });
});
