// JSONPath as response rules use it (jsonpath-plus, with its safe evaluator): the check of a path's
// shape when a channel is saved, and the one rewrite every path needs before it is run.
import { JSONPath } from "jsonpath-plus";

/**
 * jsonpath-plus reads a segment starting with `@` as a type test (`@string()`), so an XML attribute
 * (`$.Bid.@_currency`, `$.Bid['@_currency']`) is rewritten with its backtick escape for a literal
 * name. Filter expressions inside parentheses are JavaScript and are left alone.
 */
export function literalAttributes(path: string): string {
  let out = "";
  let depth = 0;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    out += ch;
    if (depth === 0 && path[i + 1] === "@" && (ch === "." || ((ch === "'" || ch === '"') && path[i - 1] === "["))) out += "`";
  }
  return out;
}

/** jsonpath-plus accepts nearly any string, so the shape is checked here: a clear error beats a rule that never matches. */
export function jsonPathProblem(path: string): string | null {
  if (!path.startsWith("$")) return `a JSONPath starts with '$' (got '${path}')`;
  if (/\.$/.test(path)) return `'${path}' ends with '.'`;
  const closing: Record<string, string> = { "[": "]", "(": ")" };
  const stack: string[] = [];
  let quote: string | null = null;
  for (const ch of path) {
    if (quote) {
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "[" || ch === "(") stack.push(closing[ch]);
    else if (ch === "]" || ch === ")") {
      if (stack.pop() !== ch) return `unbalanced '${ch}' in '${path}'`;
    }
  }
  if (quote) return `unclosed quote in '${path}'`;
  if (stack.length) return `unclosed '${stack.length && stack[stack.length - 1] === "]" ? "[" : "("}' in '${path}'`;
  try {
    JSONPath({ path: literalAttributes(path), json: { a: [{ b: 1 }] }, wrap: true, eval: "safe" });
  } catch (error) {
    return `bad JSONPath '${path}': ${(error as Error).message}`;
  }
  return null;
}
