// A channel's secrets, named in one place: the auth's password, token or header value, the signing
// secrets, and the values of the headers listed in `secret_headers`. The store shows them as "***"
// and keeps them when "***" is sent back (by their paths); whatever shows a request the channel
// sent, as the test console does, masks their values and the headers that carry them.
import type { Channel } from "./config";

/** How a secret reads wherever it is shown. */
export const SECRET_MASK = "***";

const AUTH_SECRET: Record<string, string> = { basic: "password", bearer: "token", header: "value" };

/**
 * Where a channel document keeps write-only values. The document may not be validated yet ("***" is
 * restored before validation), so any shape is read.
 */
export function secretPaths(doc: Record<string, unknown>): string[][] {
  const paths: string[][] = [];
  const auth = doc.auth as { type?: unknown } | null | undefined;
  const authSecret = typeof auth?.type === "string" ? AUTH_SECRET[auth.type] : undefined;
  if (authSecret) paths.push(["auth", authSecret]);
  paths.push(["signing", "secret"], ["signing", "previous_secret"]);
  const listed: unknown[] = Array.isArray(doc.secret_headers) ? doc.secret_headers : [];
  const secretHeaders = new Set(listed.filter((h) => typeof h === "string").map((h) => h.toLowerCase()));
  for (const endpoint of ["ping", "post"]) {
    const headers = (doc[endpoint] as { headers?: unknown } | null | undefined)?.headers;
    if (!headers || typeof headers !== "object") continue;
    for (const name of Object.keys(headers)) if (secretHeaders.has(name.toLowerCase())) paths.push([endpoint, "headers", name]);
  }
  return paths;
}

const valueAt = (doc: unknown, path: string[]): unknown =>
  path.reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), doc);

/** The `Authorization` value of basic auth, which carries the password encoded. */
export const basicCredentials = (username: string, password: string): string => Buffer.from(`${username}:${password}`).toString("base64");

/** Every secret value a channel holds, as it may appear in a request: longest first, so a secret containing another is masked whole. */
export function secretValues(channel: Channel): string[] {
  const values = secretPaths(channel).flatMap((path) => {
    const value = valueAt(channel, path);
    return typeof value === "string" ? [value] : [];
  });
  if (channel.auth?.type === "basic") values.push(basicCredentials(channel.auth.username, channel.auth.password));
  return values.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/** Request headers (lower-case) whose whole value is a secret: the listed secret headers and a header auth's. */
export function secretHeaderNames(channel: Channel): Set<string> {
  return new Set([
    ...channel.secret_headers.map((h) => h.toLowerCase()),
    ...(channel.auth?.type === "header" ? [channel.auth.name.toLowerCase()] : []),
  ]);
}
