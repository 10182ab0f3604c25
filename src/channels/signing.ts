// Request signing (SPEC.md "Channel configuration" → `signing`): every ping and post carries
//
//   X-Gavel-Timestamp: <Unix seconds>
//   X-Gavel-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
//
// so a buyer can check the request came from this Gavel and was not replayed later. During a key
// rotation the channel holds two secrets and the header carries both signatures,
// `sha256=<a>,sha256=<b>`: a buyer accepts the request when any one of them matches a secret it
// knows, so it can switch secrets whenever it likes. A GET has no body: its query string is signed.
import { createHmac } from "node:crypto";
import type { Signing } from "./config";

export const TIMESTAMP_HEADER = "x-gavel-timestamp";
export const SIGNATURE_HEADER = "x-gavel-signature";

export function signature(secret: string, timestamp: number, payload: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${payload}`).digest("hex");
}

/** The two signing headers for a payload (the body, or the query string of a GET). */
export function signingHeaders(config: Signing, payload: string, nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const secrets = config.previous_secret ? [config.secret, config.previous_secret] : [config.secret];
  return {
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: secrets.map((s) => `sha256=${signature(s, timestamp, payload)}`).join(","),
  };
}
