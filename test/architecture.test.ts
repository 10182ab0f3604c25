// Imports run one way (STYLE.md, "Imports one way, checked"): .dependency-cruiser.cjs lays out the
// layers of src/, and src/ must have no import circle and no import against their direction, type-only
// imports included. The rules are first shown to fail, on a tiny tree written for the purpose, so a
// rule set that had stopped matching anything could not pass unseen.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { cruise, type ICruiseOptions, type ICruiseResult } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

/** Every rule broken under `baseDir`'s src/, as `rule: from → to` (a circle: `no-circular: a → b → a`). */
async function cruiseSrc(baseDir: string): Promise<{ violations: string[]; modules: number }> {
  const options: ICruiseOptions = { ...(await extractDepcruiseOptions(join(ROOT, ".dependency-cruiser.cjs"))), validate: true, baseDir };
  const tsConfig = extractTSConfig(join(baseDir, "tsconfig.json"));
  const { output } = await cruise(["src"], options, {}, { tsConfig });
  const result = (typeof output === "string" ? JSON.parse(output) : output) as ICruiseResult;
  const violations = result.summary.violations
    .map((v) => `${v.rule.name}: ${v.cycle?.length ? [v.from, ...v.cycle.map((step) => step.name)].join(" → ") : `${v.from} → ${v.to}`}`)
    .sort();
  return { violations, modules: result.modules.filter((m) => m.source.startsWith("src/")).length };
}

describe("the direction of imports", () => {
  const fixture = mkdtempSync(join(tmpdir(), "gavel-architecture-"));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  function write(files: Record<string, string>) {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(fixture, path)), { recursive: true });
      writeFileSync(join(fixture, path), text);
    }
  }

  it("rejects an import circle, an import against the layers and a type-only import against them", async () => {
    write({
      "tsconfig.json": JSON.stringify({ compilerOptions: { module: "ESNext", moduleResolution: "Bundler", strict: true } }),
      // A circle inside one layer.
      "src/channels/a.ts": 'import { b } from "./b";\nexport const a = () => b;\n',
      "src/channels/b.ts": 'import { a } from "./a";\nexport const b = () => a;\n',
      // The database reaching up into the HTTP layer.
      "src/http/route.ts": "export const route = 1;\n",
      "src/db/leads.ts": 'import { route } from "../http/route";\nexport const leads = route;\n',
      // A kernel naming a domain type: type-only, and against the direction all the same.
      "src/auction/catalog.ts": "export interface Catalog { id: string }\n",
      "src/money.ts": 'import type { Catalog } from "./auction/catalog";\nexport const toCents = (c: Catalog) => c.id.length;\n',
      // Allowed: the auction uses the channels and the kernels.
      "src/auction/run.ts": 'import { a } from "../channels/a";\nimport { toCents } from "../money";\nexport const run = () => [a, toCents];\n',
    });
    expect((await cruiseSrc(fixture)).violations).toEqual([
      "db: src/db/leads.ts → src/http/route.ts",
      "kernel: src/money.ts → src/auction/catalog.ts",
      "no-circular: src/channels/a.ts → src/channels/b.ts → src/channels/a.ts",
    ]);
  });

  it("src/ has no import circle and no import against the layers", async () => {
    const { violations, modules } = await cruiseSrc(ROOT);
    expect(violations).toEqual([]);
    // Every module of src/ was read (a cruise that found nothing would find nothing wrong).
    expect(modules).toBeGreaterThan(100);
  });
});
