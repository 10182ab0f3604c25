// Step 1 of the auction: validate and normalise a lead's data against its campaign's fields.
// A campaign's fields are compiled once into an array of small checkers, so the hot path does no
// schema interpretation per lead.
import { parsePhoneNumberFromString } from "libphonenumber-js";
import type { FieldError } from "../errors";
import type { FieldSpec } from "../resources/schemas";
import { stateCode } from "./states";

type Check = (value: unknown) => { ok: true; value: unknown } | { ok: false; message: string };

export interface CompiledFields {
  /** Normalises `data`; returns the clean data or every field error, each under `data.<name>`. */
  validate(
    data: Record<string, unknown>,
  ): { ok: true; data: Record<string, unknown> } | { ok: false; errors: FieldError[]; /** the fields that did pass */ data: Record<string, unknown> };
  /** Declared fields not marked pii: the only ones a ping may carry. */
  publicFields: readonly string[];
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

function rangeCheck(n: number, spec: FieldSpec, unit = ""): string | undefined {
  if (spec.min !== undefined && n < spec.min) return `must be at least ${spec.min}${unit}`;
  if (spec.max !== undefined && n > spec.max) return `must be at most ${spec.max}${unit}`;
  return undefined;
}

function baseCheck(spec: FieldSpec): Check {
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
  }
}

function compileField(spec: FieldSpec): Check {
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

export function compileFields(fields: readonly FieldSpec[]): CompiledFields {
  const checks = fields.map((spec) => ({ spec, check: compileField(spec) }));
  const declared = new Set(fields.map((f) => f.name));
  return {
    publicFields: fields.filter((f) => !f.pii).map((f) => f.name),
    pingHashFields: fields.filter((f) => f.pii && f.ping_hash).map((f) => f.name),
    contactFields: fields.flatMap((f) => (f.type === "email" || f.type === "phone" ? [{ name: f.name, kind: f.type }] : [])),
    validate(data) {
      const clean: Record<string, unknown> = {};
      const errors: FieldError[] = [];
      for (const { spec, check } of checks) {
        const raw = data[spec.name];
        if (isBlank(raw)) {
          if (spec.required) errors.push({ path: `data.${spec.name}`, message: "is required" });
          continue;
        }
        const r = check(raw);
        if (r.ok) clean[spec.name] = r.value;
        else errors.push({ path: `data.${spec.name}`, message: r.message });
      }
      // Undeclared fields are kept as strings and treated as pii: a scalar as its text, an object
      // or an array as its JSON text. No structure a campaign never declared reaches a buyer's
      // template, form or XML body (where it would be "[object Object]" or new elements).
      for (const [name, value] of Object.entries(data)) {
        if (declared.has(name) || value === undefined || value === null) continue;
        clean[name] = typeof value === "object" ? JSON.stringify(value) : String(value);
      }
      return errors.length ? { ok: false, errors, data: clean } : { ok: true, data: clean };
    },
  };
}
