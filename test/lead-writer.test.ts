// Group commit of the end-of-auction writes: outcomes that end while a batch is being written go out
// together in one statement, each caller hears back only when its own batch committed, and one bad
// outcome does not fail the others of its batch.
import { describe, expect, it } from "vitest";
import { DatabaseUnavailable, type Database } from "../src/db/client";
import { LeadWriter } from "../src/db/lead-writer";
import { finishLeads, type LeadOutcome } from "../src/db/leads";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";
import { eventually, latch } from "./helpers/latch";

function outcome(leadId: string): LeadOutcome {
  const at = new Date("2026-01-01T00:00:00Z");
  return {
    leadId,
    status: "sold",
    reason: null,
    decidedAt: at,
    priceCents: 100,
    revenueCents: 150,
    soldTo: 1,
    soldChannelId: "c",
    soldBuyerId: "acme",
    excluded: [],
    overheadMs: 3,
    attempts: [{ kind: "ping", channelId: "c", startedAt: at, durationMs: 5, httpStatus: 200, outcome: "bid", priceCents: 150, reason: null, pingRef: null }],
    events: [{ status: "sold", at, reason: "sold_to: c" }],
  };
}

/** A database that records each statement's lead ids, takes 20 ms per statement and fails any that holds "bad". */
function fakeDatabase() {
  const statements: string[][] = [];
  const database = {
    kind: "postgres",
    async query(_text: string, params: readonly unknown[]) {
      const outcomes = JSON.parse(params[0] as string) as [string, ...unknown[]][];
      const ids = outcomes.map(([id]) => id);
      statements.push(ids);
      await new Promise((r) => setTimeout(r, 20));
      if (ids.includes("lead-bad")) throw new Error("violates foreign key");
      return [];
    },
  } as unknown as Database;
  return { database, statements };
}

describe("group commit of finished leads", () => {
  it("writes a lone outcome at once, and groups the ones that end while a batch is written", async () => {
    const { database, statements } = fakeDatabase();
    const writer = new LeadWriter(database, { maxInFlight: 1, maxBatch: 3 });
    await writer.finish(outcome("lead-0"));
    expect(statements).toEqual([["lead-0"]]);
    await new Promise((r) => setTimeout(r, 0)); // the writer is idle again
    const done: string[] = [];
    await Promise.all(["lead-1", "lead-2", "lead-3", "lead-4", "lead-5"].map((id) => writer.finish(outcome(id)).then(() => done.push(id))));
    expect(statements.slice(1)).toEqual([["lead-1"], ["lead-2", "lead-3", "lead-4"], ["lead-5"]]);
    expect(done).toEqual(["lead-1", "lead-2", "lead-3", "lead-4", "lead-5"]);
  });

  it("fails only the bad outcome of a batch: the others are written alone", async () => {
    const { database, statements } = fakeDatabase();
    const writer = new LeadWriter(database, { maxInFlight: 1 });
    const results = await Promise.allSettled(["lead-a", "lead-b", "lead-bad", "lead-c"].map((id) => writer.finish(outcome(id))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(statements).toEqual([["lead-a"], ["lead-b", "lead-bad", "lead-c"], ["lead-b"], ["lead-bad"], ["lead-c"]]);
  });

  it("fails a batch the database does not take without holding up the next, and writes its outcomes once the database is back", async () => {
    const statements: string[][] = [];
    const firstSent = latch();
    const release = latch();
    let down = true;
    const database = {
      kind: "postgres",
      async query(_text: string, params: readonly unknown[]) {
        const ids = (JSON.parse(params[0] as string) as [string][]).map(([id]) => id);
        statements.push(ids);
        if (ids.includes("lead-lost")) {
          firstSent.open();
          // The connection went silent: the answer comes (as a failure) only when the test says.
          await release.promise;
        }
        if (down) throw new DatabaseUnavailable("The database did not answer within 2000 ms", "unknown");
        return ids.map((id) => ({ id }));
      },
    } as unknown as Database;
    const writer = new LeadWriter(database, { maxInFlight: 1, retryMs: 5 });
    const lost = writer.finish(outcome("lead-lost"));
    await firstSent.promise;
    const next = writer.finish(outcome("lead-next"));
    release.open();
    await expect(lost).rejects.toBeInstanceOf(DatabaseUnavailable);
    // The next batch went out after the failed one, not behind it forever; it failed too (still down).
    await expect(next).rejects.toBeInstanceOf(DatabaseUnavailable);
    expect(writer.unsettledCount).toBe(2);
    down = false;
    await eventually(() => writer.unsettledCount === 0, "the kept outcomes to be written");
    expect(statements.at(-1)).toEqual(["lead-lost", "lead-next"]);
    // Once written, a new outcome goes out at once.
    await expect(writer.finish(outcome("lead-after"))).resolves.toBe(true);
  });

  describe("on the real database", () => {
    const t = useTestGavel();

    it("records every lead of a burst completely: outcome, attempts, events and idempotent answer", async () => {
      const buyer = await t.buyer({ ping: () => ({ json: { bid: 7 } }) });
      // A long deadline: 24 leads at once on a busy machine may wait seconds for their pings, and this
      // test is about what the group commit writes, not about how fast.
      const key = await t.g.setup({ campaign: { id: "grouped", auction: { timeout_ms: 20_000, ping_timeout_ms: 15_000, post_timeout_ms: 4_000 } }, channels: [pingPost("grouped-ch", buyer)], supplier: { id: "grouped-sup" } });
      const bodies = Array.from({ length: 24 }, () => ({ campaign: "grouped", data: consumer() }));
      const answers = await Promise.all(bodies.map((body, i) => t.g.lead(key, body, { "idempotency-key": `grouped-${i}` })));
      expect(answers.map((a) => a.body.status)).toEqual(Array(24).fill("sold"));
      for (const a of answers) {
        const trace = (await t.g.admin("GET", a.body.trace_url)).body;
        expect(trace).toMatchObject({ status: "sold", sold_to: 1, revenue: 7 });
        expect(trace.attempts.map((x: any) => x.kind)).toEqual(["ping", "post"]);
        expect(trace.history.map((h: any) => h.status)).toEqual(["received", "auctioning", "sold"]);
      }
      const replay = await t.g.lead(key, bodies[3], { "idempotency-key": "grouped-3" });
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.body).toEqual(answers[3].body);
    });

    it("settles a lead once: the same outcome written again (its first answer was lost) changes nothing", async () => {
      const buyer = await t.buyer({ ping: () => ({ json: { bid: 4 } }) });
      const key = await t.g.setup({ campaign: { id: "once" }, channels: [pingPost("once-ch", buyer)], supplier: { id: "once-sup" } });
      const sold = await t.g.lead(key, { campaign: "once", data: consumer() });
      const leadId = sold.body.lead_id;
      const before = (await t.g.admin("GET", `/v1/leads/${leadId}`)).body;
      const again = { ...outcome(leadId), status: "unsold" as const, reason: "no_bids" as const, priceCents: 0, revenueCents: 0, soldTo: 0 };
      expect(await finishLeads(t.g.gavel.database, [again])).toEqual(new Set());
      expect((await t.g.admin("GET", `/v1/leads/${leadId}`)).body).toEqual(before);
    });
  });
});
