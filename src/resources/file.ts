// The configuration file of `gavel export` / `gavel apply`: YAML (JSON is YAML too) holding every
// campaign, buyer, supplier and channel. Secrets never appear in it: they are `${ENV_NAME:-***}`
// references, resolved from the environment when the file is applied; an unset variable falls back
// to "***", which keeps the secret already stored, so an export applies back to the Gavel it came
// from as no change, and sets the secrets of a new one from the environment. Reading a file checks all
// of it with the API's own zod schemas and reports every error at once, each with its field path
// and, where the parser knows it, its line and column.
import { isMap, isPair, isScalar, isSeq, Lexer, LineCounter, parseDocument, stringify, type Document, type Node } from "yaml";
import { formatPath, issuesOf, type FieldError } from "../errors";
import { findUnstorable, MAX_JSON_DEPTH } from "../storable";
import { SECRET_MASK } from "../channels/secrets";
import { getPath, resourceSchemas, restoreSecrets, secretPaths, setPath, singular, type Doc, type ResourceKind } from "./store";

export const FILE_VERSION = 1;

/** Kinds in the order they are written and created: every reference points upwards. */
export const fileKinds: readonly ResourceKind[] = ["campaigns", "buyers", "suppliers", "channels"];

export type Bundle = Record<ResourceKind, Doc[]>;

export interface ParsedFile {
  bundle: Bundle;
  /** Line and column of a path in the file, for errors found later (e.g. against the database). */
  locate(path: PropertyKey[]): { line?: number; col?: number };
}

export type ParseResult = { ok: true; file: ParsedFile } | { ok: false; errors: FieldError[] };

// `${NAME}` is a reference; `${NAME:-default}` is one whose default stands in while NAME is unset
// or empty; `$$` is a literal `$` (so `$${NAME}` is the text `${NAME}`), as in docker-compose
// files. Any other `$` is itself.
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Where a missing variable is to be set: the same file is applied by the CLI and by the server. */
export const WHERE_TO_SET = "where the file is applied (for POST /v1/config/apply, in the server's environment)";

interface Resolution {
  issues: { path: PropertyKey[]; message: string }[];
  /** formatPath of a value → the unset variable whose default it took. */
  defaulted: Map<string, string>;
}

function resolveReferences(value: unknown, env: Record<string, string | undefined>, path: PropertyKey[], secrets: Set<string>, out: Resolution): unknown {
  if (typeof value === "string")
    return value.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
      if (!name) return "$";
      const resolved = env[name];
      if (fallback !== undefined && (resolved === undefined || resolved === "")) {
        out.defaulted.set(formatPath(path), name);
        return fallback;
      }
      if (resolved === undefined) {
        const secret = secrets.has(JSON.stringify(path.slice(2)));
        out.issues.push({
          path,
          message:
            `environment variable ${name} is not set: set it ${WHERE_TO_SET}` +
            (secret ? `, or write \${${name}:-${SECRET_MASK}} (or "${SECRET_MASK}") to keep the stored secret` : ""),
        });
        return match;
      }
      return resolved;
    });
  if (Array.isArray(value)) return value.map((v, i) => resolveReferences(v, env, [...path, i], secrets, out));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveReferences(v, env, [...path, k], secrets, out)]));
  return value;
}

/** Where a path points in the YAML document: the key for a map entry, the item for a list entry. */
function locator(doc: Document, lines: LineCounter) {
  return (path: PropertyKey[]): { line?: number; col?: number } => {
    let node: unknown = doc.contents;
    let offset: number | undefined = (node as Node | null)?.range?.[0];
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) break;
        offset = (pair.key as Node).range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number" && node.items[segment]) {
        node = node.items[segment];
        offset = (node as Node).range?.[0] ?? offset;
      } else break;
    }
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, col };
  };
}

/**
 * The YAML parser recurses once per level of nesting, and a few hundred levels exhaust the stack
 * (near its end, V8 once aborted the whole process while compiling one of the parser's regexps).
 * So before parsing, the file's nesting is bounded from its tokens, which the lexer reads without
 * recursing: every flow collection counts by its brackets, every block collection by the column it
 * starts at (a list may start at its parent mapping's column). The count may run over the true
 * depth, never under it. Within this bound, the parsed file is then held to MAX_JSON_DEPTH like
 * every JSON body, with the exact path.
 */
const MAX_FILE_NESTING = 2 * MAX_JSON_DEPTH;

function tooDeep(text: string): FieldError | undefined {
  const blocks: { col: number; list: boolean }[] = []; // the open block collections, outermost first
  let flow = 0;
  let line = 1;
  let col = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === "[" || token === "{") {
      if (flow === 0) openBlock(col, false);
      flow++;
    } else if (token === "]" || token === "}") flow = Math.max(0, flow - 1);
    else if ((token === "---" || token === "...") && col === 0) {
      blocks.length = 0;
      flow = 0;
    } else if (flow === 0 && token === "-") openBlock(col, true);
    // Any other node (a key or a value, not whitespace, a comment, an anchor, a tag or a control token).
    else if (flow === 0 && token !== ":" && !/^[\s\u0000-\u001f\ufeff#&!,]/.test(token[0] ?? " ")) openBlock(col, false);
    if (blocks.length + flow > MAX_FILE_NESTING)
      return { path: "$", message: `nests deeper than ${MAX_FILE_NESTING} levels of mappings and lists`, line, col: col + 1 };
    const newline = token.lastIndexOf("\n");
    if (newline === -1) col += token.length;
    else {
      for (let i = token.indexOf("\n"); i !== -1; i = token.indexOf("\n", i + 1)) line++;
      col = token.length - newline - 1;
    }
  }
  return undefined;

  // A node at column `at` closes every block collection indented deeper (and a list at its own
  // column, when the node is a mapping's key), then belongs to the innermost one left or opens one.
  function openBlock(at: number, list: boolean) {
    for (let top = blocks.at(-1); top && (top.col > at || (top.col === at && top.list && !list)); top = blocks.at(-1)) blocks.pop();
    const top = blocks.at(-1);
    if (!top || top.col < at || top.list !== list) blocks.push({ col: at, list });
  }
}

/**
 * `npm run gavel -- export > FILE` writes npm's banner ("> gavel@0.1.0 gavel", then the command) to
 * stdout ahead of the file; the YAML parser would only say "Not a YAML token".
 */
function npmBanner(text: string): FieldError | undefined {
  const lines = text.split("\n");
  const first = lines.findIndex((line) => line.trim() !== "");
  if (first === -1 || !/^> \S+@\S+ \S/.test(lines[first])) return undefined;
  return {
    path: "$",
    message:
      `starts with npm's banner ('${lines[first].trim()}'): it was written by \`npm run gavel -- export > FILE\`, which puts npm's own lines on stdout. ` +
      "Delete the lines starting with '>' at the top, or export again with `npx gavel export > FILE` (or `gavel export --out FILE`)",
    line: first + 1,
    col: 1,
  };
}

/**
 * Reads a configuration file against the configuration now `stored`: a secret written as "***"
 * (or a `${NAME:-***}` whose NAME is unset) becomes the stored one before validation, as in a PUT,
 * so the secret's own rules (a signing secret's length) judge the real value.
 */
export function parseConfigText(text: string, env: Record<string, string | undefined>, stored: Bundle): ParseResult {
  const banner = npmBanner(text);
  if (banner) return { ok: false, errors: [banner] };
  const deep = tooDeep(text);
  if (deep) return { ok: false, errors: [deep] };
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length)
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        path: "$",
        message: e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, ""),
        line: e.linePos?.[0].line,
        col: e.linePos?.[0].col,
      })),
    };
  const locate = locator(doc, lines);
  const resolution: Resolution = { issues: [], defaulted: new Map() };
  const issues = resolution.issues;
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    return { ok: false, errors: [{ path: "$", message: (error as Error).message }] };
  }
  // What PostgreSQL cannot store (a NUL, an unpaired surrogate), a `__proto__` key, or nesting
  // (aliases included) past MAX_JSON_DEPTH.
  const unstorable = findUnstorable(root);
  if (unstorable) return { ok: false, errors: [{ path: formatPath(unstorable.path), message: unstorable.message, ...locate(unstorable.path) }] };

  const bundle = { campaigns: [], buyers: [], channels: [], suppliers: [] } as Bundle;
  if (!root || typeof root !== "object" || Array.isArray(root)) {
    issues.push({ path: [], message: "must be a mapping with version, campaigns, buyers, suppliers and channels" });
  } else {
    const top = root as Record<string, unknown>;
    if (top.version !== FILE_VERSION) issues.push({ path: ["version"], message: `must be ${FILE_VERSION}` });
    for (const key of Object.keys(top))
      if (key !== "version" && !(fileKinds as string[]).includes(key)) issues.push({ path: [key], message: "is not a known section" });
    for (const kind of fileKinds) {
      const list = top[kind];
      if (list === undefined) {
        // A missing section would archive every resource of its kind: make that explicit.
        issues.push({ path: [kind], message: `is missing (write '${kind}: []' to have none)` });
        continue;
      }
      if (list === null) continue; // `channels:` with nothing under it: an empty list
      if (!Array.isArray(list)) {
        issues.push({ path: [kind], message: "must be a list" });
        continue;
      }
      const seen = new Map<string, number>();
      const storedById = new Map(stored[kind].map((d) => [d.id, d]));
      list.forEach((item, i) => {
        const secrets = new Set(secretPaths(kind, isDoc(item) ? item : null).map((p) => JSON.stringify(p)));
        const resolved = resolveReferences(item, env, [kind, i], secrets, resolution);
        const id = (resolved as { id?: unknown } | null)?.id;
        if (typeof id === "string") {
          if (seen.has(id)) issues.push({ path: [kind, i, "id"], message: `duplicate ${singular[kind]} id '${id}' (also ${kind}[${seen.get(id)}])` });
          else seen.set(id, i);
        }
        // "***" keeps the stored secret; where there is none, the schema's complaint about "***" is
        // replaced by what to do.
        const kept = isDoc(resolved) ? keepStoredSecrets(kind, i, resolved, storedById.get(resolved.id) ?? null, resolution.defaulted) : [];
        issues.push(...kept);
        const parsed = resourceSchemas[kind].safeParse(resolved);
        if (!parsed.success) {
          const reported = new Set(kept.map((issue) => formatPath(issue.path)));
          for (const issue of issuesOf(parsed.error)) {
            const path = [kind, i, ...issue.path];
            if (!reported.has(formatPath(path))) issues.push({ path, message: issue.message });
          }
          return;
        }
        bundle[kind].push(parsed.data as Doc);
      });
    }
    if (issues.length === 0) issues.push(...referenceIssues(bundle));
  }

  if (issues.length)
    return { ok: false, errors: issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message, ...locate(issue.path) })) };
  return { ok: true, file: { bundle, locate } };
}

/** Puts the stored secret (of `current`, the stored resource of the same id) in place of each "***" of one resource of the file (in place). */
function keepStoredSecrets(kind: ResourceKind, index: number, doc: Doc, current: Doc | null, defaulted: ReadonlyMap<string, string>) {
  return restoreSecrets(kind, doc, current).map((e) => {
    const path = [kind, index, ...e.path.split(".")];
    // `${NAME:-***}` with NAME unset, where there is no stored secret to keep (a new channel).
    const variable = defaulted.get(formatPath(path));
    const message = variable
      ? `environment variable ${variable} is not set, and there is no stored secret for "${SECRET_MASK}" to keep: set ${variable} ${WHERE_TO_SET}`
      : e.message;
    return { path, message };
  });
}

const isDoc = (value: unknown): value is Doc => Boolean(value) && typeof value === "object" && !Array.isArray(value);

/** A file is the whole configuration, so what it refers to must be in it. */
function referenceIssues(bundle: Bundle): { path: PropertyKey[]; message: string }[] {
  const issues: { path: PropertyKey[]; message: string }[] = [];
  const ids = (kind: ResourceKind) => new Set(bundle[kind].map((d) => d.id));
  const campaigns = ids("campaigns");
  const buyers = ids("buyers");
  const suppliers = ids("suppliers");
  bundle.channels.forEach((ch, i) => {
    if (!buyers.has(ch.buyer_id as string)) issues.push({ path: ["channels", i, "buyer_id"], message: `no buyer '${ch.buyer_id}' in this file` });
    if (!campaigns.has(ch.campaign_id as string))
      issues.push({ path: ["channels", i, "campaign_id"], message: `no campaign '${ch.campaign_id}' in this file` });
    ((ch.suppliers as string[] | null) ?? []).forEach((id, j) => {
      if (!suppliers.has(id)) issues.push({ path: ["channels", i, "suppliers", j], message: `no supplier '${id}' in this file` });
    });
  });
  bundle.suppliers.forEach((s, i) => {
    ((s.campaigns as string[] | null) ?? []).forEach((id, j) => {
      if (!campaigns.has(id)) issues.push({ path: ["suppliers", i, "campaigns", j], message: `no campaign '${id}' in this file` });
    });
  });
  return issues;
}

/** `GAVEL_CHANNEL_ACME_TX_AUTH_TOKEN`: the environment variable a secret is exported as. */
export function secretEnvName(kind: ResourceKind, id: string, path: string[]): string {
  return ["GAVEL", singular[kind], id, ...path].join("_").toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}

const escapeDollars = (value: unknown): unknown => {
  if (typeof value === "string") return value.replace(/\$(?=[{$])/g, "$$$$");
  if (Array.isArray(value)) return value.map(escapeDollars);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeDollars(v)]));
  return value;
};

/**
 * Writes a bundle as the configuration file; each secret the bundle holds becomes an
 * `${ENV:-***}` reference (a place where a resource could hold a secret but does not, such as a
 * channel without signing, gets none), and `secrets` lists their names.
 */
export function renderConfigFile(bundle: Bundle, header: string): { text: string; secrets: string[] } {
  const used = new Set<string>();
  const out: Record<string, unknown> = { version: FILE_VERSION };
  for (const kind of fileKinds) {
    out[kind] = bundle[kind].map((doc) => {
      const copy = escapeDollars(structuredClone(doc)) as Doc;
      for (const path of secretPaths(kind, doc)) {
        if (typeof getPath(doc, path) !== "string") continue;
        let name = secretEnvName(kind, doc.id, path);
        for (let n = 2; used.has(name); n++) name = `${secretEnvName(kind, doc.id, path)}_${n}`;
        used.add(name);
        setPath(copy, path, `\${${name}:-${SECRET_MASK}}`);
      }
      return copy;
    });
  }
  const comment = header
    .split("\n")
    .map((line) => `# ${line}`.trimEnd())
    .join("\n");
  return { text: `${comment}\n${stringify(out, { lineWidth: 0, aliasDuplicateObjects: false })}`, secrets: [...used] };
}

