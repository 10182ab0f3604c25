// Caps and pacing (SPEC.md step 3 and 6). Two views of usage:
// - eligibility reads a cheap per-process view (refreshed from the database every
//   GAVEL_USAGE_REFRESH_MS, and updated at once by this process's own reservations) to skip
//   channels that are plainly full without pinging them;
// - the post reserves exactly: reserveCap runs one all-or-nothing statement (src/db/caps.ts) right
//   before the post, so two processes cannot both sell the last lead of the day.
import type { Logger } from "pino";
import type { Database } from "../db/client";
import {
  liveUsage,
  readUsage,
  release,
  reserve,
  usageKey,
  type CapClaim,
  type CapScope,
  type Usage,
  type UsageKey,
  type UsageRow,
} from "../db/caps";
import { dedupKeys, type DedupRule } from "../leads/dedup";
import { toCents } from "../money";
import { reasonText, type ReasonText } from "../reasons";
import type { Cap } from "../shapes";
import { DAY_MS, type Clock } from "../time/clock";
import { paceWindow, periodWindow, type CapPeriod } from "../time/periods";

/** Whose rule it is, as its exclusions read: a cap of the channel (or of a supplier), of the buyer, or the channel's pacing. */
export type CapLabel = "cap" | "buyer_cap" | "paced";

/** The codes a rule with label L excludes with: `cap_leads`, `buyer_cap_spend`, `paced`. */
export type CapCode<L extends CapLabel = CapLabel> = L extends "paced" ? "paced" : `${L}_${"leads" | "spend"}`;

/** Why a cap rule leaves a sale out: `paced`, or the cap's code with its period (`cap_leads: day`). */
export type CapReason<L extends CapLabel = CapLabel> = ReasonText<CapCode<L>>;

export interface CapRule<L extends CapLabel = CapLabel> {
  scope: CapScope;
  ownerId: string;
  period: CapPeriod | "pace";
  zone: string;
  leadsLimit: number | null;
  spendLimitCents: number | null;
  /** For `pace`: the channel's leads_per_minute. */
  perMinute?: number;
  /** How an exclusion by this rule reads: `cap_leads: day`, `buyer_cap_spend: month`, `paced`. */
  label: L;
}

export function capRules<L extends "cap" | "buyer_cap">(scope: CapScope, ownerId: string, caps: readonly Cap[], zone: string, label: L): CapRule<L>[] {
  return caps.map((cap) => ({
    scope,
    ownerId,
    period: cap.period,
    zone,
    leadsLimit: cap.leads ?? null,
    spendLimitCents: cap.spend === undefined ? null : toCents(cap.spend),
    label,
  }));
}

export function paceRule(channelId: string, leadsPerMinute: number): CapRule<"paced"> {
  return { scope: "channel", ownerId: channelId, period: "pace", zone: "UTC", leadsLimit: null, spendLimitCents: null, perMinute: leadsPerMinute, label: "paced" };
}

/** The period instance a rule counts into at instant `at`, with its limits for that instance. */
export function claimOf(rule: CapRule, at: number, priceCents: number): CapClaim {
  if (rule.period === "pace") {
    const w = paceWindow(rule.perMinute!, at);
    return { scope: rule.scope, ownerId: rule.ownerId, period: "pace", periodStart: w.start, resetsAt: w.resetsAt, leads: 1, spendCents: priceCents, leadsLimit: w.allowance, spendLimitCents: null };
  }
  const w = periodWindow(rule.period, rule.zone, at);
  return {
    scope: rule.scope,
    ownerId: rule.ownerId,
    period: rule.period,
    periodStart: w.start,
    resetsAt: w.resetsAt,
    leads: 1,
    // Spend is counted under every cap, so a leads cap can show what it cost as well.
    spendCents: priceCents,
    leadsLimit: rule.leadsLimit,
    spendLimitCents: rule.spendLimitCents,
  };
}

function reasonOf<L extends CapLabel>(rule: CapRule<L>, kind: "leads" | "spend"): CapReason<L> {
  const reason = rule.label === "paced" ? "paced" : reasonText(`${rule.label as "cap" | "buyer_cap"}_${kind}`, rule.period);
  return reason as CapReason<L>;
}

/**
 * The first rule a sale at `priceCents` would break, given `usage`, or null when all fit.
 * A sale fits a cap when used + 1 ≤ leads and used + price ≤ spend.
 */
export function firstFull<L extends CapLabel>(rules: readonly CapRule<L>[], at: number, priceCents: number, usage: (key: UsageKey) => Usage): CapReason<L> | null {
  return fullCap(rules, at, priceCents, usage)?.reason ?? null;
}

/** Like firstFull, with the period instance that is full (its `resetsAt` says when it has room again). */
export function fullCap<L extends CapLabel>(
  rules: readonly CapRule<L>[],
  at: number,
  priceCents: number,
  usage: (key: UsageKey) => Usage,
): { reason: CapReason<L>; claim: CapClaim } | null {
  for (const rule of rules) {
    const claim = claimOf(rule, at, priceCents);
    const used = usage(claim);
    if (claim.leadsLimit !== null && used.leads + 1 > claim.leadsLimit) return { reason: reasonOf(rule, "leads"), claim };
    if (claim.spendLimitCents !== null && used.spendCents + priceCents > claim.spendLimitCents) return { reason: reasonOf(rule, "spend"), claim };
  }
  return null;
}

const NOTHING_USED: Usage = { leads: 0, spendCents: 0 };

/**
 * This process's approximate view of cap usage: every live period row, re-read when older than
 * `refreshMs` (in the background, so a lead never waits for it after the first load), and updated
 * at once by the reservations and releases this process makes.
 */
export class UsageView {
  private rows = new Map<string, Usage & { at: number }>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly refreshMs: number,
    private readonly logger?: Logger,
  ) {}

  /** Waits for the first load only; later refreshes run behind the leads. */
  async fresh(): Promise<void> {
    if (this.loadedAt === Number.NEGATIVE_INFINITY) return this.load();
    if (performance.now() - this.loadedAt >= this.refreshMs && !this.loading)
      this.load().catch((err) => this.logger?.warn({ err }, "refreshing cap usage failed"));
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const started = performance.now();
        const rows = await liveUsage(this.database, this.clock.now());
        const next = new Map<string, Usage & { at: number }>();
        for (const row of rows) next.set(usageKey(row), { leads: row.leads, spendCents: row.spendCents, at: started });
        // What this process reserved or released while the snapshot was read is newer than it.
        for (const [key, mine] of this.rows) if (mine.at > started) next.set(key, mine);
        this.rows = next;
        this.loadedAt = started;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  get(key: UsageKey): Usage {
    return this.rows.get(usageKey(key)) ?? NOTHING_USED;
  }

  update(rows: readonly UsageRow[]): void {
    const at = performance.now();
    for (const row of rows) this.rows.set(usageKey(row), { leads: row.leads, spendCents: row.spendCents, at });
  }
}

export interface BuyerDedupPlan {
  rule: DedupRule;
  lookbackMs: number;
}

export function buyerDedupPlan(dedup: { fields: string[]; match: "any" | "all"; lookback_days: number } | undefined): BuyerDedupPlan | null {
  return dedup ? { rule: dedup, lookbackMs: dedup.lookback_days * DAY_MS } : null;
}

/** What a channel reservation holds, to give back on a reject or an error. */
export interface CapHold {
  claims: CapClaim[];
  /** The consumer's claim for the channel's buyer: its keys, to give back if the sale fails. */
  buyer?: { buyerId: string; leadId: string; keys: string[] };
}

export interface ReservableChannel {
  capRules: readonly CapRule[];
  buyerId: string;
  buyerDedup: BuyerDedupPlan | null;
}

export interface ReservableLead {
  id: string;
  test: boolean;
  data: Record<string, unknown>;
  receivedAt: number;
}

export type CapReservation = { ok: true; hold: CapHold } | { ok: false; reason: CapReason | "buyer_duplicate" };

/**
 * Exact cap reservations around a post (SPEC.md step 6): a reservation is taken before the post and
 * given back (released) when the sale does not happen, or partly given back (settled) when the buyer
 * took the lead for less than it bid. Behind this interface so that posting can be tested without a
 * database.
 */
export interface CapLedger {
  /** Reserves every cap a sale at `priceCents` on the channel must fit, and claims the consumer for its buyer: all or nothing. */
  reserveCap(channel: ReservableChannel, lead: ReservableLead, priceCents: number): Promise<CapReservation>;
  /** Gives a reservation back: the sale did not happen. */
  releaseCap(hold: CapHold): Promise<void>;
  /** Gives back the spend reserved but not spent: the buyer accepted below its bid. */
  settleCap(hold: CapHold, reservedCents: number, soldCents: number): Promise<void>;
}

const EMPTY_HOLD: CapHold = { claims: [] };

/** The ledger in the database, with this process's view of usage beside it; see the top of this file. */
export class DatabaseCapLedger implements CapLedger {
  constructor(
    private readonly database: Database,
    readonly view: UsageView,
  ) {}

  /**
   * Reserves every cap of a channel and its buyer for one sale at `priceCents`, and claims the
   * consumer for the buyer's dedup window — all or nothing. Test leads never count.
   */
  async reserveCap(channel: ReservableChannel, lead: ReservableLead, priceCents: number): Promise<CapReservation> {
    if (lead.test) return { ok: true, hold: EMPTY_HOLD };
    const keys = channel.buyerDedup ? dedupKeys(channel.buyerDedup.rule, lead.data) : [];
    if (channel.capRules.length === 0 && keys.length === 0) return { ok: true, hold: EMPTY_HOLD };
    const claims = channel.capRules.map((rule) => claimOf(rule, lead.receivedAt, priceCents));
    const buyerClaim = keys.length
      ? { buyerId: channel.buyerId, keys, leadId: lead.id, seenAt: lead.receivedAt, cutoff: lead.receivedAt - channel.buyerDedup!.lookbackMs }
      : undefined;
    // A refusal names the cap that is full; if a release freed room between the refusal and the
    // read, the reservation is simply tried again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await reserve(this.database, claims, buyerClaim);
      if (result.kind === "reserved") {
        this.view.update(result.usage);
        return { ok: true, hold: { claims, buyer: buyerClaim && { buyerId: buyerClaim.buyerId, leadId: lead.id, keys: buyerClaim.keys } } };
      }
      if (result.kind === "buyer_duplicate") return { ok: false, reason: "buyer_duplicate" };
      const now = await readUsage(this.database.db, claims);
      this.view.update(now);
      const byKey = new Map(now.map((row) => [usageKey(row), row]));
      const reason = firstFull(channel.capRules, lead.receivedAt, priceCents, (k) => byKey.get(usageKey(k)) ?? NOTHING_USED);
      if (reason) return { ok: false, reason };
    }
    // Refused each time, yet each read found room: the caps are contended. Named by the first one.
    const first = channel.capRules[0];
    return { ok: false, reason: first ? reasonOf(first, first.leadsLimit === null && first.spendLimitCents !== null ? "spend" : "leads") : "cap_leads" };
  }

  /** The buyer rejected or errored: the sale did not happen, so neither does its reservation. */
  async releaseCap(hold: CapHold): Promise<void> {
    if (hold.claims.length === 0 && !hold.buyer) return;
    this.view.update(await release(this.database, hold.claims, hold.buyer));
  }

  /** The buyer accepted below its bid: give back the spend that was reserved but not spent. */
  async settleCap(hold: CapHold, reservedCents: number, soldCents: number): Promise<void> {
    const unspent = reservedCents - soldCents;
    const spendClaims = hold.claims.map((c) => ({ ...c, leads: 0, spendCents: unspent }));
    if (unspent <= 0 || spendClaims.length === 0) return;
    this.view.update(await release(this.database, spendClaims));
  }
}
