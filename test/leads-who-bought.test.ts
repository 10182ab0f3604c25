// Who bought a lead and where it came from, through HTTP as an analyst sees it: a submission's
// `source` and `sub_id` are stored on every lead (rejected and duplicate ones too) and never sent to
// buyers; a sold lead names its channel and buyer (`sold_channel`, `sold_buyer`) in the trace and the
// list, and every attempt of the trace its channel's buyer (`buyer_id`); the list filters by
// them, by reason, and by dates (bare dates are midnight in `tz`, the range half-open).
import { beforeAll, describe, expect, it } from "vitest";
import type { TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, testClock, useTestGavel } from "./helpers/gavel";

const clock = testClock("2026-11-28T03:00:00Z");
const TIMEOUT_MS = 2000;

describe("who bought, lead sources and lead list filters", () => {
  const t = useTestGavel({}, { clock });
  let texas: TestBuyer;
  let anywhere: TestBuyer;
  let key: string;
  let analyst: string;
  /** The leads this file sends, by name, with when each was received. */
  const sent: Record<string, { id: string; at: string }> = {};

  const list = async (query: string, token = analyst) => {
    const res = await t.g.admin("GET", `/v1/leads?campaign=wb&limit=500${query}`, undefined, token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.items as any[];
  };
  const ids = (items: any[]) => new Set(items.map((l) => l.id));
  const named = (...names: string[]) => new Set(names.map((n) => sent[n].id));

  /** Sends a lead as received at `at` (the test clock), and remembers it under `name`. */
  async function send(name: string, at: string, body: Record<string, unknown>) {
    clock.set(at);
    const res = await t.g.lead(key, { campaign: "wb", ...body });
    const id = res.body.lead_id as string;
    expect(id, JSON.stringify(res.body)).toEqual(expect.any(String));
    sent[name] = { id, at };
    return res;
  }

  beforeAll(async () => {
    // Texas leads go to the high bidder; the rest to a channel that bids on any lead but New York's.
    texas = await t.buyer({ ping: () => ({ json: { bid: 12 } }) });
    anywhere = await t.buyer({ ping: (r) => (r.body.data.state === "NY" ? { json: { bid: 0 } } : { json: { bid: 5 } }) });
    key = await t.g.setup({
      campaign: { id: "wb", dedup: { fields: ["email"] }, auction: { timeout_ms: TIMEOUT_MS } },
      supplier: { id: "wb-sup" },
      channels: [
        pingPost("wb-texas", texas, { buyer_id: "wb-acme", filters: [{ field: "state", op: "eq", value: "TX" }] }),
        pingPost("wb-anywhere", anywhere, { buyer_id: "wb-zen" }),
      ],
    });
    const token = await t.g.admin("POST", "/v1/tokens", { name: "wb-analyst", role: "analyst" });
    analyst = token.body.token;

    const person = consumer({ state: "TX" });
    // UTC 28 Nov, 03:00: still 27 Nov in New York.
    expect((await send("texan", "2026-11-28T03:00:00Z", { data: person, source: "google-ads", sub_id: "kw-123" })).body.status).toBe("sold");
    expect((await send("again", "2026-11-28T03:00:01Z", { data: person, source: "google-ads", sub_id: "kw-999" })).body.status).toBe("duplicate");
    expect((await send("ohioan", "2026-11-28T05:30:00Z", { data: consumer({ state: "OH" }), source: "facebook" })).body.status).toBe("sold");
    expect((await send("new-yorker", "2026-11-28T06:00:00Z", { data: consumer({ state: "NY" }), source: "google-ads", sub_id: "kw-123" })).body.status).toBe(
      "unsold",
    );
    expect((await send("invalid", "2026-11-28T07:00:00Z", { data: { zip: "x" }, source: "email-list", sub_id: "jan" })).status).toBe(422);
    // UTC 29 Nov, 04:59: still 28 Nov in New York.
    expect((await send("late", "2026-11-29T04:59:00Z", { data: consumer({ state: "TX" }) })).body.status).toBe("sold");
  });

  it("stores source and sub_id on every lead, rejected and duplicate ones too, and shows them to analysts", async () => {
    const items = new Map((await list("")).map((l) => [l.id, l]));
    const origin = (name: string) => {
      const lead = items.get(sent[name].id);
      return { source: lead.source, sub_id: lead.sub_id };
    };
    expect(origin("texan")).toEqual({ source: "google-ads", sub_id: "kw-123" });
    expect(origin("again")).toEqual({ source: "google-ads", sub_id: "kw-999" });
    expect(origin("ohioan")).toEqual({ source: "facebook", sub_id: null });
    expect(origin("invalid")).toEqual({ source: "email-list", sub_id: "jan" });
    expect(origin("late")).toEqual({ source: null, sub_id: null });

    const trace = await t.g.admin("GET", `/v1/leads/${sent.texan.id}`, undefined, analyst);
    expect(trace.body).toMatchObject({ source: "google-ads", sub_id: "kw-123" });
    // Analysts see tracking strings as they are, while the consumer's pii stays masked.
    expect(trace.body.data.email).toBe("***");
  });

  it("never sends source or sub_id to a buyer", async () => {
    const requests = [...texas.pings, ...texas.posts, ...anywhere.pings, ...anywhere.posts];
    expect(requests.length).toBeGreaterThanOrEqual(6);
    for (const r of requests) {
      for (const secret of ["google-ads", "kw-123", "facebook"]) expect(r.raw).not.toContain(secret);
      expect(Object.values(r.headers).join(" ")).not.toContain("google-ads");
    }
  });

  it("names who bought a sold lead in its trace and in the list, and no one for the others", async () => {
    const trace = await t.g.admin("GET", `/v1/leads/${sent.texan.id}`, undefined, analyst);
    expect(trace.body).toMatchObject({ status: "sold", sold_to: 1, sold_channel: "wb-texas", sold_buyer: "wb-acme" });
    expect(trace.body).not.toHaveProperty("buyer_id");
    // Each attempt names its channel's buyer: the Texan was pinged by both, and posted to the winner.
    const attempts = trace.body.attempts.map((a: any) => [a.kind, a.channel_id, a.buyer_id]);
    expect(attempts).toEqual(
      expect.arrayContaining([
        ["ping", "wb-texas", "wb-acme"],
        ["ping", "wb-anywhere", "wb-zen"],
        ["post", "wb-texas", "wb-acme"],
      ]),
    );
    expect(attempts).toHaveLength(3);
    // The waterfall is drawn against the lead's deadline.
    expect(Date.parse(trace.body.deadline_at) - Date.parse(trace.body.received_at)).toBe(TIMEOUT_MS);

    const items = new Map((await list("")).map((l) => [l.id, l]));
    expect(items.get(sent.ohioan.id)).toMatchObject({ sold_to: 1, sold_channel: "wb-anywhere", sold_buyer: "wb-zen" });
    for (const name of ["again", "new-yorker", "invalid"]) expect(items.get(sent[name].id)).toMatchObject({ sold_to: 0, sold_channel: null, sold_buyer: null });

    const unsold = await t.g.admin("GET", `/v1/leads/${sent["new-yorker"].id}`, undefined, analyst);
    expect(unsold.body).toMatchObject({ status: "unsold", sold_channel: null, sold_buyer: null });
    expect(unsold.body.attempts.map((a: any) => a.buyer_id)).toEqual(["wb-zen"]);
    expect(unsold.body.deadline_at).toEqual(expect.any(String));
    // A lead refused before any auction has no deadline.
    expect((await t.g.admin("GET", `/v1/leads/${sent.invalid.id}`, undefined, analyst)).body.deadline_at).toBeNull();
  });

  it("filters the list by the buyer and the channel a lead was sold to", async () => {
    expect(ids(await list("&buyer=wb-acme"))).toEqual(named("texan", "late"));
    expect(ids(await list("&buyer=wb-zen"))).toEqual(named("ohioan"));
    expect(ids(await list("&channel=wb-texas"))).toEqual(named("texan", "late"));
    expect(ids(await list("&channel=wb-anywhere"))).toEqual(named("ohioan"));
    expect(ids(await list("&channel=wb-texas&buyer=wb-zen"))).toEqual(new Set());
    expect(await list("&buyer=nobody")).toEqual([]);
  });

  it("filters the list by source and sub_id", async () => {
    expect(ids(await list("&source=google-ads"))).toEqual(named("texan", "again", "new-yorker"));
    expect(ids(await list("&source=google-ads&sub_id=kw-123"))).toEqual(named("texan", "new-yorker"));
    expect(ids(await list("&sub_id=jan"))).toEqual(named("invalid"));
    expect(ids(await list(`&source=${encodeURIComponent("email-list")}&status=rejected`))).toEqual(named("invalid"));
  });

  it("filters the list by the lead's own reason code, whatever its detail, and refuses a code leads do not have", async () => {
    expect(ids(await list("&reason=no_bids"))).toEqual(named("new-yorker"));
    expect(ids(await list("&reason=dedup"))).toEqual(named("again"));
    // An invalid lead's reason has the fields as its detail.
    expect((await t.g.admin("GET", `/v1/leads/${sent.invalid.id}`, undefined, analyst)).body).toMatchObject({ reason: "invalid", detail: expect.stringContaining("zip") });
    expect(ids(await list("&reason=invalid"))).toEqual(named("invalid"));
    // no_bid is a ping's reason, never a lead's.
    const unknown = await t.g.admin("GET", "/v1/leads?reason=no_bid", undefined, analyst);
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([{ path: "reason", message: expect.stringContaining('"no_bids"') }]);
  });

  it("takes dates and times in from and to, read in tz unless they have an offset, the range half-open", async () => {
    // The UTC day of 28 Nov, then New York's.
    expect(ids(await list("&from=2026-11-28&to=2026-11-29"))).toEqual(named("texan", "again", "ohioan", "new-yorker", "invalid"));
    expect(ids(await list("&from=2026-11-28&to=2026-11-29&tz=UTC"))).toEqual(named("texan", "again", "ohioan", "new-yorker", "invalid"));
    expect(ids(await list("&from=2026-11-28&to=2026-11-29&tz=America/New_York"))).toEqual(named("ohioan", "new-yorker", "invalid", "late"));
    expect(ids(await list("&to=2026-11-28&tz=America/New_York"))).toEqual(named("texan", "again"));
    // A time with its offset is the same instant whatever tz says; `from` is in the range, `to` is not.
    const at = encodeURIComponent(sent.ohioan.at);
    expect(ids(await list(`&from=${at}&to=${encodeURIComponent(sent["new-yorker"].at)}&tz=Asia/Tokyo`))).toEqual(named("ohioan"));
    expect(ids(await list(`&from=${encodeURIComponent("2026-11-27T22:00:00-05:00")}&to=${at}`))).toEqual(named("texan", "again"));
    // A date and time without an offset is wall-clock time in tz, as in the reports.
    expect(ids(await list("&from=2026-11-28T00:30:00&to=2026-11-28T01:00:01&tz=America/New_York"))).toEqual(named("ohioan", "new-yorker"));
    expect(ids(await list("&from=2026-11-28T03:00:00&to=2026-11-28T03:00:01"))).toEqual(named("texan"));

    // The audit log takes them too.
    clock.set("2026-11-28T12:00:00Z");
    const audit = await t.g.admin("GET", "/v1/audit?from=2000-01-01&to=2100-01-01&tz=Europe/Paris");
    expect(audit.status).toBe(200);
    expect(audit.body.items.length).toBeGreaterThan(0);
    expect((await t.g.admin("GET", "/v1/audit?from=2100-01-01")).body.items).toEqual([]);
  });

  it("answers a bad filter with 422 naming the parameter", async () => {
    const bad: [string, string][] = [
      ["buyer=Not%20A%20Slug", "buyer"],
      ["buyer=", "buyer"],
      ["channel=", "channel"],
      ["source=", "source"],
      [`source=${"x".repeat(101)}`, "source"],
      ["source=%20padded", "source"],
      ["sub_id=a%0Ab", "sub_id"],
      ["reason=", "reason"],
      ["tz=Mars/Olympus", "tz"],
      ["tz=", "tz"],
      ["from=yesterday", "from"],
      ["from=2026-02-30", "from"],
      ["to=2026-11-28T25:00:00", "to"],
      ["to=2026-11-28%2010:00:00Z", "to"],
      ["to=0000-01-01", "to"],
    ];
    for (const [query, path] of bad) {
      const res = await t.g.admin("GET", `/v1/leads?${query}`, undefined, analyst);
      expect(res.status, query).toBe(422);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(new Set(res.body.errors.map((e: { path: string }) => e.path)), query).toEqual(new Set([path]));
    }
    const zone = await t.g.admin("GET", "/v1/leads?tz=Mars/Olympus", undefined, analyst);
    expect(zone.body.errors[0].message).toMatch(/IANA time zone/);
    const date = await t.g.admin("GET", "/v1/leads?from=yesterday", undefined, analyst);
    expect(date.body.errors[0].message).toMatch(/ISO 8601 date/);
    expect((await t.g.admin("GET", "/v1/audit?tz=Mars/Olympus")).status).toBe(422);
  });

  it("refuses a submission whose source or sub_id is not a short printable string, recording nothing", async () => {
    const before = (await list("")).length;
    const cases: [Record<string, unknown>, string][] = [
      [{ source: "" }, "source"],
      [{ source: "x".repeat(101) }, "source"],
      [{ source: 42 }, "source"],
      [{ sub_id: "tab\there" }, "sub_id"],
      [{ sub_id: " lead-space" }, "sub_id"],
    ];
    for (const [extra, path] of cases) {
      const res = await t.g.lead(key, { campaign: "wb", data: consumer(), ...extra });
      expect(res.status, JSON.stringify(extra)).toBe(422);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
      expect(res.body.lead_id).toBeUndefined();
    }
    // 100 characters, any script, spaces inside: fine.
    const long = "é".repeat(50) + "publisher 7 ".repeat(4) + "x".repeat(2);
    expect(long.length).toBe(100);
    const ok = await t.g.lead(key, { campaign: "wb", data: consumer({ state: "TX" }), source: long, sub_id: "a b" });
    expect(ok.status).toBe(200);
    expect(ids(await list(`&source=${encodeURIComponent(long)}&sub_id=a%20b`))).toEqual(new Set([ok.body.lead_id]));
    expect((await list("")).length).toBe(before + 1);
  });
});
