// SPEC.md steps 3–6 on their own, with no database and no socket: channel selection and its one
// concurrency admission, the ping phase under its deadline, floors, ranking, and posting with
// fallback, where each cap reservation is paired with its release. A fake transport answers for
// the buyers, a fake ledger holds the reservations, and the monotonic clock moves only when told.
import { describe, expect, it } from "vitest";
import { leadAnswer, replayedAnswer } from "../src/auction/answer";
import { capRules, firstFull, paceRule } from "../src/auction/caps";
import { explainChannels, selectChannels, type EligibilityWorld } from "../src/auction/eligibility";
import { ChannelLimiter } from "../src/auction/limiter";
import { runAuction, type AuctionDeps, type AuctionResult } from "../src/auction/run";
import type { BuyerResponse } from "../src/channels/transport";
import { latch } from "./helpers/latch";
import {
  accepted,
  answer,
  auctionLead,
  bid,
  campaignPlan,
  deadlineFor,
  FakeLedger,
  FakeTransport,
  ManualClock,
  noBid,
  pingUrl,
  postUrl,
  RECEIVED_AT,
  rejected,
  timedOut,
} from "./helpers/auction";

type Answers = ConstructorParameters<typeof FakeTransport>[0];

/** One auction's world: the campaign, its buyers' answers, the ledger, the slots and the clock. */
function auction(settings: Record<string, unknown>, channels: Record<string, unknown>[], answers: Answers) {
  const clock = new ManualClock();
  const plan = campaignPlan({ timeout_ms: 2000, ping_timeout_ms: 800, post_timeout_ms: 1500, post_reserve_ms: 500, ...settings }, channels);
  const transport = new FakeTransport(answers);
  const ledger = new FakeLedger();
  const limiter = new ChannelLimiter();
  let ids = 0;
  const deps: AuctionDeps = { transport, caps: ledger, newId: () => `id-${++ids}`, random: () => 0.5, maxBodyBytes: 65_536 };
  const world: EligibilityWorld = { usage: () => ({ leads: 0, spendCents: 0 }), slots: limiter };
  const lead = auctionLead();
  const deadline = deadlineFor(plan, clock);
  return {
    plan,
    clock,
    transport,
    ledger,
    limiter,
    lead,
    deadline,
    /** Steps 3–6, as sellLead runs them. */
    async run(payoutFixedCents: number | null = null): Promise<AuctionResult> {
      const eligibility = selectChannels(plan.channels, lead, world);
      const result = await runAuction(deps, plan, lead, eligibility, deadline, payoutFixedCents);
      // Whatever the end, the lead gives back every concurrency slot it took.
      for (const channel of plan.channels) expect(limiter.count(channel.id), `${channel.id}'s slots`).toBe(0);
      return result;
    },
  };
}

const attempts = (result: AuctionResult, kind: "ping" | "post") =>
  result.attempts.filter((a) => a.kind === kind).map((a) => ({ channel: a.channelId, outcome: a.outcome, price: a.priceCents, reason: a.reason }));

describe("selecting channels: concurrency is admitted once", () => {
  const plan = campaignPlan({}, [
    { id: "one-at-a-time", max_concurrency: 1 },
    { id: "unlimited" },
    { id: "fragile", circuit_breaker: { failures: 1, cooldown_ms: 60_000 } },
  ]);
  const [limited, unlimited, fragile] = plan.channels;

  it("selects a channel holding one of its slots, and leaves one at its limit out as throttled without taking one", () => {
    const limiter = new ChannelLimiter();
    const world: EligibilityWorld = { usage: () => ({ leads: 0, spendCents: 0 }), slots: limiter };
    const first = selectChannels([limited, unlimited], auctionLead({ id: "first" }), world);
    expect(first.eligible.map((c) => c.id)).toEqual(["one-at-a-time", "unlimited"]);
    expect(first.slots).toBe(limiter);
    expect([limiter.count("one-at-a-time"), limiter.count("unlimited")]).toEqual([1, 1]);

    const second = selectChannels([limited, unlimited], auctionLead({ id: "second" }), world);
    expect(second.excluded).toEqual([{ channel_id: "one-at-a-time", reason: "throttled" }]);
    expect([limiter.count("one-at-a-time"), limiter.count("unlimited")]).toEqual([1, 2]);
  });

  it("gives the slot back when a later rule leaves the channel out", () => {
    const limiter = new ChannelLimiter();
    fragile.health.report("error", RECEIVED_AT, "earlier-lead");
    const selected = selectChannels([fragile], auctionLead(), { usage: () => ({ leads: 0, spendCents: 0 }), slots: limiter });
    expect(selected.excluded).toEqual([{ channel_id: "fragile", reason: "circuit_open" }]);
    expect(limiter.count("fragile")).toBe(0);
  });

  it("explains without taking a slot", () => {
    const limiter = new ChannelLimiter();
    limiter.tryAcquire("one-at-a-time", 1);
    const explained = explainChannels([limited, unlimited], auctionLead(), { usage: () => ({ leads: 0, spendCents: 0 }), slots: limiter });
    expect(explained.map((e) => [e.channel.id, e.reasons])).toEqual([
      ["one-at-a-time", ["throttled"]],
      ["unlimited", []],
    ]);
    expect([limiter.count("one-at-a-time"), limiter.count("unlimited")]).toEqual([1, 0]);
  });
});

describe("the ping phase", () => {
  it("pings every channel at once, each within its own timeout cut to the end of the ping phase", async () => {
    // The second ping must go out while the first is still unanswered.
    const bothSent = latch();
    const a = auction({}, [{ id: "quick", ping: { timeout_ms: 300 } }, { id: "slow" }], {
      [pingUrl("quick")]: async () => (await bothSent.promise, bid(5)),
      [pingUrl("slow")]: () => (bothSent.open(), noBid()),
      [postUrl("quick")]: accepted(),
    });
    // The lead waited 1.2 s for its auction slot: of its 2 s, 0.3 s are left before the post reserve.
    a.clock.advance(1200);
    const result = await a.run();
    expect(a.transport.requests.slice(0, 2).map((r) => [r.url, r.timeoutMs])).toEqual([
      [pingUrl("quick"), 300],
      [pingUrl("slow"), 300],
    ]);
    expect(result).toMatchObject({ status: "sold", revenueCents: 500 });
  });

  it("turns a bid under the floor into a below_floor no-bid, with the price bid and the floor in its reason", async () => {
    const a = auction({ floor: 3 }, [{ id: "low" }, { id: "picky", min_bid: 5 }, { id: "fair" }], {
      [pingUrl("low")]: bid(1.5),
      [pingUrl("picky")]: bid(4),
      [pingUrl("fair")]: bid(6),
      [postUrl("fair")]: accepted(),
    });
    const result = await a.run();
    expect(attempts(result, "ping")).toEqual([
      { channel: "low", outcome: "below_floor", price: 150, reason: "below_floor: bid 1.50 < floor 3.00" },
      { channel: "picky", outcome: "below_floor", price: 400, reason: "below_floor: bid 4.00 < floor 5.00" },
      { channel: "fair", outcome: "bid", price: 600, reason: null },
    ]);
    expect(a.transport.posted()).toEqual(["fair"]);
  });

  it("holds every bid to a fixed payout owed to the supplier", async () => {
    const a = auction({}, [{ id: "six" }], { [pingUrl("six")]: bid(6) });
    const result = await a.run(700);
    expect(attempts(result, "ping")).toEqual([{ channel: "six", outcome: "below_floor", price: 600, reason: "below_floor: bid 6.00 < floor 7.00" }]);
    expect(result).toMatchObject({ status: "unsold", reason: "no_bids" });
  });

  it("lets a direct_post channel join at its fixed price, without a ping, only when that clears its floor", async () => {
    const a = auction({ floor: 3 }, [{ id: "cheap", type: "direct_post", fixed_price: 2 }, { id: "fixed", type: "direct_post", fixed_price: 4 }], {
      [postUrl("fixed")]: accepted(),
    });
    const result = await a.run();
    expect(result.excluded).toEqual([{ channel_id: "cheap", reason: "below_floor" }]);
    expect(a.transport.requests.map((r) => r.url)).toEqual([postUrl("fixed")]);
    expect(result).toMatchObject({ status: "sold", revenueCents: 400, channel: { id: "fixed" } });
  });

  it("ends unsold with no_eligible_channels or no_bids", async () => {
    const none = auction({}, [{ id: "paused", status: "paused" }], {});
    expect(await none.run()).toMatchObject({ status: "unsold", reason: "no_eligible_channels", excluded: [{ channel_id: "paused", reason: "paused" }] });
    const silent = auction({}, [{ id: "silent" }], { [pingUrl("silent")]: noBid() });
    expect(await silent.run()).toMatchObject({ status: "unsold", reason: "no_bids", attempts: [{ kind: "ping", outcome: "no_bid", reason: "no_bid" }] });
    expect(silent.ledger.reserved).toEqual([]);
  });
});

describe("posting with fallback", () => {
  /** Channels that bid the given prices (in dollars), with extra settings each. */
  const bidders = (prices: Record<string, number>, extra: Record<string, Record<string, unknown>> = {}) =>
    Object.keys(prices).map((id) => ({ id, ...extra[id] }));
  const pings = (prices: Record<string, number>): Answers => Object.fromEntries(Object.entries(prices).map(([id, p]) => [pingUrl(id), bid(p)]));

  it("posts in rank order: price first, then priority", async () => {
    const prices = { low: 5, "eight-second": 8, "twelve": 12, "eight-first": 8 };
    const a = auction({}, bidders(prices, { "eight-second": { priority: 2 }, "eight-first": { priority: 1 } }), {
      ...pings(prices),
      ...Object.fromEntries(Object.keys(prices).map((id) => [postUrl(id), rejected()])),
    });
    const result = await a.run();
    expect(a.transport.posted()).toEqual(["twelve", "eight-first", "eight-second", "low"]);
    expect(result).toMatchObject({ status: "unsold", reason: "all_rejected" });
    // Every reservation was paired with its release.
    expect(a.ledger.held()).toEqual([]);
    expect(a.ledger.released).toEqual(["twelve", "eight-first", "eight-second", "low"]);
  });

  it("falls back to the next bid when the winner rejects, giving the rejected post's reservation back", async () => {
    const a = auction({}, bidders({ high: 12, low: 8 }), { ...pings({ high: 12, low: 8 }), [postUrl("high")]: rejected("dup"), [postUrl("low")]: accepted() });
    const result = await a.run();
    expect(result).toMatchObject({ status: "sold", channel: { id: "low" }, revenueCents: 800 });
    expect(attempts(result, "post")).toEqual([
      { channel: "high", outcome: "rejected", price: 1200, reason: "rejected: dup" },
      { channel: "low", outcome: "accepted", price: 800, reason: null },
    ]);
    expect(a.ledger.released).toEqual(["high"]);
    expect(a.ledger.held()).toEqual(["low"]);
  });

  it("keeps the reservation of a post whose outcome is unknown, and stops there by default", async () => {
    const a = auction({}, bidders({ high: 12, low: 8 }), { ...pings({ high: 12, low: 8 }), [postUrl("high")]: timedOut(1500), [postUrl("low")]: accepted() });
    const result = await a.run();
    expect(result).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    expect(a.transport.posted()).toEqual(["high"]);
    expect(a.ledger.held()).toEqual(["high"]);
  });

  it("goes on to the next bid after an unknown outcome with on_post_timeout next, still keeping its reservation", async () => {
    const a = auction({ on_post_timeout: "next" }, bidders({ high: 12, low: 8 }), {
      ...pings({ high: 12, low: 8 }),
      [postUrl("high")]: timedOut(300),
      [postUrl("low")]: accepted(),
    });
    const result = await a.run();
    expect(result).toMatchObject({ status: "sold", channel: { id: "low" } });
    expect(a.ledger.held()).toEqual(["high", "low"]);
  });

  it("ends error post_outcome_unknown, not unsold, when no one buys after an unknown outcome with on_post_timeout next", async () => {
    const a = auction({ on_post_timeout: "next" }, bidders({ high: 12, low: 8 }), {
      ...pings({ high: 12, low: 8 }),
      [postUrl("high")]: timedOut(300),
      [postUrl("low")]: rejected(),
    });
    const result = await a.run();
    // The first buyer may have the lead: it is to be reconciled (its reservation kept), never unsold.
    expect(result).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    expect(a.transport.posted()).toEqual(["high", "low"]);
    expect(a.ledger.held()).toEqual(["high"]);
  });

  it("settles a sale below the bid: the unspent part of the reservation is given back", async () => {
    const a = auction({}, bidders({ high: 12 }), { ...pings({ high: 12 }), [postUrl("high")]: accepted({ price: 10, redirect_url: "https://buyer.test/thanks" }) });
    const result = await a.run();
    expect(result).toMatchObject({ status: "sold", revenueCents: 1000, redirectUrl: "https://buyer.test/thanks" });
    expect(a.ledger.settled).toEqual([{ channelId: "high", reservedCents: 1200, soldCents: 1000 }]);
  });

  it("skips a bid whose cap has no room, with the cap's reason, and posts the next", async () => {
    const a = auction({}, bidders({ high: 12, low: 8 }), { ...pings({ high: 12, low: 8 }), [postUrl("low")]: accepted() });
    a.ledger.refuse.set("high", "cap_leads: day");
    const result = await a.run();
    expect(result).toMatchObject({ status: "sold", channel: { id: "low" } });
    expect(result.excluded).toEqual([{ channel_id: "high", reason: "cap_leads: day" }]);
    expect(a.transport.posted()).toEqual(["low"]);
  });

  it("skips a bid that expired before its turn, recording the skip, and posts the next", async () => {
    const expiresAt = new Date(RECEIVED_AT + 500).toISOString();
    const a = auction({}, [{ id: "brief", response: { ping: { bid: "$.bid", expires_at: "$.until" } } }, { id: "steady" }], {
      [pingUrl("brief")]: answer({ bid: 12, until: expiresAt }),
      // The slower ping takes a second: by the post, the first bid is past its expiry.
      [pingUrl("steady")]: () => (a.clock.advance(1000), bid(8)),
      [postUrl("steady")]: accepted(),
    });
    const result = await a.run();
    expect(attempts(result, "post")).toEqual([
      { channel: "brief", outcome: "skipped", price: 1200, reason: "bid_expired" },
      { channel: "steady", outcome: "accepted", price: 800, reason: null },
    ]);
    expect(a.ledger.reserved.map((r) => r.channelId)).toEqual(["steady"]);
  });

  it("starts no post once the deadline has passed", async () => {
    const a = auction({}, bidders({ late: 12 }), { [pingUrl("late")]: () => (a.clock.advance(2000), bid(12)) });
    const result = await a.run();
    expect(result).toMatchObject({ status: "unsold", reason: "deadline" });
    expect(a.transport.posted()).toEqual([]);
    expect(a.ledger.reserved).toEqual([]);
  });

  it("gives a reservation back when the deadline passes while it is made", async () => {
    const a = auction({}, bidders({ high: 12 }), pings({ high: 12 }));
    a.ledger.onReserve = () => a.clock.advance(2500);
    const result = await a.run();
    expect(result).toMatchObject({ status: "unsold", reason: "deadline" });
    expect(a.transport.posted()).toEqual([]);
    expect(a.ledger.released).toEqual(["high"]);
  });

  it("cuts a post's timeout to the time left before the deadline", async () => {
    const a = auction({}, bidders({ high: 12 }), {
      [pingUrl("high")]: () => (a.clock.advance(1400), bid(12)),
      [postUrl("high")]: accepted(),
    });
    await a.run();
    expect(a.transport.requests.at(-1)?.timeoutMs).toBe(600);
  });

  it("ends in error without posting when the database cannot reserve the caps", async () => {
    const a = auction({}, bidders({ high: 12, low: 8 }), pings({ high: 12, low: 8 }));
    a.ledger.down.reserve = true;
    const result = await a.run();
    expect(result).toMatchObject({ status: "error", reason: "database_unavailable" });
    expect(a.transport.posted()).toEqual([]);
  });

  it("ends in error when the database goes away mid-post: a rejected post's reservation stays counted, and no one else is offered the lead", async () => {
    const a = auction({}, bidders({ high: 12, low: 8 }), { ...pings({ high: 12, low: 8 }), [postUrl("high")]: rejected(), [postUrl("low")]: accepted() });
    a.ledger.down.release = true;
    const result = await a.run();
    expect(result).toMatchObject({ status: "error", reason: "database_unavailable" });
    expect(a.transport.posted()).toEqual(["high"]);
    expect(a.ledger.held()).toEqual(["high"]);
  });

  it("keeps post_outcome_unknown as the reason when the database goes away after a post whose outcome is unknown", async () => {
    const a = auction({ on_post_timeout: "next" }, bidders({ high: 12, low: 8 }), {
      ...pings({ high: 12, low: 8 }),
      [postUrl("high")]: timedOut(200),
      [postUrl("low")]: accepted(),
    });
    a.ledger.onReserve = (channelId) => {
      if (channelId === "low") a.ledger.down.reserve = true;
    };
    const result = await a.run();
    expect(result).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
    expect(a.transport.posted()).toEqual(["high"]);
  });

  it("gives each channel's slot back once its turn is over, before the next post", async () => {
    const slotsAtPost: Record<string, number> = {};
    const a = auction({}, bidders({ high: 12, low: 8 }), {
      ...pings({ high: 12, low: 8 }),
      [postUrl("high")]: rejected(),
      [postUrl("low")]: (): BuyerResponse => {
        slotsAtPost.high = a.limiter.count("high");
        slotsAtPost.low = a.limiter.count("low");
        return accepted();
      },
    });
    await a.run();
    expect(slotsAtPost).toEqual({ high: 0, low: 1 });
  });
});

describe("reasons as the auction writes them: a code, or `code: detail`", () => {
  it("names the first filter that fails, and a full cap by its owner, its kind and its period", () => {
    const plan = campaignPlan({}, [
      { id: "oklahoma", filters: [{ field: "state", op: "in", value: ["OK"] }, { field: "age", op: "gte", value: 40 }] },
      { id: "on-hold", status: "paused" },
    ]);
    expect(selectChannels(plan.channels, auctionLead()).excluded).toEqual([
      { channel_id: "oklahoma", reason: "filtered: state" },
      { channel_id: "on-hold", reason: "paused" },
    ]);
    const used = () => ({ leads: 1, spendCents: 4000 });
    expect(firstFull(capRules("channel", "c", [{ period: "day", leads: 1 }], "UTC", "cap"), RECEIVED_AT, 100, used)).toBe("cap_leads: day");
    expect(firstFull(capRules("buyer", "b", [{ period: "month", spend: 40.5 }], "UTC", "buyer_cap"), RECEIVED_AT, 100, used)).toBe("buyer_cap_spend: month");
    expect(firstFull([paceRule("c", 1)], RECEIVED_AT, 100, used)).toBe("paced");
  });

  it("answers a lead rejected without an auction with its reason's code and detail, and reads an answer stored before the codes the same way", () => {
    expect(leadAnswer("l1", "rejected", 0, 0, { reason: "suppressed", detail: null })).toEqual({
      lead_id: "l1",
      status: "rejected",
      price: 0,
      sold_to: 0,
      trace_url: "/v1/leads/l1",
      reason: "suppressed",
      detail: null,
    });
    const stored = { lead_id: "l1", status: "rejected", price: 0, sold_to: 0, trace_url: "/v1/leads/l1", reason: "suppressed" };
    expect(replayedAnswer(stored)).toEqual({ ...stored, detail: null });
    const sold = { lead_id: "l2", status: "sold", price: 7, sold_to: 1, trace_url: "/v1/leads/l2" };
    expect(replayedAnswer(sold)).toBe(sold);
  });
});
