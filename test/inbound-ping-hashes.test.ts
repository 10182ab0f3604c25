// A ping template's hashed contact field (`{{data.email | sha256}}`) when the supplier pings first
// (POST /v1/pings): the ping carries no PII, so the buyer gets the supplier's `contact_hashes` digest
// for that field, the same digest Gavel computes from the value of a lead posted whole. A hash it
// cannot be given (another algorithm, or a transform before the hash) stays empty. Real app,
// loopback buyers that check the hash they receive, both databases.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { consumer, standardFields, useTestGavel } from "./helpers/gavel";
import type { Answer, Received } from "./helpers/buyers";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const refuse = (why: string): Answer => ({ status: 400, json: { error: why } });

// Email and phone are pii whose hash a ping may carry; the supplier may send their hashes.
const fields = standardFields.map((f) => (f.pii ? { ...f, ping_hash: true } : f));
const PUBLIC = ["zip", "state", "age", "coverage"];
const publicOf = (lead: Record<string, unknown>) => Object.fromEntries(PUBLIC.map((k) => [k, lead[k]]));

describe("hashed contact fields in the pings of a supplier that pings first", () => {
  const t = useTestGavel();

  /** A buyer that knows its consumers by the SHA-256 of their email, and bids only on one it knows. */
  function hashMatchingBuyer(known: Set<string>) {
    return t.buyer({
      ping: (r: Received): Answer => {
        const b = r.body;
        if (typeof b !== "object" || b === null) return refuse("not JSON");
        if (typeof b.email_sha256 !== "string" || !known.has(b.email_sha256)) return refuse(`email_sha256 ${JSON.stringify(b.email_sha256)} is no consumer's`);
        if (r.raw.includes("@")) return refuse("an email in a ping");
        return { json: { bid: 11, ping_ref: `h-${b.email_sha256.slice(0, 8)}` } };
      },
      post: () => ({ json: { accepted: true } }),
    });
  }

  async function market(id: string, known: Set<string>) {
    const buyer = await hashMatchingBuyer(known);
    const key = await t.g.setup({
      campaign: { id, fields, inbound: { contact_hashes: "optional" } },
      channels: [
        {
          id: `${id}-acme`,
          type: "ping_post",
          ping: {
            url: buyer.pingUrl,
            body: {
              zip: "{{data.zip}}",
              email_sha256: "{{data.email | sha256}}",
              email_sha256_upper: "{{data.email | sha256 | upper}}",
              phone_md5: "{{data.phone | md5}}",
              phone_digits_sha256: "{{data.phone | digits | sha256}}",
            },
          },
          post: { url: buyer.postUrl },
        },
      ],
    });
    return { buyer, key };
  }

  async function call(key: string, path: string, body: unknown) {
    const res = await fetch(t.g.url + path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  it("sends the buyer the supplier's contact hash for {{data.email | sha256}}, and the post sells", async () => {
    const lead = consumer({ email: "  Pat.Hash@Example.com " });
    // The supplier hashes the normalised email (trimmed, lower case), as the README says.
    const digest = sha256("pat.hash@example.com");
    const { buyer, key } = await market("hash-ping", new Set([digest]));

    const ping = await call(key, "/v1/pings", { campaign: "hash-ping", data: publicOf(lead), contact_hashes: { email: digest } });
    expect(ping.status, JSON.stringify(ping.body)).toBe(200);
    expect(ping.body, JSON.stringify(buyer.pings.map((p) => p.body))).toMatchObject({ status: "bid" });
    expect(buyer.pings).toHaveLength(1);
    const sent = buyer.pings[0].body;
    expect(sent).toMatchObject({ zip: "75001", email_sha256: digest, email_sha256_upper: digest.toUpperCase() });
    // md5, or a hash of a transformed value, cannot be made from a SHA-256 digest: nothing is sent for them.
    expect(sent.phone_md5 ?? "").toBe("");
    expect(sent.phone_digits_sha256 ?? "").toBe("");

    const post = await call(key, "/v1/posts", { ping_id: ping.body.ping_id, data: lead });
    expect(post.body).toMatchObject({ status: "sold", lead_id: ping.body.ping_id });
    expect(buyer.posts).toHaveLength(1);
    expect(buyer.posts[0].body.ping_ref).toBe(`h-${digest.slice(0, 8)}`);
  });

  it("sends the digest Gavel computes itself for a lead posted whole, so a buyer sees one hash either way", async () => {
    const lead = consumer({ email: "Sam.Whole@Example.com" });
    const digest = sha256("sam.whole@example.com");
    const { buyer, key } = await market("hash-whole", new Set([digest]));
    const res = await t.g.lead(key, { campaign: "hash-whole", data: lead });
    expect(res.body).toMatchObject({ status: "sold" });
    expect(buyer.pings[0].body.email_sha256).toBe(digest);
  });

  it("sends no hash when the supplier sent none, so the buyer cannot match the consumer", async () => {
    const lead = consumer();
    const { buyer, key } = await market("hash-none", new Set([sha256(String(lead.email))]));
    const ping = await call(key, "/v1/pings", { campaign: "hash-none", data: publicOf(lead) });
    expect(ping.body).toMatchObject({ status: "no_bid" });
    expect(buyer.pings).toHaveLength(1);
    expect(buyer.pings[0].body.email_sha256 ?? "").toBe("");
  });
});
