// The OpenAPI 3.1 document, generated from the route table: the same declarations that mount the
// routes, the same zod schemas that validate requests (converted with zod's own z.toJSONSchema).
// Requests are described by the schemas' input side (a defaulted field is optional), answers by
// their output side (defaults filled in). Schemas that carry an `id` in their zod metadata become
// shared components when both sides read the same; a request's own form of any other one is
// written out where it is used, titled with its id (see `inlined` in openApiDocument for why).
import { z } from "zod";
import type { AnyRoute, ResponseSpec } from "./route";
import { Problem } from "./problem";
import { MAX_REQUEST_ID_LENGTH, REQUEST_ID_HEADER } from "./request-id";

type Json = Record<string, unknown>;
type Io = "input" | "output";

export interface ApiInfo {
  title: string;
  version: string;
  description: string;
  /** OpenAPI 3.1's License Object: a name and an SPDX identifier. */
  license: { name: string; identifier: string };
  /** The tags in the order the reference shows them; tags not listed follow, alphabetically. */
  tags: { name: string; description: string }[];
}

const METHOD_ORDER = ["get", "post", "put", "patch", "delete"];

function toJson(schema: z.ZodType, io: Io): Json {
  return z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
    override(ctx) {
      // `format: date-time` says it; zod's equivalent 300-character pattern only clutters the reference.
      const json = ctx.jsonSchema as Json;
      if (json.format === "date-time") delete json.pattern;
    },
  }) as Json;
}

/**
 * Converts schemas. A `$defs` reference becomes a reference to a component (collected in `defs`,
 * named by `name`), except that on the input side a def listed in `inline` is written out in
 * place, titled with its id (a def that contains itself stays a reference, or it would never end).
 */
class Converter {
  readonly defs = new Map<string, Partial<Record<Io, Json>>>();

  constructor(
    private readonly name: (id: string, io: Io) => string,
    private readonly inline: ReadonlySet<string> = new Set(),
  ) {}

  schema(schema: z.ZodType, io: Io): Json {
    const { $schema: _, $defs, ...rest } = toJson(schema, io);
    return this.rewrite(rest, io, ($defs ?? {}) as Record<string, Json>, []) as Json;
  }

  private rewrite(node: unknown, io: Io, local: Record<string, Json>, inside: readonly string[]): unknown {
    if (Array.isArray(node)) return node.map((item) => this.rewrite(item, io, local, inside));
    if (node === null || typeof node !== "object") return node;
    const { $ref, ...rest } = node as Json;
    const out = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, this.rewrite(value, io, local, inside)]));
    if (typeof $ref !== "string" || !$ref.startsWith("#/$defs/")) return $ref === undefined ? out : { $ref, ...out };
    const id = $ref.slice("#/$defs/".length);
    if (io === "input" && this.inline.has(id) && !inside.includes(id))
      return { title: id, ...(this.rewrite(local[id], io, local, [...inside, id]) as Json), ...out };
    const entry = this.defs.get(id) ?? {};
    this.defs.set(id, entry);
    if (!entry[io]) {
      entry[io] = {}; // taken before its contents are converted, so a def that contains itself ends
      entry[io] = this.rewrite(local[id], io, local, []) as Json;
    }
    return { $ref: `#/components/schemas/${this.name(id, io)}`, ...out };
  }
}

/**
 * A query parameter's schema. A query string carries every value as text, and zod validates that
 * text; `true`/`false` is how OpenAPI writes a boolean in a query, so a parameter that takes
 * exactly those two words is published as a boolean, and a generated client sends one.
 */
function queryParameterSchema(schema: Json): Json {
  const { enum: values, type, ...rest } = schema;
  if (type === "string" && Array.isArray(values) && values.length === 2 && values.includes("true") && values.includes("false"))
    return { type: "boolean", ...rest };
  return schema;
}

const stringSchema = { type: "string" };

/** Every operation takes an `X-Request-Id` and every answer carries one (http/request-id.ts). */
const requestIdDescription = `Up to ${MAX_REQUEST_ID_LENGTH} letters, digits, \`_\`, \`-\` or \`=\`.`;
const requestIdComponents = {
  parameters: {
    RequestId: {
      name: REQUEST_ID_HEADER,
      in: "header",
      required: false,
      description: `An id of the caller's own for this request: sent back in the answer's ${REQUEST_ID_HEADER} and written on every log line of the request. ${requestIdDescription} Anything else is not refused: it is replaced by a new id.`,
      schema: stringSchema,
    },
  },
  headers: {
    RequestId: {
      description: `This request's id: the caller's own ${REQUEST_ID_HEADER} when it was valid, else one Gavel made (a UUIDv7). Every log line of the request carries it as \`request_id\`.`,
      schema: stringSchema,
    },
  },
};

function responseObject(status: number, spec: ResponseSpec, convert: Converter): Json {
  const out: Json = { description: spec.description };
  out.headers = { [REQUEST_ID_HEADER]: { $ref: "#/components/headers/RequestId" }, ...spec.headers };
  const contentType = spec.contentType ?? (status >= 400 ? "application/problem+json" : "application/json");
  if (spec.schema) out.content = { [contentType]: { schema: convert.schema(spec.schema, "output") } };
  else if (spec.contentType) out.content = { [contentType]: { schema: stringSchema } };
  return out;
}

const problemResponse = (description: string, schema: z.ZodType = Problem): ResponseSpec => ({ description, schema });

/** The error answers every route of a kind has, unless the route describes them itself. */
function standardResponses(route: AnyRoute): Record<number, ResponseSpec> {
  const out: Record<number, ResponseSpec> = {};
  if (route.body || route.documentedBody) out[400] = problemResponse("The body is not valid JSON (or YAML)");
  if (route.access !== "public") out[401] = problemResponse("No credentials, or credentials that are not valid");
  if (route.access === "admin")
    out[403] = problemResponse("An analyst token (this route needs an admin token), or a supplier API key (operator routes need an admin or analyst token)");
  if (route.access === "analyst") out[403] = problemResponse("A supplier API key: operator routes need an admin or analyst token");
  if (route.path.includes("{")) out[404] = problemResponse("No such resource");
  if (route.body || route.documentedBody || route.query) out[422] = problemResponse("Invalid fields: every error is listed in `errors`");
  return out;
}

function operation(route: AnyRoute, convert: Converter): Json {
  const parameters: Json[] = [];
  for (const [, name] of route.path.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g))
    parameters.push({ name, in: "path", required: true, schema: stringSchema });
  if (route.query) {
    const query = convert.schema(route.query, "input") as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      const { description, ...rest } = schema;
      parameters.push({
        name,
        in: "query",
        required: query.required?.includes(name) ?? false,
        ...(description ? { description } : {}),
        schema: queryParameterSchema(rest),
      });
    }
  }
  const op: Json = {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    "x-gavel-role": route.access,
    ...(route.readOnly ? { "x-gavel-read-only": true } : {}),
    security:
      route.access === "public" ? [] : route.access === "supplier" ? [{ supplierKey: [] }] : route.access === "buyer" ? [{ buyerSignature: [] }] : route.suppliersToo ? [{ operatorToken: [] }, { supplierKey: [] }] : [{ operatorToken: [] }],
  };
  parameters.push({ $ref: "#/components/parameters/RequestId" });
  op.parameters = parameters;
  if (route.body) op.requestBody = { required: true, content: { "application/json": { schema: convert.schema(route.body, "input") } } };
  else if (route.documentedBody)
    op.requestBody = {
      required: true,
      ...(route.documentedBody.description ? { description: route.documentedBody.description } : {}),
      content: Object.fromEntries(Object.entries(route.documentedBody.content).map(([type, schema]) => [type, { schema: convert.schema(schema, "input") }])),
    };
  const responses = { ...standardResponses(route), ...route.responses };
  op.responses = Object.fromEntries(
    Object.keys(responses)
      .map(Number)
      .sort((a, b) => a - b)
      .map((status) => [String(status), responseObject(status, responses[status], convert)]),
  );
  return op;
}

function build(routes: readonly AnyRoute[], info: ApiInfo, convert: Converter): Json {
  const paths: Record<string, Json> = {};
  const sorted = [...routes].sort(
    (a, b) => a.path.localeCompare(b.path) || METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method),
  );
  for (const route of sorted) (paths[route.path] ??= {})[route.method] = operation(route, convert);
  const { tags: described, ...documented } = info;
  const used = new Set(routes.flatMap((r) => r.tags));
  const listed = new Set(described.map((t) => t.name));
  const tags = [
    ...described.filter((t) => used.has(t.name)),
    ...[...used].filter((t) => !listed.has(t)).sort().map((name) => ({ name })),
  ];
  return {
    openapi: "3.1.0",
    info: documented,
    // Relative: the Gavel that served this document, whatever name or port it is reached by.
    servers: [{ url: "/", description: "This Gavel: the server that served this document" }],
    tags,
    paths,
  };
}

export function openApiDocument(routes: readonly AnyRoute[], info: ApiInfo): Json {
  // First pass: learn which components exist, on which side, and whether the sides differ.
  const first = new Converter((id) => id);
  build(routes, info, first);
  // A def is `inlined` on the input side unless it reads the same as the output side and shares
  // its component. Client generators take a `default` in a component as "always present", which
  // is true of an answer and false of a request: openapi-typescript (its defaultNonNullable, on by
  // default) would make every defaulted field of a request body required, so a client could not
  // send `{ id, name }` where Gavel fills in the rest. Written out inside a request body, the same
  // schema is read as a request's. A def that contains an inlined one differs between the sides
  // too, once converted, so it is inlined as well.
  const inlined = new Set<string>();
  for (const [id, forms] of first.defs)
    if (!forms.output || (forms.input && JSON.stringify(forms.input) !== JSON.stringify(forms.output))) inlined.add(id);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [id, forms] of first.defs) {
      if (inlined.has(id) || !forms.input) continue;
      const refs = [...JSON.stringify(forms.input).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
      if (refs.some((ref) => inlined.has(ref))) {
        inlined.add(id);
        grew = true;
      }
    }
  }
  // A def left as a reference on both sides that differ (one that contains itself) is `<id>Input`.
  const name = (id: string, io: Io) => (io === "input" && inlined.has(id) && first.defs.get(id)?.output ? `${id}Input` : id);

  const convert = new Converter(name, inlined);
  const doc = build(routes, info, convert);
  const schemas: Record<string, Json> = {};
  for (const [id, forms] of [...convert.defs].sort(([a], [b]) => a.localeCompare(b))) {
    if (forms.output) schemas[name(id, "output")] = forms.output;
    if (forms.input) schemas[name(id, "input")] = forms.input;
  }
  return {
    ...doc,
    components: {
      schemas,
      ...requestIdComponents,
      securitySchemes: {
        operatorToken: {
          type: "http",
          scheme: "bearer",
          description: "An operator token: ADMIN_TOKEN from the environment, or one from POST /v1/tokens (role admin or analyst).",
        },
        supplierKey: { type: "http", scheme: "bearer", description: "A supplier API key, `gvl_<key id>_<secret>`." },
        buyerSignature: {
          type: "apiKey",
          in: "header",
          name: "X-Gavel-Signature",
          description: "A buyer's postback: `X-Gavel-Timestamp` (Unix seconds, within 5 minutes) and `X-Gavel-Signature: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">` by the buyer's `postbacks.secret`.",
        },
      },
    },
  };
}
