// Channel health: a circuit breaker per channel. After `failures` consecutive errors or timeouts a
// channel's circuit opens and leads skip it (reason `circuit_open`) for `cooldown_ms`, so a dead
// buyer stops costing every lead a ping timeout. Then one lead is let through as a probe
// (half-open): a good answer closes the circuit, another failure opens it again.
//
// State lives in this process's memory: each Gavel process learns a buyer's health from its own
// traffic, and a restart starts every circuit closed. That is deliberate — health is a fast local
// reflex, not a rule that must hold across processes the way caps and dedup do.

import { GAVEL_STALLED, PING_NOT_SENT, POST_NOT_SENT } from "./native";

export type CircuitState = "closed" | "open" | "half_open";

export interface CircuitSettings {
  failures: number;
  cooldown_ms: number;
}

export interface CircuitTransition {
  state: CircuitState;
  at: string;
  reason: string;
  lead_id: string | null;
}

export interface ChannelHealthView {
  state: CircuitState;
  consecutive_failures: number;
  opened_at: string | null;
  /** When an open circuit lets its next probe through. */
  retry_at: string | null;
  failure_threshold: number;
  cooldown_ms: number;
  history: CircuitTransition[];
}

const HISTORY = 20;
/** A probe whose lead never reported back (a crash mid-auction) stops blocking the next one after this. */
const PROBE_STALE_MS = 120_000;

/** Outcomes that say the buyer is unwell; any other answer says it is alive. `skipped` says nothing. */
const FAILURES = new Set(["timeout", "error", "unknown"]);
const NEUTRAL = new Set(["skipped"]);

export class ChannelHealth {
  private state: CircuitState = "closed";
  private failures = 0;
  private openedAt: number | null = null;
  private probe: { owner: object; at: number } | null = null;
  private readonly history: CircuitTransition[] = [];

  constructor(private settings: CircuitSettings) {}

  configure(settings: CircuitSettings): void {
    this.settings = settings;
  }

  /**
   * May a lead use this channel now? Letting a lead through a half-open circuit makes it the probe;
   * `owner` (the lead) must later `report` or `release`.
   */
  admit(owner: object, now: number): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") {
      if (now - (this.openedAt ?? now) < this.settings.cooldown_ms) return false;
      this.move("half_open", now, "cooldown over: letting one probe lead through", null);
    }
    if (this.probe && now - this.probe.at < PROBE_STALE_MS) return false;
    this.probe = { owner, at: now };
    return true;
  }

  /** Whether `admit` would let a lead through now, without claiming the probe (explain). */
  wouldAdmit(now: number): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open" && now - (this.openedAt ?? now) < this.settings.cooldown_ms) return false;
    return !(this.probe && now - this.probe.at < PROBE_STALE_MS);
  }

  /** Records one attempt's outcome. */
  report(outcome: string, now: number, leadId: string): void {
    if (NEUTRAL.has(outcome)) return;
    if (!FAILURES.has(outcome)) {
      this.failures = 0;
      if (this.state === "half_open") this.move("closed", now, `probe answered (${outcome})`, leadId);
      this.probe = null;
      return;
    }
    this.failures++;
    if (this.state === "half_open") this.move("open", now, `probe failed (${outcome})`, leadId);
    else if (this.state === "closed" && this.failures >= this.settings.failures)
      this.move("open", now, `${this.failures} consecutive failures (last: ${outcome})`, leadId);
  }

  /** A lead that was let through but never reached the buyer (it lost the ranking) gives its probe back. */
  release(owner: object): void {
    if (this.probe?.owner === owner) this.probe = null;
  }

  view(now: number): ChannelHealthView {
    const retryAt = this.state === "open" && this.openedAt !== null ? this.openedAt + this.settings.cooldown_ms : null;
    return {
      state: this.state,
      consecutive_failures: this.failures,
      opened_at: this.openedAt === null || this.state === "closed" ? null : new Date(this.openedAt).toISOString(),
      retry_at: retryAt === null ? null : new Date(Math.max(retryAt, now)).toISOString(),
      failure_threshold: this.settings.failures,
      cooldown_ms: this.settings.cooldown_ms,
      history: [...this.history],
    };
  }

  private move(state: CircuitState, now: number, reason: string, leadId: string | null): void {
    this.state = state;
    if (state === "open") this.openedAt = now;
    if (state !== "half_open") this.probe = null;
    this.history.push({ state, at: new Date(now).toISOString(), reason, lead_id: leadId });
    if (this.history.length > HISTORY) this.history.shift();
  }
}

/** Every channel's health in this process, by channel id; it outlives configuration reloads. */
export class HealthRegistry {
  private readonly channels = new Map<string, ChannelHealth>();

  for(channelId: string, settings: CircuitSettings): ChannelHealth {
    let health = this.channels.get(channelId);
    if (health) health.configure(settings);
    else this.channels.set(channelId, (health = new ChannelHealth(settings)));
    return health;
  }

  view(channelId: string, settings: CircuitSettings, now: number): ChannelHealthView {
    return (this.channels.get(channelId) ?? new ChannelHealth(settings)).view(now);
  }
}

/**
 * After an auction: each attempt reports to its channel's health, and every channel the lead was
 * let through gives back a probe it did not use.
 */
export function settleHealth(
  admitted: readonly { id: string; health: ChannelHealth }[],
  attempts: readonly { channelId: string; outcome: string; reason?: string | null; congested?: boolean }[],
  owner: object,
  leadId: string,
  now: number,
  gavelOverloaded = false,
): void {
  const byId = new Map(admitted.map((c) => [c.id, c.health]));
  // A timeout Gavel caused by stalling is neither a failure nor a sign of life; nor is a request
  // that never reached its socket while Gavel was overloaded (shedding load with 503, or its event
  // loop saturated), or while Gavel's pool of connections to that buyer's origin was full (other
  // endpoints there, hanging, may hold every connection): it waited in Gavel's own queue. A buyer
  // that had the request on time and let the deadline pass is unhealthy whatever Gavel's load, so
  // a hanging buyer is cut off even then.
  for (const a of attempts) {
    if (a.reason === GAVEL_STALLED || a.congested) continue;
    if (gavelOverloaded && (a.reason === PING_NOT_SENT || a.reason === POST_NOT_SENT)) continue;
    byId.get(a.channelId)?.report(a.outcome, now, leadId);
  }
  for (const c of admitted) c.health.release(owner);
}
