// Configuration read from the database and kept in memory for a short TTL, so a lead costs a map
// lookup instead of a query. Used for the engine's campaigns (auction/catalog.ts) and for supplier
// API keys (auth/supplier-keys.ts): both must keep serving leads while the database is slow or away.
import { unavailable } from "./client";

interface Entry<T> {
  value: Promise<T>;
  expiresAt: number;
  /** What `value` resolved to, once it has. */
  settled?: { value: T };
  /** The last good read before this one, served while this one does not answer. */
  fallback?: { value: T };
}

/**
 * How long a lead waits for configuration being re-read before it goes on with what this process
 * read last: a re-read takes a millisecond when the database answers, and a database that does not
 * answer must not hold every lead up for the statement bound (the lead's own statements then fail
 * within its deadline instead).
 */
const STALE_AFTER_MS = 100;

export class ReadCache<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs: number,
    /** Wall-clock milliseconds (the app's clock). */
    private readonly now: () => number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The cached read of `key`, loading it when absent or older than the TTL. */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > now) return served(hit);
    const entry: Entry<T> = { value: load(), expiresAt: now + this.ttlMs, fallback: hit?.settled ?? hit?.fallback };
    this.entries.set(key, entry);
    entry.value.then(
      (value) => (entry.settled = { value }),
      () => {
        // A failed load is not cached: the next lead tries again (keeping the last good read).
        if (this.entries.get(key) !== entry) return;
        if (entry.fallback) this.entries.set(key, { value: Promise.resolve(entry.fallback.value), expiresAt: this.now(), settled: entry.fallback });
        else this.entries.delete(key);
      },
    );
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return served(entry);
  }

  /** Forgets every read: the next one of each key goes to the database. */
  clear(): void {
    this.entries.clear();
  }
}

/**
 * A cached read as a lead gets it: a read that is in, or one still loading. A reload that does not
 * answer within STALE_AFTER_MS, or cannot reach the database, gives way to the last good read.
 */
function served<T>(entry: Entry<T>): Promise<T> {
  const last = entry.fallback;
  if (entry.settled || !last) return entry.value;
  let timer: NodeJS.Timeout | undefined;
  const stale = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(last.value), STALE_AFTER_MS)));
  const fresh = entry.value.catch((error) => (unavailable(error) ? last.value : Promise.reject(error)));
  return Promise.race([fresh, stale]).finally(() => clearTimeout(timer));
}
