// The OpenAPI 3.1 document, generated from the route table: the same declarations that mount the
// routes, the same zod schemas that validate requests (converted with zod's own z.toJSONSchema).
// Schemas that carry an `id` in their zod metadata become shared components; when a component
// reads differently as input (defaults optional) and as output (defaults filled in), the input
// form is named `<id>Input`.
import { z } from "zod";
import type { AnyRoute, ResponseSpec } from "./route";
import { Problem } from "./problem";

type Json = Record<string, unknown>;
type Io = "input" | "output";

export interface ApiInfo {
  title: string;
  version: string;
  description: string;
  /** The order the reference shows tags in; tags not listed follow, alphabetically. */
  tagOrder?: string[];
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

/** Converts schemas, hoisting their `$defs` into components; `name` decides each component's name. */
class Converter {
  readonly defs = new Map<string, Partial<Record<Io, Json>>>();

  constructor(private readonly name: (id: string, io: Io) => string) {}

  schema(schema: z.ZodType, io: Io): Json {
    const { $schema: _, $defs, ...rest } = toJson(schema, io);
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) {
      const entry = this.defs.get(id) ?? {};
      entry[io] = this.rewrite(def, io);
      this.defs.set(id, entry);
    }
    return this.rewrite(rest, io);
  }

  private rewrite(node: Json, io: Io): Json {
    return JSON.parse(
      JSON.stringify(node, (key, value) =>
        key === "$ref" && typeof value === "string" && value.startsWith("#/$defs/")
          ? `#/components/schemas/${this.name(value.slice("#/$defs/".length), io)}`
          : value,
      ),
    );
  }
}

const stringSchema = { type: "string" };

function responseObject(status: number, spec: ResponseSpec, convert: Converter): Json {
  const out: Json = { description: spec.description };
  if (spec.headers) out.headers = spec.headers;
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
  if (route.access === "admin") out[403] = problemResponse("An analyst token: this route needs an admin token");
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
      parameters.push({ name, in: "query", required: query.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest });
    }
  }
  const op: Json = {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    "x-gavel-role": route.access,
    ...(route.readOnly ? { "x-gavel-read-only": true } : {}),
    security: route.access === "public" ? [] : route.access === "supplier" ? [{ supplierKey: [] }] : [{ operatorToken: [] }],
  };
  if (parameters.length) op.parameters = parameters;
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
  const { tagOrder = [], ...documented } = info;
  const used = [...new Set(routes.flatMap((r) => r.tags))];
  const tags = [...tagOrder.filter((t) => used.includes(t)), ...used.filter((t) => !tagOrder.includes(t)).sort()];
  return { openapi: "3.1.0", info: documented, tags: tags.map((name) => ({ name })), paths };
}

export function openApiDocument(routes: readonly AnyRoute[], info: ApiInfo): Json {
  // First pass: learn which components exist and whether their input and output forms differ.
  const first = new Converter((id) => id);
  build(routes, info, first);
  const split = new Set<string>();
  for (const [id, forms] of first.defs)
    if (forms.input && forms.output && JSON.stringify(forms.input) !== JSON.stringify(forms.output)) split.add(id);
  const name = (id: string, io: Io) => (io === "input" && split.has(id) ? `${id}Input` : id);

  const convert = new Converter(name);
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
      securitySchemes: {
        operatorToken: {
          type: "http",
          scheme: "bearer",
          description: "An operator token: ADMIN_TOKEN from the environment, or one from POST /v1/tokens (role admin or analyst).",
        },
        supplierKey: { type: "http", scheme: "bearer", description: "A supplier API key, `gvl_<key id>_<secret>`." },
      },
    },
  };
}
