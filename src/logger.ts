// The process logger. Lead data and channel secrets never reach the log, wherever they sit in a
// logged object: they are replaced by "[redacted]" before the line is written.
//
// Redaction is done here, in pino's `formatters.log`, rather than with pino's `redact` paths: pino
// applies a wildcard path (`*.data`) to every top-level value of every line and parses each path
// again each time, which made redaction the largest single source of allocation on the lead path
// (one summary line per lead, measured with the load lab's heap sampling). This walk costs a few
// key lookups for a flat line, allocates nothing unless something is redacted, and covers any depth.
import pino, { type Logger } from "pino";

const CENSOR = "[redacted]";

/** Keys whose value is never logged, at any depth. */
const SECRET_KEYS = new Set(["data", "api_key", "token", "password", "authorization", "signing", "secret", "previous_secret"]);
/** Keys that are secret inside a channel's or buyer's `auth` object (`auth.value` is a header's value). */
const AUTH_SECRET_KEYS = new Set(["value"]);
const MAX_DEPTH = 8;

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * The object with every secret replaced by the censor. Unchanged parts are shared and the input is
 * never modified: an object is copied only on the way to something it redacts. Errors and other
 * class instances are left to their serializers.
 */
export function redactSecrets<T>(value: T, insideAuth = false, depth = 0): T {
  if (depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || typeof item !== "object") continue;
      const redacted = redactSecrets(item, false, depth + 1);
      if (redacted !== item) (copy ??= value.slice())[i] = redacted;
    }
    return (copy ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = value[key];
    if (item === undefined) continue;
    let redacted: unknown = item;
    if (SECRET_KEYS.has(key) || (insideAuth && AUTH_SECRET_KEYS.has(key))) redacted = CENSOR;
    else if (item !== null && typeof item === "object") redacted = redactSecrets(item, key === "auth", depth + 1);
    if (redacted !== item) (copy ??= { ...value })[key] = redacted;
  }
  return (copy ?? value) as T;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, formatters: { log: (object) => redactSecrets(object) } };
  return destination ? pino(options, destination) : pino(options);
}
