// Channel health: each channel's circuit (as the Gavel process that answers sees it), its timeouts,
// errors and latency percentiles from the channels report, and its caps with what the current
// period has used and when it resets (GET /v1/channels).
import { getJson } from "../api";
import { RangeControls, rangeOf, useChoices } from "../controls";
import { formatInstant, formatValue } from "../format";
import { go, href, withParams, type Route } from "../route";
import type { CapUsage, Channel, ChannelHealth, Page, Report } from "../types";
import { Badge, Empty, Show, Table, useApi, type Column } from "../ui";

interface HealthRow {
  channel: Channel;
  health: ChannelHealth;
  figures: Record<string, number | null> | undefined;
}

const figure = (id: string, label: string, kind: "count" | "ms" | "rate", title?: string): Column<HealthRow> => ({
  id,
  label,
  kind,
  title,
  value: (r) => r.figures?.[id] ?? null,
});

export function HealthPage({ route }: { route: Route }) {
  const range = rangeOf(route, "today");
  const campaign = route.params.get("campaign") || undefined;
  const choices = useChoices();
  const loaded = useApi(
    async (signal) => {
      const [channels, report] = await Promise.all([
        getJson<Page<Channel>>("/v1/channels", { limit: 500, campaign_id: campaign }, signal),
        getJson<Report>("/v1/reports/channels", { ...range, campaign }, signal),
      ]);
      // The list has no circuit state: each channel's comes from its own health route.
      const healths = await Promise.all(channels.items.map((c) => getJson<ChannelHealth>(`/v1/channels/${encodeURIComponent(c.id)}/health`, {}, signal)));
      const byChannel = new Map(report.rows.map((r) => [r.key.channel, r as Record<string, number | null>]));
      return { rows: channels.items.map((channel, i): HealthRow => ({ channel, health: healths[i], figures: byChannel.get(channel.id) })), report };
    },
    JSON.stringify([range, campaign]),
  );

  const columns: Column<HealthRow>[] = [
    {
      id: "channel",
      label: "Channel",
      kind: "text",
      value: (r) => r.channel.id,
      render: (r) => (
        <a href={href("reports", { dimension: "channels", channel: r.channel.id, from: range.from, to: range.to, tz: range.tz })}>
          {r.channel.id}
        </a>
      ),
    },
    { id: "buyer", label: "Buyer", kind: "text", value: (r) => r.channel.buyer_id },
    { id: "status", label: "Status", kind: "text", value: (r) => r.channel.status, render: (r) => <Badge tone={r.channel.status === "active" ? "good" : "muted"}>{r.channel.status}</Badge> },
    {
      id: "circuit",
      label: "Circuit",
      kind: "text",
      value: (r) => r.health.state,
      render: (r) => <Circuit health={r.health} tz={range.tz} />,
    },
    figure("pings", "Pings", "count"),
    figure("timeouts", "Timeouts", "count", "Pings and posts that timed out"),
    figure("errors", "Errors", "count", "Failed pings and posts"),
    figure("accept_rate", "Accept rate", "rate"),
    figure("ping_ms_p50", "Ping p50", "ms"),
    figure("ping_ms_p95", "p95", "ms"),
    figure("ping_ms_p99", "p99", "ms"),
    figure("post_ms_p50", "Post p50", "ms"),
    figure("post_ms_p95", "p95", "ms"),
    figure("post_ms_p99", "p99", "ms"),
    { id: "caps", label: "Caps (used / cap · resets)", kind: "text", value: (r) => r.channel.caps?.length ?? 0, render: (r) => <Caps caps={r.channel.caps} tz={range.tz} /> },
  ];

  return (
    <section class="page">
      <header class="page-head">
        <h1>Channel health</h1>
        <label class="controls-inline">
          Campaign
          <select name="campaign" value={campaign ?? ""} onChange={(e) => go("health", withParams(route, { campaign: (e.target as HTMLSelectElement).value }))}>
            <option value="">All campaigns</option>
            {choices.state === "done" && choices.data.campaign.map((c) => <option value={c.id}>{c.name ?? c.id}</option>)}
          </select>
        </label>
      </header>
      <RangeControls route={route} range={range} />
      <Show loaded={loaded} what="Loading channel health">
        {({ rows }) =>
          rows.length === 0 ? (
            <Empty>No channels{campaign ? ` in campaign ${campaign}` : ""} yet.</Empty>
          ) : (
            <>
              <Table testId="health-table" columns={columns} rows={rows} rowKey={(r) => r.channel.id} />
              <p class="footnote">
                Circuits are as this Gavel process sees them (each process keeps its own). Timeouts, errors and latency cover {range.from} to {range.to} ({range.tz}); a
                channel with no traffic then shows –.
              </p>
            </>
          )
        }
      </Show>
    </section>
  );
}

function Circuit({ health, tz }: { health: ChannelHealth; tz: string }) {
  const tone = { closed: "good", half_open: "warn", open: "bad" }[health.state];
  return (
    <div class="circuit" data-state={health.state}>
      <Badge tone={tone}>{health.state.replace("_", "-")}</Badge>
      <span class="muted small" title="Consecutive failures, and how many open the circuit">
        {" "}
        {health.consecutive_failures} of {health.failure_threshold} failures
      </span>
      {health.retry_at && <div class="small">probe at {formatInstant(health.retry_at, tz)}</div>}
      {health.history.length > 0 && <div class="small muted" title={health.history.map((h) => `${h.at} ${h.state}: ${h.reason}`).join("\n")}>last: {health.history[health.history.length - 1].reason}</div>}
    </div>
  );
}

function Caps({ caps, tz }: { caps: CapUsage[] | undefined; tz: string }) {
  if (!caps || caps.length === 0) return <span class="muted">no caps</span>;
  return (
    <ul class="caps">
      {caps.map((cap) => (
        <li>
          <strong>{cap.period}</strong>
          {cap.leads !== undefined && (
            <span class="cap">
              <meter min={0} max={cap.leads} value={cap.used?.leads ?? 0} /> {formatValue("count", cap.used?.leads ?? 0)} / {formatValue("count", cap.leads)} leads
            </span>
          )}
          {cap.spend !== undefined && (
            <span class="cap">
              <meter min={0} max={cap.spend} value={cap.used?.spend ?? 0} /> {formatValue("money", cap.used?.spend ?? 0)} / {formatValue("money", cap.spend)}
            </span>
          )}
          <span class="resets">resets {cap.resets_at ? formatInstant(cap.resets_at, tz, false) : "never"}</span>
        </li>
      ))}
    </ul>
  );
}
