// The pings report (README "Suppliers that ping first"): per supplier and source, how many pings
// came, how many were quoted a price, how many were posted and sold, and the ping-to-post rate. It
// reads `inbound_pings` (with the leads their posts recorded) over the range directly: pings are
// not in the rollups, and a ping is one narrow row.
import type { Database } from "../db/client";
import { countPings } from "../db/pings";
import { fromCents } from "../money";

export interface PingReportRow {
  supplier: string;
  source: string | null;
  pings: number;
  bids: number;
  posts: number;
  sold: number;
  /** Posts over pings: how much of what suppliers ping they go on to post. */
  ping_to_post: number | null;
  /** Posts over pings quoted a price. */
  bid_to_post: number | null;
  quoted: number;
  payout: number;
}

const rate = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000);

export async function pingReport(
  database: Database,
  range: { from: Date; to: Date },
  filter: { campaign?: string; supplier?: string; test: boolean },
): Promise<PingReportRow[]> {
  const rows = await countPings(database, range, filter);
  return rows.map((r) => ({
    supplier: r.supplier_id,
    source: r.source,
    pings: r.pings,
    bids: r.bids,
    posts: r.posts,
    sold: r.sold,
    ping_to_post: rate(r.posts, r.pings),
    bid_to_post: rate(r.posts, r.bids),
    quoted: fromCents(Number(r.quoted_cents)),
    payout: fromCents(Number(r.payout_cents)),
  }));
}
