// The supplier's payout (SPEC.md `payout`): the rule a supplier is paid by on a campaign, what it is
// paid for a sale, and the floor a fixed payout puts under the auction (a sale never brings in less
// than the supplier is owed for it). Beside it, the campaign's `margin`, the broker's cut: the
// supplier is paid by its rule, but never more than the revenue minus the margin, and never less
// than nothing. A fixed payout's floor makes room for the margin too, so an auction with a fixed
// payout never sells at a price that would cut the supplier's amount.
import { toCents } from "../money";
import type { Campaign, Margin, Payout, Supplier } from "../resources/schemas";

/** The supplier's own payout rule if it has one, else the campaign's. */
export const payoutRuleFor = (supplier: Pick<Supplier, "payout"> | undefined, campaign: Pick<Campaign, "payout">): Payout =>
  supplier?.payout ?? campaign.payout;

/** The broker's cut of a sale that brought in `revenueCents`: a percent rounds up to the cent (the supplier's share rounds down). */
export function marginCents(margin: Margin | undefined, revenueCents: number): number {
  if (!margin) return 0;
  if (margin.type === "fixed") return toCents(margin.amount);
  // The epsilon keeps a product such as 1000 × 12.3 / 100 = 123.00000000000001 at 123.
  return Math.ceil((revenueCents * margin.percent) / 100 - 1e-9);
}

/**
 * The least a sale may bring in when the supplier is owed a fixed amount for it: the amount plus the
 * margin on that price; null for a revenue share (its payout follows the revenue).
 */
export function payoutFloorCents(rule: Payout, margin?: Margin): number | null {
  if (rule.type !== "fixed") return null;
  const owed = toCents(rule.amount);
  if (!margin) return owed;
  if (margin.type === "fixed") return owed + toCents(margin.amount);
  // The least revenue r with r − ⌈r × p / 100⌉ ≥ owed (which grows with r): from the exact quotient,
  // stepped past the rounding either way.
  let revenue = Math.ceil((owed * 100) / (100 - margin.percent) - 1e-9);
  while (revenue - marginCents(margin, revenue) < owed) revenue++;
  while (revenue > owed && revenue - 1 - marginCents(margin, revenue - 1) >= owed) revenue--;
  return revenue;
}

/** What the supplier is paid for a sale that brought in `revenueCents`, after the campaign's margin. */
export function payoutCents(rule: Payout, revenueCents: number, margin?: Margin): number {
  // Revenue share rounds down to the cent, so the payout never exceeds the share.
  const byRule = rule.type === "fixed" ? toCents(rule.amount) : Math.floor((revenueCents * rule.percent) / 100);
  if (!margin) return byRule;
  return Math.max(0, Math.min(byRule, revenueCents - marginCents(margin, revenueCents)));
}
