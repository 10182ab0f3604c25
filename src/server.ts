// Wires real dependencies into a running Gavel: open and migrate the database, build the app, serve
// it, and drain on shutdown. Used by main.ts, the demo and the integration tests alike.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer } from "node:http";
import { getRequestListener, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "pino";
import { createApp } from "./app";
import { Catalog } from "./auction/catalog";
import { DatabaseCapLedger, UsageView } from "./auction/caps";
import { AuctionGate, LoopMonitor } from "./auction/gate";
import { releaseHeldLeads } from "./auction/hold";
import { acceptDueReturns } from "./returns/returns";
import { expirePendingLeads } from "./reconciliation/confirm";
import { Outbox, type Sender } from "./notifications/outbox";
import { ChannelLimiter } from "./auction/limiter";
import { DatabaseRouting } from "./auction/routing";
import type { SellDeps } from "./auction/sell";
import { SupplierKeys } from "./auth/supplier-keys";
import { createBuyerTransport, type BuyerTransport } from "./channels/transport";
import { mailingTransport } from "./channels/email";
import { createMailer, smtpSettings } from "./email/mailer";
import { emailSender } from "./notifications/email";
import { dbTimeoutMs, type Config } from "./config";
import { migrateDatabase, openDatabase, type Database, type DatabaseTarget } from "./db/client";
import { deleteEndedUsage } from "./db/caps";
import { LeadWriter } from "./db/lead-writer";
import { settleInterruptedLeads } from "./db/leads";
import { keepAttemptPartitions, type PartitionUpkeep } from "./db/partitions";
import { pruneStickyBuyers } from "./db/routing";
import { prunePings } from "./db/pings";
import { uuidv7 } from "./ids";
import { rollUp } from "./reports/rollup";
import type { AppEnv } from "./http/env";
import { rawProblemAnswer } from "./http/problem";
import { createLogger } from "./logger";
import { createMetrics } from "./metrics";
import { DAY_MS, systemClock, type Clock } from "./time/clock";

/** Returning consumers forgotten per sweep at most. */
const STICKY_PRUNE_BATCH = 10_000;
/** Expired pings pruned (and pings past retention deleted) per sweep at most. */
const PING_PRUNE_BATCH = 10_000;

export interface Gavel {
  url: string;
  port: number;
  database: Database;
  adminToken: string;
  logger: Logger;
  /** The mounted app (tests enumerate `app.routes`). */
  app: Hono<AppEnv>;
  /** Stops accepting, waits for running auctions (bounded), closes pools and the database. */
  close(): Promise<void>;
  /** One sweep of held leads now (it also runs every GAVEL_HOLD_SWEEP_MS): those due are auctioned or expired. */
  releaseHeld(): Promise<{ released: number; expired: number }>;
  /** One sweep of pending returns now (it also runs every GAVEL_SWEEP_MS): those past auto_accept_hours are accepted. */
  acceptDueReturns(): Promise<number>;
  /** One sweep of pending leads now (it also runs every GAVEL_SWEEP_MS): those not confirmed by their buyer's postback in time end unsold. */
  expirePending(): Promise<number>;
  /** One sweep of the notification outbox now (it also runs every GAVEL_DELIVERY_POLL_MS): attempts made. */
  deliverNotifications(): Promise<number>;
}

export interface StartOptions {
  config: Config;
  /** Overrides the database choice of `config` (tests pass an in-memory PGlite). */
  target?: DatabaseTarget;
  logger?: Logger;
  clock?: Clock;
  transport?: BuyerTransport;
  random?: () => number;
  /** The notification outbox's jitter draws (default: `random`). */
  jitter?: () => number;
  /**
   * Whether this process's event loop is saturated now (default: a LoopMonitor). Tests that count
   * buyer timeouts exactly pass their own, so a loaded test machine cannot excuse a hanging buyer.
   */
  loopSaturated?: () => boolean;
  /** Notification senders besides the webhook, by `via` (src/notifications/outbox.ts). */
  senders?: Record<string, Sender>;
}

export function databaseTarget(config: Config): DatabaseTarget {
  return config.DATABASE_URL
    ? {
        url: config.DATABASE_URL,
        poolSize: config.GAVEL_DB_POOL,
        bounds: { statementTimeoutMs: config.GAVEL_DB_STATEMENT_TIMEOUT_MS, queryTimeoutMs: dbTimeoutMs(config) },
      }
    : { dataDir: config.GAVEL_DATA_DIR };
}

export async function startGavel(options: StartOptions): Promise<Gavel> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const target = options.target ?? databaseTarget(config);
  const database = await openDatabase(target);
  await migrateDatabase(target, database);
  const clock = options.clock ?? systemClock;
  const catalog = new Catalog(database, config.GAVEL_CONFIG_TTL_MS, clock);
  // Email channels' posts go through the SMTP server of the environment (none: they fail as not sent).
  const smtp = smtpSettings(config);
  const mailer = smtp && createMailer(smtp);
  const transport = mailingTransport(options.transport ?? createBuyerTransport(), mailer);
  const loop = options.loopSaturated ? undefined : new LoopMonitor();
  const gate = new AuctionGate(config.GAVEL_MAX_AUCTIONS, undefined, options.loopSaturated ?? (() => loop!.saturated()));
  const caps = new DatabaseCapLedger(database, new UsageView(database, clock, config.GAVEL_USAGE_REFRESH_MS, logger));
  let ready = true;

  const adminToken = config.ADMIN_TOKEN ?? `gvl_admin_${randomBytes(24).toString("base64url")}`;
  if (!config.ADMIN_TOKEN) logger.warn({ admin_token: adminToken }, "ADMIN_TOKEN is not set: generated one for this process only");

  const metrics = createMetrics({ auctionsInFlight: () => gate.inFlight });
  const leadWriter = new LeadWriter(database, { logger });
  const newId = () => uuidv7(clock.now());
  const limiter = new ChannelLimiter();
  const random = options.random ?? Math.random;
  const app = createApp({
    database,
    leadWriter,
    catalog,
    supplierKeys: new SupplierKeys(database, config.GAVEL_CONFIG_TTL_MS, clock),
    transport,
    gate,
    admissionWaitMs: config.GAVEL_ADMISSION_WAIT_MS,
    limiter,
    caps,
    clock,
    logger,
    newId,
    random,
    adminToken,
    maxLeadBytes: config.GAVEL_MAX_LEAD_BYTES,
    maxBuyerBodyBytes: config.GAVEL_MAX_BUYER_BODY_BYTES,
    isReady: () => ready,
    metrics,
    answerGraceMs: config.GAVEL_ANSWER_GRACE_MS,
  });

  // Returning consumers past every campaign's sticky window and the retention are forgotten
  // (db/routing.ts). Finding them reads routing_sticky whole, so once an hour is plenty, unless the
  // last sweep's batch was full (a backlog goes on at the next sweep).
  let stickyPrunedAt = -Infinity;
  const pruneSticky = async () => {
    if (clock.now() - stickyPrunedAt < 3_600_000) return;
    try {
      const forgotten = await pruneStickyBuyers(database, clock.now(), config.GAVEL_RETENTION_DAYS, STICKY_PRUNE_BATCH);
      if (forgotten) logger.info({ forgotten }, "forgot returning consumers past every sticky window");
      if (forgotten < STICKY_PRUNE_BATCH) stickyPrunedAt = clock.now();
    } catch (err) {
      logger.error({ err }, "forgetting old returning consumers failed");
    }
  };

  // Leads a dead process left mid-auction are settled, never re-auctioned; keys claimed by requests
  // that never recorded a lead are given back; cap usage of periods that ended long ago is removed;
  // the partitions of attempts are made ahead, and those past GAVEL_RETENTION_DAYS dropped.
  const settle = () =>
    Promise.all([
      settleInterruptedLeads(database, new Date(clock.now() - config.GAVEL_SETTLE_AFTER_MS), config.GAVEL_SETTLE_AFTER_MS)
        .then((n) => (n.leads || n.keys) && logger.warn({ leads: n.leads, idempotency_keys: n.keys }, "settled interrupted auctions as error"))
        .catch((err) => logger.error({ err }, "settling interrupted auctions failed")),
      deleteEndedUsage(database, clock.now() - 35 * DAY_MS, clock.now()).catch((err) => logger.error({ err }, "removing old cap usage failed")),
      keepAttemptPartitions(database, clock.now(), config.GAVEL_RETENTION_DAYS)
        .then((done) => logPartitionUpkeep(logger, done))
        .catch((err) => logger.error({ err }, "keeping the partitions of attempts failed")),
      pruneSticky(),
      prunePings(database, clock.now(), config.GAVEL_RETENTION_DAYS, PING_PRUNE_BATCH)
        .then((n) => (n.pruned || n.deleted) && logger.info(n, "pruned expired pings"))
        .catch((err) => logger.error({ err }, "pruning expired pings failed")),
    ]);
  await settle();
  const sweeper = setInterval(settle, config.GAVEL_SWEEP_MS);
  sweeper.unref();

  // Held leads (auction/hold.ts) live in the database: whichever process sweeps first once a
  // channel opens auctions each, and a sweep still running when the next is due is not doubled.
  const sellDeps: SellDeps = {
    database,
    leadWriter,
    catalog,
    transport,
    gate,
    limiter,
    caps,
    clock,
    logger,
    newId,
    random,
    metrics,
    maxBodyBytes: config.GAVEL_MAX_BUYER_BODY_BYTES,
    answerGraceMs: config.GAVEL_ANSWER_GRACE_MS,
    routing: new DatabaseRouting(database, caps.view),
  };
  let releasing: Promise<{ released: number; expired: number }> | undefined;
  const releaseHeld = () =>
    (releasing ??= releaseHeldLeads(sellDeps)
      .catch((err) => {
        logger.error({ err }, "releasing held leads failed");
        return { released: 0, expired: 0 };
      })
      .finally(() => (releasing = undefined)));
  const releaser = setInterval(releaseHeld, config.GAVEL_HOLD_SWEEP_MS);
  releaser.unref();

  // Returns past their buyer's auto_accept_hours are accepted by whichever process sweeps first
  // (each locked with SKIP LOCKED); a sweep still running when the next is due is not doubled.
  let accepting: Promise<number> | undefined;
  const acceptReturns = () =>
    (accepting ??= acceptDueReturns({ database, clock, newId })
      .catch((err) => {
        logger.error({ err }, "accepting due returns failed");
        return 0;
      })
      .finally(() => (accepting = undefined)));
  const returnsSweeper = setInterval(acceptReturns, config.GAVEL_SWEEP_MS);
  returnsSweeper.unref();

  // Pending leads (reconciliation/confirm.ts) whose buyer's postback did not come in time are made
  // unsold by whichever process sweeps first (each under its row lock, only while still pending).
  let expiring: Promise<number> | undefined;
  const expirePending = () =>
    (expiring ??= expirePendingLeads({ database, clock, logger })
      .catch((err) => {
        logger.error({ err }, "settling unconfirmed pending leads failed");
        return 0;
      })
      .finally(() => (expiring = undefined)));
  const pendingSweeper = setInterval(expirePending, config.GAVEL_SWEEP_MS);
  pendingSweeper.unref();

  // Notifications (notifications/outbox.ts) are in the database: whichever process sweeps first
  // delivers each; the sweep's own rounds go on while rows are due.
  const outbox = new Outbox({
    database,
    clock,
    random: options.jitter ?? random,
    maxAttempts: config.GAVEL_DELIVERY_MAX_ATTEMPTS,
    retryMs: config.GAVEL_DELIVERY_RETRY_MS,
    timeoutMs: config.GAVEL_DELIVERY_TIMEOUT_MS,
    // Notices to an email address (a supplier's notify_email) go through the SMTP server, if there is one.
    senders: { ...(mailer && { email: emailSender(mailer, config.GAVEL_DELIVERY_TIMEOUT_MS) }), ...options.senders },
    logger,
  });
  const deliver = () =>
    outbox.tick().catch((err) => {
      logger.error({ err }, "delivering notifications failed");
      return 0;
    });
  const deliverer = setInterval(deliver, config.GAVEL_DELIVERY_POLL_MS);
  deliverer.unref();

  // The reports' rollups catch up with the leads decided since the last roll (any process may roll:
  // one at a time does). A roll still running when the next is due is not started twice.
  let rolling: Promise<void> | undefined;
  const stopRolling = new AbortController();
  const roll = () => {
    rolling ??= rollUp(database, { logger, signal: stopRolling.signal })
      .then(() => {}, (err) => logger.error({ err }, "rolling up leads for reports failed"))
      .finally(() => (rolling = undefined));
  };
  roll();
  const roller = setInterval(roll, config.GAVEL_SWEEP_MS);
  roller.unref();

  // Every request goes to the app, lead intake included: admission control is its middleware
  // (http/admission.ts), which reads nothing of a lead it refuses.
  const server: ServerType = createServer(getRequestListener(app.fetch));
  // A request Node's parser refuses never reaches the app: it still gets a problem+json answer,
  // with a request id of its own like every answer (its headers could not be read).
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
    socket.end(
      error.code === "HPE_HEADER_OVERFLOW"
        ? rawProblemAnswer("headers_too_large", "The request line and headers are over 16 KiB", newId())
        : rawProblemAnswer("bad_request", "The request is not valid HTTP/1.1", newId()),
    );
  });
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  // The first line a newcomer reads: where to point a browser, a supplier and curl.
  logger.info(
    { url, host: config.HOST, port, docs: `${url}/docs`, dashboard: `${url}/`, openapi: `${url}/openapi.json`, database: database.kind },
    `gavel listening on ${url} — API reference ${url}/docs, dashboard ${url}/`,
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    database,
    adminToken,
    logger,
    app,
    releaseHeld,
    acceptDueReturns: acceptReturns,
    expirePending,
    deliverNotifications: () => outbox.deliverDue(),
    close() {
      closing ??= (async () => {
        ready = false;
        clearInterval(sweeper);
        clearInterval(roller);
        clearInterval(releaser);
        clearInterval(returnsSweeper);
        clearInterval(pendingSweeper);
        clearInterval(deliverer);
        // No more notices claimed, and those in flight cut off (their rows let go for the next process).
        outbox.stop();
        await releasing;
        await accepting;
        await expiring;
        stopRolling.abort();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        const drained = await gate.drained(config.GAVEL_DRAIN_SECONDS * 1000);
        if (!drained) logger.warn({ in_flight: gate.inFlight }, "drain timed out; closing with auctions still running");
        // Answers of the last auctions are still being written: give them a moment, then cut
        // whatever keep-alive connections remain.
        await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        await stopped;
        await transport.close();
        await outbox.close();
        loop?.stop();
        await leadWriter.close();
        // The last posts' counts for expected-value ranking (a failed write loses only them).
        await catalog.acceptance.flush();
        await rolling;
        await database.close();
      })();
      return closing;
    },
  };
}

function logPartitionUpkeep(logger: Logger, done: PartitionUpkeep): void {
  if (done.moved)
    logger.warn(
      { moved: done.moved, created: done.created },
      "attempts had landed in the DEFAULT partition (their day had no partition): moved into their day's new partition",
    );
  else if (done.created.length) logger.info({ created: done.created }, "made partitions of attempts");
  if (done.dropped.length) logger.info({ dropped: done.dropped }, "dropped partitions of attempts past GAVEL_RETENTION_DAYS");
  if (done.deferred.length) logger.warn({ deferred: done.deferred }, "partitions of attempts left for the next sweep: their locks were busy");
}
