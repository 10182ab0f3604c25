// The checks of a channel against its campaign's fields, which need the campaign: the store runs them
// when either is saved. (Checks of a channel on its own are its schema's, in ./config.ts.)
import type { Channel, ConfigProblem } from "./config";
import { compileTemplate, compileUrlTemplate, hasPlaceholder, type Endpoint, type FieldRef } from "./template";

/** Every `{{data.<field>}}` in a channel's templates, with where it is, for the check against the campaign. */
export function templateFieldRefs(ch: Pick<Channel, "ping" | "post"> & { email?: Channel["email"] }): (FieldRef & { endpoint: Endpoint })[] {
  const refs: (FieldRef & { endpoint: Endpoint })[] = [];
  for (const endpoint of ["ping", "post"] as const) {
    const cfg = ch[endpoint];
    if (!cfg) continue;
    if (hasPlaceholder(cfg.url))
      for (const ref of compileUrlTemplate(cfg.url, endpoint).fields) refs.push({ ...ref, path: [endpoint, "url"], endpoint });
    if (cfg.body !== null)
      for (const ref of compileTemplate(cfg.body, endpoint).template.fields) refs.push({ ...ref, path: [endpoint, "body", ...ref.path], endpoint });
    for (const [name, value] of Object.entries(cfg.headers))
      if (hasPlaceholder(value))
        for (const ref of compileTemplate(value, endpoint).template.fields) refs.push({ ...ref, path: [endpoint, "headers", name], endpoint });
  }
  // An email channel's message is its post.
  for (const key of ["subject", "text"] as const) {
    const template = ch.email?.[key];
    if (template !== undefined)
      for (const ref of compileTemplate(template, "post").template.fields) refs.push({ ...ref, path: ["email", key], endpoint: "post" });
  }
  return refs;
}

/** A campaign field as the checks read it; a `list` field has item `fields`. */
interface CampaignField {
  name: string;
  pii: boolean;
  ping_hash?: boolean;
  type?: string;
  fields?: readonly { name: string; pii: boolean }[];
}

/**
 * Fields a template names must be campaign fields, and a ping may only name fields that are not
 * pii: a ping never carries pii, so such a placeholder could only ever render empty. The same holds
 * for a list's item fields inside `{{#each}}`. A filter may not name a list field: filters compare
 * one value, and a list has one per item.
 */
export function fieldProblems(ch: Pick<Channel, "ping" | "post" | "offer"> & { filters?: readonly { field: string }[] }, fields: readonly CampaignField[]): ConfigProblem[] {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const names = fields.map((f) => f.name).join(", ");
  const problems: ConfigProblem[] = [];
  (ch.filters ?? []).forEach((filter, i) => {
    if (byName.get(filter.field)?.type === "list")
      problems.push({ path: ["filters", i, "field"], message: `'${filter.field}' is a list field: filters on a list or its items are not supported` });
  });
  for (const ref of templateFieldRefs(ch)) {
    const field = byName.get(ref.field);
    if (ref.list !== undefined) {
      const items = byName.get(ref.list)?.fields ?? [];
      const item = items.find((f) => f.name === ref.field);
      if (!item) problems.push({ path: ref.path, message: `unknown field '${ref.field}' of the ${ref.list} items (their fields: ${items.map((f) => f.name).join(", ")})` });
      else if (ref.endpoint === "ping" && item.pii)
        problems.push({ path: ref.path, message: `'${ref.list}[].${ref.field}' is pii: a ping never carries it (use it in the post)` });
    } else if (!field) problems.push({ path: ref.path, message: `unknown field '${ref.field}' (campaign fields: ${names})` });
    else if (ref.each && field.type !== "list")
      problems.push({ path: ref.path, message: `'{{#each data.${ref.field}}}' needs a list field: '${ref.field}' is ${field.type ?? "not a list"}` });
    else if (ref.endpoint === "ping" && field.pii && !(ref.hashed && field.ping_hash))
      problems.push({
        path: ref.path,
        message: ref.hashed
          ? `'${ref.field}' is pii: a ping carries its hash only when the campaign's field says ping_hash: true`
          : `'${ref.field}' is pii: a ping never carries it (use it in the post, or a hash of it such as '{{data.${ref.field} | sha256}}' with ping_hash: true on the field)`,
      });
  }
  // An offer is made from a ping, before the post: its redirect has the ping's fields, and a pii
  // field only as the hash a ping may carry.
  const redirect = ch.offer?.redirect_url;
  if (redirect !== undefined && hasPlaceholder(redirect))
    for (const ref of compileUrlTemplate(redirect, "post").fields) {
      const field = byName.get(ref.field);
      const path = ["offer", "redirect_url"];
      if (!field) problems.push({ path, message: `unknown field '${ref.field}' (campaign fields: ${names})` });
      else if (field.pii && !(ref.hashed && field.ping_hash))
        problems.push({
          path,
          message: ref.hashed
            ? `'${ref.field}' is pii: an offer's redirect carries its hash only when the campaign's field says ping_hash: true`
            : `'${ref.field}' is pii: an offer is made before the post, so its redirect never has it (a hash of it such as '{{data.${ref.field} | sha256}}' works with ping_hash: true on the field)`,
        });
    }
  return problems;
}
