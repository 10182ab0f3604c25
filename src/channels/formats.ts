// The three wire formats a buyer speaks (SPEC.md "Channel configuration"): JSON, form
// (application/x-www-form-urlencoded) and XML, both ways. XML goes through fast-xml-parser, with
// attributes as `@_name` and element text beside attributes as `#text`, the same spelling in a body
// template and in a response rule.
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";

/** What a request is written in; also the formats a response can be read in, with `text`. */
export const requestFormats = ["json", "form", "xml"] as const;
export type RequestFormat = (typeof requestFormats)[number];
export const responseFormats = ["json", "xml", "form", "text"] as const satisfies readonly (RequestFormat | "text")[];
export type ResponseFormat = (typeof responseFormats)[number];

export const CONTENT_TYPES: Record<RequestFormat, string> = {
  json: "application/json",
  form: "application/x-www-form-urlencoded",
  xml: "application/xml; charset=utf-8",
};

const xmlBuilder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  format: false,
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
});

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  // `<soap:Envelope>` reads as `Envelope`: rules name elements by local name, whatever prefix a buyer picks.
  removeNSPrefix: true,
  // Values stay text ("007" is a reference, not 7); rules turn prices into numbers themselves.
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
});

/** Form and XML carry text: null is empty, booleans and numbers are written out. */
function textValues(node: unknown): unknown {
  if (node === null || node === undefined) return "";
  if (Array.isArray(node)) return node.map(textValues);
  if (typeof node === "object") return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, textValues(v)]));
  return String(node);
}

/** Flat pairs for a form body or a query string; a list repeats its key. */
export function formPairs(value: Record<string, unknown>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, v] of Object.entries(value)) {
    if (Array.isArray(v)) for (const item of v) params.append(key, String(textValues(item)));
    else params.append(key, String(textValues(v)));
  }
  return params;
}

export function serialize(format: RequestFormat, value: unknown): string {
  switch (format) {
    case "json":
      return JSON.stringify(value);
    case "form":
      return formPairs(value as Record<string, unknown>).toString();
    case "xml":
      return `<?xml version="1.0" encoding="UTF-8"?>${xmlBuilder.build(textValues(value))}`;
  }
}

/** The format a response is read in: the channel's rule format if set, else the Content-Type, else a sniff. */
export function responseFormat(contentType: string, body: string, configured?: ResponseFormat): ResponseFormat {
  if (configured) return configured;
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) return "json";
  if (type === "application/xml" || type === "text/xml" || type.endsWith("+xml")) return "xml";
  if (type === "application/x-www-form-urlencoded") return "form";
  // Buyers often label JSON or XML as text/html or text/plain: look at the first character.
  const first = body.trimStart()[0];
  if (first === "{" || first === "[") return "json";
  if (first === "<") return "xml";
  return "text";
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * How deep a buyer's answer may nest. Real answers are a few levels deep; what reads a tree
 * (JSON.stringify, JSONPath) recurses, so a 20,000-deep answer would overflow the stack mid-auction.
 * A deeper answer is unreadable, as garbage is.
 */
export const MAX_ANSWER_DEPTH = 64;

/** Whether a parsed value nests deeper than `max` arrays/objects (walked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return false;
}

const tooDeep = (value: unknown): Parsed =>
  nestsDeeperThan(value, MAX_ANSWER_DEPTH) ? { ok: false, error: `nested deeper than ${MAX_ANSWER_DEPTH} levels` } : { ok: true, value };

/** Parses a response body into the tree JSONPath reads: the XML root element is `$.<Root>`. */
export function parseBody(format: ResponseFormat, body: string): Parsed {
  switch (format) {
    case "json":
      try {
        return tooDeep(JSON.parse(body));
      } catch (error) {
        return { ok: false, error: `not JSON (${(error as Error).message})` };
      }
    case "xml": {
      try {
        const valid = XMLValidator.validate(body);
        if (valid !== true) return { ok: false, error: `not XML (${valid.err.msg})` };
        return tooDeep(xmlParser.parse(body));
      } catch (error) {
        // The XML reader recurses: an answer deep enough overflows its stack.
        return { ok: false, error: `not XML (${(error as Error).message})` };
      }
    }
    case "form": {
      const out: Record<string, string | string[]> = {};
      for (const [key, value] of new URLSearchParams(body.trim())) {
        const seen = out[key];
        out[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
      }
      return { ok: true, value: out };
    }
    case "text":
      return { ok: false, error: "a text body has no fields: use a regex or status rule" };
  }
}
