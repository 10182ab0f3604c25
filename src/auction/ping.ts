// Step 4 of SPEC.md: every selected channel makes its offer. `direct_post` channels join at their
// fixed price; `ping_post` channels are pinged in parallel, each bounded by its ping timeout cut to
// the end of the ping phase (deadline.ts). Every ping becomes an attempt with its outcome; a bid
// under the channel's floor is a recorded `below_floor` no-bid (floors.ts).
import type { BuyerTransport } from "../channels/transport";
import { waitedInGavelQueue } from "../channels/transport";
import type { AttemptRow } from "../db/leads";
import { Bid } from "./bid";
import type { CampaignPlan, ChannelPlan } from "./catalog";
import type { Deadline } from "./deadline";
import type { Exclusion } from "./eligibility";
import { noBid, type PingAnswer, type PingOutcome } from "../channels/native";
import { fromCents, toCents } from "../money";
import { reasonText, type ReasonText } from "../reasons";
import { atFloor, channelFloorCents, fixedPriceClears } from "./floors";
import type { ChannelSlots } from "./limiter";

export interface AuctionLead {
  id: string;
  supplierId: string;
  test: boolean;
  data: Record<string, unknown>;
  /** Wall-clock epoch ms at intake. */
  receivedAt: number;
  /**
   * An inbound ping's `contact_hashes`: by field name, the SHA-256 of a pii field the supplier kept
   * back. A ping template's `{{data.<field> | sha256}}` sends it for a field with `ping_hash`.
   */
  contactHashes?: Record<string, string> | null;
}

export interface PingDeps {
  transport: BuyerTransport;
  newId(): string;
  maxBodyBytes: number;
}

/** What an auction leaves in the lead's trace: every attempt and every channel left out, and the time spent on buyers. */
export interface AuctionTrail {
  attempts: AttemptRow[];
  excluded: Exclusion[];
  /** Milliseconds spent waiting on buyers (ping phase plus posts); the rest of a lead's time is Gavel's. */
  buyerWaitMs: number;
}

/**
 * The offers of the selected channels, into `bids`: direct posts at their fixed price (one under its
 * floor is left out, `below_floor`), then every ping's bid. A channel without a bid gives its
 * concurrency slot back at once; one with a bid keeps it for its post.
 */
export async function collectBids(
  deps: PingDeps,
  plan: CampaignPlan,
  lead: AuctionLead,
  eligible: readonly ChannelPlan[],
  slots: ChannelSlots,
  floor: number,
  deadline: Deadline,
  trail: AuctionTrail,
  bids: Bid[],
): Promise<void> {
  // Every admitted channel's slot is given back here or held by a bid in `bids` (run.ts lets those
  // go): on an unexpected throw too, or the channel would stay at its max_concurrency for good.
  const freed = new Set<string>();
  const tracked: ChannelSlots = {
    tryAcquire: (channelId, limit) => slots.tryAcquire(channelId, limit),
    release: (channelId) => {
      freed.add(channelId);
      slots.release(channelId);
    },
    count: (channelId) => slots.count(channelId),
  };
  try {
    await offerAll(deps, plan, lead, eligible, tracked, floor, deadline, trail, bids);
  } catch (error) {
    const holding = new Set(bids.map((bid) => bid.channel.id));
    for (const channel of eligible) if (!freed.has(channel.id) && !holding.has(channel.id)) slots.release(channel.id);
    throw error;
  }
}

async function offerAll(
  deps: PingDeps,
  plan: CampaignPlan,
  lead: AuctionLead,
  eligible: readonly ChannelPlan[],
  slots: ChannelSlots,
  floor: number,
  deadline: Deadline,
  trail: AuctionTrail,
  bids: Bid[],
): Promise<void> {
  const toPing: ChannelPlan[] = [];
  const mode = plan.campaign.auction.mode;
  const sharedFloor = sharedFloorCents(plan, floor);
  for (const channel of eligible) {
    if (channel.config.type === "ping_post") toPing.push(channel);
    else if (mode !== "exclusive") {
      const offered = saleBids(channel, mode, channel.fixedPriceCents, channel.sharedFixedPriceCents, floor, null, null, null, sharedFloor);
      if (offered.length) bids.push(...offered);
      else {
        slots.release(channel.id);
        trail.excluded.push({ channel_id: channel.id, reason: "below_floor" });
      }
    } else if (fixedPriceClears(channel, floor)) {
      const bid = new Bid(channel, channel.fixedPriceCents ?? 0, null, null, null);
      bid.sharedTwin = sharedTwinOf(channel, channel.sharedFixedPriceCents, floor, bid);
      bids.push(bid);
    }
    else {
      slots.release(channel.id);
      trail.excluded.push({ channel_id: channel.id, reason: "below_floor" });
    }
  }
  if (toPing.length === 0) return;
  const started = deadline.now();
  const answers = await pingChannels(deps, plan, lead, toPing, slots, floor, deadline, trail.attempts);
  trail.buyerWaitMs += deadline.now() - started;
  for (const offered of answers) if (offered) bids.push(...(Array.isArray(offered) ? offered : [offered]));
}

/**
 * The floor of one shared sale: the campaign's floor. A fixed payout owed to the supplier (which
 * raises `floor`, the lead's) is owed once per lead, so it is a floor on all the sales together,
 * checked on the bids before a shared sale is posted (run.ts), not on each of them.
 */
export const sharedFloorCents = (plan: CampaignPlan, floor: number): number => Math.min(floor, toCents(plan.campaign.auction.floor));

/**
 * A channel's bids in a shared or `best` campaign, from its prices (a ping's, or a direct post's
 * fixed ones): a shared bid at its shared price when it buys shared sales, and in a `best` campaign
 * an exclusive bid at its exclusive price when it buys those; each only if it clears the channel's
 * floor (a shared bid, the shared sale's: `sharedFloor`). A channel that buys only shared sales may
 * give its shared price as its plain bid. Of two bids, the exclusive one holds the channel's slot.
 */
export function saleBids(
  channel: ChannelPlan,
  mode: "shared" | "best",
  exclusiveCents: number | null,
  sharedCents: number | null,
  floor: number,
  pingId: string | null,
  pingRef: string | null,
  expiresAt: number | null,
  sharedFloor = floor,
): Bid[] {
  const lowest = channelFloorCents(channel, floor);
  const bids: Bid[] = [];
  if (mode === "best" && channel.buys.exclusive && exclusiveCents !== null && exclusiveCents >= lowest)
    bids.push(new Bid(channel, exclusiveCents, pingId, pingRef, expiresAt));
  if (channel.buys.shared && sharedCents !== null && sharedCents >= channelFloorCents(channel, sharedFloor)) {
    const shared = new Bid(channel, sharedCents, pingId, pingRef, expiresAt);
    shared.sale = "shared";
    shared.holdsSlot = bids.length === 0;
    // An `all` routing tier of an exclusive choice posts the channel's shared bid (Bid.sharedTwin).
    if (bids.length) bids[0].sharedTwin = shared;
    bids.push(shared);
  }
  return bids;
}

/**
 * An exclusive campaign's bid's shared twin (Bid.sharedTwin), for an `all` routing tier: the
 * channel's shared price, when it buys shared sales and the price clears the whole floor (each
 * sale of an `all` tier is held to the floor a fixed payout sets, as its exclusive bid is).
 */
function sharedTwinOf(channel: ChannelPlan, sharedCents: number | null, floor: number, bid: Bid): Bid | null {
  if (!channel.buys.shared || sharedCents === null || sharedCents < channelFloorCents(channel, floor)) return null;
  const twin = new Bid(channel, sharedCents, bid.pingId, bid.pingRef, bid.expiresAt);
  twin.sale = "shared";
  twin.holdsSlot = false;
  return twin;
}

/** What a ping answer offers a shared or `best` campaign: the exclusive and shared prices the channel buys at. */
function offeredPrices(channel: ChannelPlan, answer: PingAnswer & { outcome: "bid" }): { exclusive: number | null; shared: number | null } {
  const exclusive = channel.buys.exclusive && !answer.sharedOnly ? answer.priceCents : null;
  const shared = channel.buys.shared ? (answer.sharedCents ?? (channel.buys.exclusive ? null : answer.priceCents)) : null;
  return { exclusive, shared };
}

/**
 * A ping's answer judged for a shared or `best` campaign: its bids, and the outcome its attempt
 * records — a bid at the price the auction uses (the exclusive one when there is one), a
 * `below_floor` when every price it offered was under the floor, or a no-bid when it offered no
 * price for the sales the campaign makes.
 */
function judgeForSale(
  channel: ChannelPlan,
  mode: "shared" | "best",
  answer: PingAnswer,
  floor: number,
  pingId: string,
  sharedFloor: number,
): { outcome: PingOutcome; bids: Bid[] } {
  if (answer.outcome !== "bid") return { outcome: answer, bids: [] };
  const prices = offeredPrices(channel, answer);
  const exclusive = mode === "best" ? prices.exclusive : null;
  const bids = saleBids(channel, mode, exclusive, prices.shared, floor, pingId, answer.pingRef, answer.expiresAt ?? null, sharedFloor);
  if (bids.length) return { outcome: { ...answer, priceCents: bids[0].priceCents }, bids };
  const offered = Math.max(exclusive ?? 0, prices.shared ?? 0);
  // Judged against the floor of the sale whose price it is.
  const under = offered === (exclusive ?? 0) ? floor : sharedFloor;
  if (offered > 0) return { outcome: atFloor({ ...answer, priceCents: offered }, channelFloorCents(channel, under)), bids };
  return { outcome: noBid("no_bid", reasonText("no_bid", "no shared price")), bids };
}

/**
 * A ping's answer judged for the campaign: its bids, and the outcome its attempt records. An
 * exclusive campaign's bid is the answer's `bid` (with its shared twin); a shared or `best` one's,
 * its prices for the sales the campaign makes (judgeForSale). An answer of several bids
 * (response.ping.bids) is each of them judged so, all bids of the one channel: they share its
 * slot, held by the best of them, and the attempt records the best that cleared its floor.
 */
function judgeAnswer(
  channel: ChannelPlan,
  mode: "exclusive" | "shared" | "best",
  answer: PingAnswer,
  floor: number,
  pingId: string,
  sharedFloor: number,
): { outcome: PingOutcome; bids: Bid[]; several?: ReasonText<"several_bids"> } {
  const judge = (one: PingAnswer): { outcome: PingOutcome; bids: Bid[] } => {
    if (mode !== "exclusive") return judgeForSale(channel, mode, one, floor, pingId, sharedFloor);
    const outcome = atFloor(one, channelFloorCents(channel, floor));
    if (outcome.outcome !== "bid") return { outcome, bids: [] };
    const bid = new Bid(channel, outcome.priceCents, pingId, outcome.pingRef, outcome.expiresAt ?? null);
    if (one.outcome === "bid") bid.sharedTwin = sharedTwinOf(channel, one.sharedCents ?? null, floor, bid);
    return { outcome, bids: [bid] };
  };
  if (answer.outcome !== "bid" || !answer.offers) return named(judge(answer), answer);
  // An exclusive campaign makes no shared sale: a shared leg of the answer is no bid of its.
  const offers = mode === "exclusive" ? answer.offers.filter((o) => !o.sharedOnly) : answer.offers;
  if (offers.length === 0) return { outcome: noBid("no_bid", reasonText("no_bid", "only shared bids")), bids: [] };
  const judged = offers.map((offer) => {
    const { offers: _all, ...rest } = answer;
    const one: PingAnswer = { ...rest, priceCents: offer.priceCents, sharedCents: offer.sharedCents ?? null, sharedOnly: offer.sharedOnly, expiresAt: offer.expiresAt, bidId: offer.bidId };
    return named(judge(one), one);
  });
  const bids = judged.flatMap((j) => j.bids);
  // One slot for the channel: the first bid holds it, and hands it on (post.ts letGo).
  bids.forEach((bid, i) => {
    bid.holdsSlot = i === 0;
    bid.siblings = bids;
  });
  // The trace shows every bid the answer held, on its ping's attempt.
  const money = (cents: number) => fromCents(cents).toFixed(2);
  const each = answer.offers.map((o) => `${o.bidId ?? "-"} ${o.sharedOnly ? `shared ${money(o.priceCents)}` : money(o.priceCents)}${!o.sharedOnly && o.sharedCents != null ? ` (shared ${money(o.sharedCents)})` : ""}`);
  // Bids past response.ping.bids.max were dropped when read: the detail says how many.
  const dropped = answer.offersDropped ? ` (best ${answer.offers.length} kept, ${answer.offersDropped} more dropped: bids.max)` : "";
  return { outcome: (judged.find((j) => j.bids.length) ?? judged[0]).outcome, bids, several: reasonText("several_bids", excerptOf(each.join(", ")) + dropped) };
}

/** A trace's detail is short: an answer of a hundred bids shows its best few. */
const excerptOf = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);

/** The answer's bid id and captures, on every bid made of it (a shared twin too). */
function named(judged: { outcome: PingOutcome; bids: Bid[] }, answer: PingAnswer): { outcome: PingOutcome; bids: Bid[] } {
  if (answer.outcome !== "bid" || (answer.bidId == null && !answer.captures)) return judged;
  for (const bid of judged.bids)
    for (const b of bid.sharedTwin ? [bid, bid.sharedTwin] : [bid]) {
      b.bidId = answer.bidId ?? null;
      b.captures = answer.captures;
    }
  return judged;
}

/**
 * An inbound ping's contact hashes a ping template may send: those of pii fields the campaign lets a
 * ping hash (`ping_hash`) and whose value the ping does not hold. Undefined when there are none.
 */
export function pingContactHashes(plan: CampaignPlan, lead: AuctionLead): Record<string, string> | undefined {
  let hashes: Record<string, string> | undefined;
  for (const name of plan.fields.pingHashFields) {
    const hash = lead.contactHashes?.[name];
    if (hash !== undefined && lead.data[name] === undefined) (hashes ??= {})[name] = hash;
  }
  return hashes;
}

/** Pings every channel at once; each answer is its bid, or null (and its attempt says why). */
function pingChannels(
  deps: PingDeps,
  plan: CampaignPlan,
  lead: AuctionLead,
  channels: readonly ChannelPlan[],
  slots: ChannelSlots,
  floor: number,
  deadline: Deadline,
  attempts: AttemptRow[],
): Promise<(Bid | Bid[] | null)[]> {
  // Its public fields, and of a list field's items their public fields only.
  const publicData = plan.fields.publicData(lead.data);
  // Serialised once for every native ping of this lead.
  const publicJson = JSON.stringify(publicData);
  // pii fields a ping template may send hashed (never as they are): see src/channels/template.ts.
  let hashable: Record<string, unknown> | undefined;
  for (const name of plan.fields.pingHashFields) if (lead.data[name] !== undefined) (hashable ??= {})[name] = lead.data[name];
  const contactHashes = pingContactHashes(plan, lead);
  const campaign = plan.campaign;
  const sharedFloor = sharedFloorCents(plan, floor);
  return Promise.all(
    channels.map(async (channel) => {
      let bid: Bid | Bid[] | null = null;
      const startedAt = deadline.wallNow();
      let status: number | null = null;
      try {
        const pingId = deps.newId();
        const request = channel.io.buildPing(
          { pingId, leadId: lead.id, campaign: campaign.id, test: lead.test, publicData, publicJson, receivedAt: lead.receivedAt, hashable, contactHashes },
          deadline.pingTimeout(channel.config.ping?.timeout_ms ?? campaign.auction.ping_timeout_ms),
          deps.maxBodyBytes,
        );
        const response = await deps.transport.send(request);
        if (response.kind === "response" || response.kind === "too_large") status = response.status;
        const answer = channel.io.readPing(response, deadline.wallNow());
        const judged = judgeAnswer(channel, campaign.auction.mode, answer, floor, pingId, sharedFloor);
        const outcome = judged.outcome;
        attempts.push({
          kind: "ping",
          channelId: channel.id,
          startedAt: new Date(startedAt),
          durationMs: response.durationMs,
          httpStatus: response.kind === "response" || response.kind === "too_large" ? response.status : null,
          outcome: outcome.outcome,
          priceCents: outcome.priceCents,
          reason: outcome.reason ?? judged.several ?? null,
          pingRef: outcome.pingRef,
          congested: waitedInGavelQueue(response),
        });
        bid = judged.bids.length ? judged.bids : null;
        return bid;
      } catch (error) {
        // A buyer's answer must never fail the auction of the lead (nor keep the other channels'
        // bids from it): whatever reading it threw, the ping is an unreadable answer of this channel.
        attempts.push({
          kind: "ping",
          channelId: channel.id,
          startedAt: new Date(startedAt),
          durationMs: Math.max(0, Math.round(deadline.wallNow() - startedAt)),
          httpStatus: status,
          outcome: "invalid_response",
          priceCents: null,
          reason: reasonText("unparseable_body", excerptOf(`could not be read: ${error instanceof Error ? error.message : String(error)}`)),
          pingRef: null,
          congested: false,
        });
        bid = null;
        return null;
      } finally {
        // No bid, no post: the channel's slot is free for another lead at once.
        if (!bid) slots.release(channel.id);
      }
    }),
  );
}
