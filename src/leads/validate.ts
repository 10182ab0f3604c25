// Step 1 of the auction: validate and normalise a lead's data against its campaign's fields.
// A campaign's fields are compiled once into an array of small checkers, so the hot path does no
// schema interpretation per lead.
import { parsePhoneNumberFromString } from "libphonenumber-js";
import type { FieldError } from "../errors";
import type { FieldSpec, ItemFieldSpec } from "../resources/schemas";
import { stateCode } from "./states";

type Check = (value: unknown) => { ok: true; value: unknown } | { ok: false; message: string };

export interface CompiledFields {
  /** Normalises `data`; returns the clean data or every field error, each under `data.<name>`. */
  validate(
    data: Record<string, unknown>,
    /** Check only the fields a ping carries (those not pii), and keep no others. */
    options?: { publicOnly?: boolean },
  ): { ok: true; data: Record<string, unknown> } | { ok: false; errors: FieldError[]; /** the fields that did pass */ data: Record<string, unknown> };
  /** Declared fields not marked pii: the only ones a ping may carry (a list field's items only with their own fields not pii). */
  publicFields: readonly string[];
  /**
   * The lead's data as a ping carries it and an analyst sees it: its public fields, and of each
   * list field's items their public fields; the rest left out, or each shown as `mask`.
   */
  publicData(data: Record<string, unknown>, mask?: string): Record<string, unknown>;
  /** pii fields whose hash a ping template may carry (`ping_hash: true`). */
  pingHashFields: readonly string[];
  /** Declared email and phone fields: what a lead is matched against the suppression list by. */
  contactFields: readonly { name: string; kind: "email" | "phone" }[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ZIP = /^(\d{5})(?:-?\d{4})?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Email as Gavel stores and compares it: trimmed and lower-cased; undefined when it is not one. */
export function normaliseEmail(value: string): string | undefined {
  const s = value.trim().toLowerCase();
  return EMAIL.test(s) && s.length <= 254 ? s : undefined;
}

/** Phone as Gavel stores and compares it: E.164, US by default; undefined when it is not one. */
export function normalisePhone(value: string): string | undefined {
  const phone = parsePhoneNumberFromString(value, "US");
  return phone?.isValid() ? phone.number : undefined;
}

const ok = (value: unknown) => ({ ok: true as const, value });
const fail = (message: string) => ({ ok: false as const, message });

function numeric(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function rangeCheck(n: number, spec: Pick<FieldSpec, "min" | "max">, unit = ""): string | undefined {
  if (spec.min !== undefined && n < spec.min) return `must be at least ${spec.min}${unit}`;
  if (spec.max !== undefined && n > spec.max) return `must be at most ${spec.max}${unit}`;
  return undefined;
}

function baseCheck(spec: FieldSpec | ItemFieldSpec): Check {
  switch (spec.type) {
    case "string":
      return (v) => {
        if (typeof v !== "string" && typeof v !== "number") return fail("must be a string");
        const s = String(v).trim();
        const range = rangeCheck(s.length, spec, " characters");
        return range ? fail(range) : ok(s);
      };
    case "integer":
      return (v) => {
        const n = numeric(v);
        if (n === undefined || !Number.isInteger(n)) return fail("must be an integer");
        const range = rangeCheck(n, spec);
        return range ? fail(range) : ok(n);
      };
    case "number":
      return (v) => {
        const n = numeric(v);
        if (n === undefined) return fail("must be a number");
        const range = rangeCheck(n, spec);
        return range ? fail(range) : ok(n);
      };
    case "boolean":
      return (v) => {
        if (typeof v === "boolean") return ok(v);
        const s = String(v).trim().toLowerCase();
        if (["true", "yes", "y", "1"].includes(s)) return ok(true);
        if (["false", "no", "n", "0"].includes(s)) return ok(false);
        return fail("must be true or false");
      };
    case "enum": {
      const byLower = new Map((spec.values ?? []).map((value) => [value.toLowerCase(), value]));
      return (v) => {
        const hit = typeof v === "string" ? byLower.get(v.trim().toLowerCase()) : undefined;
        return hit !== undefined ? ok(hit) : fail(`must be one of: ${spec.values?.join(", ")}`);
      };
    }
    case "date":
      return (v) => {
        const m = typeof v === "string" ? DATE.exec(v.trim().slice(0, 10)) : null;
        if (!m) return fail("must be a date as YYYY-MM-DD");
        const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
        if (d.getUTCFullYear() !== +m[1] || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) return fail("is not a real date");
        return ok(`${m[1]}-${m[2]}-${m[3]}`);
      };
    case "email":
      return (v) => {
        const email = typeof v === "string" ? normaliseEmail(v) : undefined;
        return email ? ok(email) : fail("must be an email address");
      };
    case "phone":
      return (v) => {
        if (typeof v !== "string" && typeof v !== "number") return fail("must be a phone number");
        const phone = normalisePhone(String(v));
        return phone ? ok(phone) : fail("must be a valid phone number");
      };
    case "zip":
      return (v) => {
        const m = typeof v === "string" || typeof v === "number" ? ZIP.exec(String(v).trim()) : null;
        return m ? ok(m[1]) : fail("must be a 5-digit ZIP code (or ZIP+4)");
      };
    case "state":
      return (v) => {
        const code = typeof v === "string" ? stateCode(v) : undefined;
        return code ? ok(code) : fail("must be a US state name or 2-letter code");
      };
    case "list":
      // A list is checked item by item (compileList); a scalar check never sees one.
      return () => fail("must be a list of objects");
  }
}

function compileField(spec: FieldSpec | ItemFieldSpec): Check {
  const base = baseCheck(spec);
  const pattern = spec.pattern ? new RegExp(spec.pattern) : undefined;
  if (!pattern) return base;
  return (v) => {
    const r = base(v);
    if (!r.ok) return r;
    return pattern.test(String(r.value)) ? r : fail(`must match ${spec.pattern}`);
  };
}

const isBlank = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.trim() === "");

type Checked = { ok: true; value: unknown } | { ok: false; errors: FieldError[] };

/** A field's checker, reporting under `path`: a value's one message, or each bad item field of a list. */
type FieldCheck = (value: unknown, path: string, publicOnly: boolean) => Checked;

const single =
  (check: Check): FieldCheck =>
  (value, path) => {
    const r = check(value);
    return r.ok ? r : { ok: false, errors: [{ path, message: r.message }] };
  };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A list field: an array of objects, each checked field by field against the item fields (errors
 * under `data.drivers[1].birth_date`), its length against min and max. An item's undeclared keys are
 * kept as text and treated as pii, as a lead's undeclared fields are.
 */
function compileList(spec: FieldSpec): FieldCheck {
  const items = compileRecord(spec.fields ?? []);
  return (value, path, publicOnly) => {
    if (!Array.isArray(value)) return { ok: false, errors: [{ path, message: "must be a list of objects" }] };
    const plural = (n: number) => `${n} item${n === 1 ? "" : "s"}`;
    if (spec.min !== undefined && value.length < spec.min) return { ok: false, errors: [{ path, message: `must have at least ${plural(spec.min)}` }] };
    if (spec.max !== undefined && value.length > spec.max) return { ok: false, errors: [{ path, message: `must have at most ${plural(spec.max)}` }] };
    const clean: Record<string, unknown>[] = [];
    const errors: FieldError[] = [];
    value.forEach((item, i) => {
      const at = `${path}[${i}]`;
      if (!isRecord(item)) {
        errors.push({ path: at, message: "must be an object of the item's fields" });
        return;
      }
      const r = items(item, at, publicOnly);
      clean.push(r.data);
      errors.push(...r.errors);
    });
    return errors.length ? { ok: false, errors } : { ok: true, value: clean };
  };
}

/** Checks a record's declared fields (each under `<prefix>.<name>`) and keeps its undeclared ones as text. */
function compileRecord(
  fields: readonly (FieldSpec | ItemFieldSpec)[],
): (data: Record<string, unknown>, prefix: string, publicOnly: boolean) => { data: Record<string, unknown>; errors: FieldError[] } {
  const checks = fields.map((spec) => ({ spec, check: spec.type === "list" ? compileList(spec as FieldSpec) : single(compileField(spec)) }));
  const declared = new Set(fields.map((f) => f.name));
  return (data, prefix, publicOnly) => {
    const clean: Record<string, unknown> = {};
    const errors: FieldError[] = [];
    for (const { spec, check } of checks) {
      if (publicOnly && spec.pii) continue;
      const raw = data[spec.name];
      const path = `${prefix}.${spec.name}`;
      if (isBlank(raw) || (spec.required && Array.isArray(raw) && raw.length === 0)) {
        if (spec.required) errors.push({ path, message: "is required" });
        continue;
      }
      const r = check(raw, path, publicOnly);
      if (r.ok) clean[spec.name] = r.value;
      else errors.push(...r.errors);
    }
    // Undeclared fields are kept as strings and treated as pii: a scalar as its text, an object
    // or an array as its JSON text. No structure a campaign never declared reaches a buyer's
    // template, form or XML body (where it would be "[object Object]" or new elements).
    if (!publicOnly)
      for (const [name, value] of Object.entries(data)) {
        if (declared.has(name) || value === undefined || value === null) continue;
        clean[name] = typeof value === "object" ? JSON.stringify(value) : String(value);
      }
    return { data: clean, errors };
  };
}

/**
 * The public view of a record: its fields that are not pii, and of a list field's items their
 * fields that are not pii; the rest left out (`mask` undefined) or shown as `mask`.
 */
function publicView(fields: readonly (FieldSpec | ItemFieldSpec)[], data: Record<string, unknown>, mask?: string): Record<string, unknown> {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(data)) {
    const spec = byName.get(name);
    if (!spec || spec.pii) {
      if (mask !== undefined) out[name] = mask;
    } else if (spec.type === "list" && Array.isArray(value))
      out[name] = value.map((item) => (isRecord(item) ? publicView((spec as FieldSpec).fields ?? [], item, mask) : mask));
    else out[name] = value;
  }
  return out;
}

export function compileFields(fields: readonly FieldSpec[]): CompiledFields {
  const record = compileRecord(fields);
  const publicNames = new Set(fields.filter((f) => !f.pii).map((f) => f.name));
  return {
    publicFields: [...publicNames],
    pingHashFields: fields.filter((f) => f.pii && f.ping_hash).map((f) => f.name),
    contactFields: fields.flatMap((f) => (f.type === "email" || f.type === "phone" ? [{ name: f.name, kind: f.type }] : [])),
    publicData: (data, mask) => publicView(fields, data, mask),
    validate(data, options) {
      const { data: clean, errors } = record(data, "data", options?.publicOnly ?? false);
      return errors.length ? { ok: false, errors, data: clean } : { ok: true, data: clean };
    },
  };
}
