// The supplier's payout rule (src/auction/payout.ts): whose rule applies, what a sale pays, and the
// floor a fixed payout puts under the auction.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { payoutCents, payoutFloorCents, payoutRuleFor } from "../src/auction/payout";

const campaign = { payout: { type: "revshare", percent: 70 } as const };

describe("supplier payout", () => {
  it("pays by the supplier's own rule when it has one, else by the campaign's", () => {
    expect(payoutRuleFor({ payout: { type: "fixed", amount: 5 } }, campaign)).toEqual({ type: "fixed", amount: 5 });
    expect(payoutRuleFor({ payout: undefined }, campaign)).toEqual(campaign.payout);
    expect(payoutRuleFor(undefined, campaign)).toEqual(campaign.payout);
  });

  it("pays a fixed amount whatever the sale brought in, and owes it as the floor", () => {
    expect(payoutCents({ type: "fixed", amount: 12.34 }, 999)).toBe(1234);
    expect(payoutFloorCents({ type: "fixed", amount: 12.34 })).toBe(1234);
  });

  it("pays a revenue share rounded down to the cent, with no floor of its own", () => {
    expect(payoutCents({ type: "revshare", percent: 70 }, 1001)).toBe(700);
    expect(payoutCents({ type: "revshare", percent: 100 }, 1001)).toBe(1001);
    expect(payoutFloorCents({ type: "revshare", percent: 70 })).toBeNull();
  });

  it("never pays a revenue share above the share", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000_000 }), fc.integer({ min: 0, max: 100 }), (revenue, percent) => {
        const paid = payoutCents({ type: "revshare", percent }, revenue);
        expect(paid).toBeLessThanOrEqual((revenue * percent) / 100);
        expect(paid).toBeGreaterThan((revenue * percent) / 100 - 1);
      }),
    );
  });
});
