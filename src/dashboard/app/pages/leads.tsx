// Leads: search by id, filter, page through (newest first); each row opens the lead's trace.
import { useState } from "preact/hooks";
import { getJson } from "../api";
import { browserZone } from "../dates";
import { formatInstant } from "../format";
import { go, href, withParams, type Route } from "../route";
import type { LeadSummary, Page } from "../types";
import { Badge, Empty, ReasonText, Show, Table, toneOf, Pager, useApi, type Column } from "../ui";

const TEXT_FILTERS = ["campaign", "supplier", "source", "sub_id", "buyer", "channel", "reason"] as const;
const LABELS: Record<string, string> = { sub_id: "Sub ID", buyer: "Bought by buyer", channel: "Bought via channel" };
const STATUSES = ["sold", "pending", "unsold", "rejected", "duplicate", "error", "returned", "auctioning", "held", "expired", "received"];

export function LeadsPage({ route }: { route: Route }) {
  const tz = route.params.get("tz") || browserZone();
  const query: Record<string, string | undefined> = { limit: "50", tz };
  for (const name of [...TEXT_FILTERS, "status", "from", "to", "cursor"]) query[name] = route.params.get(name) || undefined;
  query.test = route.params.get("test") || undefined;
  const loaded = useApi((signal) => getJson<Page<LeadSummary>>("/v1/leads", query, signal), JSON.stringify(query));
  const [search, setSearch] = useState("");
  const set = (changes: Record<string, string | undefined>) => go("leads", withParams(route, { ...changes, cursor: undefined }));

  const columns: Column<LeadSummary>[] = [
    { id: "received_at", label: "Received", kind: "text", render: (l) => formatInstant(l.received_at, tz) },
    {
      id: "id",
      label: "Lead",
      kind: "text",
      render: (l) => (
        <a href={href("lead", { tz }, l.id)} class="mono" data-lead={l.id}>
          {l.id}
        </a>
      ),
    },
    { id: "campaign", label: "Campaign", kind: "text" },
    { id: "supplier", label: "Supplier", kind: "text" },
    { id: "source", label: "Source", kind: "text", render: (l) => (l.source ? `${l.source}${l.sub_id ? ` / ${l.sub_id}` : ""}` : <span class="muted">–</span>) },
    {
      id: "status",
      label: "Status",
      kind: "text",
      render: (l) => (
        <>
          <Badge tone={toneOf(l.status)}>{l.status}</Badge>
          {l.test && <Badge tone="muted">test</Badge>}
        </>
      ),
    },
    { id: "reason", label: "Reason", kind: "text", render: (l) => <ReasonText reason={l.reason} detail={l.detail} /> },
    { id: "sold_channel", label: "Sold to", kind: "text", render: (l) => l.sold_channel ?? <span class="muted">–</span> },
    { id: "price", label: "Payout", kind: "money" },
    { id: "revenue", label: "Revenue", kind: "money" },
  ];

  return (
    <section class="page">
      <header class="page-head">
        <h1>Leads</h1>
        <form
          class="search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            if (search.trim()) go("lead", { tz }, search.trim());
          }}
        >
          <input name="lead-id" placeholder="Lead id" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} aria-label="Lead id" />
          <button type="submit" class="secondary">
            Open
          </button>
        </form>
      </header>
      <fieldset class="controls filters" aria-label="Filters">
        {TEXT_FILTERS.map((name) => (
          <label>
            {LABELS[name] ?? name[0].toUpperCase() + name.slice(1)}
            <input name={name} value={route.params.get(name) ?? ""} placeholder="any" onChange={(e) => set({ [name]: (e.target as HTMLInputElement).value.trim() })} />
          </label>
        ))}
        <label>
          Status
          <select name="status" value={route.params.get("status") ?? ""} onChange={(e) => set({ status: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Test
          <select name="test" value={route.params.get("test") ?? ""} onChange={(e) => set({ test: (e.target as HTMLSelectElement).value })}>
            <option value="">real and test</option>
            <option value="false">real only</option>
            <option value="true">test only</option>
          </select>
        </label>
        <label>
          From
          <input name="from" value={route.params.get("from") ?? ""} placeholder="YYYY-MM-DD or ISO time" onChange={(e) => set({ from: (e.target as HTMLInputElement).value.trim() })} />
        </label>
        <label title="The first moment not included">
          To (excl.)
          <input name="to" value={route.params.get("to") ?? ""} placeholder="not included" onChange={(e) => set({ to: (e.target as HTMLInputElement).value.trim() })} />
        </label>
      </fieldset>
      <Show loaded={loaded} what="Loading leads">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No leads match these filters.</Empty>
          ) : (
            <>
              <Table testId="leads-table" columns={columns} rows={page.items} rowKey={(l) => l.id} />
              <p class="footnote">
                Newest first; times and dates in {tz}.
              </p>
              <Pager page="leads" route={route} nextCursor={page.next_cursor} />
            </>
          )
        }
      </Show>
    </section>
  );
}
