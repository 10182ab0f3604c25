// The auction without a database or a socket: campaigns and channels compiled as the catalog
// compiles them, a buyer transport that answers from a table, a cap ledger that keeps its
// reservations in memory, and a monotonic clock that moves only when told.
import { planChannel, type CampaignPlan, type ChannelPlan } from "../../src/auction/catalog";
import type { CapHold, CapLedger, CapReservation, ReservableChannel, ReservableLead } from "../../src/auction/caps";
import { pricingPlan } from "../../src/auction/pricing";
import { Deadline } from "../../src/auction/deadline";
import type { AuctionLead } from "../../src/auction/ping";
import { Channel } from "../../src/channels/config";
import { HealthRegistry } from "../../src/channels/health";
import type { BuyerRequest, BuyerResponse, BuyerTransport } from "../../src/channels/transport";
import { DatabaseUnavailable } from "../../src/db/client";
import { autoInsuranceFields } from "../../src/demo/fields";
import { compileFields } from "../../src/leads/validate";
import { Buyer, Campaign } from "../../src/resources/schemas";

/** Wall-clock time of every lead here: 2026-03-02T15:00:00Z. */
export const RECEIVED_AT = Date.parse("2026-03-02T15:00:00Z");

/** A monotonic clock that moves only when a test (or a fake buyer) says so. */
export class ManualClock {
  mono = 10_000;
  readonly now = (): number => this.mono;
  advance(ms: number): void {
    this.mono += ms;
  }
}

/** A campaign (auto-insurance fields) with `auction` settings, and its channels compiled. */
export function campaignPlan(auction: Record<string, unknown>, channels: Record<string, unknown>[], campaign: Record<string, unknown> = {}): CampaignPlan {
  const parsed = Campaign.parse({ id: "unit", name: "Unit", fields: autoInsuranceFields, auction, ...campaign });
  const health = new HealthRegistry();
  const buyers = new Map<string, Buyer>();
  const plans: ChannelPlan[] = channels.map((c) => {
    const config = Channel.parse({ buyer_id: `buyer-${c.id}`, campaign_id: "unit", type: "ping_post", ...c, ...endpoints(c) });
    let buyer = buyers.get(config.buyer_id);
    if (!buyer) buyers.set(config.buyer_id, (buyer = Buyer.parse({ id: config.buyer_id, name: config.buyer_id })));
    return planChannel(config, buyer, parsed, health);
  });
  return {
    campaign: parsed,
    fields: compileFields(parsed.fields),
    channels: plans,
    hasCaps: plans.some((p) => p.capRules.length > 0),
    // No database: rank_by expected ranks every channel at its prior rate.
    pricing: pricingPlan(parsed.auction, plans, null),
  };
}

/** Each channel's ping and post go to its own made-up URL, which the fake transport answers. */
function endpoints(c: Record<string, unknown>) {
  const id = c.id as string;
  return {
    ...(c.type === "direct_post" ? {} : { ping: { url: `http://buyer.test/${id}/ping`, ...(c.ping as object) } }),
    post: { url: `http://buyer.test/${id}/post`, ...(c.post as object) },
  };
}

export const pingUrl = (channelId: string) => `http://buyer.test/${channelId}/ping`;
export const postUrl = (channelId: string) => `http://buyer.test/${channelId}/post`;

export function auctionLead(overrides: Partial<AuctionLead> = {}): AuctionLead & { seenBuyers: Set<string> } {
  return {
    id: "lead-1",
    supplierId: "sup-1",
    test: false,
    data: { zip: "75001", state: "TX", age: 30, coverage: "auto", email: "jo@example.com", phone: "+15125550100" },
    receivedAt: RECEIVED_AT,
    seenBuyers: new Set(),
    ...overrides,
  };
}

/** The lead's deadline on the manual clock, received now. */
export function deadlineFor(plan: CampaignPlan, clock: ManualClock, graceMs = 1000): Deadline {
  return new Deadline(RECEIVED_AT, clock.mono, plan.campaign.auction, graceMs, clock.now);
}

// --- buyer answers -------------------------------------------------------------------------------

export const answer = (body: unknown, status = 200, durationMs = 5): BuyerResponse => ({
  kind: "response",
  status,
  contentType: "application/json",
  headers: {},
  body: typeof body === "string" ? body : JSON.stringify(body),
  durationMs,
});
export const bid = (price: number, extra: Record<string, unknown> = {}) => answer({ bid: price, ping_ref: `ref-${price}`, ...extra });
export const noBid = (): BuyerResponse => ({ kind: "response", status: 204, contentType: "", headers: {}, body: "", durationMs: 3 });
export const accepted = (extra: Record<string, unknown> = {}) => answer({ accepted: true, ...extra });
export const rejected = (reason = "dup") => answer({ accepted: false, reason });
export const timedOut = (durationMs: number): BuyerResponse => ({ kind: "timeout", durationMs, sent: true });

type Respond = (request: BuyerRequest) => BuyerResponse | Promise<BuyerResponse>;

/** Answers each URL from a table; records every request, in order. */
export class FakeTransport implements BuyerTransport {
  readonly requests: BuyerRequest[] = [];
  constructor(private readonly answers: Record<string, Respond | BuyerResponse>) {}

  async send(request: BuyerRequest): Promise<BuyerResponse> {
    this.requests.push(request);
    const given = this.answers[request.url];
    if (!given) throw new Error(`no fake answer for ${request.url}`);
    return typeof given === "function" ? given(request) : given;
  }

  async close(): Promise<void> {}

  /** The channels posted to, in order. */
  posted(): string[] {
    return this.requests.filter((r) => r.url.endsWith("/post")).map((r) => r.url.split("/")[3]);
  }
}

// --- the cap ledger ------------------------------------------------------------------------------

/** Reservations in memory: which channels hold one, what was given back and settled. */
export class FakeLedger implements CapLedger {
  /** Channels whose reservation is refused, with the refusal's reason. */
  readonly refuse = new Map<string, Extract<CapReservation, { ok: false }>["reason"]>();
  /** When set, each call of that kind fails as a database that cannot be reached. */
  down: { reserve?: boolean; release?: boolean } = {};
  /** Called as each reservation is asked for, before it is made (a test moves its clock, or takes the database away). */
  onReserve?: (channelId: string) => void;
  readonly reserved: { channelId: string; priceCents: number }[] = [];
  readonly released: string[] = [];
  readonly settled: { channelId: string; reservedCents: number; soldCents: number }[] = [];
  private readonly holders = new Map<CapHold, string>();

  async reserveCap(channel: ReservableChannel, _lead: ReservableLead, priceCents: number): Promise<CapReservation> {
    const channelId = (channel as ChannelPlan).id;
    this.onReserve?.(channelId);
    if (this.down.reserve) throw new DatabaseUnavailable("the database is down", false);
    const refusal = this.refuse.get(channelId);
    if (refusal) return { ok: false, reason: refusal };
    this.reserved.push({ channelId, priceCents });
    const hold: CapHold = { claims: [] };
    this.holders.set(hold, channelId);
    return { ok: true, hold };
  }

  async releaseCap(hold: CapHold): Promise<void> {
    if (this.down.release) throw new DatabaseUnavailable("the database is down", "unknown");
    this.released.push(this.holders.get(hold)!);
  }

  async settleCap(hold: CapHold, reservedCents: number, soldCents: number): Promise<void> {
    this.settled.push({ channelId: this.holders.get(hold)!, reservedCents, soldCents });
  }

  /** Channels whose reservation is still held (reserved and not given back). */
  held(): string[] {
    const left = this.reserved.map((r) => r.channelId);
    for (const id of this.released) left.splice(left.indexOf(id), 1);
    return left;
  }
}
