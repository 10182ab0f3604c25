// One lead's trace: its summary, its pings and posts as a waterfall against its deadline, the
// channels it never reached and why, its history, and its data (pii masked for analysts).
import { useState } from "preact/hooks";
import { getJson } from "../api";
import { browserZone } from "../dates";
import { formatInstant, formatValue } from "../format";
import { href, type Route } from "../route";
import type { Attempt, LeadTrace, RankedBid, RankingTrace } from "../types";
import { Badge, Empty, ReasonText, Show, Table, toneOf, useApi, type Column } from "../ui";

export function LeadPage({ route }: { route: Route }) {
  const id = route.id ?? "";
  const tz = route.params.get("tz") || browserZone();
  const loaded = useApi((signal) => getJson<LeadTrace>(`/v1/leads/${encodeURIComponent(id)}`, {}, signal), id);
  return (
    <section class="page">
      <p class="crumbs">
        <a href={href("leads", { tz })}>Leads</a> › <span class="mono">{id}</span>
      </p>
      <Show loaded={loaded} what="Loading the lead's trace">
        {(lead) => <Trace lead={lead} tz={tz} />}
      </Show>
    </section>
  );
}

function Trace({ lead, tz }: { lead: LeadTrace; tz: string }) {
  const facts: [string, preact.ComponentChildren][] = [
    ["Status", <><Badge tone={toneOf(lead.status)}>{lead.status}</Badge>{lead.test && <Badge tone="muted">test</Badge>}</>],
    ["Reason", <ReasonText reason={lead.reason} detail={lead.detail} />],
    ["Campaign", lead.campaign],
    ["Supplier", lead.supplier],
    ["Source", lead.source ? `${lead.source}${lead.sub_id ? ` / ${lead.sub_id}` : ""}` : "–"],
    [
      "Sold to",
      // A shared lead lists each sale with its price; an exclusive one names its buyer.
      lead.sales && lead.sales.length > 1
        ? lead.sales.map((s) => `${s.channel_id}${s.buyer_id ? ` (${s.buyer_id})` : ""} ${formatValue("money", s.price)}`).join(", ")
        : lead.sold_channel
          ? `${lead.sold_channel}${lead.sold_buyer ? ` (${lead.sold_buyer})` : ""}`
          : "–",
    ],
    ["Revenue", formatValue("money", lead.revenue)],
    ["Payout", formatValue("money", lead.price)],
    ["Received", formatInstant(lead.received_at, tz, "ms")],
    ["Decided", formatInstant(lead.decided_at, tz, "ms")],
    ["Deadline", formatInstant(lead.deadline_at, tz, "ms")],
    ["Gavel's overhead", formatValue("ms", lead.overhead_ms)],
  ];
  return (
    <>
      <header class="page-head">
        <h1>
          Lead <span class="mono">{lead.id}</span>
        </h1>
      </header>
      <dl class="facts">
        {facts.map(([k, v]) => (
          <div>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <h2>Pings and posts</h2>
      {lead.attempts.length === 0 ? <Empty>No channel was pinged or posted to.</Empty> : <Waterfall lead={lead} />}
      {lead.ranking && <Ranking ranking={lead.ranking} />}
      <div class="two-cols">
        <div>
          <h2>Exclusions</h2>
          {lead.excluded.length === 0 ? (
            <Empty>No channel was kept out.</Empty>
          ) : (
            <Table
              testId="exclusions"
              columns={[
                { id: "channel_id", label: "Channel", kind: "text" },
                { id: "reason", label: "Reason", kind: "text", render: (e) => <ReasonText reason={e.reason} detail={e.detail} /> },
              ]}
              rows={lead.excluded}
            />
          )}
        </div>
        <div>
          <h2>History</h2>
          <Table
            testId="history"
            columns={[
              { id: "at", label: "At", kind: "text", render: (e) => formatInstant(e.at, tz, "ms") },
              { id: "status", label: "Status", kind: "text", render: (e) => <Badge tone={toneOf(e.status)}>{e.status}</Badge> },
              { id: "reason", label: "Reason", kind: "text", render: (e) => <ReasonText reason={e.reason} detail={e.detail} /> },
            ]}
            rows={lead.history}
          />
        </div>
      </div>
      <h2>Data</h2>
      <dl class="facts" data-testid="lead-data">
        {Object.entries(lead.data).map(([field, value]) => (
          <div>
            <dt>{field}</dt>
            <dd class={value === "***" ? "muted" : undefined} title={value === "***" ? "Masked: personal data is shown to admins only" : undefined}>
              {typeof value === "string" ? value : JSON.stringify(value)}
            </dd>
          </div>
        ))}
      </dl>
    </>
  );
}

/** Nice steps for the time axis, in ms. */
const STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000];

/**
 * The pings and posts as bars on the lead's own clock, from its arrival to its deadline (or its
 * last attempt, when that ran past). Positions are drawing, not figures: every number written
 * beside a bar is the trace's.
 */
function Waterfall({ lead }: { lead: LeadTrace }) {
  // Against the whole deadline by default; "zoom" fits the scale to the pings and posts, which on a
  // fast buyer are a sliver of it.
  const [zoom, setZoom] = useState(false);
  const t0 = Date.parse(lead.received_at);
  const deadlineAt = lead.deadline_at ? Date.parse(lead.deadline_at) : null;
  const decidedAt = lead.decided_at ? Date.parse(lead.decided_at) : null;
  const ends = lead.attempts.map((a) => Date.parse(a.started_at) + a.duration_ms);
  const work = Math.max(1, ...ends.map((e) => e - t0), decidedAt !== null ? decidedAt - t0 : 0);
  const span = zoom ? work : Math.max(work, deadlineAt !== null ? deadlineAt - t0 : 0);
  const deadline = deadlineAt !== null && deadlineAt - t0 <= span ? deadlineAt : null;
  const decided = decidedAt !== null && decidedAt - t0 <= span ? decidedAt : null;
  const at = (t: number) => `${((t - t0) / span) * 100}%`;
  const step = STEPS.find((s) => span / s <= 8) ?? 60000;
  const ticks = Array.from({ length: Math.floor(span / step) + 1 }, (_, i) => i * step);
  return (
    <div class="waterfall" data-testid="waterfall">
      {deadlineAt !== null && (
        <label class="check wf-zoom">
          <input type="checkbox" checked={zoom} onChange={(e) => setZoom((e.target as HTMLInputElement).checked)} />
          Zoom to the pings and posts{zoom && deadline === null ? " (the deadline is further right)" : ""}
        </label>
      )}
      <div class="wf-axis" aria-hidden="true">
        {ticks.map((t) => (
          <span style={{ left: at(t0 + t) }}>{t < 1000 ? `${t} ms` : `${t / 1000} s`}</span>
        ))}
      </div>
      <div class="wf-body">
        <ol class="wf-rows">
          {lead.attempts.map((a) => (
            <WaterfallRow a={a} left={at(Date.parse(a.started_at))} width={`${(a.duration_ms / span) * 100}%`} />
          ))}
        </ol>
        <div class="wf-overlay" aria-hidden="true">
          {ticks.map((t) => (
            <span class="wf-gridline" style={{ left: at(t0 + t) }} />
          ))}
          {deadline !== null && <span class="wf-marker deadline" style={{ left: at(deadline) }} title={`Deadline ${lead.deadline_at}`} data-testid="deadline" />}
          {decided !== null && <span class="wf-marker decided" style={{ left: at(decided) }} title={`Decided ${lead.decided_at}`} />}
        </div>
      </div>
      <p class="wf-legend">
        <span class="swatch bid" /> bid or accepted <span class="swatch no_bid" /> no bid <span class="swatch bad" /> rejected, timeout or error{" "}
        {deadline !== null && (
          <>
            <span class="swatch deadline" /> deadline{" "}
          </>
        )}
        {decided !== null && (
          <>
            <span class="swatch decided" /> decided
          </>
        )}
      </p>
    </div>
  );
}

function WaterfallRow({ a, left, width }: { a: Attempt; left: string; width: string }) {
  const tone = toneOf(a.outcome);
  return (
    <li class="wf-row" data-kind={a.kind} data-outcome={a.outcome}>
      <div class="wf-label">
        <Badge tone="muted">{a.kind}</Badge> <span class="mono">{a.channel_id}</span>
      </div>
      <div class="wf-track">
        <div class={`wf-bar ${tone}`} style={{ left, width }} title={`${a.started_at} · ${a.duration_ms} ms`} />
      </div>
      <div class="wf-what">
        <Badge tone={tone}>{a.outcome}</Badge>
        {a.price !== null && <strong> {formatValue("money", a.price)}</strong>}
        <span class="muted">
          {" "}
          · {formatValue("ms", a.duration_ms)}
          {a.http_status !== null && ` · HTTP ${a.http_status}`}
        </span>
        {/* A reason that only repeats the outcome's badge (an accepted post with nothing more to say) is not shown again. */}
        {a.reason && !(a.reason === a.outcome && a.detail === null) && (
          <div class="reason">
            <ReasonText reason={a.reason} detail={a.detail} />
          </div>
        )}
      </div>
    </li>
  );
}

/** How the bids were ranked and priced (README "Pricing and ranking"): every figure is the trace's. */
function Ranking({ ranking }: { ranking: RankingTrace }) {
  const expected = ranking.rank_by === "expected";
  const columns: Column<RankedBid>[] = [
    { id: "channel_id", label: "Channel", kind: "text", render: (b) => <span class="mono">{b.channel_id}</span> },
    { id: "bid", label: "Bid", kind: "money" },
    { id: "adjusted_bid", label: "Adjusted", kind: "money", title: "bid × multiplier + offset (the channel's bid_adjustment)" },
    ...(expected
      ? ([
          { id: "rate", label: "Acceptance rate", kind: "rate", title: "accepted / posted, decayed, with the prior and the floor" },
          { id: "score", label: "Score", kind: "money", title: "adjusted bid × acceptance rate" },
        ] as Column<RankedBid>[])
      : []),
    { id: "charge", label: "Charge", kind: "money", title: "what the bid is charged if it sells" },
  ];
  return (
    <>
      <h2>Ranking</h2>
      <p class="muted" data-testid="ranking-settings">
        {ranking.pricing} price · ranked by {ranking.rank_by} · floor {formatValue("money", ranking.floor)}
        {ranking.rate_floor !== null && ` · rate floor ${formatValue("rate", ranking.rate_floor)}`} · clearing price{" "}
        {formatValue("money", ranking.clearing_price)}
      </p>
      <Table testId="ranking" columns={columns} rows={ranking.bids} />
    </>
  );
}
