// The single source of truth for Gavel's tables. Migrations in drizzle/ are generated from this
// file by `npm run db:generate` and committed; they run unchanged on PGlite and PostgreSQL.
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const createdAt = () => timestamp({ withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp({ withTimezone: true }).notNull().defaultNow();

// Configuration resources keep their validated document in `config`; the columns beside it are the
// ones queries filter or join on. The document is validated by the zod schemas in src/config/.
export const campaigns = pgTable("campaigns", {
  id: text().primaryKey(),
  status: text().notNull(),
  config: jsonb().notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const buyers = pgTable("buyers", {
  id: text().primaryKey(),
  status: text().notNull(),
  config: jsonb().notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const channels = pgTable(
  "channels",
  {
    id: text().primaryKey(),
    buyerId: text()
      .notNull()
      .references(() => buyers.id),
    campaignId: text()
      .notNull()
      .references(() => campaigns.id),
    status: text().notNull(),
    config: jsonb().notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index().on(t.campaignId), index().on(t.buyerId)],
);

export const suppliers = pgTable("suppliers", {
  id: text().primaryKey(),
  status: text().notNull(),
  config: jsonb().notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

// Supplier API keys are shown once and stored only as a SHA-256 hash: the key is 32 random bytes,
// so a fast hash is enough (there is nothing to brute-force), and lookups stay one index probe.
export const supplierKeys = pgTable(
  "supplier_keys",
  {
    id: text().primaryKey(),
    supplierId: text()
      .notNull()
      .references(() => suppliers.id),
    keyHash: text().notNull(),
    prefix: text().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex().on(t.keyHash), index().on(t.supplierId)],
);

export const operatorTokens = pgTable(
  "operator_tokens",
  {
    id: text().primaryKey(),
    name: text().notNull(),
    role: text().notNull(),
    tokenHash: text().notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex().on(t.tokenHash), check("operator_tokens_role", sql`${t.role} in ('admin', 'analyst')`)],
);

export const leads = pgTable(
  "leads",
  {
    // UUIDv7: time-ordered, so the primary key doubles as the listing order and the page cursor.
    id: text().primaryKey(),
    campaignId: text()
      .notNull()
      .references(() => campaigns.id),
    supplierId: text()
      .notNull()
      .references(() => suppliers.id),
    status: text().notNull(),
    reason: text(),
    test: boolean().notNull().default(false),
    /** The supplier's tracking strings: not PII, not sent to buyers unless a template maps them. */
    source: text(),
    subId: text(),
    data: jsonb().notNull(),
    receivedAt: timestamp({ withTimezone: true }).notNull(),
    decidedAt: timestamp({ withTimezone: true }),
    deadlineAt: timestamp({ withTimezone: true }),
    // Money is integer cents: never a floating-point sum.
    priceCents: integer().notNull().default(0),
    revenueCents: integer().notNull().default(0),
    soldTo: integer().notNull().default(0),
    /** Who bought: the channel whose post accepted, and its buyer (null unless sold). */
    soldChannelId: text(),
    soldBuyerId: text(),
    excluded: jsonb().notNull().default(sql`'[]'::jsonb`),
    /** How routing ordered the posts (src/auction/routing.ts); null for a campaign routed by price alone. */
    routing: jsonb(),
    /** Bids as made and as ranked, acceptance rates and charges (src/auction/clearing.ts); null for a plain first-price auction. */
    ranking: jsonb(),
    overheadMs: integer(),
  },
  (t) => [
    index().on(t.campaignId, t.id),
    index().on(t.status, t.id),
    index().on(t.receivedAt),
    index().on(t.soldChannelId, t.id),
    index().on(t.soldBuyerId, t.id),
    index().on(t.source, t.id),
    check(
      "leads_status",
      sql`${t.status} in ('received', 'rejected', 'duplicate', 'auctioning', 'held', 'expired', 'pending', 'sold', 'unsold', 'error', 'returned')`,
    ),
  ],
);

export const leadEvents = pgTable(
  "lead_events",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    leadId: text()
      .notNull()
      .references(() => leads.id),
    status: text().notNull(),
    at: timestamp({ withTimezone: true }).notNull(),
    reason: text(),
  },
  (t) => [index().on(t.leadId)],
);

// Raw pings and posts, partitioned by range of `started_at`: one partition per UTC day
// (attempts_20261129), so retention drops whole days instead of deleting rows, and a DEFAULT
// partition catches a day not made yet. Drizzle does not model partitioning: the conversion is the
// hand-written drizzle/0003_attempts_partitions.sql and the upkeep is src/db/partitions.ts. A
// partitioned table's keys must hold the partition key, hence the primary key (id, started_at).
export const attempts = pgTable(
  "attempts",
  {
    id: bigint({ mode: "number" }).notNull().generatedAlwaysAsIdentity(),
    leadId: text()
      .notNull()
      .references(() => leads.id),
    kind: text().notNull(),
    channelId: text().notNull(),
    startedAt: timestamp({ withTimezone: true }).notNull(),
    durationMs: integer().notNull(),
    httpStatus: integer(),
    outcome: text().notNull(),
    priceCents: integer(),
    reason: text(),
    pingRef: text(),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.startedAt] }),
    index().on(t.leadId),
    index().on(t.channelId, t.startedAt),
    check("attempts_kind", sql`${t.kind} in ('ping', 'post')`),
  ],
);

// One row per (campaign, dedup key). A lead claims its keys with INSERT … ON CONFLICT, which the
// unique primary key serialises: two identical leads at the same instant cannot both claim.
export const dedupKeys = pgTable(
  "dedup_keys",
  {
    campaignId: text().notNull(),
    keyHash: text().notNull(),
    leadId: text().notNull(),
    seenAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.keyHash] })],
);

export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    supplierId: text().notNull(),
    key: text().notNull(),
    requestHash: text().notNull(),
    leadId: text(),
    state: text().notNull(),
    responseStatus: integer(),
    response: jsonb(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.supplierId, t.key] }), check("idempotency_state", sql`${t.state} in ('running', 'done')`)],
);

// Cap usage: one row per (owner, period instance). A reservation adds to it in one conditional
// upsert; the limits travel with the row so these CHECK constraints refuse, inside the database,
// any update that would take usage past a cap. Several processes sharing the database therefore
// cannot sell past a cap together: concurrent reservations of one row queue on its row lock and
// each is checked against the value the previous one committed.
export const capUsage = pgTable(
  "cap_usage",
  {
    /** `channel`, `buyer` or `supplier`. */
    scope: text().notNull(),
    ownerId: text().notNull(),
    /** `hour`, `day`, `week`, `month`, `total`, or `pace` for a pacing window. */
    period: text().notNull(),
    periodStart: timestamp({ withTimezone: true }).notNull(),
    resetsAt: timestamp({ withTimezone: true }),
    leads: integer().notNull().default(0),
    spendCents: bigint({ mode: "number" }).notNull().default(0),
    leadsLimit: integer(),
    spendLimitCents: bigint({ mode: "number" }),
  },
  (t) => [
    primaryKey({ columns: [t.scope, t.ownerId, t.period, t.periodStart] }),
    index().on(t.resetsAt),
    check("cap_usage_leads", sql`${t.leadsLimit} is null or ${t.leads} <= ${t.leadsLimit}`),
    check("cap_usage_spend", sql`${t.spendLimitCents} is null or ${t.spendCents} <= ${t.spendLimitCents}`),
  ],
);

// Per-buyer dedup: which consumers (hashed keys) a buyer has received, across campaigns. Claimed
// before the post in the same statement as the cap reservation.
export const buyerDedupKeys = pgTable(
  "buyer_dedup_keys",
  {
    buyerId: text().notNull(),
    keyHash: text().notNull(),
    leadId: text().notNull(),
    seenAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.buyerId, t.keyHash] })],
);

// Round-robin routing: one turn counter per campaign and priority tier, taken by an atomic upsert
// (src/db/routing.ts), so every process sharing the database takes turns in one exact rotation.
export const routingTurns = pgTable(
  "routing_turns",
  {
    campaignId: text().notNull(),
    tier: integer().notNull(),
    turn: bigint({ mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.tier] })],
);

// Sticky routing: the buyer that last bought each consumer of a campaign (by the campaign's hashed
// dedup keys, never the values), so a returning consumer is offered to it first.
export const routingSticky = pgTable(
  "routing_sticky",
  {
    campaignId: text().notNull(),
    keyHash: text().notNull(),
    buyerId: text().notNull(),
    channelId: text().notNull(),
    leadId: text().notNull(),
    soldAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.keyHash] })],
);

// Pings from suppliers that ping first (src/auction/inbound.ts, db/pings.ts): a ping's non-PII
// data, its quote, its ranked bids and its buyers' pings, kept until `expires_at` for its post,
// which any process may take. The ping's id is its lead's once posted. `state` makes the post
// happen once: the first post moves it from 'open' to 'posting' in one conditional update and
// stores its answer ('posted'), which every later post replays.
export const inboundPings = pgTable(
  "inbound_pings",
  {
    id: text().primaryKey(),
    campaignId: text().notNull(),
    supplierId: text().notNull(),
    test: boolean().notNull().default(false),
    source: text(),
    subId: text(),
    data: jsonb().notNull(),
    /** By field name, SHA-256 hex of the consumer's normalised email or phone, when the ping sent them. */
    contactHashes: jsonb(),
    receivedAt: timestamp({ withTimezone: true }).notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    status: text().notNull(),
    reason: text(),
    quoteCents: integer().notNull().default(0),
    bids: jsonb().notNull().default(sql`'[]'::jsonb`),
    attempts: jsonb().notNull().default(sql`'[]'::jsonb`),
    excluded: jsonb().notNull().default(sql`'[]'::jsonb`),
    ranking: jsonb(),
    /** The supplier side of the lead's history (pinged, quoted, refused posts), copied to the lead by its post. */
    events: jsonb().notNull().default(sql`'[]'::jsonb`),
    state: text().notNull().default("open"),
    postedAt: timestamp({ withTimezone: true }),
    answerStatus: integer(),
    answer: jsonb(),
    /**
     * When the sweeper cleared what only a post needs (fields, bids, buyers' pings, history, the
     * answer), a day past its expiry; the narrow row stays for the pings report until retention.
     */
    prunedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    index().on(t.receivedAt),
    index("inbound_pings_unpruned").on(t.expiresAt).where(sql`${t.prunedAt} is null`),
    check("inbound_pings_status", sql`${t.status} in ('bid', 'no_bid')`),
    check("inbound_pings_state", sql`${t.state} in ('open', 'posting', 'posted')`),
  ],
);

// Held leads (src/auction/hold.ts, db/held.ts): a lead kept until the first of its closed channels
// opens at `release_at`, or `expired` at `expires_at`. Due rows are taken with FOR UPDATE SKIP
// LOCKED, so each is released by exactly one of the processes sharing the database.
export const heldLeads = pgTable(
  "held_leads",
  {
    leadId: text()
      .primaryKey()
      .references(() => leads.id),
    campaignId: text().notNull(),
    releaseAt: timestamp({ withTimezone: true }).notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [index().on(t.releaseAt)],
);

// Expected-value ranking's post-acceptance tallies (src/db/acceptance.ts): per channel, its posts
// and accepted posts, both decaying with `half_life_hours` from `as_of`. One upsert adds a batch of
// posts, so every process sharing the database adds to, and reads, one estimate per channel.
export const channelAcceptance = pgTable("channel_acceptance", {
  channelId: text().primaryKey(),
  posted: doublePrecision().notNull().default(0),
  accepted: doublePrecision().notNull().default(0),
  asOf: timestamp({ withTimezone: true }).notNull(),
  halfLifeHours: doublePrecision().notNull(),
});

// Buyer postbacks (src/postbacks/): what a buyer said happened to a lead after buying it. The
// primary key (buyer, event id) makes a postback idempotent: a repeat finds the stored answer, and
// a repeat with a different body (request_hash) is refused.
export const buyerPostbacks = pgTable(
  "buyer_postbacks",
  {
    buyerId: text().notNull(),
    eventId: text().notNull(),
    leadId: text().notNull(),
    /** `contacted`, `converted` or `return_requested`. */
    event: text().notNull(),
    valueCents: integer(),
    reason: text(),
    requestHash: text().notNull(),
    receivedAt: timestamp({ withTimezone: true }).notNull(),
    answerStatus: integer().notNull(),
    answer: jsonb().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.buyerId, t.eventId] }),
    index().on(t.leadId),
    index().on(t.receivedAt),
    check("buyer_postbacks_event", sql`${t.event} in ('contacted', 'converted', 'return_requested')`),
  ],
);

// Returns (src/returns/): one per sale (lead, buyer). Pending until accepted (by an operator, or
// by the sweeper once `auto_accept_at` passes) or rejected. On acceptance the sale's revenue is
// reversed (`revenue_cents`), and the supplier's share clawed back (`clawback_cents`, 0 when the
// campaign keeps paying the supplier); the lead's own columns keep the figures of the sale.
export const leadReturns = pgTable(
  "lead_returns",
  {
    id: text().primaryKey(),
    leadId: text()
      .notNull()
      .references(() => leads.id),
    buyerId: text().notNull(),
    channelId: text().notNull(),
    campaignId: text().notNull(),
    supplierId: text().notNull(),
    reason: text().notNull(),
    state: text().notNull(),
    /** `postback:<event id>` or `operator:<actor id>`. */
    requestedBy: text().notNull(),
    requestedAt: timestamp({ withTimezone: true }).notNull(),
    autoAcceptAt: timestamp({ withTimezone: true }),
    decidedBy: text(),
    decidedAt: timestamp({ withTimezone: true }),
    note: text(),
    revenueCents: integer().notNull(),
    clawbackCents: integer().notNull().default(0),
    capsReleased: boolean().notNull().default(false),
  },
  (t) => [
    uniqueIndex().on(t.leadId, t.buyerId),
    index().on(t.buyerId, t.requestedAt),
    index().on(t.state, t.autoAcceptAt),
    check("lead_returns_state", sql`${t.state} in ('pending', 'accepted', 'rejected')`),
  ],
);

// Do-not-sell list: SHA-256 of the normalised email or phone, never the value itself.
export const suppressions = pgTable(
  "suppressions",
  {
    kind: text().notNull(),
    valueHash: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.valueHash] }), check("suppressions_kind", sql`${t.kind} in ('email', 'phone')`)],
);

// Who changed what configuration, when: one row per change (API write, config apply, token or key
// operation), with a field-level diff whose secret values are already masked.
export const auditLog = pgTable(
  "audit_log",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** `token:<id>`, `env:ADMIN_TOKEN` or `cli:<os user>`. */
    actor: text().notNull(),
    actorName: text(),
    /** `api`, `apply` (config as code over HTTP) or `cli`. */
    via: text().notNull(),
    /** `<kind>/<id>`, e.g. `channels/acme-tx`, `tokens/tok_…`, `suppliers/pub-1/keys/<key id>`. */
    resource: text().notNull(),
    action: text().notNull(),
    diff: jsonb().notNull(),
  },
  (t) => [index().on(t.resource, t.id), index().on(t.at)],
);

// Reports read rollups, never the raw leads and attempts (but for the last few minutes, which are
// not rolled up yet): one row per hour and key, at several levels of detail, so a report reads the
// least detailed level that still holds its grouping and filters. Rows are sums, so they merge by
// adding: counts, integer cents and latency histograms (counts per bucket of HISTOGRAM_MS in
// src/reports/histogram.ts). A rolled-away key column holds '' (see src/reports/rollup.ts).
const rollupKey = () => ({
  /** 'hour', 'day' (a UTC day: the sum of its hours, so far for the day being rolled) or 'week' (the 7 UTC days from `at`, any day: the sum of their day rows). */
  grain: text().notNull(),
  level: integer().notNull(),
  at: timestamp({ withTimezone: true }).notNull(),
  test: boolean().notNull(),
  campaignId: text().notNull(),
  supplierId: text().notNull(),
});
const count = () => integer().notNull().default(0);
const cents = () => bigint({ mode: "number" }).notNull().default(0);
const histogram = () => integer().array().notNull();

/** Lead figures per campaign, supplier, source and sub-id. */
export const reportLeads = pgTable(
  "report_leads",
  {
    ...rollupKey(),
    source: text().notNull(),
    subId: text().notNull(),
    leads: count(),
    rejected: count(),
    duplicate: count(),
    auctioned: count(),
    sold: count(),
    unsold: count(),
    errors: count(),
    /** Leads a buyer accepted whose sale its postback has not confirmed yet (README "Sales confirmed by postback"). */
    pending: count(),
    revenueCents: cents(),
    payoutCents: cents(),
    pings: count(),
    bids: count(),
    bidCents: cents(),
    maxBidCents: integer(),
    wins: count(),
    posts: count(),
    accepted: count(),
    postRejects: count(),
    timeouts: count(),
    decisionMs: histogram(),
  },
  (t) => [primaryKey({ columns: [t.grain, t.level, t.at, t.test, t.campaignId, t.supplierId, t.source, t.subId] })],
);

/** Channel figures per campaign, supplier and channel (and the channel's buyer). */
export const reportChannels = pgTable(
  "report_channels",
  {
    ...rollupKey(),
    channelId: text().notNull(),
    buyerId: text().notNull(),
    leads: count(),
    excluded: count(),
    pings: count(),
    bids: count(),
    bidCents: cents(),
    maxBidCents: integer(),
    wins: count(),
    posts: count(),
    accepted: count(),
    postRejects: count(),
    timeouts: count(),
    errors: count(),
    sold: count(),
    revenueCents: cents(),
    payoutCents: cents(),
    pingMs: histogram(),
    postMs: histogram(),
  },
  (t) => [primaryKey({ columns: [t.grain, t.level, t.at, t.test, t.campaignId, t.supplierId, t.channelId, t.buyerId] })],
);

/** The bid landscape: bids per price step (HALF_DOLLAR cents), and what came of them, by channel, by campaign (level 1) and over all (level 2). */
export const reportBids = pgTable(
  "report_bids",
  {
    grain: text().notNull(),
    level: integer().notNull(),
    at: timestamp({ withTimezone: true }).notNull(),
    test: boolean().notNull(),
    campaignId: text().notNull(),
    channelId: text().notNull(),
    /** floor(bid cents / 50): the bid's half-dollar step. */
    step: integer().notNull(),
    bids: count(),
    wins: count(),
    posts: count(),
    accepted: count(),
  },
  (t) => [primaryKey({ columns: [t.grain, t.level, t.at, t.test, t.campaignId, t.channelId, t.step] })],
);

/** Why channels did not take leads: exclusions, non-bids and refused posts, per channel and reason. */
export const reportReasons = pgTable(
  "report_reasons",
  {
    grain: text().notNull(),
    at: timestamp({ withTimezone: true }).notNull(),
    test: boolean().notNull(),
    campaignId: text().notNull(),
    /** '' for a lead's own reason (rejected, duplicate, unsold, error). */
    channelId: text().notNull(),
    /** `excluded`, `ping`, `post` or `lead`. */
    stage: text().notNull(),
    reason: text().notNull(),
    count: count(),
    /** Of those, on leads that ended unsold: the orphans no channel could take. */
    orphans: count(),
  },
  (t) => [primaryKey({ columns: [t.grain, t.at, t.test, t.campaignId, t.channelId, t.stage, t.reason] })],
);

/**
 * Held leads the roller passed over (src/reports/rollup.ts): a lead held when its hour was rolled
 * is counted once it is decided, its facts then added to the rows of the hour it arrived in.
 */
export const reportDeferred = pgTable("report_deferred", {
  leadId: text().primaryKey(),
  /** The hour the lead counts in (its received_at's). */
  at: timestamp({ withTimezone: true }).notNull(),
});

/** How far the rollups reach: every lead received before `rolled_to` is in them. */
export const reportProgress = pgTable("report_progress", {
  name: text().primaryKey(),
  rolledTo: timestamp({ withTimezone: true }).notNull(),
});

// Notifications (src/notifications/): the durable outbox. A row is written by the statement that
// makes its event happen (a lead's outcome, a held lead's expiry, an accepted return), one per
// receiver that wants it, and delivered at least once by whichever process claims it first.
// `event_id` names the event (the same for every receiver of it, and across replays), so a receiver
// can drop a second copy. `next_attempt_at` is both when a pending row is due and, once claimed,
// the end of its lease: a row whose process died mid-delivery becomes due again then.
export const deliveries = pgTable(
  "deliveries",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    eventId: text().notNull(),
    /** `lead.sold`, `lead.unsold`, `lead.returned` (suppliers), `lead.delivered` (buyers). */
    event: text().notNull(),
    leadId: text(),
    /** Whose setting asked for it: `supplier` (postback_url) or `buyer` (notify). */
    receiverKind: text().notNull(),
    receiverId: text().notNull(),
    /** How it goes out: `webhook` (an HTTPS POST to `target`); other senders plug in by name. */
    via: text().notNull().default("webhook"),
    /** The URL (or address) as configured when the event happened, kept for audit: each attempt goes where the receiver's settings say at that attempt. */
    target: text().notNull(),
    payload: jsonb().notNull(),
    /** `pending`, `delivered`, `dead` (attempts ran out) or `cancelled` (its receiver no longer asks for it: never sent). */
    state: text().notNull().default("pending"),
    attempts: integer().notNull().default(0),
    /** When a pending row is due, on Gavel's clock. */
    nextAttemptAt: timestamp({ withTimezone: true }).notNull(),
    /** A claimed row's lease, on the database's clock (now()), so processes' clocks need not agree; null when not claimed. */
    leasedUntil: timestamp({ withTimezone: true }),
    /** The claim that holds the row (random, one per attempt): only it may record the attempt's end. */
    claim: text(),
    lastError: text(),
    lastStatus: integer(),
    createdAt: timestamp({ withTimezone: true }).notNull(),
    updatedAt: timestamp({ withTimezone: true }).notNull(),
    deliveredAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex().on(t.eventId, t.receiverKind, t.receiverId, t.via),
    index("deliveries_due_index").on(t.nextAttemptAt).where(sql`${t.state} = 'pending'`),
    index().on(t.state, t.id),
    index().on(t.leadId),
    index().on(t.receiverKind, t.receiverId, t.id),
    check("deliveries_state", sql`${t.state} in ('pending', 'delivered', 'dead', 'cancelled')`),
    check("deliveries_receiver_kind", sql`${t.receiverKind} in ('supplier', 'buyer')`),
  ],
);
