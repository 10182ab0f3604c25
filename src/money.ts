// Money. Amounts are decimals with at most two places in the API and in configuration, and integer
// cents everywhere inside Gavel (the database, the auction's arithmetic), so no sum ever rounds.
import { z } from "zod";

// The bound on one lead's price, shared by the configuration (payouts, floors, fixed prices, minimum
// bids) and by the reading of buyers' bids. A lead's price and revenue are stored as integer cents in
// PostgreSQL `integer` columns (at most 2^31 − 1 cents, about $21 million), so a price past this is
// refused where it enters, never left to fail the lead's final write. No real lead comes near it.
export const MAX_LEAD_PRICE = 1_000_000;

/** Money in the API: a decimal with at most 2 places. Stored as integer cents. */
export const money = z
  .number()
  .nonnegative()
  .refine((v) => Math.abs(v * 100 - Math.round(v * 100)) < 1e-6, "must have at most 2 decimal places");

/** The price of one lead (a payout, a floor, a fixed price, a minimum bid): at most MAX_LEAD_PRICE. */
export const leadPrice = money.max(MAX_LEAD_PRICE, `must be at most ${MAX_LEAD_PRICE}`);

export const toCents = (amount: number): number => Math.round(amount * 100);
export const fromCents = (cents: number): number => cents / 100;
