// Quality-aware ranking's input (README "Pricing and ranking"): each channel's recent
// post-acceptance rate. A buyer that bids high and then rejects the post wastes the deadline and
// costs sales; with `rank_by: "expected"` a bid counts for its price times this rate.
//
// The rate is accepted / posted over exponentially decaying counts (a post half-life-hours old
// counts half), started with `prior_posts` accepted posts so a new channel is trusted until it
// rejects, and never below `floor` so a channel that rejected is still offered leads now and then
// (and recovers as its history decays). The counts live in the database (db/acceptance.ts), shared
// by every process; each process reads them for a campaign at most once per TTL and adds its own
// posts to its view at once, so ranking never waits on a query per lead.
import type { Database } from "../db/client";
import { addAcceptance, loadAcceptance, type AcceptanceDelta, type AcceptanceTally } from "../db/acceptance";
import type { AttemptRow } from "../db/leads";
import { ReadCache } from "../db/read-cache";
import type { AcceptanceEstimate } from "../resources/schemas";
import type { Clock } from "../time/clock";

export type { AcceptanceTally } from "../db/acceptance";

const HOUR_MS = 3_600_000;

/** A tally's counts decayed from its `asOf` to `at`. */
export function decayed(tally: AcceptanceTally, at: number, halfLifeHours: number): { posted: number; accepted: number } {
  const factor = Math.pow(0.5, Math.max(0, at - tally.asOf) / HOUR_MS / halfLifeHours);
  return { posted: tally.posted * factor, accepted: tally.accepted * factor };
}

/** What ranking reads of one channel: its decayed counts and the rate they give (the floor applied). */
export interface AcceptanceRate {
  posted: number;
  accepted: number;
  rate: number;
}

/** The rate a channel's bids are ranked with, from its tally (none: never posted to). */
export function acceptanceRate(tally: AcceptanceTally | undefined, at: number, estimate: AcceptanceEstimate): AcceptanceRate {
  const { posted, accepted } = tally ? decayed(tally, at, estimate.half_life_hours) : { posted: 0, accepted: 0 };
  const prior = estimate.prior_posts;
  // With no prior and no history the channel has shown nothing yet: it starts at 1, as with a prior.
  const raw = posted + prior > 0 ? (accepted + prior) / (posted + prior) : 1;
  return { posted, accepted, rate: Math.min(1, Math.max(estimate.floor, raw)) };
}

/**
 * Whether a post counts for its channel's rate: every post the buyer answered or failed to answer
 * in time does; one that never reached it (skipped, or not sent for Gavel's own reasons) does not.
 */
function counted(a: AttemptRow): boolean {
  if (a.kind !== "post" || a.outcome === "skipped" || a.congested) return false;
  return !(a.reason !== null && a.reason.startsWith("post_not_sent"));
}

interface Pending {
  posted: number;
  accepted: number;
  halfLifeHours: number;
}

/**
 * Every process's view of the channels' tallies, and the posts it has yet to add to them. A
 * campaign's tallies are read at most once per TTL (served from memory meanwhile, ReadCache); the
 * posts of this process are added to that view at once and written in the background, many
 * channels in one statement, one write at a time.
 */
export class AcceptanceBook {
  private readonly cache: ReadCache<Map<string, AcceptanceTally>>;
  /** The view each campaign's last read gave, which this process's own posts update in place. */
  private readonly views = new Map<string, Map<string, AcceptanceTally>>();
  private pending = new Map<string, Pending>();
  private writing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    ttlMs: number,
  ) {
    this.cache = new ReadCache(ttlMs, () => clock.now());
  }

  /** The tallies of a campaign's channels, as of the last read (at most a TTL old) plus this process's posts since. */
  tallies(campaignId: string, channels: readonly { id: string }[]): Promise<Map<string, AcceptanceTally>> {
    return this.cache.get(campaignId, async () => {
      // This process's posts so far go in first, so the read holds them (once per TTL, one short write).
      if (this.writing) await this.writing;
      if (this.pending.size) await this.write();
      const loaded = await loadAcceptance(
        this.database,
        channels.map((c) => c.id),
      );
      this.views.set(campaignId, loaded);
      return loaded;
    });
  }

  /** The posts of one lead's auction, counted for their channels' rates (README "Pricing and ranking"). */
  record(campaignId: string, estimate: AcceptanceEstimate, attempts: readonly AttemptRow[]): void {
    const at = this.clock.now();
    const view = this.views.get(campaignId);
    let any = false;
    for (const a of attempts) {
      if (!counted(a)) continue;
      any = true;
      const accepted = a.outcome === "accepted" ? 1 : 0;
      const pending = this.pending.get(a.channelId);
      if (pending) {
        pending.posted += 1;
        pending.accepted += accepted;
      } else this.pending.set(a.channelId, { posted: 1, accepted, halfLifeHours: estimate.half_life_hours });
      if (view) {
        const now = decayed(view.get(a.channelId) ?? { posted: 0, accepted: 0, asOf: at }, at, estimate.half_life_hours);
        view.set(a.channelId, { posted: now.posted + 1, accepted: now.accepted + accepted, asOf: at });
      }
    }
    if (any) this.schedule();
  }

  /** Writes every post recorded so far (and waits for a write under way). */
  async flush(): Promise<void> {
    while (this.writing || this.pending.size) {
      if (this.writing) await this.writing;
      else await this.write();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // After the current lead's work: posts of leads ending together go out in one statement.
    setImmediate(() => {
      this.scheduled = false;
      void this.write();
    });
  }

  private write(): Promise<void> {
    if (this.writing || this.pending.size === 0) return this.writing ?? Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    const at = this.clock.now();
    const deltas: AcceptanceDelta[] = [...batch].map(([channelId, p]) => ({ channelId, ...p, at }));
    this.writing = addAcceptance(this.database, deltas)
      .catch(() => {
        // The database is away or refused: these posts are counted in this process's view only.
        // A rate is an estimate; losing a few posts of it is better than piling them up.
      })
      .finally(() => {
        this.writing = undefined;
        if (this.pending.size) this.schedule();
      });
    return this.writing;
  }
}
