// The page and its filters live in the URL's hash (#/reports?dimension=channels&campaign=auto), so
// every view is a link to share, and the back button steps back through filters as through pages.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** "overview", "reports", "bids", "health", "leads", or "lead" (with `id`). */
  page: string;
  id?: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, "");
  const q = text.indexOf("?");
  const path = q < 0 ? text : text.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : text.slice(q + 1));
  const [page, id] = path.split("/").map(decodeURIComponent);
  return { page: page || "overview", id: id || undefined, params };
}

export type Params = Record<string, string | number | boolean | undefined | null>;

export function href(page: string, params: Params = {}, id?: string): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "" && v !== false) search.set(k, String(v));
  const qs = search.toString();
  return `#/${page}${id ? `/${encodeURIComponent(id)}` : ""}${qs ? `?${qs}` : ""}`;
}

/** Goes to a view; each change of filters is a step in the history. */
export function go(page: string, params: Params = {}, id?: string): void {
  const next = href(page, params, id);
  if (next !== location.hash) location.hash = next;
}

/** The same page with some parameters changed (undefined or "" removes one). */
export function withParams(route: Route, changes: Params): Params {
  const merged: Params = Object.fromEntries(route.params);
  for (const [k, v] of Object.entries(changes)) merged[k] = v;
  return merged;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
