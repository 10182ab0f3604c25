// The controls above a report: date range, time zone, interval, filters. Every change is a new URL
// (route.ts), so the back button undoes it and the view can be shared.
import { useMemo } from "preact/hooks";
import { getJson } from "./api";
import { allZones, browserZone, presets } from "./dates";
import { filterLabels, filterNames } from "./metrics";
import { go, withParams, type Route } from "./route";
import type { Page } from "./types";
import { useApi } from "./ui";

export interface RangeParams {
  from: string;
  to: string;
  tz: string;
}

/** The range a page shows: the URL's, else the default preset's, in the URL's zone or the browser's. */
export function rangeOf(route: Route, defaultPreset = "7d"): RangeParams {
  const tz = route.params.get("tz") || browserZone();
  const preset = presets.find((p) => p.id === defaultPreset)!.range(tz);
  return { tz, from: route.params.get("from") || preset.from, to: route.params.get("to") || preset.to };
}

/** The filters set in the URL, by the API's names. */
export function filtersOf(route: Route): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of filterNames) {
    const v = route.params.get(name);
    if (v) out[name] = v;
  }
  return out;
}

const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v);

export function RangeControls({ route, range }: { route: Route; range: RangeParams }) {
  const set = (changes: Record<string, string | undefined>) => go(route.page, withParams(route, { ...changes, cursor: undefined }), route.id);
  const zones = useMemo(allZones, []);
  const active = presets.find((p) => {
    const r = p.range(range.tz);
    return r.from === range.from && r.to === range.to;
  });
  return (
    <fieldset class="controls range" aria-label="Date range">
      <div class="presets" role="group" aria-label="Preset ranges">
        {presets.map((p) => (
          <button
            type="button"
            class={p.id === active?.id ? "chip on" : "chip"}
            aria-pressed={p.id === active?.id}
            data-preset={p.id}
            onClick={() => set(p.range(range.tz))}
          >
            {p.label}
          </button>
        ))}
      </div>
      <label>
        From
        <DateInput name="from" value={range.from} onChange={(v) => set({ from: v })} />
      </label>
      <label title="The first moment not included (the range is half-open)">
        To (excl.)
        <DateInput name="to" value={range.to} onChange={(v) => set({ to: v })} />
      </label>
      <label>
        Time zone
        <select name="tz" value={range.tz} onChange={(e) => set({ tz: (e.target as HTMLSelectElement).value })}>
          {(zones.includes(range.tz) ? zones : [range.tz, ...zones]).map((z) => (
            <option value={z}>{z}</option>
          ))}
        </select>
      </label>
    </fieldset>
  );
}

/** A bare date gets the date picker; a full ISO instant (from a link) stays as typed text. */
function DateInput({ name, value, onChange }: { name: string; value: string; onChange: (v: string) => void }) {
  const change = (e: Event) => onChange((e.target as HTMLInputElement).value);
  return isDate(value) || value === "" ? (
    <input name={name} type="date" value={value} onChange={change} />
  ) : (
    <input name={name} type="text" value={value} onChange={change} />
  );
}

export function IntervalControl({ route }: { route: Route }) {
  const value = route.params.get("interval") ?? "";
  return (
    <label>
      Interval
      <select name="interval" value={value} onChange={(e) => go(route.page, withParams(route, { interval: (e.target as HTMLSelectElement).value }), route.id)}>
        <option value="">None (one row per key)</option>
        <option value="hour">Hour</option>
        <option value="day">Day</option>
        <option value="week">Week</option>
        <option value="month">Month</option>
      </select>
    </label>
  );
}

interface Named {
  id: string;
  name?: string;
}

/** What the filter boxes suggest: the configured campaigns, suppliers, buyers and channels. */
export function useChoices() {
  return useApi(async (signal) => {
    const list = (kind: string) => getJson<Page<Named>>(`/v1/${kind}`, { limit: 500 }, signal).then((p) => p.items);
    const [campaign, supplier, buyer, channel] = await Promise.all([list("campaigns"), list("suppliers"), list("buyers"), list("channels")]);
    return { campaign, supplier, buyer, channel } as Record<string, Named[]>;
  }, "choices");
}

export function FilterControls({ route, names = filterNames, extra }: { route: Route; names?: readonly string[]; extra?: preact.ComponentChildren }) {
  const choices = useChoices();
  const set = (name: string, v: string) => go(route.page, withParams(route, { [name]: v.trim(), cursor: undefined }), route.id);
  const test = route.params.get("test") === "true";
  return (
    <fieldset class="controls filters" aria-label="Filters">
      {names.map((name) => (
        <label>
          {filterLabels[name] ?? name[0].toUpperCase() + name.slice(1)}
          <input
            name={name}
            list={`choices-${name}`}
            value={route.params.get(name) ?? ""}
            placeholder="any"
            onChange={(e) => set(name, (e.target as HTMLInputElement).value)}
          />
          {choices.state === "done" && choices.data[name] && (
            <datalist id={`choices-${name}`}>
              {choices.data[name].map((c) => (
                <option value={c.id}>{c.name && c.name !== c.id ? c.name : ""}</option>
              ))}
            </datalist>
          )}
        </label>
      ))}
      {extra}
      <label class="check">
        <input type="checkbox" name="test" checked={test} onChange={(e) => set("test", (e.target as HTMLInputElement).checked ? "true" : "")} />
        Test leads only
      </label>
      {names.some((n) => route.params.get(n)) && (
        <button type="button" class="link" onClick={() => go(route.page, withParams(route, Object.fromEntries(names.map((n) => [n, undefined]))), route.id)}>
          Clear filters
        </button>
      )}
    </fieldset>
  );
}
