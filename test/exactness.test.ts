// Caps and dedup hold exactly under concurrency: 300 leads at once against a channel capped at 37,
// in one process and — on PostgreSQL — split across two Gavel processes sharing the database (the
// second a real child process). Enforcement is in the database, so the count is exact either way.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestBuyer } from "./helpers/buyers";
import { onPostgres } from "./helpers/db";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";
import { startChildGavel, type ChildGavel } from "./helpers/process";

const LEADS = 300;
const CAP = 37;
// Generous time: the point is exactness, and this machine is shared.
const auction = { timeout_ms: 20_000, ping_timeout_ms: 10_000, post_timeout_ms: 8000 };

describe("exact caps and dedup under concurrency", () => {
  const fixture = useTestGavel({ GAVEL_MAX_AUCTIONS: "1000" });
  let g: TestGavel;
  let child: ChildGavel | undefined;
  beforeAll(() => {
    g = fixture.g;
  });
  afterAll(async () => {
    await child?.stop();
  });

  /** Sends every lead at once, alternating between the given Gavels; returns the answers. */
  async function sendAll(urls: string[], apiKey: string, bodies: unknown[]): Promise<any[]> {
    return Promise.all(
      bodies.map(async (body, i) => {
        const res = await fetch(`${urls[i % urls.length]}/v1/leads`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(200);
        return res.json();
      }),
    );
  }

  async function setupRace(prefix: string, cap: Record<string, unknown>, capBid: number) {
    const capped = await fixture.buyer({ ping: () => ({ json: { bid: capBid } }) });
    const next = await fixture.buyer({ ping: () => ({ json: { bid: 1 } }) });
    const key = await g.setup({
      campaign: { id: prefix, auction },
      channels: [pingPost(`${prefix}-capped`, capped, { caps: [cap] }), pingPost(`${prefix}-next`, next)],
    });
    return { capped, next, key };
  }

  async function expectExact(prefix: string, capped: TestBuyer, next: TestBuyer, answers: any[], expected: number) {
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === "sold")).toHaveLength(LEADS);
    expect(capped.posts).toHaveLength(expected);
    expect(next.posts).toHaveLength(LEADS - expected);
    const [row] = await g.gavel.database.rows<{ leads: number; sold: number }>(sql`
      select (select leads from cap_usage where owner_id = ${`${prefix}-capped`}) as leads,
             (select count(*)::int from attempts where channel_id = ${`${prefix}-capped`} and outcome = 'accepted') as sold`);
    expect(row).toEqual({ leads: expected, sold: expected });
  }

  it(`sells exactly ${CAP} of ${LEADS} concurrent leads to a channel capped at ${CAP} a day; the rest go to the next bidder`, async () => {
    const { capped, next, key } = await setupRace("race-one", { period: "day", leads: CAP }, 9);
    const answers = await sendAll([g.url], key, Array.from({ length: LEADS }, () => ({ campaign: "race-one", data: consumer() })));
    await expectExact("race-one", capped, next, answers, CAP);
  }, 60_000);

  describe("two Gavel processes on one PostgreSQL", () => {
    const skip = !onPostgres; // PGlite is one process's embedded database: nothing to share.
    beforeAll(async () => {
      if (skip) return;
      // A short configuration TTL: each race configures itself through this process, then waits it out.
      const target = g.target as { url: string };
      child = await startChildGavel(target.url, { GAVEL_MAX_AUCTIONS: "1000", GAVEL_CONFIG_TTL_MS: "200" });
    }, 60_000);

    it.skipIf(skip)(`sells exactly ${CAP} leads to a channel capped at ${CAP} leads a day`, async () => {
      const { capped, next, key } = await setupRace("race-two-leads", { period: "day", leads: CAP }, 9);
      await new Promise((r) => setTimeout(r, 400)); // past the child's configuration TTL
      const answers = await sendAll([g.url, child!.url], key, Array.from({ length: LEADS }, () => ({ campaign: "race-two-leads", data: consumer() })));
      await expectExact("race-two-leads", capped, next, answers, CAP);
    }, 60_000);

    it.skipIf(skip)("sells exactly as much as fits a spend cap: 37 sales of 2.50 under 92.50", async () => {
      const { capped, next, key } = await setupRace("race-two-spend", { period: "month", spend: 92.5 }, 2.5);
      await new Promise((r) => setTimeout(r, 400));
      const answers = await sendAll([g.url, child!.url], key, Array.from({ length: LEADS }, () => ({ campaign: "race-two-spend", data: consumer() })));
      await expectExact("race-two-spend", capped, next, answers, CAP);
      const [row] = await g.gavel.database.rows<{ spend: number }>(sql`select spend_cents::int as spend from cap_usage where owner_id = 'race-two-spend-capped'`);
      expect(row.spend).toBe(9250);
    }, 60_000);

    it.skipIf(skip)("runs one auction for the same consumer sent 20 times at once across both processes", async () => {
      const b = await fixture.buyer({ ping: () => ({ json: { bid: 4 } }) });
      const key = await g.setup({ campaign: { id: "race-two-dedup", auction, dedup: { fields: ["email", "phone"] } }, channels: [pingPost("race-two-dedup-a", b)] });
      await new Promise((r) => setTimeout(r, 400));
      const person = consumer();
      const answers = await sendAll([g.url, child!.url], key, Array.from({ length: 20 }, () => ({ campaign: "race-two-dedup", data: person })));
      expect(answers.map((a) => a.status).sort()).toEqual([...Array(19).fill("duplicate"), "sold"]);
      expect(b.pings).toHaveLength(1);
    }, 60_000);

    it.skipIf(skip)("sends a buyer the same consumer once when two campaigns sell it at once across both processes", async () => {
      await g.admin("POST", "/v1/buyers", { id: "race-picky", name: "Picky", dedup: { fields: ["email"], lookback_days: 30 } });
      const picky = await fixture.buyer({ ping: () => ({ json: { bid: 9 } }) });
      const other = await fixture.buyer({ ping: () => ({ json: { bid: 1 } }) });
      const keys = [];
      for (const id of ["race-two-bd-a", "race-two-bd-b"])
        keys.push(
          await g.setup({
            campaign: { id, auction, dedup: { fields: [], lookback_days: 0 } },
            channels: [pingPost(`${id}-picky`, picky, { buyer_id: "race-picky" }), pingPost(`${id}-other`, other)],
          }),
        );
      await new Promise((r) => setTimeout(r, 400));
      const person = consumer();
      const answers = await Promise.all([
        sendAll([g.url, child!.url], keys[0], Array.from({ length: 10 }, () => ({ campaign: "race-two-bd-a", data: person }))),
        sendAll([child!.url, g.url], keys[1], Array.from({ length: 10 }, () => ({ campaign: "race-two-bd-b", data: person }))),
      ]);
      expect(answers.flat().filter((a) => a.status === "sold")).toHaveLength(20);
      expect(picky.posts).toHaveLength(1);
      expect(other.posts).toHaveLength(19);
    }, 60_000);
  });
});
