// The Gavel dashboard: a page per question an analyst asks, each a thin view over the API.
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { onUnauthorized, token } from "./api";
import { BidsPage } from "./pages/bids";
import { DeliveriesPage } from "./pages/deliveries";
import { HealthPage } from "./pages/health";
import { LeadPage } from "./pages/lead";
import { LeadsPage } from "./pages/leads";
import { OverviewPage } from "./pages/overview";
import { ReportsPage } from "./pages/reports";
import { SignIn } from "./pages/signin";
import { href, useRoute, type Route } from "./route";

const pages = [
  { id: "overview", label: "Overview" },
  { id: "reports", label: "Reports" },
  { id: "bids", label: "Bid landscape" },
  { id: "health", label: "Channel health" },
  { id: "leads", label: "Leads" },
  { id: "deliveries", label: "Deliveries" },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "overview":
      return <OverviewPage route={route} />;
    case "reports":
      return <ReportsPage route={route} />;
    case "bids":
      return <BidsPage route={route} />;
    case "health":
      return <HealthPage route={route} />;
    case "leads":
      return <LeadsPage route={route} />;
    case "lead":
      return <LeadPage route={route} />;
    case "deliveries":
      return <DeliveriesPage route={route} />;
    default:
      return (
        <div class="state empty">
          No page “{route.page}”. <a href={href("overview")}>Go to the overview</a>.
        </div>
      );
  }
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => token.get() !== null);
  const [expired, setExpired] = useState(false);
  useEffect(
    () =>
      onUnauthorized(() => {
        token.clear();
        setExpired(true);
        setSignedIn(false);
      }),
    [],
  );
  useEffect(() => {
    const name = pages.find((p) => p.id === route.page)?.label ?? (route.page === "lead" ? "Lead" : "Gavel");
    document.title = `${name} · Gavel`;
  }, [route.page]);

  if (!signedIn)
    return (
      <SignIn
        expired={expired}
        onSignedIn={() => {
          setExpired(false);
          setSignedIn(true);
        }}
      />
    );
  const active = route.page === "lead" ? "leads" : route.page;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href={href("overview")}>
          <span class="logo" aria-hidden="true" />
          Gavel
        </a>
        <nav aria-label="Pages">
          {pages.map((p) => (
            <a href={href(p.id)} class={p.id === active ? "active" : undefined} aria-current={p.id === active ? "page" : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="link sign-out"
          onClick={() => {
            token.clear();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
