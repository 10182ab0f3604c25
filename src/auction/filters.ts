// Channel filters (SPEC.md "Filter ops"), compiled once per channel. All of a channel's filters must
// hold; a failing one names its field in the exclusion reason (`filtered:state`).
import type { Filter } from "../channels/config";

export type LeadPredicate = (data: Record<string, unknown>) => boolean;

type Comparable = number | string;

/** Numbers compare as numbers; anything else (dates as YYYY-MM-DD) compares as text. */
function comparable(value: unknown, like: unknown): Comparable | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof like === "number") {
    const n = typeof value === "number" ? value : Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return String(value);
}

const same = (a: unknown, b: unknown) =>
  typeof b === "string" && typeof a === "string" ? a.toLowerCase() === b.toLowerCase() : typeof b === "number" ? Number(a) === b : a === b;

const missing = (v: unknown) => v === undefined || v === null || v === "";

export function compileFilter(filter: Filter): LeadPredicate {
  const { field, op } = filter;
  const value = filter.value as never;
  switch (op) {
    case "eq":
      return (d) => !missing(d[field]) && same(d[field], value);
    case "neq":
      return (d) => missing(d[field]) || !same(d[field], value);
    case "in": {
      const list = value as unknown[];
      return (d) => !missing(d[field]) && list.some((v) => same(d[field], v));
    }
    case "nin": {
      const list = value as unknown[];
      return (d) => missing(d[field]) || !list.some((v) => same(d[field], v));
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const bound = value as Comparable;
      return (d) => {
        const v = comparable(d[field], bound);
        if (v === undefined) return false;
        if (op === "gt") return v > bound;
        if (op === "gte") return v >= bound;
        if (op === "lt") return v < bound;
        return v <= bound;
      };
    }
    case "between": {
      const [low, high] = value as [Comparable, Comparable];
      return (d) => {
        const v = comparable(d[field], low);
        return v !== undefined && v >= low && v <= high;
      };
    }
    case "prefix": {
      const prefixes = (Array.isArray(value) ? value : [value]) as string[];
      return (d) => !missing(d[field]) && prefixes.some((p) => String(d[field]).startsWith(p));
    }
    case "exists":
      return (d) => (value ? !missing(d[field]) : missing(d[field]));
  }
}
