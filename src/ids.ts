// Identifiers. Lead ids are UUIDv7 (RFC 9562): time-ordered, so the primary key index grows at its
// end and doubles as the listing order.
import { randomFillSync } from "node:crypto";

// Random bytes are drawn from the CSPRNG 4 KiB at a time: one call per 256 ids rather than one per
// id (a lead takes one id plus one per ping, and the per-call cost dominated).
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

export function uuidv7(now: number = Date.now()): string {
  if (offset + 16 > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const bytes = Buffer.from(POOL.subarray(offset, offset + 16));
  offset += 16;
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
