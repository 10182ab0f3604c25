// postShared's steps with a fake transport and ledger (as test/auction-steps.test.ts): an
// unexpected error in one post's step settles as that step's failure, and the posts still in
// flight are waited for, so that a buyer accepting one is recorded.
import { describe, expect, it } from "vitest";
import { Bid } from "../src/auction/bid";
import { ChannelLimiter } from "../src/auction/limiter";
import type { AuctionTrail } from "../src/auction/ping";
import { postShared } from "../src/auction/shared";
import type { BuyerResponse } from "../src/channels/transport";
import { accepted, auctionLead, campaignPlan, deadlineFor, FakeLedger, FakeTransport, ManualClock, postUrl } from "./helpers/auction";
import { latch } from "./helpers/latch";

describe("shared posting: a step that throws", () => {
  it("ends that step as a failure and waits for the posts in flight: the buyer that accepts is a sale", async () => {
    const clock = new ManualClock();
    const plan = campaignPlan({ mode: "shared", max_sells: 2, timeout_ms: 2000, ping_timeout_ms: 800, post_timeout_ms: 1500, post_reserve_ms: 500 }, [
      { id: "a", buys: ["shared"] },
      { id: "b", buys: ["shared"] },
      { id: "c", buys: ["shared"] },
    ]);
    const answered = latch<BuyerResponse>();
    const transport = new FakeTransport({ [postUrl("a")]: () => answered.promise, [postUrl("c")]: accepted() });
    const ledger = new FakeLedger();
    // b's reservation throws what is no database error, while a's post is in flight; a then accepts.
    ledger.onReserve = (channelId) => {
      if (channelId !== "b") return;
      setImmediate(() => answered.open(accepted()));
      throw new Error("a bug in the ledger");
    };
    const limiter = new ChannelLimiter();
    const ranking = plan.channels.map((channel, i) => {
      const b = new Bid(channel, 900 - i * 100, null, null, null);
      b.sale = "shared";
      limiter.tryAcquire(channel.id, channel.maxConcurrency);
      return b;
    });
    const trail: AuctionTrail = { attempts: [], excluded: [], buyerWaitMs: 0 };
    const lead = auctionLead();
    const end = await postShared({ transport, caps: ledger, maxBodyBytes: 65_536 }, plan.campaign, lead, ranking, 2, limiter, deadlineFor(plan, clock), trail);
    expect(end).toMatchObject({ status: "sold", sales: [{ bid: { channelId: "a" }, priceCents: 900 }] });
    // Nothing more was posted once the step failed (c's bid was not reached), and a's sale keeps its reservation.
    expect(transport.posted()).toEqual(["a"]);
    expect(ledger.held()).toEqual(["a"]);
    // The posted bids' slots are given back; c's, never reached, is its caller's to let go (run.ts).
    expect(["a", "b", "c"].map((id) => limiter.count(id))).toEqual([0, 0, 1]);
  });
});
