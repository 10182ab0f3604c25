// Step 5: order the bids. Price descending (with a pricing plan, clearing.ts: its score, the
// adjusted bid, times the acceptance rate under rank_by expected), then priority ascending (1 before
// 2), then a weighted random draw among exact ties: a channel of weight 3 comes first three times as
// often as one of weight 1 (Efraimidis–Spirakis keys, u^(1/w)), so ties share traffic by weight.
export interface RankableBid {
  channelId: string;
  priceCents: number;
  priority: number;
  weight: number;
}

export function rankBids<B extends RankableBid>(bids: readonly B[], random: () => number = Math.random, score?: (bid: B) => number): B[] {
  const keyed = bids.map((bid) => ({ bid, draw: Math.pow(random(), 1 / bid.weight) }));
  if (score)
    // A pricing plan (clearing.ts) ranks by each bid's score (its adjusted bid, × its acceptance rate).
    keyed.sort(
      (a, b) =>
        score(b.bid) - score(a.bid) ||
        a.bid.priority - b.bid.priority ||
        b.draw - a.draw ||
        (a.bid.channelId < b.bid.channelId ? -1 : a.bid.channelId > b.bid.channelId ? 1 : 0),
    );
  else
    keyed.sort(
      (a, b) =>
        b.bid.priceCents - a.bid.priceCents ||
        a.bid.priority - b.bid.priority ||
        b.draw - a.draw ||
        (a.bid.channelId < b.bid.channelId ? -1 : a.bid.channelId > b.bid.channelId ? 1 : 0),
    );
  return keyed.map((k) => k.bid);
}
