// What settling a lead after its auction needs of the configuration as it is now: a resource's
// config, and the cap rules a post's reservation counted in (shared by resolve.ts and confirm.ts).
import { eq } from "drizzle-orm";
import { capRules, paceRule, type CapRule } from "../auction/caps";
import type { Channel } from "../channels/config";
import type { Actor } from "../db/audit";
import type { Db } from "../db/client";
import { buyers, campaigns, channels, suppliers } from "../db/schema";
import type { Buyer, Campaign } from "../resources/schemas";

/** What settles a lead: an outcome (a sale's price null: what its post offered). */
export type Settlement = { outcome: "sold"; channelId: string; priceCents: number | null } | { outcome: "unsold" };

/** Who settles a lead, and how the lead's history and the audit log name them. */
export interface Settler {
  actor: Actor;
  /** `token:<id>`, `env:ADMIN_TOKEN`, `postback:<buyer>/<event id>`, `sweep`. */
  by: string;
  note?: string;
}

export async function configOf<T>(tx: Db, table: typeof buyers | typeof campaigns | typeof channels | typeof suppliers, id: string): Promise<T | undefined> {
  const [row] = await tx.select({ config: table.config }).from(table).where(eq(table.id, id));
  return row?.config as T | undefined;
}

/** The cap rules a post's reservation counted in, as its channel and buyer are configured now (catalog.ts planChannel). */
export async function reservedRules(tx: Db, channelId: string, campaign: Campaign | undefined): Promise<{ rules: CapRule[]; buyer: Buyer | undefined }> {
  const channel = await configOf<Channel>(tx, channels, channelId);
  if (!channel) return { rules: [], buyer: undefined };
  const buyer = await configOf<Buyer>(tx, buyers, channel.buyer_id);
  const zone = channel.timezone ?? campaign?.timezone ?? "UTC";
  return {
    rules: [
      ...capRules("channel", channel.id, channel.caps ?? [], zone, "cap"),
      ...(buyer ? capRules("buyer", buyer.id, buyer.caps ?? [], buyer.timezone, "buyer_cap") : []),
      ...(channel.pacing ? [paceRule(channel.id, channel.pacing.leads_per_minute)] : []),
    ],
    buyer,
  };
}
