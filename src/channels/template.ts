// Body and header templates (SPEC.md "Parsing and templates"): a buyer's request shape written as
// JSON with `{{variable | transform:arg}}` placeholders. A template is parsed and checked once, when
// the channel is saved, and compiled once per channel into a render function; a lead only renders.
//
// A string that is exactly one placeholder keeps the value's type (`"{{data.age}}"` → 30); a
// placeholder inside other text renders as text (`"Age {{data.age}}"` → "Age 30"). A missing value
// renders as null (JSON) or an empty string (form, XML, headers) unless `default:` says otherwise.
import { createHash } from "node:crypto";
import { format as formatDate, isValid } from "date-fns";
import { parsePhoneNumberFromString } from "libphonenumber-js";
import { DateTime, IANAZone } from "luxon";

export type Endpoint = "ping" | "post";

/**
 * What a template may name beyond the lead. A post may name its ping answer's captures
 * (`{{ping.<name>}}`, response.ping.capture) and the bid chosen of several (`{{bid.id}}`,
 * response.ping.bids.id). `captures` absent: any capture name is taken (a caller that only
 * collects the lead's fields); a list: only those.
 */
export interface TemplateScope {
  endpoint: Endpoint;
  captures?: readonly string[];
  bidId?: boolean;
}

const scopeOf = (scope: Endpoint | TemplateScope): TemplateScope => (typeof scope === "string" ? { endpoint: scope } : scope);

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
  /** When the lead arrived, and when this request is written: ISO 8601 instants (UTC). */
  received_at?: string;
  now?: string;
  /**
   * Pings only: the pii fields whose hash the campaign lets a ping carry (`ping_hash: true`). A
   * placeholder reads them only through a hash transform, so the value itself never leaves.
   */
  hashable?: Record<string, unknown>;
  /**
   * Inbound pings (POST /v1/pings): the supplier's SHA-256 of pii fields it did not send
   * (`contact_hashes`), for the fields the campaign lets a ping hash. `{{data.<field> | sha256}}`
   * reads it when the value itself is absent: the same digest Gavel would compute from the value.
   */
  contact_hashes?: Record<string, string>;
  /** Posts: the bid being posted, when its ping answer held several (its `id`, or null). */
  bid?: { id: string | null };
  /** Posts: the named captures of the ping answer (response.ping.capture); a capture it lacked is null. */
  ping?: Record<string, string | null>;
  /** Inside `{{#each data.<list>}}`: the item being written (`{{item.<field>}}`) and its place from 0 (`{{@index}}`). */
  item?: Record<string, unknown>;
  index?: number;
}

const COMMON_VARS = ["lead_id", "ping_id", "campaign", "test", "received_at", "now"] as const;
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
  /** Read through a hash (md5, sha1, sha256): a ping may carry it for a pii field with `ping_hash`. */
  hashed?: boolean;
  /** `{{item.<field>}}` inside `{{#each data.<list>}}`: `field` is a field of this list field's items. */
  list?: string;
  /** `{{#each data.<field>}}`: the field must be a list. */
  each?: boolean;
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

/**
 * A time a transform works on: its wall clock in a zone. A bare date (YYYY-MM-DD, a campaign `date`
 * field) or a date-time without an offset is that wall clock as written; an instant (with `Z` or an
 * offset, as `received_at` and `now` are) is shown in UTC until `tz:` names a zone.
 */
function toTime(v: unknown): DateTime | undefined {
  if (v instanceof DateTime) return v.isValid ? v : undefined;
  if (v instanceof Date) return isValid(v) ? DateTime.fromJSDate(v, { zone: "UTC" }) : undefined;
  if (typeof v === "number") return DateTime.fromMillis(v, { zone: "UTC" });
  if (typeof v !== "string") return undefined;
  const t = DateTime.fromISO(v.trim(), { zone: "UTC", setZone: true });
  return t.isValid ? t : undefined;
}

/** The wall clock of `t` as a local Date, so that date-fns' `format` writes exactly that wall clock. */
const wallClock = (t: DateTime) => new Date(t.year, t.month - 1, t.day, t.hour, t.minute, t.second, t.millisecond);

const hashOf = (algorithm: "md5" | "sha1" | "sha256") => () => (v: unknown) =>
  blank(v) ? v : createHash(algorithm).update(typeof v === "string" ? v : asText(v), "utf8").digest("hex");
const HASHES = new Set(["md5", "sha1", "sha256"]);

/** Transforms whose output never holds markup: escaped text, phones, numbers, dates, digests. */
const XML_SAFE = new Set(["xml", "url", "phone", "digits", "e164", "national", "number", "fixed", "date", "iso", "unix", "md5", "sha1", "sha256", "bool"]);
/** Transforms whose output holds no '"' or '\\': safe inside a string of JSON text. */
const JSON_SAFE = new Set(["json", "url", "phone", "digits", "e164", "national", "number", "fixed", "date", "iso", "unix", "md5", "sha1", "sha256", "bool"]);
const XML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Phone styles of `phone:<style>`, from a number libphonenumber parsed (US when it has no country code). */
const PHONE_STYLES = ["dashed", "dotted", "national", "international", "e164", "digits", "national_digits"] as const;
type PhoneStyle = (typeof PHONE_STYLES)[number];

function phoneIn(style: PhoneStyle, v: unknown): unknown {
  if (blank(v)) return v;
  const n = parsePhoneNumberFromString(String(v), "US");
  if (!n) return v;
  const national = String(n.nationalNumber);
  // NANP numbers (country code 1) are 3-3-4; others keep their national grouping with the separator.
  const grouped = (sep: string) =>
    n.countryCallingCode === "1" && national.length === 10
      ? `${national.slice(0, 3)}${sep}${national.slice(3, 6)}${sep}${national.slice(6)}`
      : n.formatNational().replace(/[^0-9]+/g, sep).replace(new RegExp(`^\\${sep}|\\${sep}$`, "g"), "");
  switch (style) {
    case "dashed":
      return grouped("-");
    case "dotted":
      return grouped(".");
    case "national":
      return n.formatNational();
    case "international":
      return n.formatInternational();
    case "e164":
      return n.number;
    case "digits":
      return n.number.replace(/\D/g, "");
    case "national_digits":
      return national;
  }
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
  /** phone:dashed → "512-555-0142"; also dotted, national "(512) 555-0142", international, e164, digits, national_digits. */
  phone: (arg) => {
    const style = (arg ?? "").trim() as PhoneStyle;
    if (!PHONE_STYLES.includes(style)) return `phone needs a style: ${PHONE_STYLES.join(", ")} (e.g. phone:dashed)`;
    return (v) => phoneIn(style, v);
  },
  /**
   * date:MM/dd/yyyy — Unicode tokens as in date-fns `format`, on the value's wall clock: a bare date
   * as written, an instant in UTC or in the zone a `tz:` before it named.
   */
  date: (arg) => {
    if (!arg) return "date needs a format, e.g. date:MM/dd/yyyy";
    // date-fns refuses these with a console warning; they are nearly always a typo for yyyy and dd.
    const unquoted = arg.replace(/'[^']*'/g, "");
    if (unquoted.includes("Y")) return `bad date format '${arg}': use yyyy for the year (Y is the week-numbering year)`;
    if (unquoted.includes("D")) return `bad date format '${arg}': use dd for the day of the month (D is the day of the year)`;
    // Offsets would be the server's own: an instant with its offset is `iso`.
    if (/[XxOz]/.test(unquoted)) return `bad date format '${arg}': no offset or zone tokens (X, x, O, z): use iso for a time with its offset`;
    try {
      formatDate(new Date(2000, 0, 31, 13, 45, 30), arg);
    } catch (error) {
      // date-fns explains a bad token in its first clause ("Use `yyyy` instead of `YYYY`").
      return `bad date format '${arg}': ${(error as Error).message.split(" (in")[0].split(";")[0]}`;
    }
    return (v) => {
      const t = blank(v) ? undefined : toTime(v);
      return t ? formatDate(wallClock(t), arg) : v;
    };
  },
  /** tz:America/Chicago — an instant (received_at, now, an ISO time with an offset) in that zone, for date: or iso. */
  tz: (arg) => {
    const zone = (arg ?? "").trim();
    if (!zone) return "tz needs an IANA time zone, e.g. tz:America/Chicago";
    if (zone !== "UTC" && !IANAZone.isValidZone(zone)) return `unknown time zone '${zone}' (an IANA name, e.g. America/Chicago)`;
    return (v) => {
      const t = blank(v) ? undefined : toTime(v);
      return t ? t.setZone(zone) : v;
    };
  },
  /** An instant in ISO 8601 with its offset (UTC, or the zone of a tz: before it): "2026-03-02T09:00:00-06:00". */
  iso: () => (v) => {
    const t = blank(v) ? undefined : toTime(v);
    return t ? t.toISO({ suppressMilliseconds: true }) : v;
  },
  /** An instant as Unix seconds. */
  unix: () => (v) => {
    const t = blank(v) ? undefined : toTime(v);
    return t ? Math.floor(t.toSeconds()) : v;
  },
  /** Hex digests of the value's text (contact fields are normalised at intake: email lower case, phone E.164). */
  md5: hashOf("md5"),
  sha1: hashOf("sha1"),
  sha256: hashOf("sha256"),
  /** Escapes for text that is itself XML, a URL or JSON (the outer format escapes its own layer). */
  xml: () => (v) => (blank(v) ? v : asText(v).replace(/[&<>"']/g, (c) => XML_ENTITIES[c])),
  url: () => (v) => (blank(v) ? v : encodeURIComponent(asText(v))),
  json: () => (v) => (blank(v) ? v : JSON.stringify(asText(v)).slice(1, -1)),
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
  /** A hash transform is in the chain: what leaves is a digest, never the value. */
  hashed: boolean;
  /** `{{data.<field> | sha256 …}}`: the field's SHA-256 given in its place (contact_hashes), read when the value is absent. */
  digest?: (vars: TemplateVars) => string | undefined;
  /** The chain ends with a transform whose output holds no markup ('&', '<', quotes): safe inside XML text. */
  xmlSafe: boolean;
  /** The chain ends with a transform whose output holds no '"' or '\\': safe inside a JSON string. */
  jsonSafe: boolean;
  /**
   * What it reads is not Gavel's own: the lead's values (`data.`, `item.`), or the buyer's
   * (`ping.<capture>`, `bid.id`, `ping_ref`). Such a value may hold any character, so text that is
   * itself XML or JSON needs it escaped. Its name, for the save-time message.
   */
  untrusted?: string;
  /** Set for `{{item.<field>}}`: the list field whose items `field` belongs to. */
  list?: string;
}

/** How a placeholder reads as a reference to a field, for the store's check against the campaign. */
const fieldRef = (p: Placeholder, path: (string | number)[]): FieldRef => ({
  path,
  field: p.field as string,
  ...(p.hashed && { hashed: true }),
  ...(p.list && { list: p.list }),
});

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

function parsePlaceholder(expression: string, scope: TemplateScope, each?: string): Placeholder | string {
  const endpoint = scope.endpoint;
  const [head, ...steps] = expression.split("|").map((s) => s.trim());
  if (!head) return "empty placeholder '{{}}'";
  if (/^#each\b/.test(head)) return `'{{${expression.trim()}}}' has no '{{/each}}' after it in the same text`;
  if (head === "/each") return "'{{/each}}' closes no '{{#each data.<list>}}' in the same text";
  const names = steps.map((step) => step.split(":")[0].trim());
  const hashed = names.some((n) => HASHES.has(n));
  const xmlSafe = names.length > 0 && XML_SAFE.has(names[names.length - 1]);
  const jsonSafe = names.length > 0 && JSON_SAFE.has(names[names.length - 1]);
  const untrusted = head.startsWith("data.") || head.startsWith("item.") || head.startsWith("ping.") || head === "bid.id" || head === "ping_ref" ? head : undefined;
  let read: Placeholder["read"];
  let digest: Placeholder["digest"];
  let field: string | undefined;
  let list: string | undefined;
  if (head.startsWith("item.") || head === "@index" || head === "@number") {
    if (!each) return `'{{${head}}}' is only known inside '{{#each data.<list>}}'`;
    if (head === "@index") read = (vars) => vars.index;
    else if (head === "@number") read = (vars) => (vars.index ?? 0) + 1;
    else {
      const name = head.slice(5);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `bad field name in '{{${expression}}}'`;
      field = name;
      list = each;
      read = (vars) => vars.item?.[name];
    }
  } else if (head.startsWith("data.")) {
    const name = head.slice(5);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `bad field name in '{{${expression}}}'`;
    field = name;
    // A ping's data holds no pii; a hash may read the pii fields the campaign lets pings hash.
    read = hashed ? (vars) => vars.data[name] ?? vars.hashable?.[name] : (vars) => vars.data[name];
    // A digest stands for the value only where the value would be hashed first, as it is, by SHA-256.
    if (names[0] === "sha256") digest = (vars) => vars.contact_hashes?.[name];
  } else if ((COMMON_VARS as readonly string[]).includes(head)) {
    read = (vars) => vars[head as (typeof COMMON_VARS)[number]];
  } else if ((POST_VARS as readonly string[]).includes(head)) {
    if (endpoint === "ping") return `'{{${head}}}' is only known in posts`;
    read = (vars) => vars[head as (typeof POST_VARS)[number]];
  } else if (head.startsWith("ping.")) {
    if (endpoint === "ping") return `'{{${head}}}' is only known in posts (a capture of the ping's answer)`;
    const name = head.slice(5);
    const known = scope.captures;
    if (known && !known.includes(name))
      return known.length
        ? `unknown capture '${name}' in '{{${expression.trim()}}}' (known: ${known.join(", ")})`
        : `unknown capture '${name}' in '{{${expression.trim()}}}': the ping's answer captures nothing (set response.ping.capture)`;
    read = (vars) => vars.ping?.[name] ?? null;
  } else if (head === "bid.id") {
    if (endpoint === "ping") return `'{{bid.id}}' is only known in posts`;
    if (scope.captures && !scope.bidId) return `'{{bid.id}}' names the bid chosen of several: set response.ping.bids with its id`;
    read = (vars) => vars.bid?.id ?? null;
  } else {
    const known = [...COMMON_VARS, ...(endpoint === "post" ? [...POST_VARS, "bid.id", "ping.<capture>"] : []), "data.<field>", ...(each ? ["item.<field>", "@index", "@number"] : [])].join(", ");
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
  return { read, transforms, field, hashed, xmlSafe, jsonSafe, digest, ...(untrusted && { untrusted }), ...(list && { list }) };
}

function apply(p: Placeholder, vars: TemplateVars): unknown {
  let value = p.read(vars);
  let transforms = p.transforms;
  const digest = blank(value) ? p.digest?.(vars) : undefined;
  // The digest is the first transform's output already: the rest of the chain runs on it.
  if (digest !== undefined) [value, transforms] = [digest, transforms.slice(1)];
  for (const t of transforms) value = t(value);
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
  scope: TemplateScope;
  problems: TemplateProblem[];
  fields: FieldRef[];
  /** Inside `{{#each data.<list>}}`: that list field's name. */
  each?: string;
}

/** `{{#each data.drivers}}` as a key: its object stands for a list, one element per item (XML: repeated elements). */
const EACH_KEY = /^\{\{\s*#each\s+([^{}]*?)\s*\}\}$/;
/** `{{#each data.drivers}}…{{/each}}` inside text: the text between, once per item. */
const EACH_BLOCK = /\{\{\s*#each\s+([^{}]*?)\s*\}\}([\s\S]*?)\{\{\s*\/each\s*\}\}/g;
const HAS_EACH_BLOCK = new RegExp(EACH_BLOCK.source);
/** Markup in a template's own text (placeholders aside): its values are inside XML. */
const hasMarkup = (text: string) => /<[A-Za-z_?!/]/.test(text.replace(/\{\{[^{}]*\}\}/g, ""));
/** Text that is itself JSON, placeholders and each blocks aside: an object or a list with a string in it. */
const isJsonText = (text: string) => {
  const literal = text.replace(/\{\{[^{}]*\}\}/g, "").trim();
  return /^[[{][\s\S]*[\]}]$/.test(literal) && literal.includes('"');
};
/** Whether a JSON string is open after `text`, given whether one was open before it. */
function jsonStringState(text: string, open: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    if (open && text[i] === "\\") i++;
    else if (text[i] === '"') open = !open;
  }
  return open;
}

/**
 * The list field an `{{#each …}}` walks, checked: `data.<field>`, not inside another each. The
 * field is noted for the store, which checks that it is a list (and, in a ping, not pii).
 */
function eachList(expression: string, path: (string | number)[], ctx: Compiling): string | undefined {
  const m = /^data\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expression.trim());
  if (ctx.each) ctx.problems.push({ path, message: `'{{#each ${expression}}}' inside '{{#each data.${ctx.each}}}': an item's fields are not lists` });
  else if (!m) ctx.problems.push({ path, message: `'{{#each ${expression}}}' walks a list field: write '{{#each data.<field>}}'` });
  else {
    ctx.fields.push({ path, field: m[1], each: true });
    return m[1];
  }
  return undefined;
}

/** The items of a list field as an each walks them: an item that is not an object reads as one with no fields. */
function itemsOf(vars: TemplateVars, list: string): Record<string, unknown>[] {
  const value = vars.data[list];
  return Array.isArray(value) ? value.map((item) => (isRecord(item) ? item : {})) : [];
}

function compileString(text: string, path: (string | number)[], ctx: Compiling, insideXml = false, insideJson = false): { render: Render; constant: boolean } {
  if (HAS_EACH_BLOCK.test(text)) return compileEachText(text, path, ctx, insideXml || hasMarkup(text), insideJson || isJsonText(text));
  const parts: (string | Placeholder)[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    const parsed = parsePlaceholder(match[1], ctx.scope, ctx.each);
    if (typeof parsed === "string") ctx.problems.push({ path, message: parsed });
    else {
      parts.push(parsed);
      if (parsed.field) ctx.fields.push(fieldRef(parsed, path));
    }
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  const rest = text.replace(PLACEHOLDER, "");
  if (rest.includes("{{") || rest.includes("}}")) ctx.problems.push({ path, message: `unbalanced '{{' or '}}' in '${text}'` });
  if (parts.every((p) => typeof p === "string")) return { render: () => text, constant: true };
  // Text that is itself XML (an XML document in a form field or a JSON string): a lead's value
  // placed in it must be escaped, or "12 Oak & Elm St" breaks the buyer's parser.
  const literal = parts.filter((p) => typeof p === "string").join("");
  if (insideXml || /<[A-Za-z_?!/]/.test(literal))
    for (const p of parts)
      if (typeof p !== "string" && p.untrusted && !p.xmlSafe)
        ctx.problems.push({
          path,
          message: `'{{${p.untrusted}}}' sits inside XML text: end it with '| xml' so that '&' and '<' reach the buyer's parser intact`,
        });
  // Text that is itself JSON (a form field holding '{"name":"{{data.name}}"}'): a value placed
  // inside one of its strings must be escaped, or a '"' in it ends the string and breaks the JSON.
  if (insideJson || isJsonText(text)) {
    let inString = false;
    for (const p of parts) {
      if (typeof p === "string") inString = jsonStringState(p, inString);
      else if (inString && p.untrusted && !p.jsonSafe)
        ctx.problems.push({
          path,
          message: `'{{${p.untrusted}}}' sits inside a string of JSON text: end it with '| json' so that '"' and '\\' reach the buyer's parser intact`,
        });
    }
  }
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

/** Text with `{{#each data.<list>}}…{{/each}}` blocks: the text around them once, each block's text once per item. */
function compileEachText(text: string, path: (string | number)[], ctx: Compiling, insideXml: boolean, insideJson: boolean): { render: Render; constant: boolean } {
  const pieces: Render[] = [];
  let last = 0;
  for (const match of text.matchAll(EACH_BLOCK)) {
    if (match.index > last) pieces.push(compileString(text.slice(last, match.index), path, ctx, insideXml, insideJson).render);
    const list = eachList(match[1], path, ctx);
    if (list !== undefined) {
      const inner = compileString(match[2], path, { ...ctx, each: list }, insideXml, insideJson).render;
      pieces.push((vars) => itemsOf(vars, list).map((item, index) => asText(inner({ ...vars, item, index }))).join(""));
    }
    last = match.index + match[0].length;
  }
  if (last < text.length) pieces.push(compileString(text.slice(last), path, ctx, insideXml, insideJson).render);
  return { render: (vars) => pieces.map((piece) => asText(piece(vars))).join(""), constant: false };
}

function compileNode(node: unknown, path: (string | number)[], ctx: Compiling): { render: Render; constant: boolean } {
  if (typeof node === "string") return compileString(node, path, ctx);
  if (Array.isArray(node)) {
    const items = node.map((item, i) => compileNode(item, [...path, i], ctx));
    if (items.every((i) => i.constant)) return { render: () => node, constant: true };
    return { render: (vars) => items.map((i) => i.render(vars)), constant: false };
  }
  if (node && typeof node === "object") {
    const keys = Object.keys(node);
    const eachKey = keys.find((key) => EACH_KEY.test(key));
    if (eachKey !== undefined) {
      const at = [...path, eachKey];
      if (keys.length > 1) ctx.problems.push({ path: at, message: "an '{{#each …}}' key must be the only key of its object: the object stands for the list it writes" });
      const list = eachList(EACH_KEY.exec(eachKey)![1], at, ctx);
      if (list === undefined) return { render: () => [], constant: true };
      const item = compileNode((node as Record<string, unknown>)[eachKey], at, { ...ctx, each: list });
      // A JSON array, one element per item; XML writes an array as the element repeated.
      return { render: (vars) => itemsOf(vars, list).map((it, index) => item.render({ ...vars, item: it, index })), constant: false };
    }
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
export function compileTemplate(template: unknown, scope: Endpoint | TemplateScope): { template: CompiledTemplate; problems: TemplateProblem[] } {
  const ctx: Compiling = { scope: scopeOf(scope), problems: [], fields: [] };
  const { render, constant } = compileNode(template, [], ctx);
  return { template: { render, constant, fields: ctx.fields }, problems: ctx.problems };
}

/** Renders a template to text, as a header value or a form/query/XML value needs. */
export const renderText = (template: CompiledTemplate, vars: TemplateVars): string => asText(template.render(vars));

/**
 * A templated endpoint URL (`https://buyer.example/leads/{{ping_ref}}/post?lead={{lead_id}}`):
 * placeholders may stand in the path or the query only, and each value is percent-encoded as one
 * URL component, so a value can never add a path segment or a parameter of its own.
 */
export function compileUrlTemplate(url: string, scope: Endpoint | TemplateScope): { render: (vars: TemplateVars) => string; fields: FieldRef[]; problems: TemplateProblem[] } {
  const ctx: Compiling = { scope: scopeOf(scope), problems: [], fields: [] };
  const parts: (string | Placeholder)[] = [];
  let last = 0;
  for (const match of url.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(url.slice(last, match.index));
    if (!/^https?:\/\/[^/?#]+[/?]/i.test(url.slice(0, match.index)))
      ctx.problems.push({ path: [], message: `a placeholder may stand only in the URL's path or query, not in its scheme or host ('{{${match[1].trim()}}}')` });
    else if (url.slice(0, match.index).includes("#"))
      ctx.problems.push({ path: [], message: `a placeholder may stand only in the URL's path or query, not in its fragment ('{{${match[1].trim()}}}')` });
    const parsed = parsePlaceholder(match[1], ctx.scope);
    if (typeof parsed === "string") ctx.problems.push({ path: [], message: parsed });
    else {
      parts.push(parsed);
      if (parsed.field) ctx.fields.push(fieldRef(parsed, []));
    }
    last = match.index + match[0].length;
  }
  if (last < url.length) parts.push(url.slice(last));
  const rest = url.replace(PLACEHOLDER, "");
  if (rest.includes("{{") || rest.includes("}}")) ctx.problems.push({ path: [], message: `unbalanced '{{' or '}}' in '${url}'` });
  return {
    render: (vars) => parts.map((p) => (typeof p === "string" ? p : encodeURIComponent(asText(apply(p, vars))))).join(""),
    fields: ctx.fields,
    problems: ctx.problems,
  };
}
