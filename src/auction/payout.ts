// The supplier's payout (SPEC.md `payout`): the rule a supplier is paid by on a campaign, what it is
// paid for a sale, and the floor a fixed payout puts under the auction (a sale never brings in less
// than the supplier is owed for it).
import { toCents } from "../money";
import type { Campaign, Payout, Supplier } from "../resources/schemas";

/** The supplier's own payout rule if it has one, else the campaign's. */
export const payoutRuleFor = (supplier: Pick<Supplier, "payout"> | undefined, campaign: Pick<Campaign, "payout">): Payout =>
  supplier?.payout ?? campaign.payout;

/** What a fixed payout owes for every sale, so the least a sale may bring in; null for a revenue share. */
export const payoutFloorCents = (rule: Payout): number | null => (rule.type === "fixed" ? toCents(rule.amount) : null);

/** What the supplier is paid for a sale that brought in `revenueCents`. */
export function payoutCents(rule: Payout, revenueCents: number): number {
  // Revenue share rounds down to the cent, so the payout never exceeds the share.
  return rule.type === "fixed" ? toCents(rule.amount) : Math.floor((revenueCents * rule.percent) / 100);
}
