// Notifications by email (README "Notifications"): a supplier's notify_email gets the notices its
// postback_url would, through a real SMTP server the test starts on loopback; one the server
// refuses is tried again later, as a webhook that fails is. Both databases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { consumer, startTestGavel, testClock, type TestGavel } from "./helpers/gavel";
import { startSmtp, type TestSmtp } from "./helpers/smtp";

/** No background sweep: each is run by hand, on the test's clock. */
const ENV = { GAVEL_DELIVERY_POLL_MS: "3600000", GAVEL_DELIVERY_MAX_ATTEMPTS: "5", GAVEL_DELIVERY_RETRY_MS: "1000", GAVEL_MAIL_FROM: "notices@broker.test" };

describe("notifications by email", () => {
  const clock = testClock("2026-06-01T05:00:00Z");
  let smtp: TestSmtp;
  let g: TestGavel;
  let buyer: TestBuyer;
  beforeAll(async () => {
    smtp = await startSmtp({ refuse: (address) => (address.endsWith("@refused.test") ? "550 5.1.1 No such mailbox" : null) });
    g = await startTestGavel({ ...ENV, GAVEL_SMTP_URL: smtp.url }, { clock, jitter: () => 0.5 });
    buyer = await startBuyer({ post: () => ({ json: { accepted: true } }) });
  });
  afterAll(async () => {
    await buyer?.close();
    await g?.close();
    await smtp?.close();
  });

  async function sellOne(campaign: string, supplier: Record<string, unknown>) {
    const key = await g.setup({
      campaign: { id: campaign, payout: { type: "revshare", percent: 50 } },
      channels: [{ id: `${campaign}-ch`, type: "direct_post", fixed_price: 8, post: { url: buyer.postUrl } }],
      supplier,
    });
    const res = await g.lead(key, { campaign, data: consumer() });
    expect(res.body).toMatchObject({ status: "sold" });
    return res.body.lead_id as string;
  }

  it("mails a supplier's notify_email its lead sold, with its payout, once", async () => {
    const leadId = await sellOne("mail-notice", { id: "sup-mail", name: "Mail supplier", campaigns: ["mail-notice"], notify_email: "ops@supplier.test" });
    expect(await g.gavel.deliverNotifications()).toBe(1);
    const mails = smtp.mails.filter((m) => m.to.includes("ops@supplier.test"));
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail.from).toBe("notices@broker.test");
    expect(mail.headers).toMatchObject({ subject: `Lead sold at 4.00: ${leadId}`, "x-gavel-event": "lead.sold", "x-gavel-event-id": `lead.sold:${leadId}` });
    expect(JSON.parse(mail.text)).toMatchObject({ event_id: `lead.sold:${leadId}`, event: "lead.sold", lead_id: leadId, status: "sold", price: 4 });
    // Never the buyer: the supplier hears its own payout only.
    expect(mail.text).not.toContain("mail-notice-ch");

    const list = await g.admin("GET", `/v1/deliveries?lead_id=${leadId}`);
    expect(list.body.items).toMatchObject([{ via: "email", target: "ops@supplier.test", state: "delivered", attempts: 1, last_status: 250 }]);
    // Delivered: a later sweep sends nothing again.
    expect(await g.gavel.deliverNotifications()).toBe(0);
    expect(smtp.mails.filter((m) => m.to.includes("ops@supplier.test"))).toHaveLength(1);
  });

  it("mails a buyer's notify.email each lead delivered to it", async () => {
    const created = await g.admin("POST", "/v1/buyers", { id: "mail-crm", name: "CRM by mail", notify: { email: "crm@buyer.test" } });
    expect(created.status).toBe(201);
    const key = await g.setup({
      campaign: { id: "mail-delivered" },
      channels: [{ id: "mail-delivered-ch", buyer_id: "mail-crm", type: "direct_post", fixed_price: 8, post: { url: buyer.postUrl } }],
    });
    const res = await g.lead(key, { campaign: "mail-delivered", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 8 });
    const leadId = res.body.lead_id as string;
    expect(await g.gavel.deliverNotifications()).toBe(1);
    const [mail, ...more] = smtp.mails.filter((m) => m.to.includes("crm@buyer.test"));
    expect(more).toEqual([]);
    expect(mail.headers).toMatchObject({ subject: `Lead delivered at 8.00: ${leadId}`, "x-gavel-event-id": `lead.delivered:${leadId}:mail-delivered-ch` });
    expect(JSON.parse(mail.text)).toMatchObject({ event: "lead.delivered", lead_id: leadId, channel_id: "mail-delivered-ch", buyer_id: "mail-crm", price: 8, sale: "exclusive" });

    // A notify with neither a url nor an email, or signing without a url, is refused field by field.
    const empty = await g.admin("POST", "/v1/buyers", { id: "mail-crm-2", name: "x", notify: {} });
    expect(empty.status).toBe(422);
    expect(empty.body.errors.map((e: any) => e.path)).toContain("notify.url");
  });

  it("mails a buyer's notice to its notify.email as it is when the notice is sent, not as it was when the lead sold", async () => {
    expect((await g.admin("POST", "/v1/buyers", { id: "mail-moved", name: "CRM that moved", notify: { email: "old@buyer.test" } })).status).toBe(201);
    const key = await g.setup({
      campaign: { id: "mail-moved" },
      channels: [{ id: "mail-moved-ch", buyer_id: "mail-moved", type: "direct_post", fixed_price: 8, post: { url: buyer.postUrl } }],
    });
    const res = await g.lead(key, { campaign: "mail-moved", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold" });
    const moved = await g.admin("PATCH", "/v1/buyers/mail-moved", { notify: { email: "new@buyer.test" } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(await g.gavel.deliverNotifications()).toBe(1);
    expect(smtp.mails.filter((m) => m.to.includes("old@buyer.test"))).toEqual([]);
    expect(smtp.mails.filter((m) => m.to.includes("new@buyer.test"))).toHaveLength(1);
  });

  it("sends by both means when the supplier has a postback_url and a notify_email, and retries a refused message", async () => {
    const hook = await startBuyer({ post: () => ({ status: 204 }) });
    try {
      const leadId = await sellOne("mail-both", {
        id: "sup-both",
        name: "Both",
        campaigns: ["mail-both"],
        postback_url: hook.postUrl,
        notify_email: "gone@refused.test",
      });
      expect(await g.gavel.deliverNotifications()).toBe(2);
      expect(hook.posts).toHaveLength(1);
      const rows = (await g.admin("GET", `/v1/deliveries?lead_id=${leadId}`)).body.items;
      const byVia = Object.fromEntries(rows.map((r: any) => [r.via, r]));
      expect(byVia.webhook).toMatchObject({ state: "delivered", target: hook.postUrl });
      expect(byVia.email).toMatchObject({ state: "pending", attempts: 1, last_status: 550, target: "gone@refused.test" });
      expect(byVia.email.last_error).toMatch(/No such mailbox/);
      // Retried after its backoff (1000 ms, half of it drawn: 750 ms at a draw of 0.5), not before.
      clock.advance(700);
      expect(await g.gavel.deliverNotifications()).toBe(0);
      clock.advance(100);
      expect(await g.gavel.deliverNotifications()).toBe(1);
      const again = (await g.admin("GET", `/v1/deliveries?lead_id=${leadId}`)).body.items.find((r: any) => r.via === "email");
      expect(again).toMatchObject({ state: "pending", attempts: 2, last_status: 550 });
    } finally {
      await hook.close();
    }
  });
});
