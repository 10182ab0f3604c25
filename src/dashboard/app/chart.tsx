// Charts drawn by uPlot from series the API answered, as they came: a chart reshapes rows into
// columns and never sums, averages or otherwise computes a figure of its own.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { formatValue, type Kind } from "./format";

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
}

export interface ChartProps {
  title: string;
  /** Unix seconds for a time axis, plain numbers otherwise. */
  x: number[];
  series: ChartSeries[];
  /** A time axis read in this zone; absent for a numeric axis. */
  tz?: string;
  xKind?: Kind;
  /** The whole span the figures cover (a report's from and to), so a sparse series sits in it. */
  xRange?: [number, number];
  height?: number;
  testId?: string;
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const left = props.series.find((s) => s.axis !== "right")?.kind ?? "count";
    const right = props.series.find((s) => s.axis === "right")?.kind;
    const ordinal = props.series.some((s) => s.bars) && !props.tz;
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
          ...(ordinal ? { distr: 2, range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => [min - 0.5, max + 0.5] } : {}),
          ...(props.xRange ? { range: (): uPlot.Range.MinMax => props.xRange! } : {}),
        },
        y: { auto: true, range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
        ...(right ? { r: { auto: true, range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(max, right === "rate" ? 1 : max)] } } : {}),
      },
      axes: [
        props.tz
          ? {}
          : {
              values: (_u, ticks) => ticks.map((t) => formatValue(props.xKind ?? "count", t)),
              // Price ranges: a tick on a slot (by its index), about a dozen at most.
              ...(ordinal ? { splits: () => props.x.map((_, i) => i).filter((i) => i % Math.ceil(props.x.length / 12) === 0) } : {}),
            },
        { values: (_u, ticks) => ticks.map((t) => formatValue(left, t)), size: 70 },
        ...(right ? [{ scale: "r", side: 1 as const, grid: { show: false }, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => formatValue(right, t)), size: 60 }] : []),
      ],
      series: [
        { label: props.tz ? "Time" : "Price", value: props.tz ? undefined : (_u, v) => formatValue(props.xKind ?? "count", v) },
        ...props.series.map((s, i) => {
          const color = s.color ?? palette[i % palette.length];
          return {
            label: s.label,
            scale: s.axis === "right" ? "r" : "y",
            stroke: color,
            width: s.bars ? 0 : 2,
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
  return (
    <figure class="chart" data-testid={props.testId}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} class="chart-box" />
    </figure>
  );
}

/**
 * Report rows of one metric (`period` × key) as one series per key over the periods present, in
 * the order the API gave the keys. A bucket a key has no row for is a gap.
 */
export function seriesByKey(
  rows: Array<Record<string, unknown> & { key: Record<string, string | null>; period?: string }>,
  metric: string,
  keyName: (key: Record<string, string | null>) => string,
  maxSeries = 8,
): { x: number[]; series: { label: string; values: (number | null)[] }[] } {
  const periods = [...new Set(rows.map((r) => r.period ?? ""))].filter(Boolean).sort((a, b) => Date.parse(a) - Date.parse(b));
  const index = new Map(periods.map((p, i) => [p, i]));
  const byKey = new Map<string, (number | null)[]>();
  for (const row of rows) {
    const name = keyName(row.key);
    if (!byKey.has(name)) {
      if (byKey.size >= maxSeries) continue;
      byKey.set(name, periods.map(() => null));
    }
    const value = row[metric];
    byKey.get(name)![index.get(row.period ?? "")!] = typeof value === "number" ? value : null;
  }
  return { x: periods.map((p) => Date.parse(p) / 1000), series: [...byKey].map(([label, values]) => ({ label, values })) };
}
