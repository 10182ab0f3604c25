// Reports: one of the API's dimension tables with its totals row, sortable, filtered, over any
// range, interval and zone; CSV straight from the API; drill-down campaign → channels → leads.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { downloadCsv, getJson, type ApiError } from "../api";
import { PeriodChart } from "../chart";
import { periodSeries } from "../series";
import { FilterControls, filtersOf, IntervalControl, RangeControls, rangeOf } from "../controls";
import { formatInstant, formatPeriod } from "../format";
import { absentIsZero, dimensions, filtersOfReport, keysOf, metricsOf } from "../metrics";
import { go, href, withParams, type Route } from "../route";
import type { Dimension, Report } from "../types";
import { Empty, ErrorView, Show, Table, useApi, type Column, type Sort } from "../ui";

type Row = Report["rows"][number];

/** The figures shown until "all columns" is asked for. */
const KEY_FIGURES = new Set(["count", "orphans", "leads", "sold", "sell_through", "revenue", "payout", "margin", "epl", "bid_rate", "accept_rate", "timeouts", "decision_ms_p95", "ping_ms_p95", "post_ms_p95"]);

export function reportQuery(route: Route, dimension: Dimension) {
  const range = rangeOf(route);
  const filters = filtersOf(route);
  return {
    ...range,
    ...Object.fromEntries(filtersOfReport(dimension).map((f) => [f, filters[f]])),
    interval: dimension === "reasons" ? undefined : route.params.get("interval") || undefined,
    test: route.params.get("test") === "true" ? "true" : undefined,
  };
}

/** The statement a row of the suppliers or buyers report has: its payout statement or its invoice (README "Statements"). */
const STATEMENTS: Partial<Record<Dimension, { path: string; key: string }>> = {
  suppliers: { path: "/v1/statements/suppliers", key: "supplier" },
  buyers: { path: "/v1/statements/buyers", key: "buyer" },
};

/** Where a row's key leads: the next level down, keeping the range and filters. */
function drillDown(dimension: Dimension, route: Route, row: Row): string | undefined {
  const keep = withParams(route, { sort: undefined, dir: undefined, interval: undefined });
  const k = row.key;
  switch (dimension) {
    case "campaigns":
      return href("reports", { ...keep, dimension: "channels", campaign: k.campaign });
    case "suppliers":
      return href("reports", { ...keep, dimension: "sources", supplier: k.supplier });
    case "buyers":
      return href("reports", { ...keep, dimension: "channels", buyer: k.buyer });
    case "reasons":
      return undefined;
    case "channels":
    case "sources": {
      // The leads list cannot ask for "no source": such a row has no leads link rather than a wrong one.
      if (dimension === "sources" && k.source === null) return undefined;
      // The leads behind the row: the range as the report was asked it (the leads list reads a bare
      // date in tz as the reports do), so the leads page shows the analyst's own dates.
      const leadFilters = dimension === "channels" ? { channel: k.channel } : { supplier: k.supplier, source: k.source ?? undefined, sub_id: k.sub_id ?? undefined };
      const range = rangeOf(route);
      return href("leads", {
        campaign: route.params.get("campaign"),
        ...leadFilters,
        from: range.from,
        to: range.to,
        tz: range.tz,
        // A report counts real leads or test leads, never both; the leads list shows both unless told.
        test: route.params.get("test") === "true" ? "true" : "false",
      });
    }
  }
}

export function ReportsPage({ route }: { route: Route }) {
  const dimension = (dimensions.find((d) => d.id === route.params.get("dimension"))?.id ?? "campaigns") as Dimension;
  const query = reportQuery(route, dimension);
  const path = `/v1/reports/${dimension}`;
  const loaded = useApi((signal) => getJson<Report>(path, query, signal), JSON.stringify([path, query]));
  const sort: Sort | undefined = route.params.get("sort") ? { by: route.params.get("sort")!, dir: route.params.get("dir") === "asc" ? "asc" : "desc" } : undefined;
  const all = route.params.get("columns") === "all";
  const interval = query.interval ?? null;
  const chartMetric = route.params.get("chart") || "revenue";
  const [csv, setCsv] = useState<{ busy: boolean; error?: ApiError }>({ busy: false });
  /** Downloads one of the API's CSVs: the report's, or a row's statement. */
  const download = async (from: string, asked: Record<string, string | undefined>, filename: string) => {
    setCsv({ busy: true });
    try {
      await downloadCsv(from, asked, filename);
      setCsv({ busy: false });
    } catch (error) {
      setCsv({ busy: false, error: error as ApiError });
    }
  };
  // A row's statement covers the report's range, read in the report's zone (not the owner's own),
  // so its totals are the row's: sold, payout or revenue.
  const statement = interval ? undefined : STATEMENTS[dimension];

  const metrics = metricsOf[dimension].filter((m) => all || KEY_FIGURES.has(m.id));
  // A key the row does not have: a lead's own reason has no channel, an exclusion no outcome, most codes no detail.
  const none = (key: string) => (dimension !== "reasons" ? "(none)" : key === "channel" ? "(the lead)" : "–");
  const columns: Column<Row>[] = [
    ...(interval ? [{ id: "period", label: "Period", kind: "text" as const, value: (r: Row) => r.period, render: (r: Row) => formatPeriod(r.period, interval) }] : []),
    ...keysOf[dimension].map(
      (k, i): Column<Row> => ({
        id: k.id,
        label: k.label,
        kind: "text",
        value: (r) => r.key[k.id],
        render:
          i === 0 && loaded.state === "done"
            ? (r) => {
                const to = drillDown(dimension, route, r);
                const text = r.key[k.id] ?? none(k.id);
                return to ? (
                  <a href={to} class="drill" data-drill={r.key[k.id] ?? ""}>
                    {text}
                  </a>
                ) : (
                  text
                );
              }
            : (r) => r.key[k.id] ?? <span class="muted">{none(k.id)}</span>,
      }),
    ),
    ...metrics.map((m): Column<Row> => ({ id: m.id, label: m.label, kind: m.kind, title: m.title })),
    ...(statement
      ? [
          {
            id: "statement",
            label: "Statement",
            kind: "text" as const,
            title: dimension === "suppliers" ? "The supplier's payout statement for this range, net of returns (CSV)" : "The buyer's invoice for this range, net of returns (CSV)",
            value: () => null,
            render: (r: Row) => {
              const id = r.key[statement.key];
              if (!id) return null;
              return (
                <button
                  type="button"
                  class="secondary"
                  data-testid="download-statement"
                  data-owner={id}
                  disabled={csv.busy}
                  onClick={() => download(`${statement.path}/${encodeURIComponent(id)}`, { from: query.from, to: query.to, tz: query.tz }, `gavel-statement-${id}-${query.from}-${query.to}.csv`)}
                >
                  CSV
                </button>
              );
            },
          },
        ]
      : []),
  ];

  const trail = filtersOfReport(dimension).filter((f) => route.params.get(f));

  return (
    <section class="page">
      <header class="page-head">
        <h1>Reports</h1>
        <nav class="tabs" aria-label="Dimension">
          {dimensions.map((d) => (
            <a href={href("reports", withParams(route, { dimension: d.id, sort: undefined, dir: undefined }))} class={d.id === dimension ? "active" : undefined} aria-current={d.id === dimension ? "page" : undefined}>
              {d.label}
            </a>
          ))}
        </nav>
      </header>
      <RangeControls route={route} range={query} />
      <FilterControls route={route} names={filtersOfReport(dimension)} extra={dimension === "reasons" ? undefined : <IntervalControl route={route} />} />
      {trail.length > 0 && (
        <p class="trail" data-testid="trail">
          Showing {dimension} for {trail.map((f, i) => (
            <>
              {i > 0 && ", "}
              {f} <strong>{route.params.get(f)}</strong>
            </>
          ))}
          {" · "}
          <a href={href("reports", withParams(route, Object.fromEntries(trail.map((f) => [f, undefined]))))}>show all</a>
        </p>
      )}
      <div class="toolbar">
        <label class="check" hidden={dimension === "reasons"}>
          <input type="checkbox" checked={all} onChange={(e) => go("reports", withParams(route, { columns: (e.target as HTMLInputElement).checked ? "all" : undefined }))} />
          All columns
        </label>
        <button
          type="button"
          class="secondary"
          data-testid="download-csv"
          disabled={csv.busy}
          onClick={() => download(path, query, `gavel-${dimension}-${query.from}-${query.to}.csv`)}
        >
          {csv.busy ? "Preparing CSV…" : "Download CSV"}
        </button>
      </div>
      {csv.error && <ErrorView error={csv.error} />}
      <Show loaded={loaded} what={`Loading the ${dimension} report`}>
        {(report) =>
          report.rows.length === 0 ? (
            <Empty>No leads in this range{trail.length ? " for these filters" : ""}. Try a longer range, or clear the filters.</Empty>
          ) : (
            <>
              {interval && (
                <div class="chart-head">
                  <ReportChart
                    report={report}
                    dimension={dimension}
                    metric={chartMetric}
                    actions={
                      <label class="controls-inline">
                        Chart
                        <select name="chart" value={chartMetric} onChange={(e) => go("reports", withParams(route, { chart: (e.target as HTMLSelectElement).value }))}>
                          {metricsOf[dimension].map((m) => (
                            <option value={m.id}>{m.label}</option>
                          ))}
                        </select>
                      </label>
                    }
                  />
                </div>
              )}
              <Table
                testId="report-table"
                columns={columns}
                rows={report.rows}
                totals={report.totals as unknown as Row}
                totalsLabel="Total"
                sort={sort}
                onSort={(s) => go("reports", withParams(route, { sort: s.by, dir: s.dir }))}
                rowKey={(r, i) => `${r.period ?? ""}|${JSON.stringify(r.key)}|${i}`}
              />
              <p class="footnote">
                {report.rows.length} {report.rows.length === 1 ? "row" : "rows"} · {formatInstant(report.from, report.tz, false)} to {formatInstant(report.to, report.tz, false)} ({report.tz}) · the total
                row is the API's own <code>totals</code>.
              </p>
            </>
          )
        }
      </Show>
    </section>
  );
}

/** The chosen figure per period: the API's `periods` as the Total line, and a line per key beside it. */
function ReportChart({ report, dimension, metric, actions }: { report: Report; dimension: Dimension; metric: string; actions: ComponentChildren }) {
  const m = metricsOf[dimension].find((x) => x.id === metric) ?? metricsOf[dimension][0];
  const keys = keysOf[dimension].map((k) => k.id);
  const data = periodSeries(report, m.id, {
    overall: "Total",
    absentIsZero: absentIsZero(m),
    now: Date.now() / 1000,
    keyName: (key) => keys.map((k) => key[k] ?? "(none)").join(" / "),
  });
  return <PeriodChart title={`${m.label} per ${report.interval}`} data={data} kind={m.kind} tz={report.tz} empty="No leads in this range." testId="report-chart" actions={actions} />;
}
