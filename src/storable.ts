// What Gavel can store and walk of a parsed JSON (or YAML) value, checked once where input is parsed
// (http/body.ts for every JSON body, resources/file.ts for configuration files), so no hostile value
// reaches the database or a recursive step:
// - PostgreSQL refuses a NUL (U+0000) in `text` and `jsonb`, and an unpaired UTF-16 surrogate in
//   `jsonb` (it is not Unicode at all), and would answer the write with an error;
// - JSON.stringify, merge patches and other recursive walks overflow the stack on a value nested a
//   few thousand levels deep, so nesting is bounded far below that;
// - a `__proto__` key reaches an object's prototype wherever code copies keys by assignment;
// - a number past ±1.8e308 parses as Infinity, which JSON cannot even write back.

/** Objects and arrays inside one another, the body itself counting as the first level. */
export const MAX_JSON_DEPTH = 32;

export interface Unstorable {
  /** Where the value (or the key) is: `["data", "first_name"]`, `["items", 3]`. */
  path: (string | number)[];
  message: string;
}

// One quick test per string; the exact reason is looked for only when it matches.
const SUSPECT = /[\u0000\ud800-\udfff]/;
const UNPAIRED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be stored, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes("\u0000")) return "contains a NUL character (\\u0000), which cannot be stored";
  if (UNPAIRED.test(text)) return "contains an unpaired UTF-16 surrogate (\\uD800-\\uDFFF), which is not valid Unicode";
  return undefined;
}

/**
 * The first value (or key) in `value` that cannot be stored, or undefined. The walk stops at
 * `maxDepth`, so a value nested (or aliased into itself) without end is reported, never walked.
 */
export function findUnstorable(value: unknown, maxDepth = MAX_JSON_DEPTH): Unstorable | undefined {
  const path: (string | number)[] = [];
  const at = (message: string): Unstorable => ({ path: [...path], message });

  function walk(node: unknown, depth: number): Unstorable | undefined {
    if (typeof node === "string") {
      const problem = unstorableText(node);
      return problem === undefined ? undefined : at(problem);
    }
    if (typeof node === "number") return Number.isFinite(node) ? undefined : at("is a number out of range");
    if (node === null || typeof node !== "object") return undefined;
    if (depth >= maxDepth) return at(`nests deeper than ${maxDepth} levels of objects and arrays`);
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        const found = walk(node[i], depth + 1);
        path.pop();
        if (found) return found;
      }
      return undefined;
    }
    for (const key of Object.keys(node)) {
      path.push(key);
      const keyProblem = key === "__proto__" ? "is not allowed as a key" : unstorableText(key);
      const found = keyProblem !== undefined ? at(keyProblem.startsWith("is ") ? keyProblem : `its key ${keyProblem}`) : walk((node as Record<string, unknown>)[key], depth + 1);
      path.pop();
      if (found) return found;
    }
    return undefined;
  }

  return walk(value, 0);
}
