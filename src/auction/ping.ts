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
import { atFloor, channelFloorCents, fixedPriceClears } from "./floors";
import type { ChannelSlots } from "./limiter";

export interface AuctionLead {
  id: string;
  supplierId: string;
  test: boolean;
  data: Record<string, unknown>;
  /** Wall-clock epoch ms at intake. */
  receivedAt: number;
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
  const toPing: ChannelPlan[] = [];
  for (const channel of eligible) {
    if (channel.config.type === "ping_post") toPing.push(channel);
    else if (fixedPriceClears(channel, floor)) bids.push(new Bid(channel, channel.fixedPriceCents ?? 0, null, null, null));
    else {
      slots.release(channel.id);
      trail.excluded.push({ channel_id: channel.id, reason: "below_floor" });
    }
  }
  if (toPing.length === 0) return;
  const started = deadline.now();
  const answers = await pingChannels(deps, plan, lead, toPing, slots, floor, deadline, trail.attempts);
  trail.buyerWaitMs += deadline.now() - started;
  for (const bid of answers) if (bid) bids.push(bid);
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
): Promise<(Bid | null)[]> {
  const publicData: Record<string, unknown> = {};
  for (const name of plan.fields.publicFields) if (lead.data[name] !== undefined) publicData[name] = lead.data[name];
  // Serialised once for every native ping of this lead.
  const publicJson = JSON.stringify(publicData);
  const campaign = plan.campaign;
  return Promise.all(
    channels.map(async (channel) => {
      let bid: Bid | null = null;
      try {
        const startedAt = deadline.wallNow();
        const pingId = deps.newId();
        const request = channel.io.buildPing(
          { pingId, leadId: lead.id, campaign: campaign.id, test: lead.test, publicData, publicJson },
          deadline.pingTimeout(channel.config.ping?.timeout_ms ?? campaign.auction.ping_timeout_ms),
          deps.maxBodyBytes,
        );
        const response = await deps.transport.send(request);
        const outcome = atFloor(channel.io.readPing(response, deadline.wallNow()), channelFloorCents(channel, floor));
        attempts.push({
          kind: "ping",
          channelId: channel.id,
          startedAt: new Date(startedAt),
          durationMs: response.durationMs,
          httpStatus: response.kind === "response" || response.kind === "too_large" ? response.status : null,
          outcome: outcome.outcome,
          priceCents: outcome.priceCents,
          reason: outcome.reason,
          pingRef: outcome.pingRef,
          congested: waitedInGavelQueue(response),
        });
        if (outcome.outcome === "bid") bid = new Bid(channel, outcome.priceCents, pingId, outcome.pingRef, outcome.expiresAt ?? null);
        return bid;
      } finally {
        // No bid, no post: the channel's slot is free for another lead at once.
        if (!bid) slots.release(channel.id);
      }
    }),
  );
}
