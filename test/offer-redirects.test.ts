// User choice's redirect URLs (POST /v1/offers): a channel's `offer.redirect_url`, templated as a
// post URL is, answered in each of its offers, written from the ping's fields, its contact hashes
// and the buyer's answer to its ping; checked when the channel is saved; kept by config as code.
// Real app, loopback buyers, both databases.
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { consumer, pingPost, standardFields, useTestGavel } from "./helpers/gavel";
import type { TestBuyer } from "./helpers/buyers";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const PUBLIC = ["zip", "state", "age", "coverage"];
const publicOf = (lead: Record<string, unknown>) => Object.fromEntries(PUBLIC.map((k) => [k, lead[k]]));
const fields = standardFields.map((f) => (f.name === "email" ? { ...f, ping_hash: true } : f));
const REDIRECT = "https://acme.example/quote/{{ping_ref}}?zip={{data.zip}}&lead={{lead_id}}&price={{price}}&sale={{sale}}&e={{data.email | sha256}}";

describe("redirect URLs in user-choice offers", () => {
  const t = useTestGavel();
  let acme: TestBuyer;
  let budget: TestBuyer;
  let key: string;

  beforeAll(async () => {
    acme = await t.buyer({ ping: () => ({ json: { bid: 12, ping_ref: "Q 7/1" } }) });
    budget = await t.buyer({ ping: () => ({ json: { bid: 8 } }) });
    key = await t.g.setup({
      campaign: { id: "offer-redirect", fields, payout: { type: "revshare", percent: 50 }, inbound: { contact_hashes: "optional" } },
      channels: [
        pingPost("offer-redirect-acme", acme, { buyer_id: "offer-acme", offer: { redirect_url: REDIRECT } }),
        pingPost("offer-redirect-budget", budget, { buyer_id: "offer-budget" }),
        {
          id: "offer-redirect-direct",
          buyer_id: "offer-direct",
          type: "direct_post",
          fixed_price: 5,
          post: { url: budget.postUrl },
          offer: { redirect_url: "https://direct.example/apply" },
        },
      ],
    });
    await t.g.admin("PATCH", "/v1/buyers/offer-acme", { name: "Acme Insurance" });
  });

  async function offersFor(body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${t.g.url}/v1/offers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any, replayed: res.headers.get("idempotent-replayed") };
  }

  it("answers each offer with its channel's redirect, written from the ping and the buyer's answer", async () => {
    const lead = consumer({ email: "Robin.Choice@Example.com" });
    const digest = sha256("robin.choice@example.com");
    const request = { campaign: "offer-redirect", n: 3, data: publicOf(lead), contact_hashes: { email: digest } };
    const res = await offersFor(request, { "idempotency-key": "choice-1" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [top, second, third] = res.body.offers;
    expect(res.body.offers).toHaveLength(3);
    // Acme's bid of 12 is its offer; the values are percent-encoded, each within its own part of the URL.
    expect(top).toEqual({
      offer_id: "o1",
      buyer: "Acme Insurance",
      price: 6,
      redirect_url: `https://acme.example/quote/Q%207%2F1?zip=75001&lead=${res.body.ping_id}&price=12&sale=exclusive&e=${digest}`,
    });
    // A channel without a redirect has none; a redirect with no placeholder is sent as it is.
    expect(second).toEqual({ offer_id: "o2", buyer: "Buyer", price: 4 });
    expect(third).toEqual({ offer_id: "o3", buyer: "Buyer", price: 2.5, redirect_url: "https://direct.example/apply" });

    // The answer is kept with the ping: a replay gives the same redirects.
    const again = await offersFor(request, { "idempotency-key": "choice-1" });
    expect(again.replayed).toBe("true");
    expect(again.body).toEqual(res.body);
    expect(acme.pings).toHaveLength(1);

    // The consumer picks acme's offer: the lead sells to acme.
    const post = await fetch(`${t.g.url}/v1/posts`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ ping_id: res.body.ping_id, offer_ids: ["o1"], data: lead }),
    }).then((r) => r.json() as Promise<any>);
    expect(post).toMatchObject({ status: "sold", lead_id: res.body.ping_id, price: 6 });
    expect(acme.posts).toHaveLength(1);
  });

  it("leaves a hash the supplier did not send empty", async () => {
    const res = await offersFor({ campaign: "offer-redirect", n: 1, data: publicOf(consumer()) });
    expect(res.body.offers).toHaveLength(1);
    expect(res.body.offers[0].redirect_url).toMatch(/&sale=exclusive&e=$/);
  });

  it("refuses at save time what an offer cannot know or a URL cannot hold, naming offer.redirect_url", async () => {
    const save = (id: string, redirect: string) =>
      t.g.admin("POST", "/v1/channels", { ...pingPost(id, acme, { buyer_id: "offer-acme", campaign_id: "offer-redirect" }), offer: { redirect_url: redirect } });
    const cases: [string, RegExp][] = [
      ["https://acme.example/q?email={{data.email}}", /^'email' is pii: an offer is made before the post/],
      ["https://acme.example/q?phone={{data.phone | sha256}}", /^'phone' is pii: an offer's redirect carries its hash only when the campaign's field says ping_hash: true/],
      ["https://acme.example/q?x={{data.shoe_size}}", /^unknown field 'shoe_size'/],
      ["https://acme.example/q?x={{nope}}", /^unknown variable 'nope'/],
      ["https://acme.example/q#{{data.zip}}", /not in its fragment/],
      ["not a url", /http\(s\) URL/],
    ];
    let n = 0;
    for (const [redirect, message] of cases) {
      const res = await save(`offer-redirect-bad-${++n}`, redirect);
      expect(res.status, redirect).toBe(422);
      expect(res.body.errors, redirect).toEqual([{ path: "offer.redirect_url", message: expect.stringMatching(message) }]);
    }
    // …and a campaign cannot take ping_hash back while a redirect hashes the field.
    const campaign = (await t.g.admin("GET", "/v1/campaigns/offer-redirect")).body;
    const back = await t.g.admin("PATCH", "/v1/campaigns/offer-redirect", { fields: campaign.fields.map((f: any) => ({ ...f, ping_hash: undefined })) });
    expect(back.status).toBe(422);
    expect(JSON.stringify(back.body.errors)).toContain("offer.redirect_url");
  });

  it("is shown by the test console as an offer would carry it after the test ping", async () => {
    const lead = consumer({ email: "Console.Choice@Example.com" });
    const res = await t.g.admin("POST", "/v1/channels/offer-redirect-acme/test", { data: lead });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.ping.result).toMatchObject({ outcome: "bid", price: 12, ping_ref: "Q 7/1" });
    expect(res.body.offer_redirect_url).toBe(
      `https://acme.example/quote/Q%207%2F1?zip=75001&lead=${res.body.lead_id}&price=12&sale=exclusive&e=${sha256("console.choice@example.com")}`,
    );
    // A channel without one shows null.
    const plain = await t.g.admin("POST", "/v1/channels/offer-redirect-budget/test", { data: lead });
    expect(plain.body.offer_redirect_url).toBeNull();
  });

  it("is kept by config as code: exported as written, applied back as no change", async () => {
    const exported = await fetch(`${t.g.url}/v1/config/export`, { headers: { authorization: `Bearer ${t.g.gavel.adminToken}` } }).then((r) => r.text());
    const acmeChannel = parse(exported).channels.find((c: { id: string }) => c.id === "offer-redirect-acme");
    expect(acmeChannel.offer).toEqual({ redirect_url: REDIRECT });
    const applied = await fetch(`${t.g.url}/v1/config/apply`, {
      method: "POST",
      headers: { "content-type": "application/yaml", authorization: `Bearer ${t.g.gavel.adminToken}` },
      body: exported,
    }).then((r) => r.json() as Promise<any>);
    expect(applied).toMatchObject({ applied: false, changes: { created: [], changed: [], archived: [] } });
  });
});
