// Talking to Gavel's API with the operator token of this browser tab. Every number the dashboard
// shows comes through here, as the API answered it.
const TOKEN_KEY = "gavel.token";

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export interface FieldError {
  path: string;
  message: string;
}

/** A problem+json answer (or a failure to get any answer). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(`${status} ${title}: ${detail}`);
  }
}

/** Listeners told when the API refuses the token (it was revoked, or the server restarted with another). */
const unauthorized = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function request(path: string, init: { accept: string; signal?: AbortSignal; tokenOverride?: string }): Promise<Response> {
  const bearer = init.tokenOverride ?? token.get();
  let res: Response;
  try {
    res = await fetch(path, { headers: { accept: init.accept, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, signal: init.signal });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "Gavel did not answer", "The request did not reach Gavel: is it running, and is this page served by it?");
  }
  if (res.ok) return res;
  let problem: { title?: string; detail?: string; errors?: FieldError[] } = {};
  try {
    problem = await res.json();
  } catch {}
  const error = new ApiError(res.status, problem.title ?? res.statusText, problem.detail ?? "", problem.errors ?? []);
  if (res.status === 401 && init.tokenOverride === undefined) for (const listener of unauthorized) listener();
  throw error;
}

export async function getJson<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  const res = await request(withQuery(path, query), { accept: "application/json", signal });
  return (await res.json()) as T;
}

/** An operator's action (a replay, say): POSTs JSON and reads the JSON answer. */
export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  const bearer = token.get();
  let res: Response;
  try {
    res = await fetch(path, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Gavel did not answer", "The request did not reach Gavel: is it running, and is this page served by it?");
  }
  const answer = await res.json().catch(() => ({}));
  if (res.ok) return answer as T;
  if (res.status === 401) for (const listener of unauthorized) listener();
  throw new ApiError(res.status, answer.title ?? res.statusText, answer.detail ?? "", answer.errors ?? []);
}

/** Checks a token before keeping it: any operator token may read the campaigns. */
export async function checkToken(candidate: string): Promise<void> {
  await request(withQuery("/v1/campaigns", { limit: 1 }), { accept: "application/json", tokenOverride: candidate });
}

/** Downloads the API's own CSV of a report (the token rides in a header, so no plain link). */
export async function downloadCsv(path: string, query: Query, filename: string): Promise<void> {
  const res = await request(withQuery(path, { ...query, format: "csv" }), { accept: "text/csv" });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  // The click has handed the blob to the download; let it go once the browser has taken it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
