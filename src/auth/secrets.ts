// Secrets Gavel issues (supplier API keys, operator tokens) are stored only as their SHA-256 hash,
// and a presented secret is compared in constant time, so timing says nothing about it.
import { createHash, timingSafeEqual } from "node:crypto";

/** The stored form of a secret: its SHA-256, in hex. */
export const hashSecret = (secret: string): string => createHash("sha256").update(secret).digest("hex");

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/** Whether two secrets are the same, compared as equal-length digests in constant time. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** Whether two stored hashes (hex) are the same, in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
