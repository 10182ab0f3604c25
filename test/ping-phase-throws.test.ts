// A ping phase that throws where it never should (a buyer's answer no reader survives, a bug) still
// ends as values: the channel's ping is an invalid_response with a detail, the other channels' bids
// are ranked and posted, and every concurrency slot the lead was admitted with is given back, so a
// channel under max_concurrency never starves. No database and no socket (test/helpers/auction.ts).
import { describe, expect, it } from "vitest";
import { selectChannels, type EligibilityWorld } from "../src/auction/eligibility";
import { ChannelLimiter } from "../src/auction/limiter";
import { runAuction, type AuctionDeps } from "../src/auction/run";
import { accepted, auctionLead, bid, campaignPlan, deadlineFor, FakeLedger, FakeTransport, ManualClock, pingUrl, postUrl } from "./helpers/auction";

type Answers = ConstructorParameters<typeof FakeTransport>[0];

function auction(channels: Record<string, unknown>[], answers: Answers) {
  const clock = new ManualClock();
  const plan = campaignPlan({ timeout_ms: 2000, ping_timeout_ms: 800, post_timeout_ms: 1500, post_reserve_ms: 500 }, channels);
  const limiter = new ChannelLimiter();
  let ids = 0;
  const deps: AuctionDeps = { transport: new FakeTransport(answers), caps: new FakeLedger(), newId: () => `id-${++ids}`, random: () => 0.5, maxBodyBytes: 65_536 };
  const world: EligibilityWorld = { usage: () => ({ leads: 0, spendCents: 0 }), slots: limiter };
  const run = () => {
    const lead = auctionLead();
    return runAuction(deps, plan, lead, selectChannels(plan.channels, lead, world), deadlineFor(plan, clock), null);
  };
  const slotsHeld = () => plan.channels.map((c) => limiter.count(c.id));
  return { plan, run, slotsHeld };
}

const stackOverflow = () => {
  throw new RangeError("Maximum call stack size exceeded");
};

describe("a ping phase that throws", () => {
  it("records the channel whose answer could not be read as invalid_response, sells to another, and gives back every slot", async () => {
    const a = auction(
      [
        { id: "deep", max_concurrency: 1 },
        { id: "good", max_concurrency: 1 },
      ],
      { [pingUrl("deep")]: bid(9), [pingUrl("good")]: bid(5), [postUrl("good")]: accepted() },
    );
    // The deep channel's answer reader throws, as reading a 20,000-deep answer once did.
    a.plan.channels[0].io.readPing = stackOverflow;
    for (const round of [1, 2]) {
      const result = await a.run();
      expect(result, `lead ${round}`).toMatchObject({ status: "sold", channel: { id: "good" }, revenueCents: 500 });
      const deep = result.attempts.find((x) => x.channelId === "deep");
      expect(deep).toMatchObject({ kind: "ping", outcome: "invalid_response", priceCents: null, httpStatus: 200 });
      expect(deep?.reason).toBe("unparseable_body: could not be read: Maximum call stack size exceeded");
      // max_concurrency 1: the next lead is admitted to both channels again.
      expect(a.slotsHeld()).toEqual([0, 0]);
    }
  });

  it("records a transport that throws as that channel's invalid_response", async () => {
    const a = auction([{ id: "broken" }, { id: "good" }], { [pingUrl("broken")]: stackOverflow, [pingUrl("good")]: bid(5), [postUrl("good")]: accepted() });
    const result = await a.run();
    expect(result).toMatchObject({ status: "sold", channel: { id: "good" } });
    expect(result.attempts.find((x) => x.channelId === "broken")).toMatchObject({ outcome: "invalid_response", httpStatus: null });
    expect(a.slotsHeld()).toEqual([0, 0]);
  });

  it("gives back every admitted slot, direct posts' included, when the ping phase throws before any ping", async () => {
    const a = auction(
      [
        { id: "pinged", max_concurrency: 1 },
        { id: "direct", type: "direct_post", fixed_price: 4, max_concurrency: 1 },
      ],
      { [pingUrl("pinged")]: bid(5), [postUrl("pinged")]: accepted(), [postUrl("direct")]: accepted() },
    );
    a.plan.fields = { ...a.plan.fields, publicData: stackOverflow };
    await expect(a.run()).rejects.toThrow(RangeError);
    expect(a.slotsHeld()).toEqual([0, 0]);
  });
});
