// Sales confirmed by postback (README "Sales confirmed by postback", issue #18 item 6): a buyer
// whose post answer only says "received" confirms the sale later by its postback. The lead is
// pending meanwhile (its supplier's answer, its trace, the caps and the reports say so), sold by
// the postback, or unsold when none comes within confirm_within_hours; a postback racing the
// expiry makes one outcome. A real Gavel, loopback buyers, a clock that moves only when told.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { signature } from "../src/channels/signing";
import { expirePendingLeads } from "../src/reconciliation/confirm";
import { timeRange } from "../src/http/body";
import { dimensionReport } from "../src/reports/query";
import { reportRange } from "../src/reports/range";
import { ADMIN, answerBody, consumer, pingPost, testClock, useTestGavel, type TestGavel } from "./helpers/gavel";
import { jsonObjects, section } from "./helpers/readme";
import { repoRoot, runShell, terminalEnv } from "./helpers/shell";

const clock = testClock("2027-05-03T10:00:00Z");
const SECRET = "pd-acme-postback-secret-01";
const HOUR = 3_600_000;

describe("sales confirmed by the buyer's postback", () => {
  const t = useTestGavel({}, { clock });
  let g: TestGavel;
  let key: string;
  let acmeUrls: { pingUrl: string; postUrl: string };
  const posted: unknown[] = [];

  async function postback(payload: unknown) {
    const body = JSON.stringify(payload);
    const ts = Math.floor(clock.now() / 1000);
    const res = await fetch(`${g.url}/v1/postbacks/pd-acme`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gavel-timestamp": String(ts), "x-gavel-signature": `sha256=${signature(SECRET, ts, body)}` },
      body,
    });
    return { status: res.status, body: await answerBody(res), retryAfter: res.headers.get("retry-after") };
  }
  /** What acme does with a post before it answers it "received" (a test sets it, and clears it). */
  let beforeAnswer: ((post: any) => Promise<void>) | null = null;
  const trace = async (id: string) => (await g.admin("GET", `/v1/leads/${id}`)).body;
  const used = async (path: string) => (await g.admin("GET", path)).body.caps[0].used;
  /** The channel's day cap usage of the day the lead arrived in (the API shows the current day's). */
  const dayUsage = async (id: string) => {
    const [row] = await g.gavel.database.rows<{ leads: number; spend_cents: number }>(
      sql`select u.leads, u.spend_cents from cap_usage u join leads l on l.id = ${id}
          where u.scope = 'channel' and u.owner_id = 'pd-acme-ch' and u.period = 'day'
            and u.period_start = date_trunc('day', l.received_at, 'UTC')`,
    );
    return { leads: Number(row?.leads ?? 0), spend: Number(row?.spend_cents ?? 0) / 100 };
  };
  const lead = async () => {
    const res = await g.lead(key, { campaign: "pd-auto", data: consumer() });
    expect(res.status).toBe(200);
    return res.body;
  };
  const campaignRow = async () => {
    const range = reportRange(timeRange({ from: "2027-05-01", to: "2027-06-01" }), Date.parse("2027-06-01T00:00:00Z"));
    return (await dimensionReport(g.gavel.database, "campaigns", range, {}, false)).rows.find((r: any) => r.key.campaign === "pd-auto");
  };
  const events = async (id: string) =>
    (await g.gavel.database.rows<{ event: string }>(sql`select event from deliveries where lead_id = ${id} order by event`)).map((d) => d.event);

  beforeAll(async () => {
    g = t.g;
    // The buyer bids 12 and answers every post "received": it confirms the sale by postback.
    const acme = await t.buyer({
      ping: () => ({ json: { bid: 12 } }),
      post: (req) => {
        posted.push(req.body);
        if (beforeAnswer) return { held: beforeAnswer(req.body).then(() => ({ json: { status: "received" } })) };
        return { json: { status: "received" } };
      },
    });
    acmeUrls = { pingUrl: acme.pingUrl, postUrl: acme.postUrl };
    const res = await g.admin("POST", "/v1/buyers", {
      id: "pd-acme",
      name: "pd-acme",
      postbacks: { secret: SECRET },
      caps: [{ period: "day", leads: 100, spend: 5000 }],
      dedup: { fields: ["email"], lookback_days: 30 },
      notify: { url: "http://127.0.0.1:9/crm" },
    });
    expect(res.status).toBe(201);
    key = await g.setup({
      campaign: { id: "pd-auto", auction: { timeout_ms: 20_000 }, payout: { type: "revshare", percent: 50 } },
      supplier: { postback_url: "http://127.0.0.1:9/postbacks" },
      channels: [
        pingPost("pd-acme-ch", acme, {
          buyer_id: "pd-acme",
          post: { url: acme.postUrl, confirmed_by: "postback", confirm_within_hours: 24 },
          response: { post: { accepted: { path: "$.status", equals: "received" } } },
          caps: [{ period: "day", leads: 100, spend: 5000 }],
        }),
      ],
    });
  }, 60_000);

  it("refuses the setting where it cannot hold, field by field", async () => {
    const channel = (extra: Record<string, unknown>) =>
      g.admin("POST", "/v1/channels", { ...pingPost("pd-bad", { pingUrl: "http://127.0.0.1:9/p", postUrl: "http://127.0.0.1:9/q" }), buyer_id: "pd-acme", campaign_id: "pd-auto", ...extra });
    const onPing = await channel({ ping: { url: "http://127.0.0.1:9/p", confirmed_by: "postback" } });
    expect(onPing.status).toBe(422);
    expect(onPing.body.errors).toContainEqual(expect.objectContaining({ path: "ping.confirmed_by" }));
    const alone = await channel({ post: { url: "http://127.0.0.1:9/q", confirm_within_hours: 5 } });
    expect(alone.status).toBe(422);
    expect(alone.body.errors).toContainEqual(expect.objectContaining({ path: "post.confirm_within_hours" }));
    const shared = await channel({ buys: ["shared"], post: { url: "http://127.0.0.1:9/q", confirmed_by: "postback" } });
    expect(shared.status).toBe(422);
    expect(shared.body.errors).toContainEqual(expect.objectContaining({ path: "post.confirmed_by" }));
  });

  it("shows in the test console that an accepted post awaits the buyer's postback", async () => {
    const res = await g.admin("POST", "/v1/channels/pd-acme-ch/test", { data: consumer(), post: true });
    expect(res.status).toBe(200);
    expect(res.body.post.result).toMatchObject({ outcome: "accepted", price: 12, awaiting_confirmation: true });
  });

  it("takes README's Example 9 as written: the channel saves, and its accepted test post awaits the postback", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const start = readme.indexOf("### Example 9: a sale the buyer confirms later");
    expect(start).toBeGreaterThan(0);
    const example = jsonObjects(readme.slice(start, readme.indexOf("\n### ", start + 1))).find((o) => o.post);
    const res = await g.admin("POST", "/v1/channels", {
      ...pingPost("pd-example-9", acmeUrls),
      buyer_id: "pd-acme",
      campaign_id: "pd-auto",
      ...example,
      post: { ...example.post, url: acmeUrls.postUrl },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.post).toMatchObject({ confirmed_by: "postback", confirm_within_hours: 48 });
    const test = await g.admin("POST", "/v1/channels/pd-example-9/test", { data: consumer(), post: true });
    expect(test.body.post.result).toMatchObject({ outcome: "accepted", awaiting_confirmation: true });
    expect((await g.admin("DELETE", "/v1/channels/pd-example-9")).status).toBeLessThan(300);
  });

  it("exports the setting and applies it back as no change", async () => {
    const text = await g.exportConfig();
    expect(text).toContain("confirmed_by: postback");
    expect(text).toContain("confirm_within_hours: 24");
    const plan = await g.planConfig(text);
    const body = plan.body;
    expect(plan.status, JSON.stringify(body)).toBe(200);
    expect(JSON.stringify(body.changes.changed)).not.toContain("pd-acme-ch");
    expect((await g.admin("GET", "/v1/channels/pd-acme-ch")).body.post).toMatchObject({ confirmed_by: "postback", confirm_within_hours: 24 });
  });

  it("leaves an accepted lead pending until the buyer's postback sells it, once", async () => {
    const answer = await lead();
    // The payout its confirmation brings (half of 12), and no sale yet.
    expect(answer).toMatchObject({ status: "pending", price: 6, sold_to: 0 });
    const id = answer.lead_id;
    const pending = await trace(id);
    expect(pending).toMatchObject({ status: "pending", reason: "awaiting_confirmation", sold_channel: "pd-acme-ch", sold_buyer: "pd-acme" });
    expect(pending.detail).toBe(`pd-acme-ch until ${new Date(clock.now() + 24 * HOUR).toISOString()}`);
    // The supplier's own key reads it pending too.
    const own = await fetch(`${g.url}/v1/leads/${id}`, { headers: { authorization: `Bearer ${key}` } });
    expect((await answerBody(own)).status).toBe("pending");
    // The caps keep the reservation; the reports count it pending, not sold; nobody is told yet.
    expect(await used("/v1/channels/pd-acme-ch")).toEqual({ leads: 1, spend: 12 });
    expect(await campaignRow()).toMatchObject({ auctioned: 1, sold: 0, pending: 1, revenue: 0 });
    expect(await events(id)).toEqual([]);
    // No sale yet: nothing to return.
    const early = await postback({ event_id: "pd-ev-0", lead_id: id, event: "return_requested", reason: "bad_phone" });
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain("pending");

    clock.advance(2 * HOUR);
    const confirmed = await postback({ event_id: "pd-ev-1", lead_id: id, event: "contacted" });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.settled).toEqual({ status: "sold", channel_id: "pd-acme-ch", price: 12 });
    const sold = await trace(id);
    expect(sold).toMatchObject({ status: "sold", reason: null, price: 6, revenue: 12, sold_to: 1, sold_channel: "pd-acme-ch" });
    expect(sold.history.map((h: any) => [h.status, h.reason])).toEqual(
      expect.arrayContaining([
        ["pending", "awaiting_confirmation"],
        ["sold", "confirmed"],
        ["sold", "contacted"],
      ]),
    );
    expect(await used("/v1/channels/pd-acme-ch")).toEqual({ leads: 1, spend: 12 });
    expect(await campaignRow()).toMatchObject({ auctioned: 1, sold: 1, pending: 0, revenue: 12, payout: 6 });
    expect(await events(id)).toEqual(["lead.delivered", "lead.sold"]);
    // A second confirmation changes nothing: the lead is sold once.
    const again = await postback({ event_id: "pd-ev-2", lead_id: id, event: "converted", value: 100 });
    expect(again.status).toBe(200);
    expect(again.body.settled).toBeUndefined();
    expect((await trace(id)).history.filter((h: any) => h.reason === "confirmed")).toHaveLength(1);
  });

  it("makes a lead whose postback never came unsold, giving back its caps and dedup claim", async () => {
    const data = consumer();
    const answer = (await g.lead(key, { campaign: "pd-auto", data })).body;
    expect(answer.status).toBe("pending");
    const reserved = await dayUsage(answer.lead_id);
    // Not due a minute early.
    clock.advance(24 * HOUR - 60_000);
    await g.gavel.expirePending();
    expect((await trace(answer.lead_id)).status).toBe("pending");
    clock.advance(60_000);
    await g.gavel.expirePending();
    const row = await trace(answer.lead_id);
    expect(row).toMatchObject({ status: "unsold", reason: "not_confirmed", price: 0, revenue: 0, sold_to: 0, sold_channel: null });
    expect(row.attempts.filter((a: any) => a.kind === "post")).toMatchObject([{ channel_id: "pd-acme-ch", outcome: "rejected", price: 12 }]);
    expect(await dayUsage(answer.lead_id)).toEqual({ leads: reserved.leads - 1, spend: reserved.spend - 12 });
    expect(await events(answer.lead_id)).toEqual(["lead.unsold"]);
    // Too late: the buyer's postback finds no lead it bought.
    expect((await postback({ event_id: "pd-ev-late", lead_id: answer.lead_id, event: "contacted" })).status).toBe(404);
    // The buyer's dedup claim was given back: the same consumer is offered to it again.
    clock.advance(HOUR);
    const again = (await g.lead(key, { campaign: "pd-auto", data: { ...data } })).body;
    expect(again.status).toBe("pending");
  });

  it("never sells by a postback after the wait ended: the postback and the sweep agree, racing or not", async () => {
    // The leads of earlier tests that still wait are settled first: each round's lead waits alone.
    clock.advance(25 * HOUR);
    await g.gavel.expirePending();
    // Due to the millisecond: the postback is refused, and the lead waits for the sweep to end it.
    const late = await lead();
    clock.advance(24 * HOUR);
    const refused = await postback({ event_id: "pd-late-1", lead_id: late.lead_id, event: "contacted" });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain("not_confirmed");
    expect(await trace(late.lead_id)).toMatchObject({ status: "pending" });
    await g.gavel.expirePending();
    expect(await trace(late.lead_id)).toMatchObject({ status: "unsold", reason: "not_confirmed" });
    expect((await postback({ event_id: "pd-late-1", lead_id: late.lead_id, event: "contacted" })).status).toBe(404);
    for (let round = 0; round < 6; round++) {
      const answer = await lead();
      expect(answer.status).toBe("pending");
      const reserved = await dayUsage(answer.lead_id);
      clock.advance(25 * HOUR);
      const [pb] = await Promise.all([postback({ event_id: `pd-race-${round}`, lead_id: answer.lead_id, event: "converted" }), g.gavel.expirePending()]);
      const row = await trace(answer.lead_id);
      const settled = row.history.filter((h: any) => h.reason === "confirmed" || h.reason === "not_confirmed");
      expect(settled).toHaveLength(1);
      expect(row.status).toBe("unsold");
      // Before the sweep settled it, the postback was refused as late; after, the lead is no sale of acme's.
      expect([409, 404]).toContain(pb.status);
      expect(settled[0].reason).toBe("not_confirmed");
      expect(await events(answer.lead_id)).toEqual(["lead.unsold"]);
      expect(await dayUsage(answer.lead_id)).toEqual({ leads: reserved.leads - 1, spend: reserved.spend - 12 });
    }
  });

  it("asks a postback sent from inside the post handler to come again, and the sale is confirmed by it", async () => {
    const inFlight: { status: number; retryAfter: string | null; detail: string }[] = [];
    beforeAnswer = async (post) => {
      const pb = await postback({ event_id: "pd-inflight-1", lead_id: post.lead_id, event: "contacted" });
      inFlight.push({ status: pb.status, retryAfter: pb.retryAfter, detail: pb.body.detail });
    };
    let answer: any;
    try {
      answer = await lead();
    } finally {
      beforeAnswer = null;
    }
    expect(inFlight).toEqual([{ status: 409, retryAfter: "2", detail: expect.stringContaining("still being auctioned") }]);
    expect(answer.status).toBe("pending");
    // Nothing was recorded of the refused one: the same event, sent again, confirms the sale.
    const again = await postback({ event_id: "pd-inflight-1", lead_id: answer.lead_id, event: "contacted" });
    expect(again.status).toBe(200);
    expect(again.body.settled).toEqual({ status: "sold", channel_id: "pd-acme-ch", price: 12 });
    expect(await trace(answer.lead_id)).toMatchObject({ status: "sold", sold_channel: "pd-acme-ch" });
  });

  it("sweeps past a pending lead it cannot settle: the leads after it are settled, page after page", async () => {
    // Two leads of one clock millisecond: the sweep's order (by id) says which one it meets first.
    const [broken, good] = [await lead(), await lead()].sort((a, b) => (a.lead_id < b.lead_id ? -1 : 1));
    expect([broken.status, good.status]).toEqual(["pending", "pending"]);
    // The first one's sale cannot be read (its channel is gone from the row): its settling throws.
    await g.gavel.database.rows(sql`update leads set sold_channel_id = null where id = ${broken.lead_id}`);
    clock.advance(25 * HOUR);
    try {
      // One lead a page: the broken lead fills the first, and the next page is read all the same.
      expect(await expirePendingLeads({ database: g.gavel.database, clock }, 1)).toBe(1);
      expect(await trace(good.lead_id)).toMatchObject({ status: "unsold", reason: "not_confirmed" });
      expect(await trace(broken.lead_id)).toMatchObject({ status: "pending" });
    } finally {
      // Mended, the next sweep settles it.
      await g.gavel.database.rows(sql`update leads set sold_channel_id = 'pd-acme-ch' where id = ${broken.lead_id}`);
    }
    expect(await expirePendingLeads({ database: g.gavel.database, clock }, 1)).toBe(1);
    expect(await trace(broken.lead_id)).toMatchObject({ status: "unsold", reason: "not_confirmed" });
  });

  it("lets an operator resolve a pending lead", async () => {
    const answer = await lead();
    const wrong = await g.admin("POST", `/v1/leads/${answer.lead_id}/resolve`, { outcome: "sold", channel_id: "pd-acme-ch", price: 11 });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors).toMatchObject([{ path: "price" }]);
    const res = await g.admin("POST", `/v1/leads/${answer.lead_id}/resolve`, { outcome: "unsold", note: "buyer said no" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "unsold", price: 0, revenue: 0, resolved_by: "env:ADMIN_TOKEN" });
    expect(await trace(answer.lead_id)).toMatchObject({ status: "unsold", reason: "not_confirmed" });
    expect((await g.admin("POST", `/v1/leads/${answer.lead_id}/resolve`, { outcome: "unsold" })).status).toBe(409);
  });

  it("runs the README's recipe: sets the channel, lists the pending lead and settles it unsold", async () => {
    const waiting = await lead();
    expect(waiting.status).toBe("pending");
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const recipe = section(readme, "After the sale").match(/### Sales confirmed by postback[\s\S]*?^```bash\n([\s\S]*?)^```$/m)![1];
    // The walkthrough's names are this file's: its acme channel, and its admin token.
    const script = [
      `auth=(-H "Authorization: Bearer ${ADMIN}" -H "Content-Type: application/json")`,
      `json() { node -pe "JSON.parse(fs.readFileSync(0, 'utf8'))$1"; }`,
      recipe.replaceAll("acme-auto-tx", "pd-acme-ch"),
    ].join("\n");
    const run = await runShell(`set -euo pipefail\n${script}`, terminalEnv([], { GAVEL: g.url }), 60_000);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const [listing, settled] = jsonObjects(run.stdout);
    expect(listing.items).toMatchObject([{ id: waiting.lead_id, status: "pending", reason: "awaiting_confirmation" }]);
    expect(settled).toMatchObject({ lead_id: waiting.lead_id, status: "unsold", price: 0, revenue: 0, sold_channel: null, resolved_by: "env:ADMIN_TOKEN" });
    expect((await g.admin("GET", "/v1/channels/pd-acme-ch")).body.post).toMatchObject({ confirmed_by: "postback", confirm_within_hours: 48 });
    expect(await trace(waiting.lead_id)).toMatchObject({ status: "unsold", reason: "not_confirmed" });
  }, 90_000);
});
