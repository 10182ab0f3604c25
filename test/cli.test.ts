// The `gavel` command end to end, as an operator runs it: a real child process on a real database
// (a fresh PostgreSQL database when DATABASE_URL is set, else an embedded one in a temp folder).
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { openDatabase } from "../src/db/client";
import { freshDatabase, onPostgres } from "./helpers/db";

const BIN = fileURLToPath(new URL("../bin/gavel.js", import.meta.url));

const CONFIG = `version: 1
campaigns:
  - id: cli-auto
    name: Auto
    fields:
      - { name: zip, type: zip, required: true }
      - { name: email, type: email, required: true, pii: true }
    auction: { floor: 2 }
buyers:
  - { id: cli-acme, name: Acme }
suppliers:
  - { id: cli-pub, name: Publisher, rate_limit: { per_second: 5, burst: 10 } }
channels:
  - id: cli-tx
    buyer_id: cli-acme
    campaign_id: cli-auto
    type: ping_post
    ping: { url: "http://127.0.0.1:9/ping" }
    post: { url: "http://127.0.0.1:9/post" }
    auth: { type: bearer, token: "\${CLI_ACME_TOKEN}" }
`;

describe("the gavel command", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let drop = async () => {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gavel-cli-"));
    env = { ...process.env, LOG_LEVEL: "silent", CLI_ACME_TOKEN: "cli-secret" };
    delete env.DATABASE_URL;
    if (onPostgres) {
      const db = await freshDatabase();
      drop = db.drop;
      env.DATABASE_URL = (db.target as { url: string }).url;
    } else env.GAVEL_DATA_DIR = join(dir, "data");
    await writeFile(join(dir, "gavel.yaml"), CONFIG);
  });
  afterAll(async () => {
    await drop();
    await rm(dir, { recursive: true, force: true });
  });

  function gavel(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { env, cwd: dir, timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  it("dry-runs, applies, and reports nothing to do the second time", async () => {
    const dry = await gavel("apply", "gavel.yaml", "--dry-run");
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("+ campaign cli-auto\n+ buyer cli-acme\n+ supplier cli-pub\n+ channel cli-tx\n");
    expect(dry.stdout).toContain("dry run: nothing was changed");
    const empty = parse((await gavel("export")).stdout);
    expect(empty).toEqual({ version: 1, campaigns: [], buyers: [], suppliers: [], channels: [] });

    const applied = await gavel("apply", "gavel.yaml");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("4 to create, 0 to change, 0 to archive — applied.");
    expect(applied.stdout).toContain("POST /v1/suppliers/{id}/keys for cli-pub");

    const again = await gavel("apply", "gavel.yaml");
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("No changes: the database already matches the file.\n");
  }, 120_000);

  it("exports what it applied, with the secret as an environment reference", async () => {
    const out = await gavel("export");
    expect(out.code).toBe(0);
    expect(out.stdout).not.toContain("cli-secret");
    expect(out.stderr).toContain("GAVEL_CHANNEL_CLI_TX_AUTH_TOKEN");
    const doc = parse(out.stdout);
    expect(doc.channels[0].auth.token).toBe("${GAVEL_CHANNEL_CLI_TX_AUTH_TOKEN}");
    expect(doc.campaigns[0].auction).toMatchObject({ floor: 2, timeout_ms: 2000 });
    expect(doc.suppliers[0].rate_limit).toEqual({ per_second: 5, burst: 10 });

    // The export applies back as no change, given the secret.
    await writeFile(join(dir, "exported.yaml"), out.stdout);
    env.GAVEL_CHANNEL_CLI_TX_AUTH_TOKEN = "cli-secret";
    const back = await gavel("apply", "exported.yaml", "--dry-run");
    expect(back.stdout).toBe("No changes: the database already matches the file.\n");
    // A changed field shows before → after.
    await writeFile(join(dir, "changed.yaml"), out.stdout.replace("floor: 2", "floor: 2.5"));
    const changed = await gavel("apply", "changed.yaml", "--dry-run");
    expect(changed.stdout).toContain("~ campaign cli-auto\n    auction.floor: 2 → 2.5\n");
  }, 120_000);

  it("rejects a file with errors, printing each with file:line:col, and exits 1", async () => {
    await writeFile(join(dir, "bad.yaml"), CONFIG.replace("type: ping_post", "type: smoke_signal").replace("name: Acme", "name: ''"));
    const bad = await gavel("apply", "bad.yaml");
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/bad\.yaml:10:\d+ {2}buyers\[0\]\.name: /);
    expect(bad.stderr).toMatch(/bad\.yaml:17:5 {2}channels\[0\]\.type: /);
    expect((await gavel("bogus")).code).toBe(2);
  }, 120_000);

  it.skipIf(onPostgres)("refuses to open the embedded database while another process has it", async () => {
    const held = await openDatabase({ dataDir: env.GAVEL_DATA_DIR! });
    try {
      const res = await gavel("export");
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`is open in process ${process.pid}`);
      expect(res.stderr).toContain("POST /v1/config/apply");
    } finally {
      await held.close();
    }
    expect((await gavel("export")).code).toBe(0);
  }, 120_000);
});
