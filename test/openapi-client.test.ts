// The served /openapi.json as its users consume it: a TypeScript client generated from it with
// openapi-typescript and openapi-fetch compiles (a supplier is just { id, name }, `limit` is a
// number) and sells a lead against a started Gavel; and the document passes Redocly's recommended
// lint (redocly.yaml) with no errors and no warnings. Each tool runs as its user runs it, as a
// child process from node_modules.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, useTestGavel } from "./helpers/gavel";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = {
  openapiTypescript: join(root, "node_modules/openapi-typescript/bin/cli.js"),
  tsc: join(root, "node_modules/typescript/bin/tsc"),
  redocly: join(root, "node_modules/@redocly/cli/bin/cli.js"),
};

// These tools take seconds to start on a busy two-core machine; a bound far above that.
const TOOL_MS = 90_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: TOOL_MS, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

// What a user of the generated client writes: create a campaign, a supplier with nothing but what
// has no default, sell a lead with the supplier's key, list leads with a numeric limit.
const PROGRAM = `
import createClient from "openapi-fetch";
import type { paths } from "./gavel.js";

const [baseUrl, adminToken] = process.argv.slice(2);
const operator = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${adminToken}\` } });

const campaign = await operator.POST("/v1/campaigns", {
  body: {
    id: "client-demo",
    name: "Generated client",
    fields: [
      { name: "zip", type: "zip", required: true },
      { name: "email", type: "email", pii: true },
    ],
  },
});
if (!campaign.data) throw new Error(\`campaign: \${JSON.stringify(campaign.error)}\`);

const supplier = await operator.POST("/v1/suppliers", { body: { id: "client-demo", name: "Generated client" } });
if (!supplier.data) throw new Error(\`supplier: \${JSON.stringify(supplier.error)}\`);

const seller = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${supplier.data.api_key}\` } });
const lead = await seller.POST("/v1/leads", {
  body: { campaign: campaign.data.id, data: { zip: "75001", email: "client.demo@example.com" }, source: "generated-client" },
});
if (!lead.data) throw new Error(\`lead: \${JSON.stringify(lead.error)}\`);

const leads = await operator.GET("/v1/leads", { params: { query: { campaign: campaign.data.id, test: false, limit: 10 } } });
if (!leads.data) throw new Error(\`leads: \${JSON.stringify(leads.error)}\`);

type LeadQuery = NonNullable<paths["/v1/leads"]["get"]["parameters"]["query"]>;
// @ts-expect-error limit is a number, not its text
const asText: LeadQuery["limit"] = "10";
void asText;

console.log(JSON.stringify({ lead_id: lead.data.lead_id, status: lead.data.status, listed: leads.data.items.map((item) => item.id) }));
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2022", "DOM"],
    types: ["node"],
    skipLibCheck: true,
    noEmitOnError: true,
  },
  files: ["gavel.ts", "program.ts"],
};

describe("OpenAPI document for client generators and linters", () => {
  const t = useTestGavel();
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "gavel-client-"));
    // The program's imports (openapi-fetch, @types/node) resolve from the repository's node_modules.
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    "generates a TypeScript client that compiles clean and records a lead",
    async () => {
      const generated = await run(bin.openapiTypescript, [`${t.g.url}/openapi.json`, "--output", join(dir, "gavel.ts")], { cwd: dir });
      expect(generated.code, generated.stderr).toBe(0);

      writeFileSync(join(dir, "program.ts"), PROGRAM);
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
      const compiled = await run(bin.tsc, ["-p", join(dir, "tsconfig.json")], { cwd: dir });
      expect(compiled.stdout + compiled.stderr).toBe("");
      expect(compiled.code).toBe(0);

      const ran = await run(join(dir, "program.js"), [t.g.url, ADMIN], { cwd: dir });
      expect(ran.code, ran.stderr).toBe(0);
      const out = JSON.parse(ran.stdout) as { lead_id: string; status: string; listed: string[] };
      expect(out.listed).toContain(out.lead_id);

      const trace = await t.g.admin("GET", `/v1/leads/${out.lead_id}`);
      expect(trace.status).toBe(200);
      expect(trace.body).toMatchObject({ id: out.lead_id, campaign: "client-demo", supplier: "client-demo", status: out.status, source: "generated-client" });
    },
    4 * TOOL_MS,
  );

  it(
    "passes Redocly's recommended lint with no errors and no warnings",
    async () => {
      const lint = await run(bin.redocly, ["lint", `${t.g.url}/openapi.json`, "--config", join(root, "redocly.yaml"), "--format", "json"], {
        cwd: dir,
        env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
      });
      const report = JSON.parse(lint.stdout) as { totals: Record<string, number>; problems: { ruleId: string; message: string; location: { pointer: string }[] }[] };
      expect(report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
      expect(lint.code).toBe(0);
    },
    2 * TOOL_MS,
  );
});
