// Bid landscape: for each price range, how many bids came in, how many won, and how many of the
// posts that followed the buyer rejected, per campaign and per channel (GET /v1/reports/bids).
import { getJson } from "../api";
import { Chart } from "../chart";
import { RangeControls, rangeOf, useChoices } from "../controls";
import { formatValue } from "../format";
import { go, withParams, type Route } from "../route";
import type { BidReport, BidRow, Channel, Page } from "../types";
import { Empty, Show, Table, useApi } from "../ui";

const BUCKETS = ["0.5", "1", "2", "5", "10", "25"];

export function BidsPage({ route }: { route: Route }) {
  const range = rangeOf(route);
  const campaign = route.params.get("campaign") || undefined;
  const channel = route.params.get("channel") || undefined;
  const bucket = route.params.get("bucket") || "1";
  const test = route.params.get("test") === "true" ? "true" : undefined;
  const base = { ...range, bucket, test };
  const choices = useChoices();
  const set = (changes: Record<string, string | undefined>) => go("bids", withParams(route, changes));

  const main = useApi((signal) => getJson<BidReport>("/v1/reports/bids", { ...base, campaign, channel }, signal), JSON.stringify([base, campaign, channel]));
  // A chart per channel of the chosen campaign, each its own request.
  const perChannel = useApi(
    async (signal) => {
      if (!campaign || channel) return [];
      const channels = await getJson<Page<Channel>>("/v1/channels", { campaign_id: campaign, limit: 500 }, signal);
      return Promise.all(
        channels.items.slice(0, 12).map(async (c) => ({ channel: c, report: await getJson<BidReport>("/v1/reports/bids", { ...base, channel: c.id }, signal) })),
      );
    },
    JSON.stringify([base, campaign, channel]),
  );

  return (
    <section class="page">
      <header class="page-head">
        <h1>Bid landscape</h1>
      </header>
      <RangeControls route={route} range={range} />
      <fieldset class="controls filters" aria-label="What to chart">
        <label>
          Campaign
          <select name="campaign" value={campaign ?? ""} onChange={(e) => set({ campaign: (e.target as HTMLSelectElement).value, channel: undefined })}>
            <option value="">All campaigns</option>
            {choices.state === "done" && choices.data.campaign.map((c) => <option value={c.id}>{c.name ?? c.id}</option>)}
          </select>
        </label>
        <label>
          Channel
          <select name="channel" value={channel ?? ""} onChange={(e) => set({ channel: (e.target as HTMLSelectElement).value })}>
            <option value="">{campaign ? "Every channel, one chart each" : "All channels"}</option>
            {choices.state === "done" &&
              choices.data.channel
                .filter((c) => !campaign || (c as unknown as Channel).campaign_id === campaign)
                .map((c) => <option value={c.id}>{c.id}</option>)}
          </select>
        </label>
        <label>
          Price range
          <select name="bucket" value={bucket} onChange={(e) => set({ bucket: (e.target as HTMLSelectElement).value })}>
            {BUCKETS.map((b) => (
              <option value={b}>{formatValue("money", Number(b))}</option>
            ))}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={Boolean(test)} onChange={(e) => set({ test: (e.target as HTMLInputElement).checked ? "true" : undefined })} />
          Test leads only
        </label>
      </fieldset>
      <Show loaded={main} what="Loading the bid landscape">
        {(report) => (
          <>
            <Landscape title={channel ? `Channel ${channel}` : campaign ? `Campaign ${campaign}` : "All campaigns"} report={report} testId="bids-chart" />
            {report.rows.length > 0 && (
              <Table
                testId="bids-table"
                columns={[
                  { id: "min_price", label: "From", kind: "money" },
                  { id: "max_price", label: "Up to (excl.)", kind: "money" },
                  { id: "bids", label: "Bids", kind: "count" },
                  { id: "wins", label: "Wins", kind: "count" },
                  { id: "posts", label: "Posts", kind: "count" },
                  { id: "accepted", label: "Accepted", kind: "count" },
                  { id: "post_reject_rate", label: "Post reject rate", kind: "rate" },
                ]}
                rows={report.rows}
                totals={report.totals as BidRow}
              />
            )}
          </>
        )}
      </Show>
      {campaign && !channel && (
        <Show loaded={perChannel} what="Loading each channel's landscape">
          {(list) =>
            list.length === 0 ? null : (
              <>
                <h2>Per channel</h2>
                <div class="charts">
                  {list.map(({ channel: c, report }) => (
                    <Landscape title={`${c.id} (${c.buyer_id})`} report={report} small />
                  ))}
                </div>
              </>
            )
          }
        </Show>
      )}
    </section>
  );
}

function Landscape({ title, report, small, testId }: { title: string; report: BidReport; small?: boolean; testId?: string }) {
  if (report.rows.length === 0)
    return (
      <figure class="chart empty-chart">
        <figcaption>{title}</figcaption>
        <p class="muted">No bids in this range.</p>
      </figure>
    );
  return (
    <Chart
      title={title}
      testId={testId}
      height={small ? 180 : 280}
      x={report.rows.map((r) => r.min_price)}
      xKind="money"
      series={[
        { label: "Bids", values: report.rows.map((r) => r.bids), kind: "count", bars: true, color: "#2f6fde" },
        { label: "Wins", values: report.rows.map((r) => r.wins), kind: "count", bars: true, color: "#2e9e6b" },
        { label: "Post reject rate", values: report.rows.map((r) => r.post_reject_rate), kind: "rate", axis: "right", color: "#c2417a" },
      ]}
    />
  );
}
