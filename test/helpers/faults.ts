// Shared machinery of the fault tests: real Gavel processes on one PostgreSQL database, loopback
// buyers that record every post they receive, suppliers that retry what they did not hear back
// (same key, same body), and the invariants that must hold whatever failed.
import { expect } from "vitest";
import { connectPostgres } from "../../src/db/client";
import { startBuyer, type TestBuyer } from "./buyers";
import { ADMIN, consumer } from "./gavel";

export interface Answer {
  /** 0 when the answer was lost (the connection died before it came). */
  status: number;
  body: any;
  retryAfter: string | null;
  contentType: string | null;
  /** How long the answer took (until it was lost, for a lost one). */
  ms: number;
}

export interface SupplierRequest {
  key: string;
  body: { campaign: string; data: Record<string, unknown> };
  answers: Answer[];
}

async function call(url: string, method: string, path: string, body: unknown, token: string, headers: Record<string, string> = {}): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(url + path, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A lead is answered within its deadline plus a second; this only stops a test from hanging.
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed, retryAfter: res.headers.get("retry-after"), contentType: res.headers.get("content-type"), ms: performance.now() - started };
  } catch {
    return { status: 0, body: null, retryAfter: null, contentType: null, ms: performance.now() - started };
  }
}

/** Configures a running Gavel through its API: a campaign (no dedup fields), one capped channel per buyer, a supplier. */
export async function configure(url: string, campaign: string, buyers: TestBuyer[], auction: Record<string, unknown> = {}): Promise<string> {
  const ok = async (path: string, body: unknown) => {
    const res = await call(url, "POST", path, body, ADMIN);
    if (res.status !== 201 && res.status !== 409) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const { standardFields } = await import("./gavel");
  await ok("/v1/campaigns", { id: campaign, name: campaign, fields: standardFields, auction: { timeout_ms: 2000, ...auction } });
  for (const [i, buyer] of buyers.entries()) {
    await ok("/v1/buyers", { id: `${campaign}-b${i}`, name: `Buyer ${i}` });
    await ok("/v1/channels", {
      id: `${campaign}-ch${i}`,
      buyer_id: `${campaign}-b${i}`,
      campaign_id: campaign,
      type: "ping_post",
      ping: { url: buyer.pingUrl },
      post: { url: buyer.postUrl },
      // A cap far from full: every post reserves it in the database first, so faults hit that step too.
      caps: [{ period: "day", leads: 100_000 }],
    });
  }
  const supplier = await ok("/v1/suppliers", { id: `${campaign}-sup`, name: "Supplier" });
  return supplier.api_key as string;
}

/**
 * Buyers that bid on every ping and accept every post 50–300 ms later, as busy real buyers do, and
 * record what they received. Each bids its own price, so the ranking is not a tie.
 */
export async function acceptingBuyers(count: number): Promise<TestBuyer[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      startBuyer({
        ping: () => ({ json: { bid: 10 + i } }),
        post: () => ({ json: { accepted: true }, delayMs: 50 + Math.floor(Math.random() * 250) }),
      }),
    ),
  );
}

/** `count` requests for different consumers, each with its own Idempotency-Key. */
export function leadRequests(prefix: string, campaign: string, count: number): SupplierRequest[] {
  return Array.from({ length: count }, (_, i) => ({ key: `${prefix}-${i}`, body: { campaign, data: consumer() }, answers: [] }));
}

export async function send(url: string, apiKey: string, request: SupplierRequest): Promise<Answer> {
  const answer = await call(url, "POST", "/v1/leads", request.body, apiKey, { "idempotency-key": request.key });
  request.answers.push(answer);
  return answer;
}

const final = (a: Answer | undefined) => a !== undefined && a.status !== 0 && a.status < 500 && a.status !== 409;

/**
 * What a careful supplier does: sends again, with the same key and body, every request whose answer
 * was lost, was a 5xx or was 409 (still running), until it gets a final answer. Bounded: a lead
 * settles within its deadline plus GAVEL_SETTLE_AFTER_MS plus a sweep.
 */
export async function retryUntilSettled(url: string, apiKey: string, requests: SupplierRequest[], withinMs = 120_000): Promise<void> {
  const until = Date.now() + withinMs;
  await Promise.all(
    requests.map(async (request) => {
      while (!final(request.answers.at(-1))) {
        if (Date.now() > until) {
          const statuses = request.answers.map((a) => a.status).join(" ");
          throw new Error(`request ${request.key} never settled: answered ${statuses}; last ${JSON.stringify(request.answers.at(-1)?.body)}`);
        }
        await new Promise((r) => setTimeout(r, 250));
        await send(url, apiKey, request);
      }
    }),
  );
}

/** Ends every session on the database but the caller's own, as an operator's pg_terminate_backend would. */
export async function terminateBackends(databaseUrl: string): Promise<number> {
  const admin = connectPostgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin.unsafe(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
    );
    return rows.length;
  } finally {
    await admin.end();
  }
}

interface LeadRow {
  id: string;
  status: string;
  reason: string | null;
  price_cents: number;
}

async function readLeads(databaseUrl: string): Promise<Map<string, LeadRow>> {
  const sql = connectPostgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql.unsafe<LeadRow[]>(`select id, status, reason, price_cents from leads`);
    return new Map(rows.map((r) => [r.id, r]));
  } finally {
    await sql.end();
  }
}

/** Waits (bounded) until no lead of the database is still in auction: every interrupted one was settled. */
export async function untilNoneAuctioning(databaseUrl: string, withinMs = 120_000): Promise<void> {
  const until = Date.now() + withinMs;
  for (;;) {
    const open = [...(await readLeads(databaseUrl)).values()].filter((l) => l.status === "auctioning" || l.status === "received");
    if (open.length === 0) return;
    if (Date.now() > until) throw new Error(`leads never settled: ${open.map((l) => l.id).join(", ")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The promises SPEC.md step 7 makes, checked after a fault:
 * - no answer is a 500: a 5xx is 503 problem+json with Retry-After;
 * - every answer a request got after its first final one agrees with it (a replay, never a second auction);
 * - every lead answered `sold` is `sold` in its record, at the price answered;
 * - every lead a buyer accepted is `sold`, or `error` with `post_outcome_unknown`; none is `unsold`
 *   or left in auction;
 * - no consumer was posted to a second buyer, or under a second lead.
 */
export async function expectNoSecondSale(databaseUrl: string, requests: SupplierRequest[], buyers: TestBuyer[]): Promise<{ sold: number; unknown: number }> {
  for (const buyer of buyers) await buyer.answered();
  const leads = await readLeads(databaseUrl);
  const answers = requests.flatMap((r) => r.answers);
  for (const a of answers.filter((a) => a.status >= 500)) {
    expect(a.status, JSON.stringify(a.body)).toBe(503);
    expect(a.contentType).toMatch(/^application\/problem\+json/);
    expect(Number(a.retryAfter)).toBeGreaterThan(0);
  }
  let sold = 0;
  for (const request of requests) {
    const finals = request.answers.filter((a) => a.status === 200);
    expect(finals.length, `request ${request.key} got no answer`).toBeGreaterThan(0);
    for (const later of finals.slice(1)) expect(later.body, `replay of ${request.key}`).toEqual(finals[0].body);
    const answer = finals[0].body;
    const lead = leads.get(answer.lead_id);
    expect(lead, `lead ${answer.lead_id} of ${request.key}`).toBeDefined();
    expect(lead!.status).toBe(answer.status);
    if (answer.status === "sold") {
      sold++;
      expect(lead!.price_cents / 100).toBe(answer.price);
    }
  }
  let unknown = 0;
  const byConsumer = new Map<string, { leads: Set<string>; buyers: Set<number> }>();
  for (const [b, buyer] of buyers.entries()) {
    for (const post of buyer.posts) {
      const leadId = post.body.lead_id as string;
      const lead = leads.get(leadId);
      expect(lead, `posted lead ${leadId}`).toBeDefined();
      const fate = lead!.status === "error" ? `error:${lead!.reason}` : lead!.status;
      expect(["sold", "error:post_outcome_unknown"], `lead ${leadId} a buyer accepted`).toContain(fate);
      if (fate !== "sold") unknown++;
      expect(post.headers["idempotency-key"]).toBeTruthy();
      const email = post.body.data.email as string;
      const seen = byConsumer.get(email) ?? { leads: new Set(), buyers: new Set() };
      seen.leads.add(leadId);
      seen.buyers.add(b);
      byConsumer.set(email, seen);
    }
  }
  for (const [email, seen] of byConsumer) {
    expect([...seen.leads], `consumer ${email} posted under several leads`).toHaveLength(1);
    expect([...seen.buyers], `consumer ${email} posted to several buyers`).toHaveLength(1);
  }
  for (const lead of leads.values()) expect(["auctioning", "received"]).not.toContain(lead.status);
  return { sold, unknown };
}
