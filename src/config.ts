// The environment, validated once. A bad value stops the process with one readable line.
import { availableParallelism } from "node:os";
import { z } from "zod";

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
  /** Seconds SIGTERM waits for running auctions before closing anyway. */
  GAVEL_DRAIN_SECONDS: intFrom(15, 0, 600),
});
export type Config = z.infer<typeof Config>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = Config.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment: ${lines.join("; ")}`);
  }
  return parsed.data;
}
