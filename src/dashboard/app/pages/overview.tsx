// Overview: today's revenue, leads, sell-through, EPL and margin beside yesterday's and the last
// seven days', each the `totals` of its own report request (the day boundaries are bare dates the
// API reads in the chosen zone), and the same requests' `periods` per hour and per day as charts
// (each period's SUM over every campaign, as the API answers it), a line per campaign beside it.
import { ApiError, getJson } from "../api";
import { PeriodChart } from "../chart";
import { periodSeries } from "../series";
import { useChoices } from "../controls";
import { addDays, allZones, browserZone, today } from "../dates";
import { formatValue, type Kind } from "../format";
import { go, href, withParams, type Route } from "../route";
import type { Report } from "../types";
import { ErrorView, Loading, useApi } from "../ui";

const KPIS: { id: string; label: string; kind: Kind }[] = [
  { id: "revenue", label: "Revenue", kind: "money" },
  { id: "leads", label: "Leads", kind: "count" },
  { id: "sell_through", label: "Sell-through", kind: "rate" },
  { id: "epl", label: "EPL", kind: "money" },
  { id: "margin", label: "Margin", kind: "money" },
];

export function overviewRanges(tz: string, now = new Date()) {
  const day = today(tz, now);
  return {
    today: { from: day, to: addDays(day, 1), interval: "hour" },
    yesterday: { from: addDays(day, -1), to: day },
    week: { from: addDays(day, -6), to: addDays(day, 1), interval: "day" },
  };
}

export function OverviewPage({ route }: { route: Route }) {
  const tz = route.params.get("tz") || browserZone();
  const campaign = route.params.get("campaign") || undefined;
  const ranges = overviewRanges(tz);
  const loaded = useApi(
    async (signal) => {
      let chartsRefused: ApiError | undefined;
      const ask = async (r: { from: string; to: string; interval?: string }): Promise<Report> => {
        try {
          return await getJson<Report>("/v1/reports/campaigns", { ...r, tz, campaign }, signal);
        } catch (error) {
          // A zone a fraction of an hour from UTC has no hourly or daily series (the API says why):
          // the figures are asked again without one, and the charts show the API's refusal.
          if (!(error instanceof ApiError) || error.status !== 422 || !r.interval) throw error;
          chartsRefused = error;
          return getJson<Report>("/v1/reports/campaigns", { ...r, interval: undefined, tz, campaign }, signal);
        }
      };
      const [todays, yesterdays, weeks] = await Promise.all([ask(ranges.today), ask(ranges.yesterday), ask(ranges.week)]);
      return { today: todays, yesterday: yesterdays, week: weeks, chartsRefused };
    },
    JSON.stringify([tz, campaign, ranges]),
  );
  const choices = useChoices();
  const overall = campaign ?? "All campaigns";

  return (
    <section class="page">
      <header class="page-head">
        <h1>Overview</h1>
        <div class="controls-inline">
          <label>
            Campaign
            <select name="campaign" value={campaign ?? ""} onChange={(e) => go("overview", withParams(route, { campaign: (e.target as HTMLSelectElement).value }))}>
              <option value="">All campaigns</option>
              {choices.state === "done" && choices.data.campaign.map((c) => <option value={c.id}>{c.name ?? c.id}</option>)}
            </select>
          </label>
          <label>
            Time zone
            <select name="tz" value={tz} onChange={(e) => go("overview", withParams(route, { tz: (e.target as HTMLSelectElement).value }))}>
              {(allZones().includes(tz) ? allZones() : [tz, ...allZones()]).map((z) => (
                <option value={z}>{z}</option>
              ))}
            </select>
          </label>
        </div>
      </header>
      {loaded.state === "loading" && <Loading what="Loading today's figures" />}
      {loaded.state === "error" && <ErrorView error={loaded.error} />}
      {loaded.state === "done" && (
        <>
          <div class="kpis">
            {KPIS.map((k) => (
              <article class="kpi" data-testid={`kpi-${k.id}`}>
                <h2>{k.label}</h2>
                <p class="today" data-testid={`kpi-${k.id}-today`}>
                  {formatValue(k.kind, loaded.data.today.totals[k.id])}
                </p>
                <dl>
                  <dt>Yesterday</dt>
                  <dd data-testid={`kpi-${k.id}-yesterday`}>{formatValue(k.kind, loaded.data.yesterday.totals[k.id])}</dd>
                  <dt>Last 7 days</dt>
                  <dd data-testid={`kpi-${k.id}-week`}>{formatValue(k.kind, loaded.data.week.totals[k.id])}</dd>
                </dl>
              </article>
            ))}
          </div>
          <p class="footnote">
            Today is {ranges.today.from} in {tz}; the last 7 days are {ranges.week.from} to {ranges.today.from}, today included.{" "}
            <a href={href("reports", { dimension: "campaigns", from: ranges.week.from, to: ranges.week.to, tz, campaign })}>Open as a report</a>
          </p>
          {loaded.data.chartsRefused ? (
            <ErrorView error={loaded.data.chartsRefused} />
          ) : (
            <div class="charts">
              <Series report={loaded.data.today} metric="revenue" kind="money" overall={overall} title="Revenue per hour today" empty="No leads yet today." testId="chart-revenue-hourly" />
              <Series report={loaded.data.today} metric="leads" kind="count" overall={overall} title="Leads per hour today" empty="No leads yet today." testId="chart-leads-hourly" />
              <Series report={loaded.data.week} metric="revenue" kind="money" overall={overall} title="Revenue per day, last 7 days" empty="No leads in the last 7 days." testId="chart-revenue-daily" />
              <Series report={loaded.data.week} metric="leads" kind="count" overall={overall} title="Leads per day, last 7 days" empty="No leads in the last 7 days." testId="chart-leads-daily" />
            </div>
          )}
        </>
      )}
    </section>
  );
}

/** Revenue and leads are sums: a period the API left out (no leads) reads 0 until now. */
function Series(props: { report: Report; metric: "revenue" | "leads"; kind: Kind; overall: string; title: string; empty: string; testId: string }) {
  const data = periodSeries(props.report, props.metric, {
    overall: props.overall,
    absentIsZero: true,
    now: Date.now() / 1000,
    keyName: (k) => k.campaign ?? "(none)",
  });
  return <PeriodChart title={props.title} data={data} kind={props.kind} tz={props.report.tz} empty={props.empty} testId={props.testId} />;
}
