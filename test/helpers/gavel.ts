// A real Gavel for integration tests: fresh database, served on a loopback port, silent logs, and
// small helpers to configure it through its own API as an operator would.
import diagnosticsChannel from "node:diagnostics_channel";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import pino, { type Logger } from "pino";
import { afterAll, beforeAll } from "vitest";
import type { Clock } from "../../src/time/clock";
import { createBuyerTransport, type BuyerTransport } from "../../src/channels/transport";
import { loadConfig } from "../../src/config";
import { startGavel, type Gavel } from "../../src/server";
import { startBuyer, type Behaviour, type TestBuyer } from "./buyers";
import type { DatabaseTarget } from "../../src/db/client";
import { autoInsuranceFields } from "../../src/demo/fields";
import { freshDatabase } from "./db";

export const ADMIN = "test-admin-token-0123456789";

/** An answer's body: its JSON, its text when it is not JSON, null when empty. */
export async function answerBody(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

export interface TestGavel {
  gavel: Gavel;
  url: string;
  /** Where its database is: another Gavel process may share it. */
  target: DatabaseTarget;
  admin(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any; headers: Headers }>;
  lead(apiKey: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers; ms: number }>;
  /** Creates (or reuses) a campaign, buyer, channels and a supplier; returns the supplier's API key. */
  setup(options: SetupOptions): Promise<string>;
  /** The configuration as code (`GET /v1/config/export`), as YAML text. */
  exportConfig(): Promise<string>;
  /** What applying `yaml` would change (`POST /v1/config/apply?dry_run=true`): the plan, nothing applied. */
  planConfig(yaml: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface SetupOptions {
  campaign?: Record<string, unknown>;
  channels: Record<string, unknown>[];
  supplier?: Record<string, unknown>;
}

export const standardFields = autoInsuranceFields;

let counter = 0;
/** A valid lead for the standard fields; each call is a different consumer unless told otherwise. */
export function consumer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter++;
  return {
    zip: "75001",
    state: "TX",
    age: 30,
    coverage: "auto",
    email: `person${counter}.${process.pid}.${Date.now()}@example.com`,
    phone: `+1512555${String(counter % 10000).padStart(4, "0")}`,
    ...overrides,
  };
}

/** A clock a test sets by hand: Gavel reads wall-clock time (cap periods, schedules) only from it. */
export interface TestClock extends Clock {
  set(iso: string): void;
  advance(ms: number): void;
}

export function testClock(iso: string): TestClock {
  let now = Date.parse(iso);
  return {
    now: () => now,
    set: (to) => {
      now = Date.parse(to);
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

export interface TestGavelOptions {
  clock?: Clock;
  /** Share another Gavel's database instead of a fresh one (it must outlive this one). */
  target?: DatabaseTarget;
  /**
   * Judge the event loop for real (a LoopMonitor), and let the transport mark a timeout whose timer
   * fired late as Gavel's stall. By default a test Gavel does neither: on a loaded test machine its
   * timers run late, and the tests would then see `gavel_stalled` for the very buyer timeouts they
   * count, and circuit tests would excuse them. (test/stall.test.ts tests the stall itself.)
   */
  realLoopMonitor?: boolean;
  /**
   * The buyer transport (default: Gavel's own, as in production, but with `stallMs: Infinity`
   * unless `realLoopMonitor`). A test's own transport should pass `stallMs: Infinity` too.
   */
  transport?: BuyerTransport;
  /** Where its logs go (default: nowhere). */
  logger?: Logger;
  /** The auction's draws (ties, weighted routing): seed it for a test that counts them. */
  random?: () => number;
  /** The notification outbox's jitter draws (default: `random`). */
  jitter?: () => number;
}

export async function startTestGavel(env: Record<string, string> = {}, options: TestGavelOptions = {}): Promise<TestGavel> {
  const db = options.target ? { target: options.target, drop: async () => {} } : await freshDatabase();
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", ADMIN_TOKEN: ADMIN, LOG_LEVEL: "silent", ...env });
  const gavel = await startGavel({
    config,
    target: db.target,
    logger: options.logger ?? pino({ level: "silent" }),
    clock: options.clock,
    random: options.random,
    jitter: options.jitter,
    loopSaturated: options.realLoopMonitor ? undefined : () => false,
    transport: options.transport ?? (options.realLoopMonitor ? undefined : createBuyerTransport({ stallMs: Infinity })),
  });

  async function call(method: string, path: string, body: unknown, headers: Record<string, string>) {
    const started = performance.now();
    const res = await fetch(gavel.url + path, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await answerBody(res), headers: res.headers, ms: performance.now() - started };
  }

  const admin: TestGavel["admin"] = (method, path, body, token = ADMIN) =>
    call(method, path, body, token ? { authorization: `Bearer ${token}` } : {});

  async function ensure(path: string, body: Record<string, unknown>) {
    const res = await admin("POST", path, body);
    if (res.status !== 201 && res.status !== 409) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  return {
    gavel,
    url: gavel.url,
    target: db.target,
    admin,
    lead: (apiKey, body, headers = {}) => call("POST", "/v1/leads", body, { authorization: `Bearer ${apiKey}`, ...headers }),
    async setup(options) {
      const campaign = { id: "auto-insurance", name: "Auto insurance", fields: standardFields, ...options.campaign };
      await ensure("/v1/campaigns", campaign);
      for (const channel of options.channels) {
        await ensure("/v1/buyers", { id: (channel.buyer_id as string) ?? "acme", name: "Buyer" });
        const wanted = { buyer_id: "acme", campaign_id: campaign.id, ...channel } as Record<string, any>;
        const got = await ensure("/v1/channels", wanted);
        // A taken id is reused only when it is the same channel; anything else is a test bug.
        if (got.type === "urn:gavel:problem:conflict") {
          const existing = (await admin("GET", `/v1/channels/${wanted.id}`)).body;
          if (existing.campaign_id !== wanted.campaign_id || existing.post?.url !== wanted.post?.url)
            throw new Error(`channel id '${wanted.id}' is already used by another test's channel`);
        }
      }
      const supplier = await ensure("/v1/suppliers", { id: `sup-${++counter}`, name: "Supplier", ...options.supplier });
      return supplier.api_key as string;
    },
    async exportConfig() {
      return (await fetch(`${gavel.url}/v1/config/export`, { headers: { authorization: `Bearer ${gavel.adminToken}` } })).text();
    },
    async planConfig(yaml) {
      const res = await fetch(`${gavel.url}/v1/config/apply?dry_run=true`, {
        method: "POST",
        headers: { "content-type": "application/yaml", authorization: `Bearer ${gavel.adminToken}` },
        body: yaml,
      });
      return { status: res.status, body: await answerBody(res) };
    },
    async close() {
      await gavel.close();
      await db.drop();
    },
  };
}

/** A ping_post channel pointing at a loopback buyer. */
export function pingPost(id: string, buyer: { pingUrl: string; postUrl: string }, extra: Record<string, unknown> = {}) {
  return { id, type: "ping_post", ping: { url: buyer.pingUrl }, post: { url: buyer.postUrl }, ...extra };
}

/**
 * The usual fixture of an integration test file: one Gavel for the file, and loopback buyers that
 * are all closed after the last test.
 */
export function useTestGavel(env: Record<string, string> = {}, options: TestGavelOptions = {}) {
  let gavel: TestGavel | undefined;
  const buyers: TestBuyer[] = [];
  beforeAll(async () => {
    gavel = await startTestGavel(env, options);
  });
  afterAll(async () => {
    await Promise.all(buyers.map((b) => b.close()));
    await gavel?.close();
  });
  return {
    get g(): TestGavel {
      if (!gavel) throw new Error("the test Gavel has not started");
      return gavel;
    },
    async buyer(behaviour: { ping?: Behaviour; post?: Behaviour }): Promise<TestBuyer> {
      const b = await startBuyer(behaviour);
      buyers.push(b);
      return b;
    },
  };
}

export interface LeadArrival {
  request: IncomingMessage;
  response: ServerResponse;
  /** Settles when Gavel's side of the request closes (answered, or its client went away). */
  closed: Promise<void>;
}

/**
 * Lead requests as an in-process Gavel's server receives them, before admission, in order: a test
 * waits for "Gavel has this request" (and so for "it is waiting for a slot") instead of sleeping.
 * Call `stop()` when done.
 */
export function leadArrivals(gavel: Gavel): { list: LeadArrival[]; stop(): void } {
  const list: LeadArrival[] = [];
  const onStart = (message: unknown) => {
    const { request, response, server } = message as { request: IncomingMessage; response: ServerResponse; server: Server };
    const address = server.address();
    if (typeof address !== "object" || address?.port !== gavel.port) return;
    if (request.method !== "POST" || !request.url?.startsWith("/v1/leads")) return;
    // Published before the server's own request handler runs, so this listener fires before
    // Gavel's own on close, and whoever awaits `closed` resumes after both.
    list.push({ request, response, closed: new Promise((resolve) => response.once("close", () => resolve())) });
  };
  diagnosticsChannel.subscribe("http.server.request.start", onStart);
  return { list, stop: () => diagnosticsChannel.unsubscribe("http.server.request.start", onStart) };
}
