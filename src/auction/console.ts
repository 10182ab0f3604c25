// The channel test console's lookup: `POST /v1/channels/{id}/test` tries a channel as an auction
// would, with the campaign's compiled fields, the floor and the timeouts an auction would give it.
// The exchange itself (the request, the masked answer, the rules, the warnings) is the channels'
// (src/channels/console.ts). Nothing is recorded: no lead, no attempt, no cap or health change.
import { z } from "zod";
import { tryChannel } from "../channels/console";
import { compileChannel } from "../channels/channel";
import { mailbox, postTimeoutOf } from "../channels/config";
import type { BuyerTransport } from "../channels/transport";
import type { Db } from "../db/client";
import { GavelError, invalid } from "../errors";
import { fromCents, leadPrice, toCents } from "../money";
import { getResource } from "../resources/store";
import type { CampaignPlan, Catalog, ChannelPlan } from "./catalog";
import { adjustedCents } from "./pricing";
import { atFloor, channelFloorCents } from "./floors";
import { channelRouting } from "./routing";
import { contactHash } from "../leads/suppression";

export interface ConsoleDeps {
  db: Db;
  catalog: Catalog;
  transport: BuyerTransport;
  newId(): string;
  maxBodyBytes: number;
}

export const ChannelTest = z
  .object({
    /** A sample lead, validated and normalised like a real one. */
    data: z.record(z.string(), z.unknown()),
    /** Also post the lead (after a bid, or at the fixed or given price). */
    post: z.boolean().default(false),
    /** The price to post at when the ping gives none. */
    price: leadPrice.optional(),
    /** An email channel: send the test message to these addresses instead of the channel's `to` and `cc`. */
    email_to: z.array(mailbox).min(1).max(10).optional(),
  })
  .strict();

export async function testChannel(deps: ConsoleDeps, channelId: string, body: unknown) {
  const parsed = ChannelTest.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error, "The test request is invalid");
  const request = parsed.data;
  const doc = await getResource(deps.db, "channels", channelId);
  if (doc.status === "archived") throw new GavelError("conflict", `Channel '${channelId}' is archived`);
  const plan = await deps.catalog.campaign(doc.campaign_id as string);
  const channel = plan?.channels.find((c) => c.id === channelId);
  if (!plan || !channel) throw new GavelError("not_found", `No channel '${channelId}'`);

  const checked = plan.fields.validate(request.data);
  if (!checked.ok) throw new GavelError("validation", "The sample lead has invalid fields", { errors: checked.errors });
  const data = checked.data;
  const publicData = plan.fields.publicData(data);
  const hashable = Object.fromEntries(plan.fields.pingHashFields.filter((f) => data[f] !== undefined).map((f) => [f, data[f]]));
  const config = channel.config;
  if (request.email_to && !config.email) throw new GavelError("validation", "Only an email channel sends email", { errors: [{ path: "email_to", message: "the channel is not an email channel" }] });
  // An email channel's test message can go to the operator's own inbox rather than the buyer's.
  const io = request.email_to && config.email ? compileChannel({ ...config, email: { ...config.email, to: request.email_to, cc: [] } }) : channel.io;
  const auction = plan.campaign.auction;
  const leadId = deps.newId();
  const floor = channelFloorCents(channel, toCents(auction.floor));
  const { ping, post } = await tryChannel(
    deps,
    {
      config,
      io,
      campaignId: plan.campaign.id,
      atFloor: (answer) => atFloor(answer, floor),
      fixedPriceCents: channel.fixedPriceCents,
      pingTimeoutMs: config.ping?.timeout_ms ?? auction.ping_timeout_ms,
      postTimeoutMs: postTimeoutOf(config) ?? auction.post_timeout_ms,
    },
    { data, publicData, hashable },
    { leadId, post: request.post, priceCents: request.price === undefined ? undefined : toCents(request.price) },
  );
  return {
    channel_id: channelId,
    lead_id: leadId,
    test: true,
    ping,
    post,
    ranking: consoleRanking(plan, channel, ping?.result ?? null),
    routing: channelRouting(plan, channel),
    offer_redirect_url: offerRedirectPreview(plan, channel, leadId, data, ping?.result ?? null),
  };
}

/**
 * User choice: the `redirect_url` an offer of the channel would carry after this ping (its
 * `offer.redirect_url` written from the answer's `ping_ref` and bid), or null when it has none or
 * made no bid. The sample lead's contact fields stand for the hashes a supplier would send.
 */
function offerRedirectPreview(plan: CampaignPlan, channel: ChannelPlan, leadId: string, data: Record<string, unknown>, ping: Record<string, unknown> | null): string | null {
  if (!channel.offerRedirect) return null;
  const bidCents =
    channel.config.type !== "ping_post" ? (channel.fixedPriceCents ?? 0) : ping?.outcome === "bid" && typeof ping.price === "number" ? toCents(ping.price) : null;
  if (bidCents === null) return null;
  const contactHashes = Object.fromEntries(plan.fields.pingHashFields.filter((f) => typeof data[f] === "string").map((f) => [f, contactHash(data[f] as string)]));
  const now = Date.now();
  return channel.offerRedirect({
    leadId,
    pingId: null,
    campaign: plan.campaign.id,
    test: true,
    publicData: plan.fields.publicData(data),
    contactHashes,
    receivedAt: now,
    now,
    pingRef: typeof ping?.ping_ref === "string" ? ping.ping_ref : null,
    chargeCents: bidCents,
    sale: plan.campaign.auction.mode === "shared" ? "shared" : "exclusive",
  });
}

/**
 * How an auction would rank the channel's bid (README "Pricing and ranking"): the bid, the channel's
 * `bid_adjustment` and the adjusted bid, under the campaign's pricing and ranking.
 */
function consoleRanking(plan: CampaignPlan, channel: ChannelPlan, ping: Record<string, unknown> | null) {
  const auction = plan.campaign.auction;
  const bidCents =
    channel.config.type !== "ping_post" ? (channel.fixedPriceCents ?? 0) : ping?.outcome === "bid" && typeof ping.price === "number" ? toCents(ping.price) : null;
  return {
    pricing: auction.pricing ?? "first",
    rank_by: auction.rank_by ?? "price",
    bid_adjustment: channel.config.bid_adjustment ?? null,
    bid: bidCents === null ? null : fromCents(bidCents),
    adjusted_bid: bidCents === null ? null : fromCents(adjustedCents(channel.adjustment, bidCents)),
  };
}
