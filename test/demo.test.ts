// `npm run demo` end to end, smaller: runDemo with 12 leads on this suite's database (PGlite in
// memory, or a fresh PostgreSQL database when DATABASE_URL is set).
import { existsSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { demoChannels, channelId, runDemo, type DemoSummary } from "../src/demo/run";
import { freshDatabase } from "./helpers/db";
import { runShell, startShell, terminalEnv, type ShellProcess } from "./helpers/shell";

describe("npm run demo", () => {
  let drop: (() => Promise<void>) | undefined;
  let kept: ShellProcess | undefined;
  afterAll(async () => {
    await kept?.stop("SIGKILL");
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
    // It bids highest, so its bids are posted first, and every post it gets is rejected. (On a
    // loaded machine its pings can miss the 300 ms timeout, or the deadline can pass before a bid
    // is posted; then there is less to reject, never a sale.)
    expect(rejecting.rejects).toBe(rejecting.posts);
    expect(rejecting.posts).toBeLessThanOrEqual(rejecting.bids);
    expect(rejecting.wins).toBe(0);
    expect(summary.channels.reduce((n, c) => n + c.wins, 0)).toBe(summary.counts.sold);

    // Whole lead ids, so that one can be looked up; and how to look one up.
    for (const lead of summary.leads.filter((l) => l.leadId)) expect(output).toContain(` ${lead.leadId} `);
    expect(output).toMatch(/^To look leads up \(GET \/v1\/leads\/\{id\}\) after the run, run it with --keep: npm run demo -- --keep$/m);

    // Resolved means shut down: nothing answers on Gavel's or the buyers' ports any more.
    expect(summary.closed).toBe(true);
    expect(output).toMatch(/^Shut down/m);
    for (const url of [summary.gavelUrl, ...Object.values(summary.buyerUrls)])
      // Failed (refused, or a kept-alive socket found closed), not timed out: a timeout would also
      // reject, and pass for a server still up but slow.
      await expect(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(30_000) })).rejects.toThrow("fetch failed");
  }, 120_000);

  it("with --keep, stays up until Ctrl-C, and the lookup it prints finds the lead", async () => {
    // The real command, as the README names it (on its own embedded database in a temporary folder).
    kept = startShell("exec npm run demo -- --keep --leads 4", terminalEnv(["GAVEL", "ADMIN_TOKEN"]));
    const folder = (await kept.waitFor(/^\s*database : embedded PGlite in a fresh temporary folder (\S+) /m, 120_000))[1];
    const [lookup] = await kept.waitFor(/^ {2}export GAVEL=\S+ ADMIN_TOKEN=\S+\n {2}curl .*\/v1\/leads\/(\S+)$/m, 120_000);
    const leadId = lookup.split("/v1/leads/")[1];
    // The id it offers is one of the leads in its table, printed whole.
    expect(leadId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(kept.stdout()).toMatch(new RegExp(`^\\s*\\d+\\s+${leadId}\\s`, "m"));

    // Pasted into another terminal, the two lines it printed read the lead's trace.
    const looked = await runShell(lookup, terminalEnv(["GAVEL", "ADMIN_TOKEN"]), 60_000);
    expect(looked.code, looked.stderr).toBe(0);
    // (It offers a sold lead when there is one: with 3 new leads and a buyer that accepts every post
    // there is, unless the machine is so slow that every auction ran out of time.)
    const trace = JSON.parse(looked.stdout);
    expect(trace).toMatchObject({ id: leadId, attempts: expect.any(Array) });
    expect(["sold", "unsold", "error"]).toContain(trace.status);

    // Ctrl-C shuts Gavel and the buyers down and removes the temporary folder.
    const stopped = await kept.stop("SIGINT");
    kept = undefined;
    expect(stopped.stdout, stopped.stderr).toMatch(/^Shut down in [\d.]+ s: Gavel closed, \d+ buyer servers closed, temporary folder removed\.$/m);
    expect(existsSync(folder)).toBe(false);
  }, 300_000);
});

describe("gavel buyers", () => {
  it("on a taken port, exits 1 and says how to move them", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const result = await runShell(`exec npx gavel buyers --port ${port}`, terminalEnv(), 120_000);
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(result.stderr).toContain(`gavel buyers: port ${port} is taken (the buyers use ${port}-${port + 3}). Start them on others with --port N`);
      expect(result.stdout).toBe("");
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 180_000);
});
