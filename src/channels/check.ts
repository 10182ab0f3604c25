// Save-time checks of a channel's buyer integration: templates, formats and response rules. A
// mistake here is a 422 with the path of the bad part when the operator saves the channel, never a
// surprise when a lead arrives. Checks against the campaign's fields need the campaign, so the store
// runs those (`fieldProblems`) with it.
import { compileTemplate, type Endpoint, type FieldRef } from "./template";
import { conditionProblem, valueRuleProblem, type Condition, type PingRules, type PostRules, type ValueRule } from "./rules";

export interface EndpointShape {
  method: "POST" | "GET";
  format: "json" | "form" | "xml";
  headers: Record<string, string>;
  body: Record<string, unknown> | null;
}

export interface ChannelShape {
  type: "ping_post" | "direct_post";
  ping?: EndpointShape;
  post: EndpointShape;
  fixed_price?: number;
  response?: { ping?: PingRules; post?: PostRules };
}

export interface ConfigProblem {
  path: (string | number)[];
  message: string;
}

const hasPlaceholder = (v: string) => v.includes("{{") || v.includes("}}");

function endpointProblems(endpoint: Endpoint, cfg: EndpointShape): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (...path: (string | number)[]) => [endpoint, ...path];
  if (cfg.body === null) {
    if (cfg.format !== "json")
      problems.push({
        path: at("format"),
        message: `${cfg.format === "xml" ? "an XML" : "a form"} request needs a body template (body: null sends Gavel's native JSON)`,
      });
    if (cfg.method === "GET") problems.push({ path: at("method"), message: "a GET needs a body template: its fields become the query string" });
  } else {
    for (const p of compileTemplate(cfg.body, endpoint).problems) problems.push({ path: at("body", ...p.path), message: p.message });
    const keys = Object.keys(cfg.body);
    if (cfg.format === "xml" && cfg.method !== "GET" && keys.length !== 1)
      problems.push({
        path: at("body"),
        message: `an XML body template has exactly one top-level key, the root element (got ${keys.length}: ${keys.join(", ") || "none"})`,
      });
    if (cfg.format === "form" || cfg.method === "GET") {
      const what = cfg.method === "GET" ? "a GET query string" : "a form body";
      for (const [key, value] of Object.entries(cfg.body)) {
        const flat = (v: unknown) => v === null || typeof v !== "object";
        if (!(flat(value) || (Array.isArray(value) && value.every(flat))))
          problems.push({ path: at("body", key), message: `${what} is flat: a value is text, a number, a boolean or a list of them` });
      }
    }
  }
  for (const [name, value] of Object.entries(cfg.headers)) {
    if (!hasPlaceholder(value)) continue;
    for (const p of compileTemplate(value, endpoint).problems) problems.push({ path: at("headers", name), message: p.message });
  }
  return problems;
}

function rulesProblems(
  base: (string | number)[],
  rules: Record<string, unknown>,
  conditions: readonly string[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    if (name === "format" || rule === undefined) continue;
    const problem = conditions.includes(name) ? conditionProblem(rule as Condition) : valueRuleProblem(rule as ValueRule);
    if (problem) problems.push({ path: [...base, name], message: problem });
  }
  return problems;
}

export function channelConfigProblems(ch: ChannelShape): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (ch.ping) problems.push(...endpointProblems("ping", ch.ping));
  problems.push(...endpointProblems("post", ch.post));
  const ping = ch.response?.ping;
  if (ping) {
    if (ch.type === "direct_post") problems.push({ path: ["response", "ping"], message: "a direct_post channel is not pinged" });
    if (ping.bid === undefined && ping.accepted === undefined)
      problems.push({ path: ["response", "ping", "bid"], message: "needs bid (where the price is), or accepted (a yes/no priced at fixed_price)" });
    if (ping.bid === undefined && ping.accepted !== undefined && ch.fixed_price === undefined)
      problems.push({ path: ["fixed_price"], message: "a ping answered only with yes/no sells at the channel's fixed_price: set it" });
    problems.push(...rulesProblems(["response", "ping"], ping as unknown as Record<string, unknown>, ["accepted"]));
  }
  const post = ch.response?.post;
  if (post) problems.push(...rulesProblems(["response", "post"], post as unknown as Record<string, unknown>, ["accepted", "rejected"]));
  return problems;
}

/** Every `{{data.<field>}}` in a channel's templates, with where it is, for the check against the campaign. */
export function templateFieldRefs(ch: ChannelShape): (FieldRef & { endpoint: Endpoint })[] {
  const refs: (FieldRef & { endpoint: Endpoint })[] = [];
  for (const endpoint of ["ping", "post"] as const) {
    const cfg = ch[endpoint];
    if (!cfg) continue;
    if (cfg.body !== null)
      for (const ref of compileTemplate(cfg.body, endpoint).template.fields) refs.push({ ...ref, path: [endpoint, "body", ...ref.path], endpoint });
    for (const [name, value] of Object.entries(cfg.headers))
      if (hasPlaceholder(value))
        for (const ref of compileTemplate(value, endpoint).template.fields) refs.push({ ...ref, path: [endpoint, "headers", name], endpoint });
  }
  return refs;
}

/**
 * Fields a template names must be campaign fields, and a ping may only name fields that are not
 * pii: a ping never carries pii, so such a placeholder could only ever render empty.
 */
export function fieldProblems(ch: ChannelShape, fields: readonly { name: string; pii: boolean }[]): ConfigProblem[] {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const names = fields.map((f) => f.name).join(", ");
  const problems: ConfigProblem[] = [];
  for (const ref of templateFieldRefs(ch)) {
    const field = byName.get(ref.field);
    if (!field) problems.push({ path: ref.path, message: `unknown field '${ref.field}' (campaign fields: ${names})` });
    else if (ref.endpoint === "ping" && field.pii)
      problems.push({ path: ref.path, message: `'${ref.field}' is pii: a ping never carries it (use it in the post)` });
  }
  return problems;
}
