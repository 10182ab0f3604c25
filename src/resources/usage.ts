// Cap usage in read-backs: a channel, buyer or supplier shows each cap with what the current
// period has used and when it resets (SPEC.md "Caps usage"), in one query per response.
import { inArray } from "drizzle-orm";
import { periodWindow, type CapPeriod } from "../time/periods";
import { readUsage, usageKey, type CapScope, type UsageKey } from "../db/caps";
import type { Db } from "../db/client";
import { campaigns } from "../db/schema";
import { fromCents } from "../money";
import type { Cap } from "../shapes";
import type { ResourceKind } from "./store";

type Doc = Record<string, unknown> & { id: string };

const scopeOf: Partial<Record<ResourceKind, CapScope>> = { channels: "channel", buyers: "buyer", suppliers: "supplier" };

export async function withCapUsage<D extends Doc>(db: Db, kind: ResourceKind, docs: D[], now: number): Promise<D[]> {
  const scope = scopeOf[kind];
  const capped = docs.filter((d) => Array.isArray(d.caps) && d.caps.length > 0);
  if (!scope || capped.length === 0) return docs;
  // A channel without its own zone counts in its campaign's.
  const campaignZones = new Map<string, string>();
  if (kind === "channels") {
    const ids = [...new Set(capped.filter((d) => !d.timezone).map((d) => d.campaign_id as string))];
    if (ids.length) {
      const rows = await db.select({ id: campaigns.id, config: campaigns.config }).from(campaigns).where(inArray(campaigns.id, ids));
      for (const row of rows) campaignZones.set(row.id, ((row.config as { timezone?: string }).timezone ?? "UTC") as string);
    }
  }
  const zoneOf = (d: Doc) => (d.timezone as string | undefined) ?? campaignZones.get(d.campaign_id as string) ?? "UTC";
  const windows = new Map<Doc, { cap: Cap; key: UsageKey; resetsAt: number | null }[]>();
  for (const doc of capped) {
    windows.set(
      doc,
      (doc.caps as Cap[]).map((cap) => {
        const w = periodWindow(cap.period as CapPeriod, zoneOf(doc), now);
        return { cap, key: { scope, ownerId: doc.id, period: cap.period, periodStart: w.start }, resetsAt: w.resetsAt };
      }),
    );
  }
  const rows = await readUsage(db, [...windows.values()].flat().map((w) => w.key));
  const used = new Map(rows.map((r) => [usageKey(r), r]));
  return docs.map((doc) => {
    const caps = windows.get(doc);
    if (!caps) return doc;
    return {
      ...doc,
      caps: caps.map(({ cap, key, resetsAt }) => {
        const u = used.get(usageKey(key));
        return {
          ...cap,
          used: { leads: u?.leads ?? 0, spend: fromCents(u?.spendCents ?? 0) },
          resets_at: resetsAt === null ? null : new Date(resetsAt).toISOString(),
        };
      }),
    };
  });
}
