// Configuration over HTTP: campaigns, buyers, channels and suppliers, supplier keys, and a
// channel's health and test console. Handlers validate, call one store verb and map the result;
// every write invalidates the engine's cached configuration and is audited (by the store, in the
// write's own transaction).
import { z } from "zod";
import type { Catalog } from "../auction/catalog";
import type { Clock } from "../time/clock";
import { ChannelTest, testChannel, type ConsoleDeps } from "../auction/console";
import { Channel, CircuitBreaker } from "../channels/config";
import type { Db } from "../db/client";
import { Buyer, Campaign, Supplier } from "../resources/schemas";
import {
  archiveResource,
  createResource,
  getResource,
  issueSupplierKey,
  listResources,
  listSupplierKeys,
  patchResource,
  replaceResource,
  revokeSupplierKey,
  type ResourceKind,
} from "../resources/store";
import { withCapUsage } from "../resources/usage";
import { operatorOf } from "./auth";
import { instant, jsonBody, pageLimit } from "./body";
import { route, type AnyRoute } from "./route";

export interface ResourceRouteDeps extends ConsoleDeps {
  db: Db;
  catalog: Catalog;
  /** Called after every write: cached configuration and supplier keys are read again. */
  configChanged(): void;
  clock: Clock;
}

const timestamps = { created_at: z.string(), updated_at: z.string() };

const kinds: { kind: ResourceKind; one: string; schema: z.ZodObject; read: z.ZodObject; tag: string }[] = [
  { kind: "campaigns", one: "Campaign", schema: Campaign, read: Campaign.safeExtend(timestamps).meta({ id: "CampaignRead" }), tag: "Campaigns" },
  { kind: "buyers", one: "Buyer", schema: Buyer, read: Buyer.safeExtend(timestamps).meta({ id: "BuyerRead" }), tag: "Buyers" },
  { kind: "channels", one: "Channel", schema: Channel, read: Channel.safeExtend(timestamps).meta({ id: "ChannelRead" }), tag: "Channels" },
  { kind: "suppliers", one: "Supplier", schema: Supplier, read: Supplier.safeExtend(timestamps).meta({ id: "SupplierRead" }), tag: "Suppliers" },
];

const ListQuery = z
  .object({
    limit: pageLimit,
    cursor: z.string().optional().meta({ description: "`next_cursor` of the previous page" }),
    status: z.enum(["active", "paused", "archived"]).optional().meta({ description: "Default: everything but archived" }),
  })
  .strict();
const ChannelListQuery = ListQuery.extend({ campaign_id: z.string().optional(), buyer_id: z.string().optional() }).strict();

const SupplierKey = z
  .object({
    id: z.string(),
    prefix: z.string().meta({ description: "The key's first characters, to recognise it" }),
    status: z.enum(["active", "expired", "revoked"]),
    created_at: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .meta({ id: "SupplierKey" });

const NewKey = z
  .object({
    expires_at: instant
      .optional()
      .meta({ description: "When the new key stops working (default: never)" }),
    previous_keys_expire_at: instant
      .optional()
      .meta({ description: "Rotation: the supplier's other live keys stop working at this time (default: they stay valid until revoked)" }),
  })
  .strict();

export function resourceRoutes(deps: ResourceRouteDeps): AnyRoute[] {
  // A channel's circuit breaker, as this process sees it (health is per process).
  const channelHealth = (doc: Record<string, unknown> & { id: string }) =>
    deps.catalog.health.view(doc.id, (doc.circuit_breaker as CircuitBreaker | undefined) ?? CircuitBreaker.parse({}), deps.clock.now());
  const changed = <T>(value: T): T => {
    deps.configChanged();
    return value;
  };
  const routes: AnyRoute[] = [];
  for (const { kind, one, schema, read, tag } of kinds) {
    const noun = one.toLowerCase();
    // Caps read back with their current usage.
    const shown = async <D extends { id: string }>(doc: D): Promise<D> => {
      const [withUsage] = await withCapUsage(deps.db, kind, [doc], deps.clock.now());
      return kind === "channels" ? { ...withUsage, health: channelHealth(withUsage) } : withUsage;
    };
    routes.push(
      route({
        method: "get",
        path: `/v1/${kind}`,
        access: "analyst",
        operationId: `list${one}s`,
        summary: `List ${kind}`,
        tags: [tag],
        query: kind === "channels" ? ChannelListQuery : ListQuery,
        responses: { 200: { description: `A page of ${kind}, by id`, schema: z.object({ items: z.array(read), next_cursor: z.string().nullable() }) } },
        handler: async (c, { query }) => {
          const page = await listResources(deps.db, kind, {
            limit: query.limit,
            cursor: query.cursor,
            status: query.status,
            campaignId: (query as { campaign_id?: string }).campaign_id,
            buyerId: (query as { buyer_id?: string }).buyer_id,
          });
          return c.json({ ...page, items: await withCapUsage(deps.db, kind, page.items, deps.clock.now()) });
        },
      }),
      route({
        method: "post",
        path: `/v1/${kind}`,
        access: "admin",
        operationId: `create${one}`,
        summary: `Create a ${noun}`,
        description: kind === "suppliers" ? "Answers with the supplier's first API key in `api_key`, shown this once." : undefined,
        tags: [tag],
        documentedBody: { content: { "application/json": schema } },
        responses: {
          201: {
            description: `The ${noun}`,
            schema: kind === "suppliers" ? read.safeExtend({ api_key: z.string() }) : read,
          },
          409: { description: "The id is taken", contentType: "application/problem+json" },
        },
        handler: async (c) => c.json(await shown(changed(await createResource(deps.db, kind, await jsonBody(c), operatorOf(c).actor))), 201),
      }),
      route({
        method: "get",
        path: `/v1/${kind}/{id}`,
        access: "analyst",
        operationId: `get${one}`,
        summary: `Read a ${noun}`,
        tags: [tag],
        responses: { 200: { description: `The ${noun}; secrets read "***"`, schema: read } },
        handler: async (c, { params }) => c.json(await shown(await getResource(deps.db, kind, params.id))),
      }),
      route({
        method: "put",
        path: `/v1/${kind}/{id}`,
        access: "admin",
        operationId: `replace${one}`,
        summary: `Replace a ${noun}`,
        description: 'The whole document; a secret sent back as "***" keeps the stored one.',
        tags: [tag],
        documentedBody: { content: { "application/json": schema } },
        responses: { 200: { description: `The ${noun}`, schema: read } },
        handler: async (c, { params }) =>
          c.json(await shown(changed(await replaceResource(deps.db, kind, params.id, await jsonBody(c), operatorOf(c).actor)))),
      }),
      route({
        method: "patch",
        path: `/v1/${kind}/{id}`,
        access: "admin",
        operationId: `patch${one}`,
        summary: `Change part of a ${noun} (JSON merge patch, RFC 7386)`,
        tags: [tag],
        documentedBody: {
          description: "Objects merge, null deletes a field, anything else replaces it; the result is validated whole.",
          content: { "application/merge-patch+json": z.record(z.string(), z.unknown()), "application/json": z.record(z.string(), z.unknown()) },
        },
        responses: { 200: { description: `The ${noun}`, schema: read } },
        handler: async (c, { params }) =>
          c.json(await shown(changed(await patchResource(deps.db, kind, params.id, await jsonBody(c), operatorOf(c).actor)))),
      }),
      route({
        method: "delete",
        path: `/v1/${kind}/{id}`,
        access: "admin",
        operationId: `archive${one}`,
        summary: `Archive a ${noun}`,
        description: "Archived resources stay readable by id and with `?status=archived`; leads keep pointing at them.",
        tags: [tag],
        responses: { 200: { description: `The archived ${noun}`, schema: read } },
        handler: async (c, { params }) => c.json(await shown(changed(await archiveResource(deps.db, kind, params.id, operatorOf(c).actor)))),
      }),
    );
  }

  routes.push(
    route({
      method: "get",
      path: "/v1/suppliers/{id}/keys",
      access: "analyst",
      operationId: "listSupplierKeys",
      summary: "A supplier's API keys (never their secrets)",
      tags: ["Suppliers"],
      responses: { 200: { description: "Every key, oldest first", schema: z.object({ items: z.array(SupplierKey) }) } },
      handler: async (c, { params }) => c.json({ items: await listSupplierKeys(deps.db, params.id, deps.clock.now()) }),
    }),
    route({
      method: "post",
      path: "/v1/suppliers/{id}/keys",
      access: "admin",
      operationId: "issueSupplierKey",
      summary: "Issue a new API key (rotation)",
      description:
        "The key is in `api_key`, shown this once. The supplier's other keys stay valid until revoked, or until `previous_keys_expire_at` when given, so the supplier can switch without a gap.",
      tags: ["Suppliers"],
      body: NewKey,
      responses: {
        201: { description: "The new key", schema: SupplierKey.safeExtend({ api_key: z.string() }) },
        409: { description: "The supplier is archived", contentType: "application/problem+json" },
      },
      async handler(c, { params, body }) {
        const key = await issueSupplierKey(
          deps.db,
          params.id,
          {
            expiresAt: body.expires_at ? new Date(body.expires_at) : undefined,
            previousKeysExpireAt: body.previous_keys_expire_at ? new Date(body.previous_keys_expire_at) : undefined,
          },
          operatorOf(c).actor,
          deps.clock.now(),
        );
        return c.json(changed(key), 201);
      },
    }),
    route({
      method: "delete",
      path: "/v1/suppliers/{id}/keys/{key_id}",
      access: "admin",
      operationId: "revokeSupplierKey",
      summary: "Revoke an API key",
      description: "Takes effect at once in the process that answers; other processes sharing the database drop it within GAVEL_CONFIG_TTL_MS.",
      tags: ["Suppliers"],
      responses: { 200: { description: "The revoked key", schema: SupplierKey } },
      handler: async (c, { params }) =>
        c.json(changed(await revokeSupplierKey(deps.db, params.id, params.key_id, operatorOf(c).actor, deps.clock.now()))),
    }),
    route({
      method: "get",
      path: "/v1/channels/{id}/health",
      access: "analyst",
      operationId: "getChannelHealth",
      summary: "A channel's circuit breaker, as this process sees it",
      description: "State (`closed`, `open`, `half_open`), consecutive failures and recent transitions. Health is kept per Gavel process.",
      tags: ["Channels"],
      responses: { 200: { description: "The channel's health" } },
      handler: async (c, { params }) => c.json(channelHealth(await getResource(deps.db, "channels", params.id))),
    }),
    route({
      method: "post",
      path: "/v1/channels/{id}/test",
      access: "admin",
      operationId: "testChannel",
      summary: "Send a real test ping (and optionally a post) to a channel and explain its answer",
      description:
        "Returns the exact request sent (secrets masked), the raw response, every rule's parse result and timings. Records no lead and changes no health or cap. Each exchange has `warnings: [{ code, message, paths }]`: `bid_elsewhere` when a ping answer gave no bid, its bid rule found nothing, and the answer holds an amount under a key named like a bid (`{\"price\": 12.5}` read with `$.bid`), with the JSONPaths of those keys. `offer_redirect_url`: the `redirect_url` a user-choice offer of the channel would carry after this ping (its `offer.redirect_url` written from the answer), or null.",
      tags: ["Channels"],
      documentedBody: { content: { "application/json": ChannelTest } },
      responses: { 200: { description: "What was sent, what came back, and how Gavel read it" } },
      handler: async (c, { params }) => c.json(await testChannel(deps, params.id, await jsonBody(c))),
    }),
  );
  return routes;
}
