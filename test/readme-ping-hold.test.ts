// The README's recipes for "Suppliers that ping first" and "Held leads", pasted after the curl
// walkthrough they continue, and run with bash against a real Gavel and a loopback buyer bidding as
// the walkthrough's simulated acme does ($12.50, every post accepted). The blocks are read from
// README.md itself, so they cannot drift from what is tested; the only edits are the two addresses.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { DEFAULT_BUYERS_PORT } from "../src/demo/serve-buyers";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { startTestGavel, type TestGavel } from "./helpers/gavel";
import { repoRoot, runShell, terminalEnv } from "./helpers/shell";
import { jsonObjects, section, shBlocks } from "./helpers/readme";

describe("README: suppliers that ping first and held leads, pasted after the walkthrough", () => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const walkthrough = shBlocks(section(readme, "A first sale with curl")).filter((b) => !/\bgavel buyers\b/.test(b));
  const pings = shBlocks(section(readme, "Suppliers that ping first"));
  const held = shBlocks(section(readme, "Held leads"));
  let gavel: TestGavel;
  let buyer: TestBuyer;

  beforeAll(async () => {
    const token = walkthrough.join("\n").match(/ADMIN_TOKEN=(\S+)/)![1];
    gavel = await startTestGavel({ ADMIN_TOKEN: token });
    buyer = await startBuyer({ ping: () => ({ json: { bid: 12.5 } }), post: () => ({ json: { accepted: true } }) });
  });
  afterAll(async () => {
    await buyer?.close();
    await gavel?.close();
  });

  it("quotes, sells at the quote, reports, and holds a lead while the channel is closed", { timeout: 120_000 }, async () => {
    expect(pings).toHaveLength(2);
    expect(held).toHaveLength(1);
    const defaultGavel = `http://127.0.0.1:${loadConfig({}).PORT}`;
    const defaultBuyer = `http://127.0.0.1:${DEFAULT_BUYERS_PORT}`;
    const script = [...walkthrough, ...pings, ...held].join("\n").replaceAll(defaultGavel, gavel.url).replaceAll(defaultBuyer, buyer.url);
    const run = await runShell(`set -euo pipefail\n${script}`, terminalEnv(["GAVEL", "ADMIN_TOKEN", "BUYER", "KEY", "LEAD", "PING", "POST", "OFFERS", "HELD"]), 90_000);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout, "no step answered a problem").not.toMatch(/urn:gavel:problem/);

    // Each echoed answer, as the README shows it after the command ("…" stands for any value).
    const answers = jsonObjects(run.stdout);
    const find = (key: string) => answers.find((a) => key in a);
    const shown = (text: string, start: string) => JSON.parse(text.match(new RegExp(`^# → (\\{"${start}".*\\})$`, "m"))![1]);
    const like = (actual: Record<string, unknown>, expected: Record<string, unknown>) => {
      for (const [key, value] of Object.entries(expected)) if (value !== "…" && !String(value).endsWith("…")) expect(actual[key], key).toEqual(value);
    };
    const ping = find("expires_at");
    like(ping, shown(pings[0], "ping_id"));
    const post = answers.find((a) => "ping_id" in a && "lead_id" in a);
    like(post, shown(pings[0], "lead_id"));
    expect(post.lead_id).toBe(ping.ping_id);
    // User choice: the one buyer's offer, chosen and sold.
    const offers = answers.find((a) => "offers" in a && !("price" in a));
    like(offers, shown(pings[1], "ping_id"));
    expect(offers.offers).toEqual(shown(pings[1], "ping_id").offers);
    const chosen = answers.find((a) => a.ping_id === offers.ping_id && "lead_id" in a);
    like(chosen, shown(pings[1], "lead_id"));
    const report = find("rows");
    expect(report.rows).toEqual([expect.objectContaining({ supplier: "pub-1", source: "quotes-site", pings: 1, bids: 1, posts: 1, sold: 1, ping_to_post: 1 })]);
    const hold = answers.find((a) => a.status === "held" && "lead_id" in a);
    like(hold, shown(held[0], "lead_id"));
    const own = answers.find((a) => a.status === "held" && "id" in a);
    like(own, shown(held[0], "id"));
    expect(own.id).toBe(hold.lead_id);
    // The buyer saw the ping's fields, then the post with the rest; the held lead reached no buyer.
    expect(buyer.pings.map((p) => p.body.lead_id)).not.toContain(hold.lead_id);
    expect(buyer.posts.map((p) => p.body.lead_id)).toContain(post.lead_id);
  });
});
