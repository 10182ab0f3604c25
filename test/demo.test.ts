// `npm run demo` end to end, smaller: runDemo with 12 leads on this suite's database (PGlite in
// memory, or a fresh PostgreSQL database when DATABASE_URL is set).
import { afterAll, describe, expect, it } from "vitest";
import { demoChannels, channelId, runDemo, type DemoSummary } from "../src/demo/run";
import { freshDatabase } from "./helpers/db";

describe("npm run demo", () => {
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await drop?.();
  });

  it("runs an auction batch, prints both tables and shuts everything down", async () => {
    const db = await freshDatabase();
    drop = db.drop;
    let output = "";
    const summary: DemoSummary = await runDemo({ leads: 12, out: (text) => (output += text), target: db.target, logLevel: "silent" });

    // Both tables, with their headers.
    expect(output).toMatch(/^Leads$/m);
    expect(output).toMatch(/^\s*#\s+lead\s+kind\s+status\s+http\s+payout\s+revenue\s+winner\s+ms\s+source\s+note/m);
    expect(output).toMatch(/^Channels/m);
    expect(output).toMatch(/^channel\s+type\s+pings\s+bids\s+no-bid\s+timeouts\s+errors\s+posts\s+rejects\s+wins\s+excluded\s+p50 ms\s+p95 ms/m);

    // Every lead has an outcome; the planted duplicates and invalid lead show as such; something sold.
    expect(summary.leads).toHaveLength(12);
    for (const lead of summary.leads) expect(["sold", "unsold", "duplicate", "rejected", "error"]).toContain(lead.status);
    expect(summary.leads.filter((l) => l.kind === "duplicate").map((l) => l.status)).toEqual(["duplicate", "duplicate"]);
    expect(summary.leads.filter((l) => l.kind === "invalid").map((l) => l.status)).toEqual(["rejected"]);
    expect(summary.counts.sold).toBeGreaterThanOrEqual(1);
    // The supplier sends a few sources and sub-ids; each lead's, as its trace shows it, is in the table.
    expect(new Set(summary.leads.map((l) => l.source).filter((s) => s !== null)).size).toBeGreaterThanOrEqual(3);
    expect(output).toMatch(/quotes-site\/kw-/);
    for (const lead of summary.leads.filter((l) => l.status === "sold")) {
      expect(lead.winner).not.toBeNull();
      expect(lead.revenue).toBeGreaterThanOrEqual(lead.price);
    }

    // The channel table comes from the traces.
    const stats = (predicate: (c: (typeof demoChannels)[number]) => boolean) => {
      const channel = demoChannels.find(predicate)!;
      return summary.channels.find((c) => c.channel === channelId(channel.profile.name))!;
    };
    const hanging = stats((c) => c.profile.hang === true);
    expect(hanging.timeouts).toBeGreaterThan(0);
    expect(hanging.wins).toBe(0);
    const rejecting = stats((c) => c.profile.rejectRate === 1);
    // It bids highest, so every bid it makes is posted first and rejected. (On a loaded machine its
    // pings can all miss the 300 ms timeout; then there is nothing to reject.)
    expect(rejecting.rejects).toBe(rejecting.bids);
    expect(rejecting.wins).toBe(0);
    expect(summary.channels.reduce((n, c) => n + c.wins, 0)).toBe(summary.counts.sold);

    // Resolved means shut down: nothing answers on Gavel's or the buyers' ports any more.
    expect(summary.closed).toBe(true);
    expect(output).toMatch(/^Shut down/m);
    for (const url of [summary.gavelUrl, ...Object.values(summary.buyerUrls)])
      await expect(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, 120_000);
});
