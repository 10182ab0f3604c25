// Configuration as code over HTTP (the same function `gavel apply` runs): dry runs change nothing,
// a second apply is a no-op, export → apply on an empty database reproduces the configuration
// exactly, and a file with errors is rejected whole with every error and its location.
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buyers, campaigns, channels, suppliers } from "../src/db/schema";
import { pingPost, standardFields, startTestGavel, useTestGavel, type TestGavel } from "./helpers/gavel";

const buyerUrls = { pingUrl: "http://127.0.0.1:9/ping", postUrl: "http://127.0.0.1:9/post" };

function file(overrides: { channels?: unknown[]; buyers?: unknown[]; extraChannelFields?: Record<string, unknown> } = {}) {
  const channelList = overrides.channels ?? [
    {
      ...pingPost("cfg-tx", buyerUrls, { buyer_id: "cfg-acme", campaign_id: "cfg-auto", min_bid: 3, ...overrides.extraChannelFields }),
      auth: { type: "bearer", token: "${CFG_TOKEN}" },
    },
    pingPost("cfg-ok", buyerUrls, { buyer_id: "cfg-other", campaign_id: "cfg-auto" }),
  ];
  return JSON.stringify({
    version: 1,
    campaigns: [{ id: "cfg-auto", name: "Auto", fields: standardFields }],
    buyers: overrides.buyers ?? [
      { id: "cfg-acme", name: "Acme" },
      { id: "cfg-other", name: "Other" },
    ],
    suppliers: [{ id: "cfg-pub", name: "Publisher", rate_limit: { per_second: 10, burst: 20 } }],
    channels: channelList,
  });
}

async function apply(g: TestGavel, text: string, dryRun = false, token?: string) {
  const res = await fetch(`${g.url}/v1/config/apply${dryRun ? "?dry_run=true" : ""}`, {
    method: "POST",
    headers: { "content-type": "application/yaml", authorization: `Bearer ${token ?? g.gavel.adminToken}` },
    body: text,
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function exported(g: TestGavel): Promise<string> {
  const res = await fetch(`${g.url}/v1/config/export`, { headers: { authorization: `Bearer ${g.gavel.adminToken}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/yaml");
  return res.text();
}

/** Every stored document, secrets included, straight from the database. */
async function storedConfig(g: TestGavel) {
  const db = g.gavel.database.db;
  const out: Record<string, unknown[]> = {};
  for (const [name, table] of Object.entries({ campaigns, buyers, suppliers, channels }))
    out[name] = (await db.select({ id: table.id, status: table.status, config: table.config }).from(table).orderBy(table.id)).map((r) => r);
  return out;
}

describe("configuration as code", () => {
  const t = useTestGavel();
  process.env.CFG_TOKEN = "bearer-secret-1";

  it("dry run prints the plan and changes nothing", async () => {
    const before = await storedConfig(t.g);
    const res = await apply(t.g, file(), true);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dry_run: true, applied: false });
    expect(res.body.changes.created).toEqual([
      { kind: "campaigns", id: "cfg-auto" },
      { kind: "buyers", id: "cfg-acme" },
      { kind: "buyers", id: "cfg-other" },
      { kind: "suppliers", id: "cfg-pub" },
      { kind: "channels", id: "cfg-tx" },
      { kind: "channels", id: "cfg-ok" },
    ]);
    expect(await storedConfig(t.g)).toEqual(before);
    expect((await t.g.admin("GET", "/v1/audit?resource=campaigns/cfg-auto")).body.items).toEqual([]);
  });

  it("applies in one go, audited as an apply, and a second apply changes nothing", async () => {
    const first = await apply(t.g, file());
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ dry_run: false, applied: true, suppliers_without_keys: ["cfg-pub"] });
    expect(first.body.changes.created).toHaveLength(6);
    const channel = await t.g.admin("GET", "/v1/channels/cfg-tx");
    expect(channel.body).toMatchObject({ min_bid: 3, auth: { type: "bearer", token: "***" } });
    const audit = (await t.g.admin("GET", "/v1/audit?resource=channels/cfg-tx")).body.items;
    expect(audit).toMatchObject([{ action: "create", via: "apply", actor: "env:ADMIN_TOKEN" }]);
    expect(JSON.stringify(audit)).not.toContain("bearer-secret-1");

    const again = await apply(t.g, file());
    expect(again.body).toMatchObject({ applied: false, changes: { created: [], changed: [], archived: [] } });
    expect((await t.g.admin("GET", "/v1/audit?resource=channels/cfg-tx")).body.items).toHaveLength(1);
  });

  it("shows changes field by field with secrets masked, and archives what the file dropped", async () => {
    process.env.CFG_TOKEN = "bearer-secret-2";
    const next = file({ buyers: [{ id: "cfg-acme", name: "Acme" }], channels: undefined, extraChannelFields: { min_bid: 4.5 } });
    const withoutOk = JSON.stringify({ ...JSON.parse(next), channels: JSON.parse(next).channels.slice(0, 1) });
    const plan = await apply(t.g, withoutOk, true);
    expect(plan.status).toBe(200);
    expect(plan.body.changes).toEqual({
      created: [],
      changed: [
        {
          kind: "channels",
          id: "cfg-tx",
          diff: [
            { path: "min_bid", before: 3, after: 4.5 },
            { path: "auth.token", before: "***", after: "***" },
          ],
        },
      ],
      archived: [
        { kind: "buyers", id: "cfg-other" },
        { kind: "channels", id: "cfg-ok" },
      ],
    });
    expect(JSON.stringify(plan.body)).not.toContain("bearer-secret");
    expect((await t.g.admin("GET", "/v1/channels/cfg-tx")).body.min_bid).toBe(3);

    expect((await apply(t.g, withoutOk)).body.applied).toBe(true);
    expect((await t.g.admin("GET", "/v1/channels/cfg-tx")).body.min_bid).toBe(4.5);
    expect((await t.g.admin("GET", "/v1/channels/cfg-ok")).body.status).toBe("archived");
    expect((await t.g.admin("GET", "/v1/buyers/cfg-other")).body.status).toBe("archived");
    expect((await apply(t.g, withoutOk)).body.applied).toBe(false);

    // "***" in a file keeps the stored secret, as in a PUT.
    const masked = withoutOk.replace("${CFG_TOKEN}", "***");
    expect((await apply(t.g, masked, true)).body.changes.changed).toEqual([]);
  });

  it("rejects a file with errors whole, listing every error with its path, line and column", async () => {
    const before = await storedConfig(t.g);
    const yaml = [
      "version: 1", //                                                1
      "campaigns:", //                                                2
      "  - id: cfg-auto", //                                          3
      "    name: Auto", //                                            4
      "    fields: [{ name: zip, type: zip }]", //                   5
      "  - id: Bad Campaign", //                                      6
      "    name: Bad", //                                             7
      "    fields: []", //                                            8
      "buyers:", //                                                   9
      "  - { id: cfg-acme, name: Acme, colour: red }", //           10
      "suppliers: []", //                                            11
      "channels:", //                                                12
      "  - id: cfg-tx", //                                           13
      "    buyer_id: cfg-acme", //                                   14
      "    campaign_id: cfg-auto", //                                15
      "    type: ping_post", //                                      16
      "    ping: { url: 'ftp://nope' }", //                         17
      "    post: { url: 'http://127.0.0.1:9/post' }", //            18
      "    auth: { type: bearer, token: '${CFG_UNSET_VARIABLE}' }", //19
      "  - id: cfg-tx", //                                           20
      "    buyer_id: cfg-acme", //                                   21
      "    campaign_id: cfg-auto", //                                22
      "    type: direct_post", //                                    23
      "    fixed_price: 2", //                                       24
      "    post: { url: 'http://127.0.0.1:9/post' }", //            25
    ].join("\n");
    const res = await apply(t.g, yaml);
    expect(res.status).toBe(422);
    expect(res.body.type).toBe("urn:gavel:problem:validation");
    const errors = Object.fromEntries(res.body.errors.map((e: any) => [e.path, `${e.line}:${e.col}`]));
    expect(errors).toEqual({
      // Each error points at its key in the file.
      "campaigns[1].id": "6:5",
      "campaigns[1].fields": "8:5",
      "buyers[0].colour": "10:33",
      "channels[0].ping.url": "17:13",
      "channels[0].auth.token": "19:27",
      "channels[1].id": "20:5",
    });
    // What to do about it: set the variable, or keep the stored secret.
    expect(res.body.errors.find((e: any) => e.path === "channels[0].auth.token").message).toBe(
      `environment variable CFG_UNSET_VARIABLE is not set: set it where the file is applied (for POST /v1/config/apply, in the server's environment), or write \${CFG_UNSET_VARIABLE:-***} (or "***") to keep the stored secret`,
    );
    expect(await storedConfig(t.g)).toEqual(before);

    // References are checked within the file once every document is valid.
    const dangling = JSON.parse(file());
    dangling.channels[1].buyer_id = "cfg-ghost";
    dangling.suppliers[0].campaigns = ["cfg-nowhere"];
    const refs = await apply(t.g, JSON.stringify(dangling, null, 2));
    expect(refs.body.errors.map((e: any) => e.path)).toEqual(["channels[1].buyer_id", "suppliers[0].campaigns[0]"]);
    expect(refs.body.errors.every((e: any) => e.line > 0 && e.col > 0)).toBe(true);

    // Broken YAML, a missing section, a secret "***" for a channel that does not exist yet.
    const broken = await apply(t.g, "version: 1\ncampaigns: [\n  - id: x\n");
    expect(broken.status).toBe(422);
    expect(broken.body.errors[0].line).toBeGreaterThan(0);
    const missing = await apply(t.g, "version: 1\ncampaigns: []\nbuyers: []\nsuppliers: []\n");
    expect(missing.body.errors).toMatchObject([{ path: "channels", message: expect.stringContaining("channels: []") }]);
    const newSecret = JSON.parse(file());
    newSecret.channels[0].id = "cfg-new";
    newSecret.channels[0].auth.token = "***";
    const secret = await apply(t.g, JSON.stringify(newSecret, null, 2));
    expect(secret.body.errors).toMatchObject([{ path: "channels[0].auth.token", message: expect.stringContaining("write-only") }]);
    expect(await storedConfig(t.g)).toEqual(before);
  });

  it("lets analysts export but not apply", async () => {
    const analyst = (await t.g.admin("POST", "/v1/tokens", { name: "cfg-reader", role: "analyst" })).body.token;
    expect((await apply(t.g, file(), true, analyst)).status).toBe(403);
    const res = await fetch(`${t.g.url}/v1/config/export`, { headers: { authorization: `Bearer ${analyst}` } });
    expect(res.status).toBe(200);
  });

  describe("export, then apply on an empty database", () => {
    let second: TestGavel | undefined;
    afterAll(async () => {
      await second?.close();
    });

    it("reproduces the configuration exactly, secrets included", async () => {
      // A configuration with every kind of value: secrets in auth and headers, `$` and `${` in
      // plain text, an archived resource, payouts, allow-lists and a direct-post channel.
      await t.g.admin("POST", "/v1/campaigns", {
        id: "rt-life",
        name: "Life ${not a reference} $$ costs $5",
        fields: [...standardFields, { name: "code", type: "string", pattern: "^[A-Z]+$" }],
        auction: { timeout_ms: 1500, floor: 1.25, on_post_timeout: "next" },
        dedup: { fields: ["email"], match: "all", lookback_days: 7 },
        payout: { type: "fixed", amount: 4 },
        // Suppliers that ping first and held leads (README): settings of their own, carried whole.
        inbound: { ping_ttl_seconds: 90, contact_hashes: "required", below_quote: "sell_lower" },
        hold: { max_hours: 10.5 },
      });
      await t.g.admin("POST", "/v1/campaigns", { id: "rt-old", name: "Old", fields: standardFields, status: "paused" });
      await t.g.admin("DELETE", "/v1/campaigns/rt-old");
      await t.g.admin("POST", "/v1/buyers", { id: "rt-buyer", name: "RT", timezone: "America/Chicago" });
      await t.g.admin("POST", "/v1/suppliers", { id: "rt-sup", name: "RT supplier", campaigns: ["rt-life"], payout: { type: "revshare", percent: 55.5 } });
      await t.g.admin(
        "POST",
        "/v1/channels",
        pingPost("rt-ping", buyerUrls, {
          buyer_id: "rt-buyer",
          campaign_id: "rt-life",
          ping: { url: buyerUrls.pingUrl, timeout_ms: 300, headers: { "X-Key": "hdr-$ecret", "X-Plain": "${plain}" } },
          secret_headers: ["X-Key"],
          auth: { type: "basic", username: "u", password: "pa$$word" },
          filters: [{ field: "state", op: "in", value: ["TX", "OK"] }],
          suppliers: ["rt-sup"],
          priority: 2,
          weight: 3,
        }),
      );
      await t.g.admin("POST", "/v1/channels", {
        id: "rt-direct",
        buyer_id: "rt-buyer",
        campaign_id: "rt-life",
        type: "direct_post",
        fixed_price: 6.5,
        post: { url: buyerUrls.postUrl },
        auth: { type: "header", name: "X-Token", value: "direct-secret" },
        status: "paused",
      });

      const text = await exported(t.g);
      for (const secret of ["hdr-$ecret", "pa$$word", "direct-secret", "bearer-secret"]) expect(text).not.toContain(secret);
      const doc = parse(text);
      const rtPing = doc.channels.find((c: any) => c.id === "rt-ping");
      expect(rtPing.auth.password).toBe("${GAVEL_CHANNEL_RT_PING_AUTH_PASSWORD:-***}");
      expect(rtPing.ping.headers["X-Key"]).toBe("${GAVEL_CHANNEL_RT_PING_PING_HEADERS_X_KEY:-***}");
      expect(rtPing.ping.headers["X-Plain"]).toBe("$${plain}");
      expect(doc.campaigns.find((c: any) => c.id === "rt-old").status).toBe("archived");

      // The secrets come from the environment where the file is applied.
      Object.assign(process.env, {
        GAVEL_CHANNEL_RT_PING_AUTH_PASSWORD: "pa$$word",
        GAVEL_CHANNEL_RT_PING_PING_HEADERS_X_KEY: "hdr-$ecret",
        GAVEL_CHANNEL_RT_DIRECT_AUTH_VALUE: "direct-secret",
        GAVEL_CHANNEL_CFG_TX_AUTH_TOKEN: process.env.CFG_TOKEN,
      });
      second = await startTestGavel();
      const applied = await apply(second, text);
      expect(applied.status).toBe(200);
      expect(applied.body.changes.changed).toEqual([]);

      expect(await storedConfig(second)).toEqual(await storedConfig(t.g));
      expect(await exported(second)).toBe(text);
      expect((await apply(second, text)).body.applied).toBe(false);
      // The source database is already what the file says.
      expect((await apply(t.g, text)).body.applied).toBe(false);
    });
  });
});

// The file of an export, applied back over HTTP with nothing set, must change nothing: its secrets
// are `${NAME:-***}` references, and "***" keeps each stored secret. A new Gavel needs the variables,
// and says which.
describe("an export applied back", () => {
  const t = useTestGavel();
  const names = {
    bearer: "GAVEL_CHANNEL_BACK_BEARER_AUTH_TOKEN",
    bearerSigning: "GAVEL_CHANNEL_BACK_BEARER_SIGNING_SECRET",
    basic: "GAVEL_CHANNEL_BACK_BASIC_AUTH_PASSWORD",
    basicSigning: "GAVEL_CHANNEL_BACK_BASIC_SIGNING_SECRET",
    basicPrevious: "GAVEL_CHANNEL_BACK_BASIC_SIGNING_PREVIOUS_SECRET",
    header: "GAVEL_CHANNEL_BACK_BASIC_POST_HEADERS_X_KEY",
    postbacks: "GAVEL_BUYER_BACK_BUYER_POSTBACKS_SECRET",
    postbacksPrevious: "GAVEL_BUYER_BACK_BUYER_POSTBACKS_PREVIOUS_SECRET",
  };
  const values = {
    bearer: "back-bearer-token",
    bearerSigning: "back-signing-secret-0001",
    basic: "back-basic-password",
    basicSigning: "back-signing-secret-0002",
    basicPrevious: "back-signing-secret-0003",
    header: "back-header-value",
    postbacks: "back-postback-secret-0004",
    postbacksPrevious: "back-postback-secret-0005",
  };
  for (const name of Object.values(names)) delete process.env[name];
  let second: TestGavel | undefined;
  afterAll(async () => {
    await second?.close();
  });

  async function configure(g: TestGavel) {
    await g.admin("POST", "/v1/campaigns", { id: "back-auto", name: "Auto", fields: standardFields });
    await g.admin("POST", "/v1/buyers", {
      id: "back-buyer",
      name: "Buyer",
      postbacks: { secret: values.postbacks, previous_secret: values.postbacksPrevious },
    });
    // A buyer without a postback secret: no reference either.
    await g.admin("POST", "/v1/buyers", { id: "back-quiet", name: "Quiet buyer" });
    await g.admin("POST", "/v1/suppliers", { id: "back-pub", name: "Publisher" });
    const channels = [
      pingPost("back-bearer", buyerUrls, {
        auth: { type: "bearer", token: values.bearer },
        signing: { secret: values.bearerSigning },
      }),
      pingPost("back-basic", buyerUrls, {
        auth: { type: "basic", username: "u", password: values.basic },
        post: { url: buyerUrls.postUrl, headers: { "X-Key": values.header, "X-Plain": "plain" } },
        secret_headers: ["X-Key"],
        signing: { secret: values.basicSigning, previous_secret: values.basicPrevious },
      }),
      // No secret at all: no reference either.
      pingPost("back-plain", buyerUrls),
    ];
    for (const channel of channels) {
      const res = await g.admin("POST", "/v1/channels", { buyer_id: "back-buyer", campaign_id: "back-auto", ...channel });
      expect(res.status).toBe(201);
    }
  }

  it("references only the secrets that exist, and applies back as no change with no variable set", async () => {
    await configure(t.g);
    const before = await storedConfig(t.g);
    const text = await exported(t.g);
    for (const secret of Object.values(values)) expect(text).not.toContain(secret);

    // Every reference in the file is one of the eight secrets, written once, with "***" as its default.
    const body = text.replace(/^#.*\n/gm, "");
    const references = [...body.matchAll(/\$\{([A-Z0-9_]+)(:-[^}]*)?\}/g)].map((m) => m[0]);
    expect(references.sort()).toEqual(Object.values(names).map((name) => `\${${name}:-***}`).sort());
    const doc = parse(text);
    const channel = (id: string) => doc.channels.find((c: any) => c.id === id);
    expect(channel("back-bearer").signing).toEqual({ secret: `\${${names.bearerSigning}:-***}` });
    expect(channel("back-plain").signing).toBeUndefined();
    expect(channel("back-plain").auth).toBeUndefined();
    expect(channel("back-basic").post.headers).toEqual({ "X-Key": `\${${names.header}:-***}`, "X-Plain": "plain" });
    const buyer = (id: string) => doc.buyers.find((b: any) => b.id === id);
    expect(buyer("back-buyer").postbacks).toEqual({ secret: `\${${names.postbacks}:-***}`, previous_secret: `\${${names.postbacksPrevious}:-***}` });
    expect(buyer("back-quiet").postbacks).toBeUndefined();

    const dry = await apply(t.g, text, true);
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ applied: false, changes: { created: [], changed: [], archived: [] } });
    const res = await apply(t.g, text);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ applied: false, changes: { created: [], changed: [], archived: [] } });
    expect(await storedConfig(t.g)).toEqual(before);
    expect((await t.g.admin("GET", "/v1/audit?resource=channels/back-bearer")).body.items).toHaveLength(1);
    expect(await exported(t.g)).toBe(text);
  });

  it("on a Gavel without those secrets, names each variable to set; with them set, reproduces them", async () => {
    const text = await exported(t.g);
    second = await startTestGavel();
    const missing = await apply(second, text);
    expect(missing.status).toBe(422);
    const errors = Object.fromEntries(missing.body.errors.map((e: any) => [e.path, e.message]));
    expect(Object.keys(errors).sort()).toEqual(
      [
        "buyers[0].postbacks.previous_secret",
        "buyers[0].postbacks.secret",
        "channels[0].auth.password",
        "channels[0].post.headers.X-Key",
        "channels[0].signing.previous_secret",
        "channels[0].signing.secret",
        "channels[1].auth.token",
        "channels[1].signing.secret",
      ].sort(),
    );
    expect(errors["channels[1].auth.token"]).toBe(
      `environment variable ${names.bearer} is not set, and there is no stored secret for "***" to keep: set ${names.bearer} where the file is applied (for POST /v1/config/apply, in the server's environment)`,
    );
    expect(missing.body.errors.every((e: any) => e.line > 0 && e.col > 0)).toBe(true);
    expect((await second.admin("GET", "/v1/channels")).body.items).toEqual([]);

    for (const [key, name] of Object.entries(names)) process.env[name] = values[key as keyof typeof values];
    try {
      const applied = await apply(second, text);
      expect(applied.status).toBe(200);
      expect(applied.body.changes.created).toHaveLength(7);
      expect(await storedConfig(second)).toEqual(await storedConfig(t.g));
      // A variable that is set replaces the stored secret (shown masked in the plan).
      process.env[names.bearer] = "another-bearer-token";
      const plan = await apply(t.g, text, true);
      expect(plan.body.changes.changed).toEqual([
        { kind: "channels", id: "back-bearer", diff: [{ path: "auth.token", before: "***", after: "***" }] },
      ]);
    } finally {
      for (const name of Object.values(names)) delete process.env[name];
    }
  });

  it("says so when the file starts with npm's banner", async () => {
    const text = `\n> gavel@0.1.0 gavel\n> tsx src/cli.ts export\n\n${await exported(t.g)}`;
    const res = await apply(t.g, text);
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([
      {
        path: "$",
        line: 2,
        col: 1,
        message: expect.stringContaining("starts with npm's banner ('> gavel@0.1.0 gavel'): it was written by `npm run gavel -- export > FILE`"),
      },
    ]);
    expect(res.body.errors[0].message).toContain("npx gavel export > FILE");
  });

  it("reads a malformed secret_headers beside a \"***\" as a field error, not a failure", async () => {
    const doc = parse(await exported(t.g));
    const channel = doc.channels.find((c: any) => c.id === "back-basic");
    channel.secret_headers = "X-Key";
    channel.post.headers = "***";
    const res = await apply(t.g, JSON.stringify(doc));
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: any) => e.path).sort()).toEqual(["channels[0].post.headers", "channels[0].secret_headers"]);
  });
});
