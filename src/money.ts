// The bound on one lead's price, shared by the configuration (payouts, floors, fixed prices, minimum
// bids) and by the reading of buyers' bids. A lead's price and revenue are stored as integer cents in
// PostgreSQL `integer` columns (at most 2^31 − 1 cents, about $21 million), so a price past this is
// refused where it enters, never left to fail the lead's final write. No real lead comes near it.
export const MAX_LEAD_PRICE = 1_000_000;
