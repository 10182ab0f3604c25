// Field-level differences between two versions of a configuration document: what the audit log
// records and what `gavel apply --dry-run` prints. Objects are compared key by key down to their
// leaves; arrays (filters, fields, campaigns) are compared whole, since an index path such as
// `filters[2]` says little once an element is inserted in the middle.

export interface FieldChange {
  /** `auction.floor`, `ping.headers.X-Api-Key`. */
  path: string;
  /** Absent when the field is new. */
  before?: unknown;
  /** Absent when the field was removed. */
  after?: unknown;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep equality for JSON values; key order does not matter (jsonb does not keep it). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameJson(v, b[i]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (!sameJson(a[key], b[key])) return false;
  return true;
}

/**
 * The leaves that differ between `before` and `after` (null = the document does not exist).
 * Values under a path listed in `secret` are replaced by "***", so a changed secret shows as a
 * change without showing either value.
 */
export function diffDocs(before: unknown, after: unknown, secret: readonly string[] = [], mask = "***"): FieldChange[] {
  const secrets = new Set(secret);
  const changes: FieldChange[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (sameJson(a, b)) return;
    if ((isPlainObject(a) || a === undefined) && (isPlainObject(b) || b === undefined) && !secrets.has(path)) {
      const left = (a ?? {}) as Record<string, unknown>;
      const right = (b ?? {}) as Record<string, unknown>;
      for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) walk(left[key], right[key], path ? `${path}.${key}` : key);
      return;
    }
    const hide = secrets.has(path);
    const change: FieldChange = { path };
    if (a !== undefined) change.before = hide ? mask : a;
    if (b !== undefined) change.after = hide ? mask : b;
    changes.push(change);
  };
  walk(before ?? undefined, after ?? undefined, "");
  return changes;
}
