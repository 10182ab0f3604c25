// The README's first hour, as a newcomer runs it: the Quickstart's and "A first sale with curl"'s
// ```sh blocks are read from README.md itself (so they cannot drift from what is tested) and run with
// bash. Gavel is the Quickstart's, started as a child process with the Quickstart's environment (on
// a free port and a fresh database instead of :3000 and ./.gavel); the simulated buyers are started
// by the walkthrough's own command (with --port 0 for free ports). The only edits to the pasted
// commands are those two addresses, and each edit first checks that the README names the default.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { DEFAULT_BUYERS_PORT } from "../src/demo/serve-buyers";
import { freshDatabase, onPostgres } from "./helpers/db";
import { startChildGavel, type ChildGavel } from "./helpers/process";
import { repoRoot, runShell, startShell, terminalEnv, type ShellProcess } from "./helpers/shell";
import { section, shBlocks } from "./helpers/readme";

/** The text of `## title`, up to the next `## ` heading. */

/** Its ```sh blocks, in order. */

/** Environment assignments in front of a command (`A=1 B=2 npm start` → { A: "1", B: "2" }). */
function leadingAssignments(line: string, command: string): Record<string, string> {
  const at = line.indexOf(command);
  const env: Record<string, string> = {};
  for (const word of line.slice(0, at).trim().split(/\s+/).filter(Boolean)) {
    const m = word.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/);
    if (!m) throw new Error(`not an assignment in front of ${command}: ${word}`);
    env[m[1]] = m[2];
  }
  return env;
}

const withoutComment = (line: string) => line.replace(/\s+#.*$/, "").trim();

/** Names the walkthrough must set itself: a value left in the test's environment must not help it. */
const RECIPE_NAMES = ["GAVEL", "ADMIN_TOKEN", "BUYER", "KEY", "LEAD", "PORT"];

describe("README: the Quickstart and the curl walkthrough, pasted in order", () => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const quickstart = shBlocks(section(readme, "Quickstart"));
  const walkthrough = shBlocks(section(readme, "A first sale with curl"));

  const startLine = quickstart.flatMap((b) => b.split("\n")).find((l) => /\bnpm start\b/.test(l));
  const demoLine = quickstart.flatMap((b) => b.split("\n")).find((l) => /\bnpm run demo\b/.test(l));
  const buyersBlock = walkthrough.find((b) => /\bgavel buyers\b/.test(b));
  const script = walkthrough.filter((b) => b !== buyersBlock).join("\n");

  let dir: string;
  let drop = async () => {};
  let gavel: ChildGavel | undefined;
  let buyers: ShellProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gavel-readme-"));
  });
  afterAll(async () => {
    await buyers?.stop("SIGKILL");
    await gavel?.stop();
    await drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the Quickstart's demo runs and sells, and prints whole lead ids", async () => {
    expect(demoLine, "a Quickstart ```sh line running npm run demo").toBeDefined();
    // `npm install` is done already (this test runs in the installed checkout); the rest is as written.
    const command = withoutComment(demoLine!).replace(/^npm (install|ci)\s*&&\s*/, "");
    const result = await runShell(command, terminalEnv(RECIPE_NAMES), 240_000);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Totals: [1-9]\d* sold/m);
    expect(result.stdout).toMatch(/^\s*\d+\s+[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\s+new\s+sold\b/m);
    expect(result.stdout).toMatch(/--keep/);
  }, 300_000);

  it("the walkthrough sells a lead to the simulated buyer, and says so as the README shows", async () => {
    // Gavel, as the Quickstart starts it: its environment, on a free port and a fresh database.
    expect(startLine, "a Quickstart ```sh line running npm start").toBeDefined();
    const quickstartEnv = leadingAssignments(withoutComment(startLine!), "npm start");
    expect(quickstartEnv.ADMIN_TOKEN, "the Quickstart sets ADMIN_TOKEN").toBeDefined();
    expect(quickstartEnv.PORT, "the Quickstart serves on the default port").toBeUndefined();
    let database: string | { dataDir: string } = { dataDir: join(dir, "data") };
    if (onPostgres) {
      const db = await freshDatabase();
      drop = db.drop;
      database = (db.target as { url: string }).url;
    }
    gavel = await startChildGavel(database, quickstartEnv);

    // The buyers, started by the walkthrough's own command.
    expect(buyersBlock, "a walkthrough ```sh block running gavel buyers").toBeDefined();
    const buyersCommand = withoutComment(buyersBlock!.trim());
    expect(buyersCommand.split("\n")).toHaveLength(1);
    buyers = startShell(`exec ${buyersCommand} --port 0`, terminalEnv(RECIPE_NAMES));
    const acme = await buyers.waitFor(/^\s+acme\s+(http:\/\/127\.0\.0\.1:\d+)\/ping\s+(\S+)/m, 120_000);
    expect(acme[2]).toBe(`${acme[1]}/post`);

    // The walkthrough, pasted in order, with the two addresses moved where this test runs them.
    const defaultGavel = `http://127.0.0.1:${loadConfig({}).PORT}`;
    const defaultBuyer = `http://127.0.0.1:${DEFAULT_BUYERS_PORT}`;
    expect(script).toContain(`export GAVEL=${defaultGavel} `);
    expect(script).toContain(`export BUYER=${defaultBuyer} `);
    const pasted = script.replaceAll(defaultGavel, gavel.url).replaceAll(defaultBuyer, acme[1]);
    const run = await runShell(`set -euo pipefail\n${pasted}`, terminalEnv(RECIPE_NAMES), 120_000);
    expect(run.code, `${run.stdout}\n${run.stderr}\n${gavel.output()}`).toBe(0);
    expect(run.stdout, "no step answered a problem").not.toMatch(/urn:gavel:problem|"status":\s*[45]\d\d/);

    // What it printed: the lead's answer (as the README shows it, "…" standing for any value) and
    // its trace.
    const lines = run.stdout.trimEnd().split("\n");
    const answerText = lines.at(-2)!.slice(lines.at(-2)!.lastIndexOf('{"lead_id"'));
    const answer = JSON.parse(answerText);
    const shown = script.match(/^# → (\{"lead_id".*\})$/m);
    expect(shown, "the walkthrough shows the lead's answer after it").not.toBeNull();
    const expected = JSON.parse(shown![1]);
    expect(Object.keys(answer).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) if (value !== "…" && !String(value).endsWith("…")) expect(answer[key], key).toEqual(value);
    expect(answer.status).toBe("sold");
    expect(answer.trace_url).toBe(`/v1/leads/${answer.lead_id}`);
    const trace = JSON.parse(lines.at(-1)!);
    expect(trace).toMatchObject({ id: answer.lead_id, status: "sold", sold_channel: "acme-auto-tx", source: "quotes-site", sub_id: "kw-742" });

    // And Gavel agrees: one lead, sold to acme at its $12.50 bid.
    const listed = await fetch(`${gavel.url}/v1/leads?status=sold`, {
      headers: { authorization: `Bearer ${quickstartEnv.ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(30_000),
    }).then((r) => r.json() as Promise<{ items: Record<string, unknown>[] }>);
    expect(listed.items).toHaveLength(1);
    expect(listed.items[0]).toMatchObject({ id: answer.lead_id, revenue: 12.5, price: 8.75, sold_channel: "acme-auto-tx" });

    // The buyers printed what they answered, and stop on Ctrl-C.
    await buyers.waitFor(/acme\s+post\s+→ \{"accepted":true/, 30_000);
    const stopped = await buyers.stop("SIGINT");
    buyers = undefined;
    // (npx itself ends by the signal, as in a terminal; the buyers close their servers first.)
    expect(stopped.stdout, stopped.stderr).toMatch(/^buyers stopped$/m);
    expect(stopped.stderr).not.toMatch(/error/i);
  }, 300_000);
});
