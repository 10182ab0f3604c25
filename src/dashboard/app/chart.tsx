// Charts drawn by uPlot from series the API answered, as they came: a chart reshapes rows into
// columns and places them on an axis, and never sums, averages or otherwise computes a figure.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { formatValue, type Kind } from "./format";
import type { PeriodSeries } from "./series";

const OVERALL = "#1d2330";
export const palette = ["#2f6fde", "#e0822d", "#2e9e6b", "#c2417a", "#7d5bd6", "#8a8f2a", "#1f9bb0", "#b5523b", "#5f6b7a", "#d4a017"];

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  kind: Kind;
  /** Draw as bars (default: a line). */
  bars?: boolean;
  /** Which y axis: the left one (default) or the right one. */
  axis?: "left" | "right";
  color?: string;
  /** The overall line of a time series (every key's SUM): drawn first, darker and wider. */
  overall?: boolean;
}

export interface ChartProps {
  title: string;
  /** A few words beside the title. */
  note?: string;
  /** Unix seconds for a time axis, plain numbers otherwise. */
  x: number[];
  series: ChartSeries[];
  /** A time axis read in this zone; absent for a numeric axis. */
  tz?: string;
  xKind?: Kind;
  /** The whole span the figures cover (a report's from and to), so a sparse series sits in it. */
  xRange?: [number, number];
  /** On a time axis of days, weeks or months: a tick on a period's start (not on hours between). */
  periods?: "day" | "week" | "month";
  height?: number;
  testId?: string;
  /** Controls shown at the right of the title. */
  actions?: ComponentChildren;
}

/** A period's start as a tick (`Nov 23`, `Nov 2026`) and as the legend reads it (`Mon, Nov 23, 2026`). */
function periodLabels(tz: string, interval: "day" | "week" | "month") {
  const tick = new Intl.DateTimeFormat("en-US", { timeZone: tz, ...(interval === "month" ? { month: "short", year: "numeric" } : { month: "short", day: "numeric" }) });
  const long = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    ...(interval === "month" ? { month: "long", year: "numeric" } : { weekday: "short", month: "short", day: "numeric", year: "numeric" }),
  });
  return {
    tick: (t: number) => tick.format(t * 1000),
    legend: (t: number) => `${interval === "week" ? "week of " : ""}${long.format(t * 1000)}`,
  };
}

/** An instant on a time axis as the legend reads it: `Sun, Nov 29, 2:00 PM`. */
const hourLegend = (tz: string) => {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: tz, weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  return (t: number) => f.format(t * 1000);
};

export function Chart({ actions, ...props }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const left = props.series.find((s) => s.axis !== "right")?.kind ?? "count";
    const right = props.series.find((s) => s.axis === "right")?.kind;
    const ordinal = props.series.some((s) => s.bars) && !props.tz;
    const overallBefore = (i: number) => props.series.slice(0, i).filter((s) => s.overall).length;
    const periods = props.tz && props.periods ? periodLabels(props.tz, props.periods) : undefined;
    // Bar series side by side within each x: the first left of it, the next right of it.
    const barSeries = props.series.filter((s) => s.bars);
    const barsOf = (s: ChartSeries) => {
      const i = barSeries.indexOf(s);
      const align = barSeries.length === 1 ? 0 : i === 0 ? -1 : 1;
      return uPlot.paths.bars!({ size: [barSeries.length === 1 ? 0.6 : 0.35, 40], align: align as -1 | 0 | 1 });
    };
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 240),
      height: props.height ?? 240,
      ...(props.tz ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), props.tz!) } : {}),
      scales: {
        x: {
          time: Boolean(props.tz),
          // Price ranges side by side, each a slot, with half a slot of room at either end.
          // (An ordinal scale counts slots by index; stated, not read from the data, so one slot alone is centred too.)
          ...(ordinal ? { distr: 2, range: (): uPlot.Range.MinMax => [-0.5, props.x.length - 0.5] } : {}),
          ...(props.xRange ? { range: (): uPlot.Range.MinMax => props.xRange! } : {}),
        },
        y: { auto: true, range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
        ...(right ? { r: { auto: true, range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(max, right === "rate" ? 1 : max)] } } : {}),
      },
      axes: [
        props.tz
          ? periods
            ? {
                // A tick on period starts, as many as fit (about one per 80 px).
                splits: (u: uPlot) => {
                  const step = Math.ceil(props.x.length / Math.max(2, Math.floor(u.bbox.width / devicePixelRatio / 80)));
                  return props.x.filter((_, i) => i % step === 0);
                },
                values: (_u: uPlot, ticks: number[]) => ticks.map(periods.tick),
              }
            : {}
          : {
              values: (_u, ticks) => ticks.map((t) => formatValue(props.xKind ?? "count", t)),
              // Price ranges: a tick on a slot (by its index), about a dozen at most.
              ...(ordinal ? { splits: () => props.x.map((_, i) => i).filter((i) => i % Math.ceil(props.x.length / 12) === 0) } : {}),
            },
        { values: (_u, ticks) => ticks.map((t) => formatValue(left, t)), size: 70 },
        ...(right ? [{ scale: "r", side: 1 as const, grid: { show: false }, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => formatValue(right, t)), size: 60 }] : []),
      ],
      series: [
        {
          label: props.tz ? (periods ? "Period" : "Time") : "Price",
          value: periods ? (_u, v) => (v === null ? "" : periods.legend(v)) : props.tz ? (_u, v) => (v === null ? "" : hourLegend(props.tz!)(v)) : (_u, v) => formatValue(props.xKind ?? "count", v),
        },
        ...props.series.map((s, i) => {
          const color = s.color ?? (s.overall ? OVERALL : palette[(i - overallBefore(i)) % palette.length]);
          return {
            label: s.label,
            scale: s.axis === "right" ? "r" : "y",
            stroke: color,
            width: s.bars ? 0 : s.overall ? 2.5 : 1.5,
            fill: s.bars ? `${color}cc` : undefined,
            paths: s.bars ? barsOf(s) : undefined,
            points: { show: !s.bars && props.x.length < 40 },
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => formatValue(s.kind, v),
          } satisfies uPlot.Series;
        }),
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const plot = new uPlot(opts, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 240), height: props.height ?? 240 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [JSON.stringify(props)]);
  // What was drawn, as given: a reader (or a test) can hold it against the API's answer.
  const drawn = JSON.stringify({ x: props.x, series: props.series.map((s) => ({ label: s.label, overall: Boolean(s.overall), values: s.values })) });
  return (
    <figure class="chart" data-testid={props.testId} data-drawn={drawn}>
      <figcaption>
        {props.title}
        {props.note && <span class="chart-note">{props.note}</span>}
        {actions && <span class="chart-actions">{actions}</span>}
      </figcaption>
      <div ref={box} class="chart-box" />
    </figure>
  );
}

/**
 * A figure over a report's periods as a line chart across the whole range, the overall line
 * emphasised; one period alone is a bar of the overall figure (a line needs two points).
 */
export function PeriodChart(props: { title: string; data: PeriodSeries; kind: Kind; tz: string; empty: string; testId?: string; actions?: ComponentChildren }) {
  const { data } = props;
  if (data.answered === 0 || data.x.length === 0)
    return (
      <figure class="chart empty-chart" data-testid={props.testId}>
        <figcaption>
          {props.title}
          {props.actions && <span class="chart-actions">{props.actions}</span>}
        </figcaption>
        <p class="muted">{props.empty}</p>
      </figure>
    );
  const single = data.x.length === 1;
  const series = (single ? data.series.filter((s) => s.overall) : data.series).map((s) => ({ ...s, kind: props.kind, bars: single }));
  const half = (data.end - data.x[0]) / 2;
  return (
    <Chart
      title={props.title}
      note={single ? "One period in this range: its total, with each row in the table below" : data.unshown > 0 ? "Only the first rows are drawn; all of them are in the table below" : undefined}
      x={data.x}
      tz={props.tz}
      xRange={single ? [data.x[0] - half, data.x[0] + half] : [data.x[0], data.x[data.x.length - 1]]}
      periods={data.interval === "hour" || data.interval === null ? undefined : data.interval}
      series={series}
      testId={props.testId}
      actions={props.actions}
    />
  );
}
