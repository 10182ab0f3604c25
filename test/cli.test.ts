// The `gavel` command end to end, as an operator runs it: a real child process on a real database
// (a fresh PostgreSQL database when DATABASE_URL is set, else an embedded one in a temp folder).
import { execFile, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { openDatabase, type DatabaseTarget } from "../src/db/client";
import { buyers, campaigns, channels, suppliers } from "../src/db/schema";
import { freshDatabase, onPostgres } from "./helpers/db";
import { ADMIN, pingPost, standardFields, startTestGavel, type TestGavel } from "./helpers/gavel";

const BIN = fileURLToPath(new URL("../bin/gavel.js", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Runs a command with its stdout written straight into `file`, as a shell's `> file` does (the
 * process sees a file, not a pipe nor a terminal); stderr is captured.
 */
function runInto(file: string, command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }) {
  const fd = openSync(file, "w");
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", fd, "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  }).finally(() => closeSync(fd));
}

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
    expect(doc.channels[0].auth.token).toBe("${GAVEL_CHANNEL_CLI_TX_AUTH_TOKEN:-***}");
    expect(doc.campaigns[0].auction).toMatchObject({ floor: 2, timeout_ms: 2000 });
    expect(doc.suppliers[0].rate_limit).toEqual({ per_second: 5, burst: 10 });

    // The export applies back as no change, with the secret's variable unset (the stored one is
    // kept) or set to the same secret.
    await writeFile(join(dir, "exported.yaml"), out.stdout);
    const kept = await gavel("apply", "exported.yaml", "--dry-run");
    expect(kept.stdout).toBe("No changes: the database already matches the file.\n");
    env.GAVEL_CHANNEL_CLI_TX_AUTH_TOKEN = "cli-secret";
    const back = await gavel("apply", "exported.yaml", "--dry-run");
    expect(back.stdout).toBe("No changes: the database already matches the file.\n");
    delete env.GAVEL_CHANNEL_CLI_TX_AUTH_TOKEN;
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

// The recipe of the README, as a newcomer pastes it: `gavel export > gavel.yaml` against a Gavel
// configured over its API, then `gavel apply gavel.yaml`, through the package's real bin. Applied
// back, by the CLI or over HTTP, the export changes nothing, with no secret variable set.
describe("gavel export > gavel.yaml, then apply, through the bin", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let target: DatabaseTarget;
  let g: TestGavel | undefined;
  let drop = async () => {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gavel-cli-rt-"));
    env = { ...process.env, LOG_LEVEL: "silent" };
    delete env.DATABASE_URL;
    for (const name of Object.keys(env)) if (name.startsWith("GAVEL_CHANNEL_") || name.startsWith("npm_")) delete env[name];
    if (onPostgres) {
      const db = await freshDatabase();
      drop = db.drop;
      target = db.target;
      env.DATABASE_URL = (db.target as { url: string }).url;
    } else {
      target = { dataDir: join(dir, "data") };
      env.GAVEL_DATA_DIR = target.dataDir;
    }
  });
  afterAll(async () => {
    await g?.close();
    await drop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The embedded database opens in one process at a time: the server stops while the CLI runs. */
  async function serverAside<T>(run: () => Promise<T>): Promise<T> {
    if (onPostgres) return run();
    await g!.close();
    g = undefined;
    try {
      return await run();
    } finally {
      g = await startTestGavel({}, { target });
    }
  }

  async function stored() {
    const db = g!.gavel.database.db;
    const out: Record<string, unknown[]> = {};
    for (const [name, table] of Object.entries({ campaigns, buyers, suppliers, channels }))
      out[name] = await db.select({ id: table.id, status: table.status, config: table.config }).from(table).orderBy(table.id);
    return out;
  }

  async function httpExport() {
    const res = await fetch(`${g!.url}/v1/config/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    return res.text();
  }

  it("writes a file that applies back as no change, by the CLI and over HTTP", async () => {
    g = await startTestGavel({}, { target });
    const urls = { pingUrl: "http://127.0.0.1:9/ping", postUrl: "http://127.0.0.1:9/post" };
    await g.admin("POST", "/v1/campaigns", { id: "rt-auto", name: "Auto", fields: standardFields });
    await g.admin("POST", "/v1/buyers", { id: "rt-acme", name: "Acme" });
    await g.admin("POST", "/v1/suppliers", { id: "rt-pub", name: "Publisher" });
    for (const channel of [
      pingPost("rt-signed", urls, { auth: { type: "bearer", token: "rt-bearer-token" }, signing: { secret: "rt-signing-secret-01" } }),
      pingPost("rt-open", urls),
      pingPost("rt-header", urls, { auth: { type: "header", name: "X-Token", value: "rt-header-token" } }),
    ]) {
      const res = await g.admin("POST", "/v1/channels", { buyer_id: "rt-acme", campaign_id: "rt-auto", ...channel });
      expect(res.status).toBe(201);
    }
    const before = await stored();
    const viaHttp = await httpExport();
    const file = join(dir, "gavel.yaml");

    const { exported, dry, applied } = await serverAside(async () => {
      const exported = await runInto(file, process.execPath, [BIN, "export"], { env, cwd: dir });
      const dry = await runInto(join(dir, "dry.txt"), process.execPath, [BIN, "apply", "gavel.yaml", "--dry-run"], { env, cwd: dir });
      const applied = await runInto(join(dir, "applied.txt"), process.execPath, [BIN, "apply", "gavel.yaml"], { env, cwd: dir });
      return { exported, dry, applied };
    });
    expect(exported.code).toBe(0);
    // Only the secrets that exist are named (no signing secret of a channel without signing).
    expect(exported.stderr).toBe(
      "secrets are references: set these where you apply to set or change a secret (unset, each keeps the stored one): " +
        "GAVEL_CHANNEL_RT_HEADER_AUTH_VALUE, GAVEL_CHANNEL_RT_SIGNED_AUTH_TOKEN, GAVEL_CHANNEL_RT_SIGNED_SIGNING_SECRET\n",
    );
    const text = await readFile(file, "utf8");
    expect(text).toBe(viaHttp);
    for (const secret of ["rt-bearer-token", "rt-signing-secret-01", "rt-header-token"]) expect(text).not.toContain(secret);
    expect(parse(text).channels.map((c: any) => c.id)).toEqual(["rt-header", "rt-open", "rt-signed"]);

    const noChange = "No changes: the database already matches the file.\n";
    expect(dry).toEqual({ code: 0, stderr: "" });
    expect(await readFile(join(dir, "dry.txt"), "utf8")).toBe(noChange);
    expect(applied).toEqual({ code: 0, stderr: "" });
    expect(await readFile(join(dir, "applied.txt"), "utf8")).toBe(noChange);

    const res = await fetch(`${g!.url}/v1/config/apply`, {
      method: "POST",
      headers: { "content-type": "application/yaml", authorization: `Bearer ${ADMIN}` },
      body: text,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ applied: false, changes: { created: [], changed: [], archived: [] } });
    expect(await stored()).toEqual(before);
    expect(await httpExport()).toBe(text);
  }, 240_000);

  it("refuses `npm run gavel -- export > FILE` (npm's banner goes first), and apply names that banner", async () => {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const file = join(dir, "banner.yaml");
    const { refused, silent, banner } = await serverAside(async () => {
      const refused = await runInto(file, npm, ["run", "gavel", "--", "export"], { env, cwd: ROOT });
      const banner = await readFile(file, "utf8");
      // The same file with an export after the banner: what the recipe used to write.
      const exported = await runInto(join(dir, "plain.yaml"), process.execPath, [BIN, "export"], { env, cwd: dir });
      expect(exported.code).toBe(0);
      await writeFile(file, banner + (await readFile(join(dir, "plain.yaml"), "utf8")));
      const applied = await runInto(join(dir, "banner.txt"), process.execPath, [BIN, "apply", "banner.yaml"], { env, cwd: dir });
      // `npm run --silent` prints no banner, so it may write the file.
      const silent = await runInto(join(dir, "silent.yaml"), npm, ["run", "--silent", "gavel", "--", "export"], { env, cwd: ROOT });
      return { refused, silent, banner: applied };
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("gavel export: not writing to stdout: `npm run` has already printed its banner there");
    expect(refused.stderr).toContain("npx gavel export > gavel.yaml");
    expect(banner.code).toBe(1);
    expect(banner.stderr).toMatch(/banner\.yaml:2:1 {2}\$: starts with npm's banner \('> gavel@[^ ]+ gavel'\)/);
    expect(silent.code).toBe(0);
    expect(await readFile(join(dir, "silent.yaml"), "utf8")).toBe(await readFile(join(dir, "plain.yaml"), "utf8"));
  }, 240_000);
});
