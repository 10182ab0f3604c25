// Sticky routing's memory of returning consumers (routing_sticky) is forgotten once no campaign can
// route by it: past the longest sticky_days in use, or GAVEL_RETENTION_DAYS if that is longer. The
// sweep's step runs here with an explicit `now`, on a database of its own.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client";
import { findStickyBuyer, pruneStickyBuyers, rememberStickyBuyer } from "../src/db/routing";
import { DAY_MS } from "../src/time/clock";
import { freshDatabase } from "./helpers/db";

const NOW = Date.parse("2026-06-01T12:00:00Z");

describe("forgetting returning consumers", () => {
  let database: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    database = await openDatabase(fresh.target);
    await migrateDatabase(fresh.target, database);
  }, 120_000);

  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  const campaign = (id: string, routing: unknown) =>
    database.rows(sql`insert into campaigns (id, status, config) values (${id}, 'active', ${JSON.stringify({ routing })}::jsonb)
                      on conflict (id) do update set config = excluded.config`);
  /** A consumer of campaign `c` last sold `days` days before NOW. */
  const soldAgo = (c: string, key: string, days: number) =>
    rememberStickyBuyer(database, c, [key], { buyerId: "b", channelId: "ch", leadId: `lead-${key}`, soldAt: new Date(NOW - days * DAY_MS) });
  const keys = async () => (await database.rows<{ k: string }>(sql`select key_hash as k from routing_sticky order by key_hash`)).map((r) => r.k);

  it("keeps what the longest sticky window in use can still find, and forgets the rest", async () => {
    await campaign("sticky-short", { strategy: "price", sticky_days: 7 });
    await campaign("sticky-long", { strategy: "price", sticky_days: 30 });
    await campaign("not-sticky", { strategy: "round_robin" });
    await soldAgo("sticky-short", "a-1d", 1);
    await soldAgo("sticky-short", "a-20d", 20);
    await soldAgo("sticky-long", "b-29d", 29);
    await soldAgo("sticky-long", "b-31d", 31);
    await soldAgo("not-sticky", "c-40d", 40);

    // With a retention shorter than the longest window, the window decides: 30 days.
    expect(await pruneStickyBuyers(database, NOW, 10)).toBe(2);
    expect(await keys()).toEqual(["a-1d", "a-20d", "b-29d"]);
    // What is kept is still found by its campaign.
    expect(await findStickyBuyer(database, "sticky-long", ["b-29d"], new Date(NOW - 30 * DAY_MS))).toMatchObject({ leadId: "lead-b-29d" });
    // Nothing more to forget until time passes: a day later, the 29-day-old sale is 30 days old.
    expect(await pruneStickyBuyers(database, NOW, 10)).toBe(0);
    expect(await pruneStickyBuyers(database, NOW + 1 * DAY_MS + 1, 10)).toBe(1);
    expect(await keys()).toEqual(["a-1d", "a-20d"]);
  });

  it("keeps up to GAVEL_RETENTION_DAYS when that is longer, and nothing is forgotten with no window and a retention of 0", async () => {
    await soldAgo("sticky-long", "d-60d", 60);
    await soldAgo("sticky-long", "d-100d", 100);
    expect(await pruneStickyBuyers(database, NOW, 90)).toBe(1);
    expect(await keys()).toContain("d-60d");
    expect(await keys()).not.toContain("d-100d");

    await database.rows(sql`update campaigns set config = '{}'::jsonb`);
    await soldAgo("sticky-long", "e-5000d", 5000);
    expect(await pruneStickyBuyers(database, NOW, 0)).toBe(0);
    expect(await keys()).toContain("e-5000d");
    // No window in use: the retention alone decides.
    expect(await pruneStickyBuyers(database, NOW, 30)).toBe(2); // d-60d and e-5000d
    expect(await keys()).toEqual(["a-1d", "a-20d"]);
  });

  it("forgets a backlog a batch at a time", async () => {
    await campaign("sticky-long", { strategy: "price", sticky_days: 30 });
    for (let i = 0; i < 5; i++) await soldAgo("sticky-long", `old-${i}`, 45 + i);
    expect(await pruneStickyBuyers(database, NOW, 0, 2)).toBe(2);
    expect(await pruneStickyBuyers(database, NOW, 0, 2)).toBe(2);
    expect(await pruneStickyBuyers(database, NOW, 0, 2)).toBe(1);
    expect(await pruneStickyBuyers(database, NOW, 0, 2)).toBe(0);
    expect(await keys()).toEqual(["a-1d", "a-20d"]);
  });
});
