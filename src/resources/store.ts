// Create, read, list, replace, patch and archive the four configuration resources. Each keeps its
// validated document in a jsonb column; the document, not the row, is what the API returns. Every
// write records an audit entry (actor, action, field-level diff with secrets masked) in the same
// transaction, so a change and its record commit together or not at all.
import { and, asc, eq, gt, inArray, isNull, ne, or, type SQL } from "drizzle-orm";
import type { z } from "zod";
import { hashSecret } from "../auth/secrets";
import { newApiKey } from "../auth/supplier-keys";
import { recordAudit, type Actor } from "../db/audit";
import type { Db } from "../db/client";
import { buyers, campaigns, channels, supplierKeys, suppliers } from "../db/schema";
import { fieldProblems } from "../channels/check";
import { Channel } from "../channels/config";
import { SECRET_MASK, secretPaths as channelSecretPaths } from "../channels/secrets";
import { formatPath, GavelError, invalid, type FieldError } from "../errors";
import { diffDocs, sameJson } from "./diff";
import { Buyer, Campaign, Supplier } from "./schemas";

export type ResourceKind = "campaigns" | "buyers" | "channels" | "suppliers";

const tables = { campaigns, buyers, channels, suppliers } as const;
export const resourceSchemas: Record<ResourceKind, z.ZodType<{ id: string; status: string }>> = {
  campaigns: Campaign,
  buyers: Buyer,
  channels: Channel,
  suppliers: Supplier,
};
const schemas = resourceSchemas;
export const singular: Record<ResourceKind, string> = {
  campaigns: "campaign",
  buyers: "buyer",
  channels: "channel",
  suppliers: "supplier",
};

export type Doc = Record<string, unknown> & { id: string; status: string };

/** Where a resource keeps write-only values: each is shown as "***" and kept when "***" is sent back. */
export function secretPaths(kind: ResourceKind, doc: Doc | null): string[][] {
  const signing = ["secret", "previous_secret"];
  const within = (...path: string[]) => {
    const node = getPath(doc, path);
    return node && typeof node === "object" ? signing.filter((k) => k in node).map((k) => [...path, k]) : [];
  };
  if (kind === "buyers") return [...within("postbacks"), ...within("notify", "signing")];
  if (kind === "suppliers") return within("postback_signing");
  return kind === "channels" && doc ? channelSecretPaths(doc) : [];
}

export function getPath(doc: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), doc);
}

export function setPath(doc: unknown, path: string[], value: unknown): void {
  const parent = getPath(doc, path.slice(0, -1));
  if (parent && typeof parent === "object") (parent as Record<string, unknown>)[path[path.length - 1]] = value;
}

export function maskSecrets(kind: ResourceKind, doc: Doc): Doc {
  const paths = secretPaths(kind, doc);
  if (paths.length === 0) return doc;
  const copy = structuredClone(doc);
  for (const path of paths) if (getPath(copy, path) !== undefined) setPath(copy, path, SECRET_MASK);
  return copy;
}

/** A "***" sent back in place of a secret means "keep the stored one". */
export function restoreSecrets(kind: ResourceKind, incoming: Doc, stored: Doc | null): FieldError[] {
  const errors: FieldError[] = [];
  for (const path of secretPaths(kind, incoming)) {
    if (getPath(incoming, path) !== SECRET_MASK) continue;
    const kept = stored ? getPath(stored, path) : undefined;
    if (typeof kept === "string") setPath(incoming, path, kept);
    else errors.push({ path: path.join("."), message: "is write-only: send the secret itself" });
  }
  return errors;
}

const READ_ONLY_FIELDS = ["created_at", "updated_at", "api_key", "health"];

/** Fields a read-back adds (timestamps, cap usage) may be sent back unchanged in a PUT or PATCH. */
export function withoutReadOnly(body: unknown): unknown {
  if (!body || typeof body !== "object" || Array.isArray(body)) return body;
  const copy = { ...(body as Record<string, unknown>) };
  for (const key of READ_ONLY_FIELDS) delete copy[key];
  if (Array.isArray(copy.caps))
    copy.caps = copy.caps.map((cap) => {
      if (!cap || typeof cap !== "object" || Array.isArray(cap)) return cap;
      const { used: _used, resets_at: _resets, ...rest } = cap as Record<string, unknown>;
      return rest;
    });
  return copy;
}

function validate(kind: ResourceKind, body: unknown, stored: Doc | null): Doc {
  const input = withoutReadOnly(body);
  // "***" becomes the stored secret before validation, so a secret's own rules (a signing secret's
  // length) judge the real value.
  if (input && typeof input === "object" && !Array.isArray(input)) {
    const secretErrors = restoreSecrets(kind, input as Doc, stored);
    if (secretErrors.length) throw new GavelError("validation", `The ${singular[kind]} is invalid`, { errors: secretErrors });
  }
  const parsed = schemas[kind].safeParse(input);
  if (!parsed.success) throw invalid(parsed.error, `The ${singular[kind]} is invalid`);
  return parsed.data as Doc;
}

/** References must point at resources that exist, so a lead never meets a dangling channel. */
async function checkReferences(db: Db, kind: ResourceKind, doc: Doc): Promise<void> {
  const errors: FieldError[] = [];
  if (kind === "channels") {
    const [buyer] = await db.select({ id: buyers.id }).from(buyers).where(eq(buyers.id, doc.buyer_id as string));
    if (!buyer) errors.push({ path: "buyer_id", message: `no buyer '${doc.buyer_id}'` });
    const [campaign] = await db
      .select({ id: campaigns.id, config: campaigns.config })
      .from(campaigns)
      .where(eq(campaigns.id, doc.campaign_id as string));
    if (!campaign) errors.push({ path: "campaign_id", message: `no campaign '${doc.campaign_id}'` });
    // Templates may only name the campaign's fields, and a ping only its non-pii ones.
    else
      for (const p of fieldProblems(doc as unknown as Channel, (campaign.config as Campaign).fields))
        errors.push({ path: formatPath(p.path), message: p.message });
  }
  if (kind === "campaigns") {
    // An edit of the campaign's fields must not strand a channel's template on a field that is gone
    // (or a ping on one that became pii): the same check a channel gets when it is saved.
    const rows = await db
      .select({ id: channels.id, config: channels.config })
      .from(channels)
      .where(and(eq(channels.campaignId, doc.id), ne(channels.status, "archived")));
    for (const row of rows)
      for (const p of fieldProblems(decodeStored("channels", row.config) as Channel, (doc as unknown as Campaign).fields))
        errors.push({ path: "fields", message: `channel '${row.id}' ${formatPath(p.path)}: ${p.message}` });
  }
  if (kind === "suppliers" && Array.isArray(doc.campaigns) && doc.campaigns.length) {
    const ids = doc.campaigns as string[];
    const found = new Set((await db.select({ id: campaigns.id }).from(campaigns).where(inArray(campaigns.id, ids))).map((r) => r.id));
    ids.forEach((id, i) => {
      if (!found.has(id)) errors.push({ path: `campaigns[${i}]`, message: `no campaign '${id}'` });
    });
  }
  if (errors.length) {
    const dangling = errors.every((e) => /^(buyer_id|campaign_id|campaigns\[)/.test(e.path));
    throw new GavelError("validation", dangling ? `The ${singular[kind]} refers to something that does not exist` : `The ${singular[kind]} is invalid`, {
      errors,
    });
  }
}

/**
 * jsonb keeps no key order, but a template's order is the buyer's: XML elements must come in the
 * order the operator wrote them. So a channel's body templates are stored as JSON text inside the
 * document, and decoded on every read.
 */
function encodeStored(kind: ResourceKind, doc: Doc): Doc {
  if (kind !== "channels") return doc;
  const out = { ...doc };
  for (const endpoint of ["ping", "post"]) {
    const cfg = out[endpoint] as { body?: unknown } | undefined;
    if (cfg && cfg.body && typeof cfg.body === "object") out[endpoint] = { ...cfg, body: JSON.stringify(cfg.body) };
  }
  return out;
}

/** The stored document as the operator wrote it (see encodeStored). */
export function decodeStored<T>(kind: ResourceKind, config: T): T {
  if (kind !== "channels" || !config || typeof config !== "object") return config;
  const out = { ...(config as Record<string, unknown>) };
  for (const endpoint of ["ping", "post"]) {
    const cfg = out[endpoint] as { body?: unknown } | undefined;
    if (cfg && typeof cfg.body === "string") out[endpoint] = { ...cfg, body: JSON.parse(cfg.body) };
  }
  return out as T;
}

/** Records one change to a resource; a write that changes nothing records nothing. */
async function audit(db: Db, actor: Actor, kind: ResourceKind, id: string, action: string, before: Doc | null, after: Doc | null) {
  const secret = [...secretPaths(kind, before), ...secretPaths(kind, after)].map((p) => p.join("."));
  const diff = diffDocs(before, after, secret, SECRET_MASK);
  if (diff.length === 0) return;
  await recordAudit(db, actor, { resource: `${kind}/${id}`, action, diff });
}

function columnsOf(kind: ResourceKind, doc: Doc): Record<string, unknown> {
  const base = { id: doc.id, status: doc.status, config: encodeStored(kind, doc) };
  return kind === "channels" ? { ...base, buyerId: doc.buyer_id, campaignId: doc.campaign_id } : base;
}

interface Row {
  config: unknown;
  createdAt: Date;
  updatedAt: Date;
}

function present(kind: ResourceKind, row: Row): Doc {
  // jsonb stores keys sorted; a pass through the schema gives them back in the documented order.
  const config = decodeStored(kind, row.config);
  const ordered = schemas[kind].safeParse(config);
  const doc = maskSecrets(kind, (ordered.success ? ordered.data : config) as Doc);
  return { ...doc, created_at: row.createdAt.toISOString(), updated_at: row.updatedAt.toISOString() };
}

/** Every stored document of a kind, archived ones included, secrets included: for config export and apply. */
export async function loadAllStored(db: Db, kind: ResourceKind): Promise<Doc[]> {
  const table = tables[kind];
  const rows = await db.select({ config: table.config }).from(table).orderBy(asc(table.id));
  return rows.map((row) => {
    // Body templates are stored as JSON text (encodeStored): the file shows them as written.
    const config = decodeStored(kind, row.config);
    const ordered = schemas[kind].safeParse(config);
    return (ordered.success ? ordered.data : config) as Doc;
  });
}

async function loadStored(db: Db, kind: ResourceKind, id: string): Promise<Row | undefined> {
  const table = tables[kind];
  const [row] = await db
    .select({ config: table.config, createdAt: table.createdAt, updatedAt: table.updatedAt })
    .from(table)
    .where(eq(table.id, id));
  return row && { ...row, config: decodeStored(kind, row.config) };
}

function notFound(kind: ResourceKind, id: string): GavelError {
  return new GavelError("not_found", `No ${singular[kind]} '${id}'`);
}

export async function createResource(db: Db, kind: ResourceKind, body: unknown, actor: Actor): Promise<Doc> {
  if (kind === "suppliers") return createSupplier(db, body, actor);
  const doc = validate(kind, body, null);
  await checkReferences(db, kind, doc);
  const table = tables[kind];
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(table)
      .values(columnsOf(kind, doc) as never)
      .onConflictDoNothing()
      .returning({ config: table.config, createdAt: table.createdAt, updatedAt: table.updatedAt });
    if (!row) throw new GavelError("conflict", `The ${singular[kind]} id '${doc.id}' is taken`);
    await audit(tx, actor, kind, doc.id, "create", null, doc);
    return present(kind, row);
  });
}

export async function getResource(db: Db, kind: ResourceKind, id: string): Promise<Doc> {
  const row = await loadStored(db, kind, id);
  if (!row) throw notFound(kind, id);
  return present(kind, row);
}

export interface ListOptions {
  limit: number;
  cursor?: string;
  status?: string;
  campaignId?: string;
  buyerId?: string;
}

export async function listResources(
  db: Db,
  kind: ResourceKind,
  options: ListOptions,
): Promise<{ items: Doc[]; next_cursor: string | null }> {
  const table = tables[kind];
  const where: SQL[] = [];
  // Archived resources stay readable by id and with ?status=archived, but leave the default list.
  where.push(options.status ? eq(table.status, options.status) : ne(table.status, "archived"));
  if (options.cursor) where.push(gt(table.id, options.cursor));
  if (kind === "channels" && options.campaignId) where.push(eq(channels.campaignId, options.campaignId));
  if (kind === "channels" && options.buyerId) where.push(eq(channels.buyerId, options.buyerId));
  const rows = await db
    .select({ id: table.id, config: table.config, createdAt: table.createdAt, updatedAt: table.updatedAt })
    .from(table)
    .where(and(...where))
    .orderBy(asc(table.id))
    .limit(options.limit + 1);
  const page = rows.slice(0, options.limit);
  return {
    items: page.map((row) => present(kind, row)),
    next_cursor: rows.length > options.limit ? page[page.length - 1].id : null,
  };
}

/** Writes a new version of a stored resource; a version equal to the stored one is not written. */
async function writeStored(db: Db, kind: ResourceKind, stored: Row, doc: Doc, actor: Actor, action = "update"): Promise<Doc> {
  const before = stored.config as Doc;
  const id = before.id;
  if (doc.id !== id) throw new GavelError("validation", "The id cannot change", { errors: [{ path: "id", message: `must be '${id}'` }] });
  if (sameJson(before, doc)) return present(kind, stored);
  await checkReferences(db, kind, doc);
  const table = tables[kind];
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(table)
      .set({ ...columnsOf(kind, doc), updatedAt: new Date() } as never)
      .where(eq(table.id, id))
      .returning({ config: table.config, createdAt: table.createdAt, updatedAt: table.updatedAt });
    if (!row) throw notFound(kind, id);
    await audit(tx, actor, kind, id, action, before, doc);
    return present(kind, row);
  });
}

export async function replaceResource(db: Db, kind: ResourceKind, id: string, body: unknown, actor: Actor): Promise<Doc> {
  const stored = await loadStored(db, kind, id);
  if (!stored) throw notFound(kind, id);
  const withId = body && typeof body === "object" && !Array.isArray(body) ? { id, ...(body as object) } : body;
  return writeStored(db, kind, stored, validate(kind, withId, stored.config as Doc), actor);
}

/** JSON Merge Patch (RFC 7386): objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export async function patchResource(db: Db, kind: ResourceKind, id: string, patch: unknown, actor: Actor): Promise<Doc> {
  if (!patch || typeof patch !== "object" || Array.isArray(patch))
    throw new GavelError("bad_request", "A PATCH body must be a JSON object (merge patch)");
  const stored = await loadStored(db, kind, id);
  if (!stored) throw notFound(kind, id);
  const merged = mergePatch(stored.config, withoutReadOnly(patch));
  return writeStored(db, kind, stored, validate(kind, merged, stored.config as Doc), actor);
}

/** DELETE archives: leads and attempts keep pointing at the resource, and its history stays readable. */
export async function archiveResource(db: Db, kind: ResourceKind, id: string, actor: Actor): Promise<Doc> {
  const stored = await loadStored(db, kind, id);
  if (!stored) throw notFound(kind, id);
  return writeStored(db, kind, stored, { ...(stored.config as Doc), status: "archived" }, actor, "archive");
}

// --- supplier keys -------------------------------------------------------------------------

export interface SupplierKeyView {
  id: string;
  prefix: string;
  status: "active" | "expired" | "revoked";
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

type KeyRow = typeof supplierKeys.$inferSelect;

function keyView(row: KeyRow, now: number): SupplierKeyView {
  const status = row.revokedAt ? "revoked" : row.expiresAt && row.expiresAt.getTime() <= now ? "expired" : "active";
  return {
    id: row.id,
    prefix: row.prefix,
    status,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

/** The audit view of a key: never its secret or hash. */
const keyAudit = (row: Pick<KeyRow, "id" | "prefix" | "expiresAt" | "revokedAt">) => ({
  id: row.id,
  prefix: row.prefix,
  expires_at: row.expiresAt?.toISOString() ?? null,
  revoked_at: row.revokedAt?.toISOString() ?? null,
});

async function insertKey(db: Db, supplierId: string, expiresAt: Date | null, actor: Actor) {
  const { keyId, apiKey } = newApiKey();
  const [row] = await db
    .insert(supplierKeys)
    .values({ id: keyId, supplierId, keyHash: hashSecret(apiKey), prefix: apiKey.slice(0, 24), expiresAt })
    .returning();
  await recordAudit(db, actor, {
    resource: `suppliers/${supplierId}/keys/${keyId}`,
    action: "key.create",
    diff: diffDocs(null, keyAudit(row)),
  });
  return { row, apiKey };
}

/**
 * Creates a supplier with its first API key (shown once, in `api_key`). Config apply passes
 * `issueKey: false`: a pipeline should not print secrets, so its suppliers get keys explicitly.
 */
export async function createSupplier(db: Db, body: unknown, actor: Actor, issueKey = true): Promise<Doc & { api_key?: string }> {
  const doc = validate("suppliers", body, null);
  await checkReferences(db, "suppliers", doc);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(suppliers)
      .values(columnsOf("suppliers", doc) as never)
      .onConflictDoNothing()
      .returning({ config: suppliers.config, createdAt: suppliers.createdAt, updatedAt: suppliers.updatedAt });
    if (!row) throw new GavelError("conflict", `The supplier id '${doc.id}' is taken`);
    await audit(tx, actor, "suppliers", doc.id, "create", null, doc);
    if (!issueKey) return present("suppliers", row);
    const { apiKey } = await insertKey(tx, doc.id, null, actor);
    return { ...present("suppliers", row), api_key: apiKey };
  });
}

export async function listSupplierKeys(db: Db, supplierId: string, now: number): Promise<SupplierKeyView[]> {
  if (!(await loadStored(db, "suppliers", supplierId))) throw notFound("suppliers", supplierId);
  const rows = await db.select().from(supplierKeys).where(eq(supplierKeys.supplierId, supplierId)).orderBy(asc(supplierKeys.createdAt));
  return rows.map((row) => keyView(row, now));
}

/**
 * Rotation: a new key for the supplier. The keys it already has stay valid — until they are
 * revoked, or until `previousKeysExpireAt` when that is given — so the supplier can switch over
 * without a gap.
 */
export async function issueSupplierKey(
  db: Db,
  supplierId: string,
  options: { expiresAt?: Date; previousKeysExpireAt?: Date },
  actor: Actor,
  now: number,
): Promise<SupplierKeyView & { api_key: string }> {
  const stored = await loadStored(db, "suppliers", supplierId);
  if (!stored) throw notFound("suppliers", supplierId);
  if ((stored.config as Doc).status === "archived") throw new GavelError("conflict", `Supplier '${supplierId}' is archived`);
  return db.transaction(async (tx) => {
    const cutoff = options.previousKeysExpireAt;
    if (cutoff) {
      // Keys that would outlive the cutoff now end at it; keys already ending sooner keep their end.
      const previous = await tx
        .select()
        .from(supplierKeys)
        .where(
          and(
            eq(supplierKeys.supplierId, supplierId),
            isNull(supplierKeys.revokedAt),
            or(isNull(supplierKeys.expiresAt), gt(supplierKeys.expiresAt, cutoff)),
          ),
        );
      for (const key of previous) {
        await tx.update(supplierKeys).set({ expiresAt: cutoff }).where(eq(supplierKeys.id, key.id));
        await recordAudit(tx, actor, {
          resource: `suppliers/${supplierId}/keys/${key.id}`,
          action: "key.expire",
          diff: diffDocs(keyAudit(key), keyAudit({ ...key, expiresAt: cutoff })),
        });
      }
    }
    const { row, apiKey } = await insertKey(tx, supplierId, options.expiresAt ?? null, actor);
    return { ...keyView(row, now), api_key: apiKey };
  });
}

/** Revokes one key at once (this process drops its cached keys; others within GAVEL_CONFIG_TTL_MS). */
export async function revokeSupplierKey(db: Db, supplierId: string, keyId: string, actor: Actor, now: number): Promise<SupplierKeyView> {
  return db.transaction(async (tx) => {
    const [key] = await tx
      .select()
      .from(supplierKeys)
      .where(and(eq(supplierKeys.id, keyId), eq(supplierKeys.supplierId, supplierId)));
    if (!key) throw new GavelError("not_found", `Supplier '${supplierId}' has no key '${keyId}'`);
    if (key.revokedAt) return keyView(key, now);
    const [row] = await tx.update(supplierKeys).set({ revokedAt: new Date(now) }).where(eq(supplierKeys.id, keyId)).returning();
    await recordAudit(tx, actor, {
      resource: `suppliers/${supplierId}/keys/${keyId}`,
      action: "key.revoke",
      diff: diffDocs(keyAudit(key), keyAudit(row)),
    });
    return keyView(row, now);
  });
}
