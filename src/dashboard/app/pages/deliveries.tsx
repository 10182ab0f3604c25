// Notifications to suppliers and buyers (README "Notifications"): the outbox as the API lists it,
// dead letters first, each with a Replay button (an admin's: an analyst's token is refused, and the
// page says so). A replay asks the API and then reads the list again; nothing is changed here.
import { useState } from "preact/hooks";
import { ApiError, getJson, postJson } from "../api";
import { browserZone } from "../dates";
import { formatInstant } from "../format";
import { go, href, withParams, type Route } from "../route";
import type { Page } from "../types";
import { Badge, Empty, ErrorView, Show, Table, Pager, useApi, type Column } from "../ui";

export interface Delivery {
  id: string;
  event_id: string;
  event: string;
  lead_id: string | null;
  receiver: string;
  via: string;
  target: string;
  state: "pending" | "delivered" | "dead" | "cancelled";
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

const STATES = ["dead", "pending", "delivered", "cancelled"] as const;
const TONES: Record<string, string> = { dead: "bad", pending: "warn", delivered: "good" };

export function DeliveriesPage({ route }: { route: Route }) {
  const tz = route.params.get("tz") || browserZone();
  const state = route.params.get("state") ?? "dead";
  const query = { limit: "50", state: state || undefined, receiver: route.params.get("receiver") || undefined, cursor: route.params.get("cursor") || undefined };
  // Read again after each replay.
  const [round, setRound] = useState(0);
  const loaded = useApi((signal) => getJson<Page<Delivery>>("/v1/deliveries", query, signal), JSON.stringify(query) + round);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const [replaying, setReplaying] = useState<string | null>(null);
  const set = (changes: Record<string, string | undefined>) => go("deliveries", withParams(route, { ...changes, cursor: undefined }));

  async function replay(d: Delivery) {
    setReplaying(d.id);
    setRefused(null);
    try {
      await postJson(`/v1/deliveries/${encodeURIComponent(d.id)}/replay`, {});
      setRound((n) => n + 1);
    } catch (error) {
      setRefused(error instanceof ApiError ? error : new ApiError(0, "Something went wrong", String(error)));
    } finally {
      setReplaying(null);
    }
  }

  const columns: Column<Delivery>[] = [
    { id: "created_at", label: "Event at", kind: "text", render: (d) => formatInstant(d.created_at, tz) },
    { id: "event", label: "Event", kind: "text", render: (d) => <span class="mono">{d.event}</span> },
    {
      id: "lead_id",
      label: "Lead",
      kind: "text",
      render: (d) => (d.lead_id ? <a href={href("lead", { tz }, d.lead_id)} class="mono">{d.lead_id}</a> : <span class="muted">–</span>),
    },
    { id: "receiver", label: "Receiver", kind: "text" },
    { id: "target", label: "URL", kind: "text", render: (d) => <span class="mono">{d.target}</span> },
    { id: "attempts", label: "Attempts", kind: "count" },
    { id: "last_error", label: "Last error", kind: "text", render: (d) => d.last_error ?? <span class="muted">–</span> },
    { id: "state", label: "State", kind: "text", render: (d) => <Badge tone={TONES[d.state] ?? "muted"}>{d.state}</Badge> },
    {
      id: "actions",
      label: "",
      kind: "text",
      render: (d) =>
        d.state === "dead" || d.state === "cancelled" ? (
          <button type="button" class="secondary" data-replay={d.id} disabled={replaying === d.id} onClick={() => replay(d)}>
            Replay
          </button>
        ) : null,
    },
  ];

  return (
    <section class="page">
      <header class="page-head">
        <h1>Deliveries</h1>
      </header>
      <fieldset class="controls filters" aria-label="Filters">
        <label>
          State
          <select name="state" value={state} onChange={(e) => set({ state: (e.target as HTMLSelectElement).value })}>
            {STATES.map((s) => (
              <option value={s}>{s === "dead" ? "dead letters" : s}</option>
            ))}
            <option value="">any</option>
          </select>
        </label>
        <label>
          Receiver
          <input
            name="receiver"
            value={route.params.get("receiver") ?? ""}
            placeholder="supplier:<id> or buyer:<id>"
            onChange={(e) => set({ receiver: (e.target as HTMLInputElement).value.trim() })}
          />
        </label>
      </fieldset>
      {refused && <ErrorView error={refused} />}
      <Show loaded={loaded} what="Loading deliveries">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{state === "dead" ? "No dead letters: every notification was delivered or is still being tried." : "No deliveries match these filters."}</Empty>
          ) : (
            <>
              <Table testId="deliveries-table" columns={columns} rows={page.items} rowKey={(d) => d.id} />
              <p class="footnote">Newest first; times in {tz}. A replay sends the notification again with the same event id.</p>
              <Pager page="deliveries" route={route} nextCursor={page.next_cursor} />
            </>
          )
        }
      </Show>
    </section>
  );
}
