// Body and header templates (SPEC.md "Parsing and templates"): a buyer's request shape written as
// JSON with `{{variable | transform:arg}}` placeholders. A template is parsed and checked once, when
// the channel is saved, and compiled once per channel into a render function; a lead only renders.
//
// A string that is exactly one placeholder keeps the value's type (`"{{data.age}}"` → 30); a
// placeholder inside other text renders as text (`"Age {{data.age}}"` → "Age 30"). A missing value
// renders as null (JSON) or an empty string (form, XML, headers) unless `default:` says otherwise.
import { format as formatDate, isValid, parseISO } from "date-fns";
import { parsePhoneNumberFromString } from "libphonenumber-js";

export type Endpoint = "ping" | "post";

/** What a placeholder can name. `data` is the lead (pings: only its non-pii fields). */
export interface TemplateVars {
  lead_id: string;
  ping_id: string | null;
  campaign: string;
  test: boolean;
  data: Record<string, unknown>;
  ping_ref?: string | null;
  price?: number;
  /** The kind of sale the post offers: the lead alone, or one of a shared lead's sales (the native post's `sale`). */
  sale?: "exclusive" | "shared";
}

const COMMON_VARS = ["lead_id", "ping_id", "campaign", "test"] as const;
const POST_VARS = ["ping_ref", "price", "sale"] as const;

type Transform = (value: unknown) => unknown;

/** A problem found while parsing a template, at a path inside it (`["Lead", "Zip"]`). */
export interface TemplateProblem {
  path: (string | number)[];
  message: string;
}

/** A `{{data.<field>}}` reference, so the store can check the field against the campaign. */
export interface FieldRef {
  path: (string | number)[];
  field: string;
}

/** Whether a header value is a template (a plain value is sent as it is). */
export const hasPlaceholder = (v: string) => v.includes("{{") || v.includes("}}");

const blank = (v: unknown) => v === undefined || v === null || v === "";

const TRUE_WORDS = new Set(["true", "yes", "y", "1", "on"]);
const FALSE_WORDS = new Set(["false", "no", "n", "0", "off"]);

function truthiness(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v === 0 ? false : v === 1 ? true : undefined;
  if (typeof v !== "string") return undefined;
  const s = v.trim().toLowerCase();
  return TRUE_WORDS.has(s) ? true : FALSE_WORDS.has(s) ? false : undefined;
}

/** Dates arrive as YYYY-MM-DD (campaign `date` fields) or ISO date-times; a bare date is a calendar day, not UTC midnight. */
function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return isValid(v) ? v : undefined;
  if (typeof v === "number") return new Date(v);
  if (typeof v !== "string") return undefined;
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
  const d = day ? new Date(+day[1], +day[2] - 1, +day[3]) : parseISO(v.trim());
  return isValid(d) ? d : undefined;
}

/** A literal in `default:` — a number, true, false or null reads as that; anything else is text. */
function literal(text: string): unknown {
  if (text === "true") return true;
  if (text === "false") return false;
  if (text === "null") return null;
  if (text.trim() !== "" && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/** Each transform: its name, and a factory that checks its argument and returns the function. */
const TRANSFORMS: Record<string, (arg: string | undefined) => Transform | string> = {
  upper: () => (v) => (typeof v === "string" ? v.toUpperCase() : v),
  lower: () => (v) => (typeof v === "string" ? v.toLowerCase() : v),
  trim: () => (v) => (typeof v === "string" ? v.trim() : v),
  string: () => (v) => (v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)),
  number: () => (v) => {
    if (blank(v)) return null;
    const n = typeof v === "number" ? v : Number(v);
    return Number.isFinite(n) ? n : null;
  },
  fixed: (arg) => {
    const places = arg === undefined ? 2 : Number(arg);
    if (!Number.isInteger(places) || places < 0 || places > 10) return "fixed takes a number of decimal places from 0 to 10";
    return (v) => {
      if (blank(v)) return v;
      const n = Number(v);
      return Number.isFinite(n) ? n.toFixed(places) : v;
    };
  },
  /** Phone as digits only: "+15125550142" → "15125550142". */
  digits: () => (v) => (blank(v) ? v : String(v).replace(/\D/g, "")),
  /** Phone in E.164 (US when no country code): "(512) 555-0142" → "+15125550142". */
  e164: () => (v) => (blank(v) ? v : (parsePhoneNumberFromString(String(v), "US")?.number ?? v)),
  /** Phone as its national number, digits only: "+15125550142" → "5125550142". */
  national: () => (v) => (blank(v) ? v : (parsePhoneNumberFromString(String(v), "US")?.nationalNumber ?? String(v).replace(/\D/g, ""))),
  /** date:MM/dd/yyyy — Unicode tokens as in date-fns `format`. */
  date: (arg) => {
    if (!arg) return "date needs a format, e.g. date:MM/dd/yyyy";
    // date-fns refuses these with a console warning; they are nearly always a typo for yyyy and dd.
    const unquoted = arg.replace(/'[^']*'/g, "");
    if (unquoted.includes("Y")) return `bad date format '${arg}': use yyyy for the year (Y is the week-numbering year)`;
    if (unquoted.includes("D")) return `bad date format '${arg}': use dd for the day of the month (D is the day of the year)`;
    try {
      formatDate(new Date(2000, 0, 31, 13, 45, 30), arg);
    } catch (error) {
      // date-fns explains a bad token in its first clause ("Use `yyyy` instead of `YYYY`").
      return `bad date format '${arg}': ${(error as Error).message.split(" (in")[0].split(";")[0]}`;
    }
    return (v) => {
      const d = blank(v) ? undefined : toDate(v);
      return d ? formatDate(d, arg) : v;
    };
  },
  /** Boolean-ish to words: yesno → "yes"/"no"; yesno:Y/N → "Y"/"N". */
  yesno: (arg) => {
    const [yes, no, extra] = (arg ?? "yes/no").split("/");
    if (yes === undefined || no === undefined || extra !== undefined) return "yesno takes two words separated by '/', e.g. yesno:Y/N";
    return (v) => {
      const t = truthiness(v);
      return t === undefined ? v : t ? yes : no;
    };
  },
  /** Words to a boolean: "yes", "Y", "1", "true" → true; "no", "N", "0", "false" → false. */
  bool: () => (v) => truthiness(v) ?? (blank(v) ? null : v),
  /** map:auto=AUTO,home=HOME — unmapped values pass through. */
  map: (arg) => {
    if (!arg) return "map needs pairs, e.g. map:auto=AUTO,home=HOME";
    const table = new Map<string, string>();
    for (const pair of arg.split(",")) {
      const at = pair.indexOf("=");
      if (at < 1) return `map pair '${pair}' must read from=to`;
      table.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
    }
    return (v) => (blank(v) ? v : (table.get(String(v).toLowerCase()) ?? v));
  },
  /** default:N/A — used when the value is missing or empty. */
  default: (arg) => {
    if (arg === undefined) return "default needs a value, e.g. default:0";
    const fallback = literal(arg);
    return (v) => (blank(v) ? fallback : v);
  },
};

export const transformNames = Object.keys(TRANSFORMS);

/** One parsed placeholder: where it reads from, and the transforms to apply in order. */
interface Placeholder {
  read: (vars: TemplateVars) => unknown;
  transforms: Transform[];
  field?: string;
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

function parsePlaceholder(expression: string, endpoint: Endpoint): Placeholder | string {
  const [head, ...steps] = expression.split("|").map((s) => s.trim());
  if (!head) return "empty placeholder '{{}}'";
  let read: Placeholder["read"];
  let field: string | undefined;
  if (head.startsWith("data.")) {
    const name = head.slice(5);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `bad field name in '{{${expression}}}'`;
    field = name;
    read = (vars) => vars.data[name];
  } else if ((COMMON_VARS as readonly string[]).includes(head)) {
    read = (vars) => vars[head as (typeof COMMON_VARS)[number]];
  } else if ((POST_VARS as readonly string[]).includes(head)) {
    if (endpoint === "ping") return `'{{${head}}}' is only known in posts`;
    read = (vars) => vars[head as (typeof POST_VARS)[number]];
  } else {
    const known = [...COMMON_VARS, ...(endpoint === "post" ? POST_VARS : []), "data.<field>"].join(", ");
    return `unknown variable '${head}' (known: ${known})`;
  }
  const transforms: Transform[] = [];
  for (const step of steps) {
    const colon = step.indexOf(":");
    const name = (colon < 0 ? step : step.slice(0, colon)).trim();
    const arg = colon < 0 ? undefined : step.slice(colon + 1);
    const factory = TRANSFORMS[name];
    if (!factory) return `unknown transform '${name}' (known: ${transformNames.join(", ")})`;
    const made = factory(arg);
    if (typeof made === "string") return made;
    transforms.push(made);
  }
  return { read, transforms, field };
}

function apply(p: Placeholder, vars: TemplateVars): unknown {
  let value = p.read(vars);
  for (const t of p.transforms) value = t(value);
  return value === undefined ? null : value;
}

const asText = (v: unknown): string => (v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

type Render = (vars: TemplateVars) => unknown;

export interface CompiledTemplate {
  render: Render;
  /** True when nothing in the template depends on the lead. */
  constant: boolean;
  fields: FieldRef[];
}

interface Compiling {
  endpoint: Endpoint;
  problems: TemplateProblem[];
  fields: FieldRef[];
}

function compileString(text: string, path: (string | number)[], ctx: Compiling): { render: Render; constant: boolean } {
  const parts: (string | Placeholder)[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    const parsed = parsePlaceholder(match[1], ctx.endpoint);
    if (typeof parsed === "string") ctx.problems.push({ path, message: parsed });
    else {
      parts.push(parsed);
      if (parsed.field) ctx.fields.push({ path, field: parsed.field });
    }
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  const rest = text.replace(PLACEHOLDER, "");
  if (rest.includes("{{") || rest.includes("}}")) ctx.problems.push({ path, message: `unbalanced '{{' or '}}' in '${text}'` });
  if (parts.every((p) => typeof p === "string")) return { render: () => text, constant: true };
  // Exactly one placeholder and nothing around it: keep the value's own type.
  if (parts.length === 1) {
    const only = parts[0] as Placeholder;
    return { render: (vars) => apply(only, vars), constant: false };
  }
  return {
    render: (vars) => parts.map((p) => (typeof p === "string" ? p : asText(apply(p, vars)))).join(""),
    constant: false,
  };
}

function compileNode(node: unknown, path: (string | number)[], ctx: Compiling): { render: Render; constant: boolean } {
  if (typeof node === "string") return compileString(node, path, ctx);
  if (Array.isArray(node)) {
    const items = node.map((item, i) => compileNode(item, [...path, i], ctx));
    if (items.every((i) => i.constant)) return { render: () => node, constant: true };
    return { render: (vars) => items.map((i) => i.render(vars)), constant: false };
  }
  if (node && typeof node === "object") {
    const entries = Object.entries(node).map(([key, value]) => [key, compileNode(value, [...path, key], ctx)] as const);
    if (entries.every(([, e]) => e.constant)) return { render: () => node, constant: true };
    return {
      render: (vars) => Object.fromEntries(entries.map(([key, e]) => [key, e.render(vars)])),
      constant: false,
    };
  }
  return { render: () => node, constant: true };
}

/** Parses a template (any JSON value). Problems come back with their path; compile only a clean one. */
export function compileTemplate(template: unknown, endpoint: Endpoint): { template: CompiledTemplate; problems: TemplateProblem[] } {
  const ctx: Compiling = { endpoint, problems: [], fields: [] };
  const { render, constant } = compileNode(template, [], ctx);
  return { template: { render, constant, fields: ctx.fields }, problems: ctx.problems };
}

/** Renders a template to text, as a header value or a form/query/XML value needs. */
export const renderText = (template: CompiledTemplate, vars: TemplateVars): string => asText(template.render(vars));
