// The direction of imports in src/, checked by test/architecture.test.ts (so by `npm test`).
//
// Gavel is layered; a module may import its own layer and the layers below it, never one above:
//
//   entry points      main.ts, cli.ts, *-cli.ts, demo/      start processes: may import anything
//   composition       app.ts, server.ts, config.ts          wire the parts together
//   http              http/, dashboard/ (its server side)   validate, call one domain verb, map the result
//   domain            auction/ → leads/, resources/ → auth/ the auction; leads; configuration; keys
//                     reports/                              reports read the database only
//   configuration     resources/schemas.ts                  the shapes of campaigns, buyers, suppliers
//   channels          channels/                             a channel's config; talking to buyers
//   email             email/                                sending one email through SMTP
//   db                db/                                   the schema and query functions
//   kernels           time/ and every other file directly   clock, money, ids, reasons, errors and
//                     in src/ (money.ts, ids.ts, …)         other small shared pieces, with no
//                                                           domain knowledge
//
// Within the domain, the auction may use leads and the configuration store, the store may use auth,
// and none of them the other way round. dashboard/app/ is the browser's code: it imports only itself.
// Type-only imports count (tsPreCompilationDeps): a type import against the direction, or in a
// circle, couples modules just as a value import does.

// A file directly in src/ is a kernel unless it is an entry point or the wiring: a new one starts at
// the bottom, and has to be placed higher here on purpose.
const kernel = "^src/(time/|(?!(app|server|config|main|cli)\\.ts$)[^/]+\\.ts$)";
const db = "^src/db/";
const channels = "^src/channels/";
const email = "^src/email/";
const configuration = "^src/resources/schemas\\.ts$";
const auth = "^src/auth/";
const leads = "^src/leads/";
const resources = "^src/resources/";
const auction = "^src/auction/";
const reports = "^src/reports/";
const browser = "^src/dashboard/app/";
const composition = "^src/(app|server|config)\\.ts$";
const entries = "^src/((main|cli)\\.ts$|demo/|.*-cli\\.ts$)";

const any = (...paths) => paths.map((p) => `(${p})`).join("|");

/** A rule that modules of one layer import only from the layers listed (and outside src/). */
function layer(name, from, allowed, comment) {
  return {
    name,
    comment,
    severity: "error",
    from: { path: from.path, pathNot: from.pathNot },
    to: { path: "^src/", pathNot: any(...allowed) },
  };
}

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A circle of imports: the modules in it cannot be read, tested or changed one at a time.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    layer("kernel", { path: kernel }, [kernel], "Kernels are the bottom: they import only each other."),
    layer("db", { path: db, pathNot: entries }, [db, kernel], "db/ knows tables and queries, not the domain above it."),
    layer("email", { path: email }, [email, kernel], "email/ sends a message through SMTP; it knows nothing of who the message is for."),
    layer("channels", { path: channels }, [channels, email, db, kernel], "channels/ talk to buyers; they know nothing of auctions, leads or the rest of the configuration."),
    layer("configuration", { path: configuration }, [configuration, channels, kernel], "The configuration's shapes sit below every domain module that reads them."),
    layer("auth", { path: auth }, [auth, configuration, db, kernel], "auth/ checks keys against the configuration; it uses no domain module."),
    layer("leads", { path: leads }, [leads, configuration, channels, db, kernel], "leads/ (validation, dedup, suppression) never calls the auction."),
    layer(
      "resources",
      { path: resources, pathNot: configuration },
      [resources, auth, channels, db, kernel],
      "The configuration store is below the auction, which reads it.",
    ),
    layer("auction", { path: auction }, [auction, leads, resources, channels, db, kernel], "The auction never imports the HTTP layer or reports."),
    layer("reports", { path: reports }, [reports, db, kernel], "Reports read the database; they do not call the auction."),
    {
      name: "http",
      comment: "The HTTP layer (and the dashboard's server) never reaches up into the wiring or the entry points.",
      severity: "error",
      from: { path: "^src/(http|dashboard)/", pathNot: browser },
      to: { path: any(composition, entries, browser) },
    },
    {
      name: "composition",
      comment: "The wiring does not import the entry points that use it.",
      severity: "error",
      from: { path: composition },
      to: { path: entries },
    },
    layer("browser", { path: browser }, [browser], "The dashboard's browser code is bundled on its own: it imports only itself."),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".tsx", ".js", ".mjs", ".json"] },
  },
};
