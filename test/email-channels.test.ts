// Email channels (issue #17, "Email delivery") against a real Gavel and a real SMTP server the test
// starts on loopback: a lead sold by email through POST /v1/leads, the message as the buyer gets
// it, a refusal falling back to the next buyer, and a send whose outcome is unknown.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { createMailer, smtpSettings } from "../src/email/mailer";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { consumer, startTestGavel, type TestGavel } from "./helpers/gavel";
import { startSmtp, type TestSmtp } from "./helpers/smtp";

const FROM = "Gavel <leads@broker.test>";

describe("email channels", () => {
  let smtp: TestSmtp;
  let g: TestGavel;
  const buyers: TestBuyer[] = [];
  let hangUp = false;
  beforeAll(async () => {
    smtp = await startSmtp({
      refuse: (address) => (address.endsWith("@refused.test") ? "550 5.1.1 No such mailbox" : null),
      hangUpAfterData: () => hangUp,
    });
    g = await startTestGavel({ GAVEL_SMTP_URL: smtp.url, GAVEL_MAIL_FROM: FROM });
  });
  afterAll(async () => {
    await Promise.all(buyers.map((b) => b.close()));
    await g?.close();
    await smtp?.close();
  });
  const trace = async (leadId: string) => (await g.admin("GET", `/v1/leads/${leadId}`)).body;
  const posts = (t: any) => t.attempts.filter((a: any) => a.kind === "post");
  const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address));

  it("sells a lead by email: the message has the rendered subject and text, and the lead's fields", async () => {
    const key = await g.setup({
      campaign: { id: "mail-sale" },
      channels: [
        {
          id: "mail-sale-acme",
          type: "email",
          fixed_price: 7.5,
          email: {
            to: ["leads@acme.test"],
            cc: ["manager@acme.test"],
            subject: "New {{campaign}} lead from {{data.state}} {{data.zip}}",
            text: "Lead {{lead_id}} at ${{price | fixed}}\nEmail: {{data.email}}\nPhone: {{data.phone | phone:dashed}}\nAge: {{data.age}}",
          },
        },
      ],
    });
    const data = consumer({ zip: "73301", phone: "+15125550199" });
    const res = await g.lead(key, { campaign: "mail-sale", data });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "sold", price: 7.5 });
    const leadId = res.body.lead_id as string;

    const [mail, ...more] = mailsTo("leads@acme.test");
    expect(more).toEqual([]);
    expect(mail.from).toBe("leads@broker.test");
    expect(mail.to.sort()).toEqual(["leads@acme.test", "manager@acme.test"]);
    expect(mail.headers).toMatchObject({
      from: FROM,
      to: "leads@acme.test",
      cc: "manager@acme.test",
      subject: "New mail-sale lead from TX 73301",
      "message-id": `<${leadId}.mail-sale-acme@gavel>`,
      "x-gavel-lead-id": leadId,
      "x-gavel-channel-id": "mail-sale-acme",
      "x-gavel-price": "7.50",
    });
    expect(mail.headers["x-gavel-test"]).toBeUndefined();
    expect(mail.text).toBe(`Lead ${leadId} at $7.50\nEmail: ${data.email}\nPhone: 512-555-0199\nAge: 30`);

    // The post in the lead's trace: accepted with the server's answer, the SMTP reply code as its status.
    const t = await trace(leadId);
    expect(t).toMatchObject({ status: "sold", revenue: 7.5 });
    expect(posts(t)).toMatchObject([{ channel_id: "mail-sale-acme", outcome: "accepted", price: 7.5, http_status: 250 }]);
    expect(posts(t)[0].detail).toMatch(/Queued as m\d+/);
  });

  it("the test console sends a test message, to the operator's address when given one", async () => {
    const data = consumer({ zip: "73301" });
    const res = await g.admin("POST", "/v1/channels/mail-sale-acme/test", { data, post: true, email_to: ["ops@broker.test"] });
    expect(res.status).toBe(200);
    expect(res.body.ping).toBeNull();
    expect(res.body.post.request).toMatchObject({ url: "mailto:ops@broker.test", headers: { subject: "[TEST] New mail-sale lead from TX 73301", "x-gavel-test": "1" } });
    expect(res.body.post.response).toMatchObject({ status: 250 });
    expect(res.body.post.result).toMatchObject({ outcome: "accepted", price: 7.5 });
    const [mail] = mailsTo("ops@broker.test");
    expect(mail.to).toEqual(["ops@broker.test"]);
    expect(mail.headers).toMatchObject({ subject: "[TEST] New mail-sale lead from TX 73301", "x-gavel-test": "1" });
    // Not the buyer's inbox: its one message is still the sale's.
    expect(mailsTo("leads@acme.test")).toHaveLength(1);

    const notEmail = await g.admin("POST", "/v1/channels/mail-sale-acme/test", { data, post: true, email_to: ["not an address"] });
    expect(notEmail.status).toBe(422);
  });

  it("sends every field, one a line, when the channel has no text template", async () => {
    const key = await g.setup({
      campaign: { id: "mail-fields" },
      channels: [{ id: "mail-fields-acme", type: "email", fixed_price: 3, email: { to: ["all-fields@acme.test"], subject: "Lead" } }],
    });
    const data = consumer({ zip: "75001" });
    const res = await g.lead(key, { campaign: "mail-fields", data });
    expect(res.body).toMatchObject({ status: "sold", price: 3 });
    const [mail] = mailsTo("all-fields@acme.test");
    const lines = mail.text.split("\n");
    for (const name of ["zip", "state", "age", "email", "phone"]) expect(lines).toContain(`${name}: ${(data as any)[name]}`);
  });

  it("falls back to the next buyer when the SMTP server refuses the message", async () => {
    const http = await startBuyer({ post: () => ({ json: { accepted: true } }) });
    buyers.push(http);
    const key = await g.setup({
      campaign: { id: "mail-refused" },
      channels: [
        { id: "mail-refused-mail", buyer_id: "mailer", type: "email", fixed_price: 10, email: { to: ["nobody@refused.test"], subject: "Lead {{lead_id}}" } },
        { id: "mail-refused-http", buyer_id: "other", type: "direct_post", fixed_price: 5, post: { url: http.postUrl } },
      ],
    });
    const res = await g.lead(key, { campaign: "mail-refused", data: consumer() });
    expect(res.body).toMatchObject({ status: "sold", price: 5 });
    expect(http.posts).toHaveLength(1);
    expect(mailsTo("nobody@refused.test")).toEqual([]);

    const t = await trace(res.body.lead_id);
    expect(posts(t)).toMatchObject([
      { channel_id: "mail-refused-mail", outcome: "rejected", reason: "smtp_refused", http_status: 550 },
      { channel_id: "mail-refused-http", outcome: "accepted", price: 5 },
    ]);
    expect(posts(t)[0].detail).toMatch(/No such mailbox/);
  });

  it("offers the lead to no one else when the server hangs up after the message: it may have been delivered", async () => {
    const http = await startBuyer({ post: () => ({ json: { accepted: true } }) });
    buyers.push(http);
    const key = await g.setup({
      campaign: { id: "mail-unknown" },
      channels: [
        { id: "mail-unknown-mail", buyer_id: "mailer", type: "email", fixed_price: 10, email: { to: ["lost@acme.test"], subject: "Lead" } },
        { id: "mail-unknown-http", buyer_id: "other", type: "direct_post", fixed_price: 5, post: { url: http.postUrl } },
      ],
    });
    hangUp = true;
    try {
      const res = await g.lead(key, { campaign: "mail-unknown", data: consumer() });
      expect(res.body).toMatchObject({ status: "error" });
      expect(http.posts).toHaveLength(0);
      const t = await trace(res.body.lead_id);
      expect(t).toMatchObject({ status: "error", reason: "post_outcome_unknown" });
      expect(posts(t)).toMatchObject([{ channel_id: "mail-unknown-mail", outcome: "unknown", reason: "connection_lost" }]);
    } finally {
      hangUp = false;
    }
  });

  it("exports an email channel and applies the export back unchanged", async () => {
    const token = { authorization: `Bearer ${g.gavel.adminToken}` };
    const exported = await fetch(`${g.url}/v1/config/export`, { headers: token });
    expect(exported.status).toBe(200);
    const text = await exported.text();
    expect(text).toContain("mail-sale-acme");
    expect(text).toContain("leads@acme.test");
    const applied = await fetch(`${g.url}/v1/config/apply`, { method: "POST", headers: { ...token, "content-type": "application/yaml" }, body: text });
    expect(applied.status).toBe(200);
    expect(await applied.json()).toMatchObject({ changes: { created: [], changed: [], archived: [] } });
    const channel = (await g.admin("GET", "/v1/channels/mail-sale-acme")).body;
    expect(channel).toMatchObject({ type: "email", email: { to: ["leads@acme.test"], cc: ["manager@acme.test"] } });
    expect(channel.post).toBeUndefined();
  });

  it("explain treats an email channel as a direct post: at its fixed price, left out under the floor", async () => {
    const key = await g.setup({
      campaign: { id: "mail-explain", auction: { floor: 5 } },
      channels: [
        { id: "mail-explain-ok", type: "email", fixed_price: 6, email: { to: ["x@acme.test"], subject: "Lead" } },
        { id: "mail-explain-cheap", type: "email", fixed_price: 4, email: { to: ["y@acme.test"], subject: "Lead" } },
      ],
      supplier: { id: "sup-mail-explain", name: "S", campaigns: ["mail-explain"] },
    });
    expect(key).toBeTruthy();
    const res = await g.admin("POST", "/v1/campaigns/mail-explain/explain", { data: consumer(), supplier: "sup-mail-explain" });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.channels.map((c: any) => [c.channel_id ?? c.id, c]));
    expect(byId["mail-explain-ok"]).toMatchObject({ eligible: true, type: "email" });
    expect(byId["mail-explain-cheap"]).toMatchObject({ eligible: false, reasons: [expect.objectContaining({ reason: "below_floor" })] });
  });

  it("checks an email channel when it is saved: its templates' fields, and nothing of HTTP", async () => {
    await g.setup({ campaign: { id: "mail-checks" }, channels: [] });
    const base = { id: "mail-checks-1", buyer_id: "acme", campaign_id: "mail-checks", type: "email", fixed_price: 2 };
    const bad = await g.admin("POST", "/v1/channels", { ...base, email: { to: ["a@acme.test"], subject: "{{data.nope}}", text: "{{whatever}}" } });
    expect(bad.status).toBe(422);
    const paths = bad.body.errors.map((e: any) => e.path);
    expect(paths).toContain("email.text");
    const withPost = await g.admin("POST", "/v1/channels", { ...base, post: { url: "http://127.0.0.1:9/x" }, email: { to: ["a@acme.test"], subject: "x" } });
    expect(withPost.status).toBe(422);
    expect(withPost.body.errors.map((e: any) => e.path)).toContain("post");
    const noEmail = await g.admin("POST", "/v1/channels", base);
    expect(noEmail.status).toBe(422);
    expect(noEmail.body.errors.map((e: any) => e.path)).toContain("email");
    const badAddress = await g.admin("POST", "/v1/channels", { ...base, email: { to: ["not an address"], subject: "x" } });
    expect(badAddress.status).toBe(422);
    expect(badAddress.body.errors.map((e: any) => e.path)).toContain("email.to[0]");
    const unknownField = await g.admin("POST", "/v1/channels", { ...base, email: { to: ["a@acme.test"], subject: "{{data.nope}}" } });
    expect(unknownField.status).toBe(422);
    expect(unknownField.body.errors).toContainEqual(expect.objectContaining({ path: "email.subject", message: expect.stringContaining("unknown field 'nope'") }));
  });
});

describe("the mailer", () => {
  it("reads its settings from the environment, and refuses a half-set one", () => {
    expect(smtpSettings({})).toBeNull();
    expect(smtpSettings({ GAVEL_SMTP_URL: "smtps://u%40x:p%3Ass@mail.example", GAVEL_MAIL_FROM: "a@broker.test" })).toEqual({
      host: "mail.example",
      port: 465,
      secure: true,
      user: "u@x",
      pass: "p:ss",
      from: "a@broker.test",
    });
    expect(smtpSettings({ GAVEL_SMTP_HOST: "relay", GAVEL_SMTP_PORT: "2525", GAVEL_MAIL_FROM: "a@broker.test" })).toMatchObject({ host: "relay", port: 2525, secure: false });
    expect(() => loadConfig({ GAVEL_SMTP_URL: "smtp://relay:25" })).toThrow(/GAVEL_MAIL_FROM/);
    expect(() => loadConfig({ GAVEL_MAIL_FROM: "a@broker.test" })).toThrow(/GAVEL_SMTP_URL/);
    expect(() => loadConfig({ GAVEL_SMTP_URL: "http://relay", GAVEL_MAIL_FROM: "a@broker.test" })).toThrow(/smtp:\/\//);
  });

  it("says a message was not delivered when the server cannot be reached", async () => {
    const smtp = await startSmtp();
    const port = smtp.port;
    await smtp.close();
    const mailer = createMailer({ host: "127.0.0.1", port, secure: false, from: "a@broker.test" });
    const result = await mailer.send({ to: ["b@acme.test"], subject: "x", text: "y", messageId: "m1@gavel" }, 5000);
    expect(result).toMatchObject({ kind: "failed", delivered: "no" });
  });
});
