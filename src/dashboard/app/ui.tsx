// Small pieces every page uses: loading, error and empty states, a sortable table, badges.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";
import { formatValue, type Kind } from "./format";
import { href, withParams, type Route } from "./route";

export type Loaded<T> = { state: "loading" } | { state: "error"; error: ApiError } | { state: "done"; data: T };

/** Runs `load` whenever `key` changes, dropping the answer of a request that a newer one replaced. */
export function useApi<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  useEffect(() => {
    const abort = new AbortController();
    setLoaded({ state: "loading" });
    load(abort.signal).then(
      (data) => !abort.signal.aborted && setLoaded({ state: "done", data }),
      (error) => {
        if (abort.signal.aborted) return;
        setLoaded({ state: "error", error: error instanceof ApiError ? error : new ApiError(0, "Something went wrong", String(error?.message ?? error)) });
      },
    );
    return () => abort.abort();
  }, [key]);
  return loaded;
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <div class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {what}…
    </div>
  );
}

/** A problem from the API as it said it: a 422 lists each field it refused. */
export function ErrorView({ error }: { error: ApiError }) {
  return (
    <div class="state error" role="alert" data-status={error.status}>
      <strong>
        {error.status ? `${error.status} ` : ""}
        {error.title}
      </strong>
      {error.detail && <p>{error.detail}</p>}
      {error.errors.length > 0 && (
        <ul class="field-errors">
          {error.errors.map((e) => (
            <li>
              <code>{e.path}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="state empty">{children}</div>;
}

/** Renders a loaded value, or its loading or error state. */
export function Show<T>({ loaded, what, children }: { loaded: Loaded<T>; what?: string; children: (data: T) => ComponentChildren }) {
  if (loaded.state === "loading") return <Loading what={what} />;
  if (loaded.state === "error") return <ErrorView error={loaded.error} />;
  return <>{children(loaded.data)}</>;
}

export function Badge({ tone, children }: { tone: string; children: ComponentChildren }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}

const statusTone: Record<string, string> = {
  sold: "good",
  accepted: "good",
  bid: "good",
  closed: "good",
  unsold: "warn",
  no_bid: "muted",
  duplicate: "muted",
  rejected: "bad",
  error: "bad",
  timeout: "bad",
  open: "bad",
  half_open: "warn",
  returned: "warn",
};
export const toneOf = (status: string) => statusTone[status] ?? "muted";

/** A reason as the API gives it: its code, and the detail beside it (whole in the tooltip, as a long one is cut short). */
export function ReasonText({ reason, detail }: { reason: string | null; detail: string | null }) {
  if (reason === null) return <span class="muted">–</span>;
  return (
    <span class="why" title={detail === null ? reason : `${reason}: ${detail}`}>
      <code class="why-code">{reason}</code>
      {detail !== null && <span class="why-detail">{detail}</span>}
    </span>
  );
}

export interface Column<R> {
  id: string;
  label: string;
  kind: Kind;
  title?: string;
  /** The value to show and sort by (default: row[id]). */
  value?: (row: R) => unknown;
  /** Shown instead of the formatted value (a link, a badge). */
  render?: (row: R) => ComponentChildren;
}

export interface Sort {
  by: string;
  dir: "asc" | "desc";
}

function compare(a: unknown, b: unknown): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * A table of API rows with an optional totals row (the API's `totals`, never a sum made here).
 * Sorting orders the rows the API gave; it changes no figure.
 */
export function Table<R>(props: {
  columns: Column<R>[];
  rows: R[];
  totals?: R;
  totalsLabel?: string;
  sort?: Sort;
  onSort?: (sort: Sort) => void;
  rowKey?: (row: R, i: number) => string;
  caption?: string;
  testId?: string;
}) {
  const { columns, rows, totals, sort, onSort } = props;
  const valueOf = (c: Column<R>, row: R) => (c.value ? c.value(row) : (row as Record<string, unknown>)[c.id]);
  const column = sort && columns.find((c) => c.id === sort.by);
  const sorted = column
    ? [...rows].sort((x, y) => {
        const a = valueOf(column, x);
        const b = valueOf(column, y);
        // Missing values sort last whichever the direction.
        if (a === null || a === undefined || b === null || b === undefined) return compare(a, b);
        return sort!.dir === "asc" ? compare(a, b) : -compare(a, b);
      })
    : rows;
  const cell = (c: Column<R>, row: R, first: boolean): JSX.Element => {
    const numeric = c.kind !== "text";
    const content = c.render ? c.render(row) : formatValue(c.kind, valueOf(c, row));
    return first ? (
      <th scope="row" class={numeric ? "num" : undefined} data-col={c.id}>
        {content}
      </th>
    ) : (
      <td class={numeric ? "num" : undefined} data-col={c.id}>
        {content}
      </td>
    );
  };
  return (
    <div class="table-wrap">
      <table class="data" data-testid={props.testId}>
        {props.caption && <caption>{props.caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort?.by === c.id;
              const next: Sort = { by: c.id, dir: active && sort?.dir === "desc" ? "asc" : "desc" };
              return (
                <th
                  scope="col"
                  class={`${c.kind !== "text" ? "num" : ""} ${active ? "sorted" : ""}`}
                  title={c.title}
                  aria-sort={active ? (sort!.dir === "asc" ? "ascending" : "descending") : undefined}
                >
                  {onSort ? (
                    <button type="button" class="sort" onClick={() => onSort(next)}>
                      {c.label}
                      <span class="arrow" aria-hidden="true">
                        {active ? (sort!.dir === "asc" ? "▲" : "▼") : ""}
                      </span>
                    </button>
                  ) : (
                    c.label
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map((row, i) => (
            <tr key={props.rowKey?.(row, i) ?? i}>{columns.map((c, j) => cell(c, row, j === 0))}</tr>
          ))}
        </tbody>
        {totals && (
          <tfoot>
            <tr class="totals">
              {columns.map((c, j) =>
                j === 0 ? (
                  <th scope="row">{props.totalsLabel ?? "Total"}</th>
                ) : (
                  <td class={c.kind !== "text" ? "num" : undefined} data-col={c.id}>
                    {c.kind === "text" || !((c.id in (totals as object)) as boolean) ? "" : formatValue(c.kind, (totals as Record<string, unknown>)[c.id])}
                  </td>
                ),
              )}
            </tr>
          </tfoot>
        )}
      </table>
    </div>
  );
}

/** A list's pager: back to the newer page (the browser's history holds its cursor), on to the older one. */
export function Pager({ page, route, nextCursor }: { page: string; route: Route; nextCursor: string | null }) {
  return (
    <nav class="pager" aria-label="Pages">
      {route.params.get("cursor") && (
        <button type="button" class="secondary" onClick={() => history.back()}>
          ← Newer
        </button>
      )}
      {nextCursor && (
        <a class="button secondary" href={href(page, withParams(route, { cursor: nextCursor }))}>
          Older →
        </a>
      )}
    </nav>
  );
}
