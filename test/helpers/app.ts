// Gavel's app in-process: createApp with real dependencies over a fresh database, called with
// app.request(). No server, no socket, no buyer: for the routes that depend on neither sockets nor
// time. (Anything about timeouts, hangs or bytes on the wire goes through helpers/gavel.ts.)
import type { Logger } from "pino";
import pino from "pino";
import { afterAll, beforeAll } from "vitest";
import { createApp, type AppDeps } from "../../src/app";
import { Catalog } from "../../src/auction/catalog";
import { DatabaseCapLedger, UsageView } from "../../src/auction/caps";
import { AuctionGate } from "../../src/auction/gate";
import { ChannelLimiter } from "../../src/auction/limiter";
import { SupplierKeys } from "../../src/auth/supplier-keys";
import type { BuyerTransport } from "../../src/channels/transport";
import { migrateDatabase, openDatabase, type Database } from "../../src/db/client";
import { LeadWriter } from "../../src/db/lead-writer";
import { uuidv7 } from "../../src/ids";
import { freshDatabase } from "./db";
import { ADMIN, answerBody, standardFields, testClock, type TestClock } from "./gavel";

/** A transport for apps that must not reach any buyer: a test that makes one ping fails loudly. */
const noBuyers: BuyerTransport = {
  send: () => Promise.reject(new Error("an in-process test app has no buyers: use helpers/gavel.ts for buyer traffic")),
  close: async () => {},
};

export interface InProcessApp {
  app: ReturnType<typeof createApp>;
  database: Database;
  gate: AuctionGate;
  clock: TestClock;
  /** app.request() with JSON in and parsed JSON (or text) out. */
  call(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: any }>;
  /** A campaign with the standard fields (and `campaign`'s settings) and a supplier on it; returns the supplier's API key. */
  supplier(campaignId: string, supplierId: string, campaign?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export interface InProcessOptions {
  logger?: Logger;
  /** Auctions at once (default 4). */
  maxAuctions?: number;
  /** How buyers answer (default: none may be asked). A fake in memory, never a socket. */
  transport?: BuyerTransport;
}

export async function startInProcessApp(options: InProcessOptions = {}): Promise<InProcessApp> {
  const fresh = await freshDatabase();
  const database = await openDatabase(fresh.target);
  await migrateDatabase(fresh.target, database);
  const clock = testClock("2026-03-02T15:00:00Z");
  const logger = options.logger ?? pino({ level: "silent" });
  const gate = new AuctionGate(options.maxAuctions ?? 4);
  const leadWriter = new LeadWriter(database, { logger });
  const deps: AppDeps = {
    database,
    leadWriter,
    catalog: new Catalog(database, 5000, clock),
    supplierKeys: new SupplierKeys(database, 5000, clock),
    transport: options.transport ?? noBuyers,
    gate,
    admissionWaitMs: 0,
    limiter: new ChannelLimiter(),
    caps: new DatabaseCapLedger(database, new UsageView(database, clock, 1000, logger)),
    clock,
    logger,
    newId: () => uuidv7(clock.now()),
    random: Math.random,
    adminToken: ADMIN,
    maxLeadBytes: 65_536,
    maxBuyerBodyBytes: 65_536,
    env: {},
    isReady: () => true,
  };
  const app = createApp(deps);

  const call: InProcessApp["call"] = async (method, path, { body, token = ADMIN, headers = {} } = {}) => {
    const res = await app.request(path, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await answerBody(res) };
  };

  async function created(path: string, body: unknown): Promise<any> {
    const res = await call("POST", path, { body });
    if (res.status !== 201) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  return {
    app,
    database,
    gate,
    clock,
    call,
    async supplier(campaignId, supplierId, campaign = {}) {
      await created("/v1/campaigns", { id: campaignId, name: campaignId, fields: standardFields, ...campaign });
      return (await created("/v1/suppliers", { id: supplierId, name: supplierId, campaigns: [campaignId] })).api_key as string;
    },
    async close() {
      await leadWriter.close();
      await database.close();
      await fresh.drop();
    },
  };
}

/** One in-process app for a test file, closed after its last test. */
export function useInProcessApp(options: InProcessOptions = {}): { readonly a: InProcessApp } {
  let started: InProcessApp | undefined;
  beforeAll(async () => {
    started = await startInProcessApp(options);
  });
  afterAll(async () => {
    await started?.close();
  });
  return {
    get a(): InProcessApp {
      if (!started) throw new Error("the in-process app has not started");
      return started;
    },
  };
}
