// Supplier API keys: their format, and which supplier a presented key belongs to. A key reads
// `gvl_<key id>_<secret>`: the public id finds the key's row, the secret is only ever hashed. A lead
// checks its key against a cached row (one map lookup and one SHA-256), never a query of its own.
import { randomBytes } from "node:crypto";
import type { Clock } from "../time/clock";
import { findSupplierKey } from "../db/catalog";
import type { Database } from "../db/client";
import { ReadCache } from "../db/read-cache";
import type { Supplier } from "../resources/schemas";
import { hashSecret, sameHash } from "./secrets";

/** A new supplier API key and the id of its row. */
export function newApiKey(): { keyId: string; apiKey: string } {
  const keyId = randomBytes(8).toString("hex");
  return { keyId, apiKey: `gvl_${keyId}_${randomBytes(32).toString("base64url")}` };
}

/** The key id of a string shaped like a supplier API key; undefined for anything else. */
export function keyIdOf(apiKey: string): string | undefined {
  return /^gvl_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/.exec(apiKey)?.[1];
}

type KeyRow = Awaited<ReturnType<typeof findSupplierKey>>;

/**
 * The keys this process has read, for GAVEL_CONFIG_TTL_MS. Writes through this process (a key
 * revoked, a supplier paused) call `invalidate`, so they apply at once; writes through another
 * process apply within the TTL.
 */
export class SupplierKeys {
  private readonly rows: ReadCache<KeyRow>;

  constructor(
    private readonly database: Database,
    ttlMs: number,
    private readonly clock: Clock,
  ) {
    this.rows = new ReadCache(ttlMs, () => clock.now());
  }

  /** The supplier an API key belongs to, if the key is live (neither revoked nor expired). */
  async supplierFor(apiKey: string): Promise<Supplier | undefined> {
    const keyId = keyIdOf(apiKey);
    if (!keyId) return undefined;
    const key = await this.rows.get(keyId, () => findSupplierKey(this.database.db, keyId));
    if (!key || !sameHash(hashSecret(apiKey), key.keyHash)) return undefined;
    if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= this.clock.now())) return undefined;
    return key.supplier as Supplier;
  }

  invalidate(): void {
    this.rows.clear();
  }
}
