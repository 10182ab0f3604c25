// The README's recipe for "After the sale", pasted after the curl walkthrough it continues, and run
// with bash (curl, openssl) against a real Gavel and a loopback buyer bidding as the walkthrough's
// simulated acme does ($12.50, every post accepted). The blocks are read from README.md itself, so
// they cannot drift from what is tested; the only edits are the two addresses.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { DEFAULT_BUYERS_PORT } from "../src/demo/serve-buyers";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { startTestGavel, type TestGavel } from "./helpers/gavel";
import { repoRoot, runShell, terminalEnv } from "./helpers/shell";
import { jsonObjects, section, shBlocks } from "./helpers/readme";

describe("README: after the sale, pasted after the walkthrough", () => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const walkthrough = shBlocks(section(readme, "A first sale with curl")).filter((b) => !/\bgavel buyers\b/.test(b));
  const afterSale = shBlocks(section(readme, "After the sale"));
  let gavel: TestGavel;
  let buyer: TestBuyer;
  let token: string;

  beforeAll(async () => {
    token = walkthrough.join("\n").match(/ADMIN_TOKEN=(\S+)/)![1];
    gavel = await startTestGavel({ ADMIN_TOKEN: token });
    buyer = await startBuyer({ ping: () => ({ json: { bid: 12.5 } }), post: () => ({ json: { accepted: true } }) });
  });
  afterAll(async () => {
    await buyer?.close();
    await gavel?.close();
  });

  it("converts, returns and accepts the walkthrough's lead, reports it, and reads its statements", { timeout: 120_000 }, async () => {
    // The section's recipes, in order; the statements' is the one that reads them.
    const statements = afterSale.find((block) => block.includes("/v1/statements/"))!;
    expect(statements).toBeDefined();
    const defaultGavel = `http://127.0.0.1:${loadConfig({}).PORT}`;
    const defaultBuyer = `http://127.0.0.1:${DEFAULT_BUYERS_PORT}`;
    const script = [...walkthrough, ...afterSale].join("\n").replaceAll(defaultGavel, gavel.url).replaceAll(defaultBuyer, buyer.url);
    const run = await runShell(`set -euo pipefail\n${script}`, terminalEnv(["GAVEL", "ADMIN_TOKEN", "BUYER", "KEY", "LEAD", "SOLD", "RETURN", "SINCE"]), 90_000);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout, "no step answered a problem").not.toMatch(/urn:gavel:problem/);

    const answers = jsonObjects(run.stdout);
    const shown = (start: string) => JSON.parse(afterSale.join("\n").match(new RegExp(`^# → (\\{"${start}".*\\})$`, "m"))![1]);
    const like = (actual: Record<string, unknown>, expected: Record<string, unknown>) => {
      for (const [key, value] of Object.entries(expected)) if (value !== "…" && !String(value).endsWith("…")) expect(actual[key], key).toEqual(value);
    };
    const lead = answers.find((a) => a.status === "sold" && "lead_id" in a);
    const converted = answers.find((a) => a.event === "converted");
    like(converted, shown("event_id"));
    expect(converted.lead_id).toBe(lead.lead_id);
    const returned = answers.find((a) => a.event === "return_requested");
    expect(returned.return).toMatchObject({ state: "pending" });
    const accepted = answers.find((a) => a.state === "accepted");
    like(accepted, shown("id"));
    expect(Object.keys(accepted)).toEqual(Object.keys(shown("id")));
    const report = answers.find((a) => "rows" in a && "totals" in a);
    expect(report.rows).toEqual([
      expect.objectContaining({ key: "acme", sold: 1, conversions: 1, conversion_value: 240, returns: 1, revenue: 12.5, net_revenue: 0, payout: 8.75, net_payout: 0 }),
    ]);
    // The statements: acme's invoice as shown, and pub-1's CSV (read with its own key) line by line.
    const invoice = answers.find((a) => a.statement === "buyer_invoice");
    const { leads: leadsShown, ...invoiceShown } = shown("statement");
    like(invoice, invoiceShown);
    expect(Object.keys(invoice)).toEqual([...Object.keys(invoiceShown).slice(0, 6), "leads", "totals"]);
    expect(invoice.leads).toHaveLength(1);
    like(invoice.leads[0], leadsShown[0]);
    expect(Object.keys(invoice.leads[0])).toEqual(Object.keys(leadsShown[0]));
    expect(invoice.leads[0].lead_id).toBe(lead.lead_id);
    const csvShown = [...statements.matchAll(/^# → ([^{].*,.*)$/gm)].map((m) => m[1]);
    expect(csvShown).toHaveLength(3);
    // curl prints the CSV right after the invoice's JSON, with no newline between them.
    const at = run.stdout.indexOf(`${csvShown[0]}\r\n`);
    expect(at, run.stdout).toBeGreaterThanOrEqual(0);
    const [, leadLine, total] = run.stdout.slice(at).split("\r\n");
    expect(leadLine.split(",")).toHaveLength(csvShown[1].split(",").length);
    leadLine.split(",").forEach((cell, i) => {
      const expected = csvShown[1].split(",")[i];
      if (expected !== "…") expect(cell, `column ${i}`).toBe(expected);
    });
    expect(leadLine.startsWith(`${lead.lead_id},`)).toBe(true);
    expect(total).toBe(csvShown[2]);
    const trace = (await gavel.admin("GET", `/v1/leads/${lead.lead_id}`, undefined, token)).body;
    expect(trace.status).toBe("returned");
    expect(trace.history.map((h: any) => h.reason)).toEqual(expect.arrayContaining(["converted", "return_requested", "return_accepted"]));
  });
});
