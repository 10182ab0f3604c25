// One declaration per route. A route states its method, path, who may call it, its request and
// response zod schemas and its handler; `mountRoutes` mounts it on Hono behind the right
// authentication and validates its query and body with those schemas, and `openApiDocument`
// (openapi.ts) describes it from the same declaration. A route cannot be mounted without being
// documented, nor documented without a role.
import type { Hono } from "hono";
import type { z } from "zod";
import { GavelError, invalid } from "../errors";
import { unstorableText } from "../storable";
import { jsonBody } from "./body";
import type { AppContext, AppEnv, AppMiddleware } from "./env";
import { keyIdOf } from "../auth/supplier-keys";

/** A supplier's key (told by its shape) goes through `supplier`, any other token through `other`. */
function bySupplierKey(supplier: AppMiddleware, other: AppMiddleware): AppMiddleware {
  return (c, next) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
    return token !== undefined && keyIdOf(token) !== undefined ? supplier(c, next) : other(c, next);
  };
}

/**
 * Who may call a route: anyone (`public`), a supplier API key (`supplier`), any operator token
 * (`analyst`: analysts and admins), an admin token only (`admin`), or a buyer's signature by its
 * postback secret (`buyer`: the route's `{buyer_id}`, src/postbacks/signature.ts).
 */
export type Access = "public" | "supplier" | "analyst" | "admin" | "buyer";
export type Method = "get" | "post" | "put" | "patch" | "delete";

export interface ResponseSpec {
  description: string;
  /** The JSON body; omit for an empty body. */
  schema?: z.ZodType;
  /** Defaults to application/json (application/problem+json for 4xx/5xx). */
  contentType?: string;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface RouteInput<Q, B> {
  params: Record<string, string>;
  query: Out<Q>;
  body: Out<B>;
}

export interface RouteSpec<Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined> {
  method: Method;
  /** OpenAPI spelling, `{name}` for parameters: `/v1/campaigns/{id}`. */
  path: string;
  access: Access;
  /**
   * A non-GET route that changes nothing (explain), so analysts may call it. Any other non-GET
   * route must be `admin` (or `supplier`): mountRoutes refuses to mount it otherwise.
   */
  readOnly?: boolean;
  /**
   * An `analyst` read that a supplier's API key may call too, for its own records (the handler
   * decides what a supplier sees): a key shaped as a supplier's is authenticated as one.
   */
  suppliersToo?: boolean;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Query parameters, validated (422 on error); strings in, so coerce or transform as needed. */
  query?: Q;
  /** A JSON body validated with this schema (400 not JSON, 422 invalid) and handed over parsed. */
  body?: B;
  /**
   * A body the handler reads and validates itself with these schemas (resources go through the
   * store, which validates with the same schemas), documented per content type.
   */
  documentedBody?: { content: Record<string, z.ZodType>; description?: string };
  responses: Record<number, ResponseSpec>;
  /**
   * Middleware before authentication, for what must not cost a key lookup: admission control
   * refuses a lead when Gavel is full before its key or body is read.
   */
  before?: AppMiddleware[];
  /** Middleware between authentication and the handler: body limits, rate limits. */
  use?: AppMiddleware[];
  handler(c: AppContext, input: RouteInput<Q, B>): Response | Promise<Response>;
}

export type AnyRoute = RouteSpec<any, any>;

/** Declares a route; the identity function exists so TypeScript infers the query and body types. */
export function route<Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(
  spec: RouteSpec<Q, B>,
): AnyRoute {
  return spec as AnyRoute;
}

/** `/v1/campaigns/{id}` → `/v1/campaigns/:id`. */
export const honoPath = (path: string) => path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ":$1");
/** `/v1/campaigns/:id` → `/v1/campaigns/{id}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");

/** The routes a supplier's API key opens, as `POST /v1/leads`: what a key sent to an operator route is told. */
export const supplierRoutes = (routes: readonly AnyRoute[]): string[] =>
  routes.filter((r) => r.access === "supplier" || r.suppliersToo).map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`);

/** Refuses a route table with a duplicate route, or a write route an analyst could call. */
export function checkRoutes(routes: readonly AnyRoute[]): void {
  const seen = new Set<string>();
  const ids = new Set<string>();
  for (const r of routes) {
    const key = `${r.method.toUpperCase()} ${r.path}`;
    if (seen.has(key)) throw new Error(`route ${key} is declared twice`);
    if (ids.has(r.operationId)) throw new Error(`operationId ${r.operationId} is used twice`);
    seen.add(key);
    ids.add(r.operationId);
    if (r.method !== "get" && r.access === "analyst" && !r.readOnly)
      throw new Error(`route ${key} writes but is open to analysts: make it admin, or mark it readOnly if it changes nothing`);
    if (r.method !== "get" && r.access === "public") throw new Error(`route ${key} writes but is public`);
  }
}

export function mountRoutes(app: Hono<AppEnv>, routes: readonly AnyRoute[], authenticate: (access: Access) => AppMiddleware): void {
  checkRoutes(routes);
  for (const r of routes) {
    const handler = async (c: AppContext) => {
      // No id holds a NUL or an unpaired surrogate, and the database refuses to even compare one.
      const params: Record<string, string> = c.req.param();
      for (const value of Object.values(params))
        if (unstorableText(value) !== undefined) throw new GavelError("not_found", "Nothing here: no id holds a NUL or an unpaired surrogate");
      let query: unknown;
      if (r.query) {
        const raw = c.req.query();
        for (const [name, value] of Object.entries(raw)) {
          const problem = unstorableText(value);
          if (problem !== undefined) throw new GavelError("validation", "Bad query parameters", { errors: [{ path: name, message: problem }] });
        }
        const parsed = r.query.safeParse(raw);
        if (!parsed.success) throw invalid(parsed.error, "Bad query parameters");
        query = parsed.data;
      }
      let body: unknown;
      if (r.body) {
        const parsed = r.body.safeParse(await jsonBody(c));
        if (!parsed.success) throw invalid(parsed.error);
        body = parsed.data;
      }
      return r.handler(c, { params, query, body } as RouteInput<unknown, unknown>);
    };
    const auth = r.suppliersToo ? bySupplierKey(authenticate("supplier"), authenticate(r.access)) : authenticate(r.access);
    const middleware: [AppMiddleware, ...AppMiddleware[]] = [auth, ...(r.use ?? [])];
    if (r.before) middleware.unshift(...r.before);
    app.on(r.method.toUpperCase(), honoPath(r.path), ...middleware, handler);
  }
}
