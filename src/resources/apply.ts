// Configuration as code. `exportConfig` writes every campaign, buyer, supplier and channel as one
// file; `applyConfig` makes the database match a file: it creates what is new, replaces what
// changed and archives what the file no longer lists — all in ONE transaction, through the same
// store verbs (validation, references, audit) as the HTTP API. A dry run computes the same plan
// and writes nothing. Applying a file twice changes nothing the second time.
import { sql } from "drizzle-orm";
import type { Actor } from "../db/audit";
import type { Db } from "../db/client";
import { GavelError, formatPath } from "../errors";
import { SECRET_MASK } from "../channels/secrets";
import { diffDocs, sameJson, type FieldChange } from "./diff";
import { fileKinds, parseConfigText, renderConfigFile, type Bundle } from "./file";
import {
  archiveResource,
  createResource,
  createSupplier,
  loadAllStored,
  replaceResource,
  secretPaths,
  singular,
  type ResourceKind,
} from "./store";

export interface ResourceRef {
  kind: ResourceKind;
  id: string;
}

export interface ConfigPlan {
  created: ResourceRef[];
  changed: (ResourceRef & { diff: FieldChange[] })[];
  archived: ResourceRef[];
}

export interface ApplyResult {
  dry_run: boolean;
  /** True when changes were written (false for a dry run or a file that changes nothing). */
  applied: boolean;
  changes: ConfigPlan;
  /** Suppliers created by this apply have no API key yet: issue them with POST /v1/suppliers/{id}/keys. */
  suppliers_without_keys: string[];
}

// One apply at a time per database: two concurrent applies would each plan against a state the
// other is changing.
const APPLY_LOCK = 727602;

async function loadBundle(db: Db): Promise<Bundle> {
  const bundle = {} as Bundle;
  for (const kind of fileKinds) bundle[kind] = await loadAllStored(db, kind);
  return bundle;
}

/** The whole configuration as a file; secrets are `${ENV}` references. */
export async function exportConfig(db: Db): Promise<{ text: string; secrets: string[] }> {
  const bundle = await loadBundle(db);
  // No timestamp in the header: exporting an unchanged configuration gives the same bytes, so the
  // file diffs cleanly in git.
  return renderConfigFile(
    bundle,
    [
      "Gavel configuration (gavel export).",
      "Apply with `gavel apply <file>` (try --dry-run first) or POST /v1/config/apply.",
      "Secrets are ${NAME:-***} references: where NAME is set (where the file is applied), its value is the",
      "secret; where it is not, \"***\" keeps the secret already stored. `$$` is a literal `$`.",
    ].join("\n"),
  );
}

/** What applying `desired` (its "***" secrets already restored) to `stored` creates, changes and archives. */
function plan(stored: Bundle, desired: Bundle): ConfigPlan {
  const result: ConfigPlan = { created: [], changed: [], archived: [] };
  for (const kind of fileKinds) {
    const before = new Map(stored[kind].map((d) => [d.id, d]));
    for (const doc of desired[kind]) {
      const current = before.get(doc.id);
      if (!current) result.created.push({ kind, id: doc.id });
      else if (!sameJson(current, doc)) {
        const secret = [...secretPaths(kind, current), ...secretPaths(kind, doc)].map((p) => p.join("."));
        result.changed.push({ kind, id: doc.id, diff: diffDocs(current, doc, secret, SECRET_MASK) });
      }
    }
    const listed = new Set(desired[kind].map((d) => d.id));
    for (const doc of stored[kind]) if (!listed.has(doc.id) && doc.status !== "archived") result.archived.push({ kind, id: doc.id });
  }
  return result;
}

/**
 * Applies a configuration file (YAML or JSON text). Every error in the file is reported at once,
 * with its path and line:col, and nothing is written; otherwise the whole change commits in one
 * transaction or not at all.
 */
export async function applyConfig(
  db: Db,
  text: string,
  options: { dryRun: boolean; actor: Actor; env: Record<string, string | undefined> },
): Promise<ApplyResult> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${APPLY_LOCK})`);
    // The file is read against what is stored: "***" keeps a stored secret.
    const stored = await loadBundle(tx);
    const parsed = parseConfigText(text, options.env, stored);
    if (!parsed.ok) throw new GavelError("validation", "The configuration file is invalid; nothing was changed", { errors: parsed.errors });
    const { bundle: docs, locate } = parsed.file;
    const changes = plan(stored, docs);
    const result: ApplyResult = {
      dry_run: options.dryRun,
      applied: false,
      changes,
      suppliers_without_keys: changes.created.filter((r) => r.kind === "suppliers").map((r) => r.id),
    };
    if (options.dryRun) return result;

    const created = new Set(changes.created.map((r) => `${r.kind}/${r.id}`));
    const changed = new Set(changes.changed.map((r) => `${r.kind}/${r.id}`));
    // Upwards first (campaigns, buyers, suppliers, channels), so every reference exists when written.
    for (const kind of fileKinds)
      for (const [i, doc] of docs[kind].entries()) {
        const key = `${kind}/${doc.id}`;
        try {
          if (created.has(key)) {
            if (kind === "suppliers") await createSupplier(tx, doc, options.actor, false);
            else await createResource(tx, kind, doc, options.actor);
          } else if (changed.has(key)) await replaceResource(tx, kind, doc.id, doc, options.actor);
        } catch (error) {
          throw locateStoreError(error, kind, i, locate);
        }
      }
    // Archive downwards (channels first), so nothing live is left pointing at an archived resource.
    for (const kind of [...fileKinds].reverse())
      for (const ref of changes.archived.filter((r) => r.kind === kind)) await archiveResource(tx, kind, ref.id, options.actor);
    result.applied = changes.created.length + changes.changed.length + changes.archived.length > 0;
    return result;
  });
}

/** A store error about one document, re-pathed to where that document is in the file. */
function locateStoreError(error: unknown, kind: ResourceKind, index: number, locate: (path: PropertyKey[]) => { line?: number; col?: number }) {
  if (!(error instanceof GavelError) || !error.extra.errors) return error;
  const errors = error.extra.errors.map((e) => {
    const path = [kind, index, ...e.path.split(/[.[\]]+/).filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s))];
    return { path: formatPath(path), message: e.message, ...locate(path) };
  });
  return new GavelError(error.code, `${singular[kind]} ${index}: ${error.message}`, { errors });
}

const show = (value: unknown) => (value === undefined ? "(none)" : JSON.stringify(value));

/** The plan as a person reads it: `+` created, `~` changed with before → after, `-` archived. */
export function formatPlan(result: ApplyResult): string {
  const { created, changed, archived } = result.changes;
  const lines: string[] = [];
  for (const r of created) lines.push(`+ ${singular[r.kind]} ${r.id}`);
  for (const r of changed) {
    lines.push(`~ ${singular[r.kind]} ${r.id}`);
    for (const c of r.diff) lines.push(`    ${c.path}: ${show(c.before)} → ${show(c.after)}`);
  }
  for (const r of archived) lines.push(`- ${singular[r.kind]} ${r.id} (archived)`);
  const total = created.length + changed.length + archived.length;
  if (total === 0) lines.push("No changes: the database already matches the file.");
  else
    lines.push(
      `${created.length} to create, ${changed.length} to change, ${archived.length} to archive` +
        (result.dry_run ? " — dry run: nothing was changed." : " — applied."),
    );
  if (!result.dry_run && result.suppliers_without_keys.length)
    lines.push(`New suppliers have no API key yet: POST /v1/suppliers/{id}/keys for ${result.suppliers_without_keys.join(", ")}.`);
  return lines.join("\n") + "\n";
}
