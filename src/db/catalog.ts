// Reads of configuration for the auction engine (cached by src/auction/catalog.ts, never per lead).
import { and, eq, ne } from "drizzle-orm";
import type { Db } from "./client";
import { buyers, campaigns, channels, supplierKeys, suppliers } from "./schema";

export async function loadCampaignConfig(db: Db, campaignId: string) {
  const [campaign] = await db.select({ config: campaigns.config }).from(campaigns).where(eq(campaigns.id, campaignId));
  if (!campaign) return undefined;
  const rows = await db
    .select({ channel: channels.config, buyer: buyers.config })
    .from(channels)
    .innerJoin(buyers, eq(buyers.id, channels.buyerId))
    .where(and(eq(channels.campaignId, campaignId), ne(channels.status, "archived")))
    .orderBy(channels.id);
  return { campaign: campaign.config, channels: rows };
}

export async function findSupplierKey(db: Db, keyId: string) {
  const [row] = await db
    .select({
      supplier: suppliers.config,
      keyHash: supplierKeys.keyHash,
      expiresAt: supplierKeys.expiresAt,
      revokedAt: supplierKeys.revokedAt,
    })
    .from(supplierKeys)
    .innerJoin(suppliers, eq(suppliers.id, supplierKeys.supplierId))
    .where(eq(supplierKeys.id, keyId));
  return row;
}
