// A channel's redirect for a user-choice offer (`offer.redirect_url`, POST /v1/offers): the buyer's
// page for the consumer who picks its offer. Compiled once with the channel and written for each
// offer from what the offer knows: the ping's fields and contact hashes, and the buyer's answer to
// its ping. Like a post URL, a value lands in the path or the query only, percent-encoded.
import type { Channel } from "./config";
import { compileUrlTemplate, hasPlaceholder } from "./template";

export interface OfferRedirectInput {
  /** The ping's id, which its post makes the lead's. */
  leadId: string;
  /** Gavel's ping of the buyer that made the bid; null for a direct post. */
  pingId: string | null;
  campaign: string;
  test: boolean;
  /** The ping's fields: non-PII only. */
  publicData: Record<string, unknown>;
  /** The ping's `contact_hashes` of fields whose hash a ping may carry (`ping_hash`). */
  contactHashes?: Record<string, string>;
  /** Epoch ms: when the ping arrived, and now. */
  receivedAt: number;
  now: number;
  pingRef: string | null;
  /** What the buyer would be charged. */
  chargeCents: number;
  sale: "exclusive" | "shared";
}

export type OfferRedirect = (input: OfferRedirectInput) => string;

/** The channel's offer redirect, or null when it has none. */
export function compileOfferRedirect(channel: Pick<Channel, "offer">): OfferRedirect | null {
  const url = channel.offer?.redirect_url;
  if (url === undefined) return null;
  if (!hasPlaceholder(url)) return () => url;
  const template = compileUrlTemplate(url, "post");
  return (input) =>
    template.render({
      lead_id: input.leadId,
      ping_id: input.pingId,
      campaign: input.campaign,
      test: input.test,
      data: input.publicData,
      contact_hashes: input.contactHashes,
      ping_ref: input.pingRef,
      price: input.chargeCents / 100,
      sale: input.sale,
      received_at: new Date(input.receivedAt).toISOString(),
      now: new Date(input.now).toISOString(),
    });
}
