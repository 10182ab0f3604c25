// The environment, validated once. A bad value stops the process with one readable line.
import { availableParallelism } from "node:os";
import { z } from "zod";
import { smtpSettings } from "./email/mailer";

export const defaultMaxAuctions = (cores = availableParallelism()) => 32 * Math.max(1, cores);
/**
 * PostgreSQL connections per process: about two per core, at least 4. The hot path's statements
 * are short, and postgres.js pipelines queries on a busy connection, so a few connections carry
 * many leads; more connections only wake more database processes for the same work (measured on
 * 2 cores: 4 connections gave ~9 % more leads/s than 20, and less database CPU per lead).
 */
export const defaultDbPool = (cores = availableParallelism()) => Math.max(4, 2 * cores);

const intFrom = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const Config = z.object({
  PORT: intFrom(3000, 0, 65535),
  HOST: z.string().default("0.0.0.0"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  GAVEL_DATA_DIR: z.string().default("./.gavel"),
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * The SMTP server email channels (and email notifications) send through: a URL
   * (smtp://user:pass@host:587, smtps:// for TLS from the start) or GAVEL_SMTP_HOST and the
   * variables beside it; GAVEL_MAIL_FROM is the From of every message. Unset: no email.
   */
  GAVEL_SMTP_URL: z.string().optional(),
  GAVEL_SMTP_HOST: z.string().optional(),
  GAVEL_SMTP_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  GAVEL_SMTP_USER: z.string().optional(),
  GAVEL_SMTP_PASS: z.string().optional(),
  GAVEL_SMTP_SECURE: z.enum(["true", "false"]).optional(),
  GAVEL_MAIL_FROM: z.string().optional(),
  /**
   * Auctions one process runs at once; past it leads get 503 + Retry-After before any ping. The
   * default scales with the cores: an auction costs a few milliseconds of CPU, so past ~32 per core
   * admitted leads only queue behind each other for the CPU and answer late, while a fast 503 lets
   * the supplier retry or go elsewhere.
   */
  GAVEL_MAX_AUCTIONS: intFrom(defaultMaxAuctions(), 1, 100_000),
  /**
   * How long a lead that finds every auction slot taken may wait for one, unread, before it is
   * answered 503. The wait spends the lead's own deadline. Up to 4 × GAVEL_MAX_AUCTIONS wait; 0
   * answers 503 at once.
   */
  GAVEL_ADMISSION_WAIT_MS: intFrom(100, 0, 10_000),
  /** How long cached configuration lives before this process re-reads it (other processes' writes). */
  GAVEL_CONFIG_TTL_MS: intFrom(5000, 0, 600_000),
  /** How often a process re-reads cap usage for eligibility (reservations are exact regardless). */
  GAVEL_USAGE_REFRESH_MS: intFrom(1000, 0, 600_000),
  GAVEL_MAX_LEAD_BYTES: intFrom(64 * 1024, 1024, 16 * 1024 * 1024),
  GAVEL_MAX_BUYER_BODY_BYTES: intFrom(64 * 1024, 1024, 16 * 1024 * 1024),
  GAVEL_DB_POOL: intFrom(defaultDbPool(), 1, 500),
  /**
   * Server-side bound of every statement on Gavel's PostgreSQL pool (statement_timeout). The hot
   * path's statements take milliseconds; this only cuts off one the database cannot finish.
   */
  GAVEL_DB_STATEMENT_TIMEOUT_MS: intFrom(5000, 100, 600_000),
  /**
   * Client-side bound of every statement: one without any answer by then fails with 503, and the
   * pool it ran on is replaced (a connection that died without a word cannot hold Gavel up).
   * Defaults to the statement timeout plus one second, so a merely slow statement is cut off by
   * the server first.
   */
  GAVEL_DB_TIMEOUT_MS: intFrom(0, 0, 600_000).transform((v) => v || undefined),
  /**
   * How long after its deadline a lead request is answered at the latest, whatever the database
   * does: past it the supplier gets 503 + Retry-After (the lead, if recorded, settles on its own and
   * its Idempotency-Key replays the outcome).
   */
  GAVEL_ANSWER_GRACE_MS: intFrom(1000, 50, 60_000),
  /**
   * How long after its deadline a lead still `auctioning` counts as interrupted (its process died,
   * or could not write its outcome for that long), to be settled as `error` by any process's sweep;
   * also how old a claimed Idempotency-Key with no lead must be before it is given back.
   */
  GAVEL_SETTLE_AFTER_MS: intFrom(60_000, 1000, 86_400_000),
  /** How often each process sweeps for interrupted leads, ended cap periods and attempt partitions. */
  GAVEL_SWEEP_MS: intFrom(30_000, 100, 3_600_000),
  /** How often each process looks for held leads whose channel has opened (README "Held leads"). */
  GAVEL_HOLD_SWEEP_MS: intFrom(10_000, 100, 3_600_000),
  /**
   * Days of raw attempts (pings and posts) kept: older UTC days are dropped whole, as partitions.
   * 0 keeps every day. Reports read rollups, and leads keep their outcome, so neither loses history.
   */
  GAVEL_RETENTION_DAYS: intFrom(90, 0, 3650),
  /** Seconds SIGTERM waits for running auctions before closing anyway. */
  GAVEL_DRAIN_SECONDS: intFrom(15, 0, 600),
  /** How often each process looks for notifications due (README "Notifications"). */
  GAVEL_DELIVERY_POLL_MS: intFrom(1000, 50, 3_600_000),
  /** Attempts at a notification before it is dead (dead letters wait for an operator's replay). */
  GAVEL_DELIVERY_MAX_ATTEMPTS: intFrom(10, 1, 100),
  /** The first retry's delay; each further one doubles (up to 6 hours), with jitter. */
  GAVEL_DELIVERY_RETRY_MS: intFrom(30_000, 100, 86_400_000),
  /** One notification request's bound: connecting, answer headers and body. */
  GAVEL_DELIVERY_TIMEOUT_MS: intFrom(10_000, 100, 120_000),
});
export type Config = z.infer<typeof Config>;

/** The client-side bound of a statement (GAVEL_DB_TIMEOUT_MS, or the statement timeout plus a second). */
export const dbTimeoutMs = (config: Config) => config.GAVEL_DB_TIMEOUT_MS ?? config.GAVEL_DB_STATEMENT_TIMEOUT_MS + 1000;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = Config.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment: ${lines.join("; ")}`);
  }
  try {
    smtpSettings(parsed.data);
  } catch (error) {
    throw new Error(`Invalid environment: ${(error as Error).message}`);
  }
  // A lead is settled as interrupted only once no statement of its own process can still commit.
  if (parsed.data.GAVEL_SETTLE_AFTER_MS <= dbTimeoutMs(parsed.data))
    throw new Error(`Invalid environment: GAVEL_SETTLE_AFTER_MS: must be more than the database timeout (${dbTimeoutMs(parsed.data)} ms)`);
  return parsed.data;
}
