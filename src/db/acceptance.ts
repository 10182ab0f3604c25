// Channels' post-acceptance tallies (`channel_acceptance`), which `rank_by: "expected"` ranks with:
// how many posts each channel was sent and how many it accepted, both decaying exponentially with
// a half-life. Every Gavel process adds what its posts did, in one statement for many channels, and
// reads them all back, so processes sharing the database share one estimate.
import type { Database } from "./client";

/** A channel's decayed counts as of `asOf` (epoch ms). */
export interface AcceptanceTally {
  posted: number;
  accepted: number;
  asOf: number;
}

/** Posts to add to a channel's tally: counts as of `at` (epoch ms), decaying with `halfLifeHours`. */
export interface AcceptanceDelta {
  channelId: string;
  posted: number;
  accepted: number;
  at: number;
  halfLifeHours: number;
}

/**
 * Adds posts to the tallies in ONE statement: each row's stored counts are decayed from its `as_of`
 * to the new posts' time, then the posts are added. The row lock of the upsert serialises writers
 * of one channel, so no process's posts are lost. A writer whose clock is behind the row's does not
 * decay it backwards (the elapsed time is at least 0) and does not move `as_of` back.
 */
const ADD = `
  insert into channel_acceptance as c (channel_id, posted, accepted, as_of, half_life_hours)
  select r->>0, (r->>1)::float8, (r->>2)::float8, (r->>3)::timestamptz, (r->>4)::float8
  from jsonb_array_elements($1::text::jsonb) r
  on conflict (channel_id) do update set
    posted = c.posted * power(0.5, greatest(0, extract(epoch from excluded.as_of - c.as_of)) / 3600 / excluded.half_life_hours) + excluded.posted,
    accepted = c.accepted * power(0.5, greatest(0, extract(epoch from excluded.as_of - c.as_of)) / 3600 / excluded.half_life_hours) + excluded.accepted,
    as_of = greatest(c.as_of, excluded.as_of),
    half_life_hours = excluded.half_life_hours`;

/** Adds posts to their channels' tallies; one delta per channel. */
export async function addAcceptance(database: Database, deltas: readonly AcceptanceDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const rows = deltas.map((d) => [d.channelId, d.posted, d.accepted, new Date(d.at).toISOString(), d.halfLifeHours]);
  await database.query(ADD, [JSON.stringify(rows)]);
}

/** The stored tallies of these channels (a channel never posted to has none). */
export async function loadAcceptance(database: Database, channelIds: readonly string[]): Promise<Map<string, AcceptanceTally>> {
  const tallies = new Map<string, AcceptanceTally>();
  if (channelIds.length === 0) return tallies;
  const rows = await database.query<{ channel_id: string; posted: number | string; accepted: number | string; as_of: Date | string }>(
    `select channel_id, posted, accepted, as_of from channel_acceptance
     where channel_id in (select jsonb_array_elements_text($1::text::jsonb))`,
    [JSON.stringify(channelIds)],
  );
  for (const r of rows)
    tallies.set(r.channel_id, { posted: Number(r.posted), accepted: Number(r.accepted), asOf: new Date(r.as_of).getTime() });
  return tallies;
}
