// A buyer's postback is signed the way Gavel signs its own requests to buyers (channels/signing.ts),
// the other way round: X-Gavel-Timestamp (Unix seconds) and X-Gavel-Signature: sha256=<hex
// HMAC-SHA256 of "<timestamp>.<body>"> by the buyer's postbacks.secret. While the buyer switches
// secrets, a signature by postbacks.previous_secret is accepted too, and the header may carry
// several signatures (any one that matches will do). A timestamp more than five minutes from
// Gavel's clock is refused, so a captured postback cannot be replayed later.
import { timingSafeEqual } from "node:crypto";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signature } from "../channels/signing";
import type { BuyerPostbacks } from "../resources/schemas";

export { SIGNATURE_HEADER, TIMESTAMP_HEADER };

/** How far a postback's timestamp may be from Gavel's clock, either way. */
export const POSTBACK_TOLERANCE_S = 300;

export type SignatureCheck = { ok: true } | { ok: false; why: string };

export function checkPostbackSignature(
  config: BuyerPostbacks,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowMs: number,
): SignatureCheck {
  if (!headers.timestamp || !headers.signature)
    return { ok: false, why: `Sign the postback: ${TIMESTAMP_HEADER} (Unix seconds) and ${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` };
  if (!/^\d{1,12}$/.test(headers.timestamp)) return { ok: false, why: `${TIMESTAMP_HEADER} must be Unix seconds` };
  const timestamp = Number(headers.timestamp);
  if (Math.abs(nowMs / 1000 - timestamp) > POSTBACK_TOLERANCE_S)
    return { ok: false, why: `${TIMESTAMP_HEADER} is more than ${POSTBACK_TOLERANCE_S} s from Gavel's clock (${Math.floor(nowMs / 1000)})` };
  const given = headers.signature
    .split(",")
    .map((part) => /^\s*sha256=([0-9a-fA-F]{64})\s*$/.exec(part)?.[1]?.toLowerCase())
    .filter((hex): hex is string => hex !== undefined);
  const secrets = config.previous_secret ? [config.secret, config.previous_secret] : [config.secret];
  for (const secret of secrets) {
    const expected = Buffer.from(signature(secret, timestamp, body), "hex");
    if (given.some((hex) => timingSafeEqual(Buffer.from(hex, "hex"), expected))) return { ok: true };
  }
  return { ok: false, why: "The signature does not match the buyer's postback secret" };
}
