// What the test console points out when a buyer's answer holds a bid where the channel's rule does
// not look: `{"price": 12.5}` read with `$.bid` is a no-bid to the auction, and without a word it
// reads as a buyer that passed. Only a hint for a person: the auction never guesses.

/** Key names that buyers use for a bid (lower-cased, with anything but letters and digits removed). */
const BID_NAME = /bid|price|amount|payout|cpl|cpa|revenue/;
/** …unless the name says it is an id (but `bid` and `bids` are bids), a currency or a count of something. */
const NOT_A_BID = /((?<!b)ids?|currency|count|type)$/;
const MONEY_TEXT = /^\s*\$?\s*\d{1,9}(\.\d+)?\s*$/;
const MAX_DEPTH = 6;
const MAX_FOUND = 5;

export interface Lookalike {
  /** A JSONPath that reads it, as a response rule would be written (`$.price`, `$.Response.Bid`). */
  path: string;
  value: unknown;
}

const SIMPLE_KEY = /^[A-Za-z_@$][\w@$-]*$/;
const step = (key: string | number) =>
  typeof key === "number" ? `[${key}]` : SIMPLE_KEY.test(key) ? `.${key}` : `['${key.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}']`;

function looksLikeMoney(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value) && value > 0;
  return typeof value === "string" && MONEY_TEXT.test(value) && Number(value.replace(/[$\s]/g, "")) > 0;
}

function bidName(key: string): boolean {
  const name = key.toLowerCase().replace(/[^a-z0-9]/g, "");
  return BID_NAME.test(name) && !NOT_A_BID.test(name);
}

/**
 * Values in a parsed answer (JSON, XML or form) that look like a bid: a positive amount under a
 * key named like one (`price`, `Bid`, `bid_amount`, `@_price`; an XML element's text beside its
 * attributes counts as the element's). Breadth first, so the shallowest come first; at most five.
 */
export function bidLookalikes(tree: unknown): Lookalike[] {
  const found: Lookalike[] = [];
  let level: { node: unknown; path: string; name: string }[] = [{ node: tree, path: "$", name: "" }];
  for (let depth = 0; depth <= MAX_DEPTH && level.length && found.length < MAX_FOUND; depth++) {
    const next: typeof level = [];
    for (const { node, path, name } of level) {
      if (found.length >= MAX_FOUND) break;
      if (Array.isArray(node)) node.forEach((item, i) => next.push({ node: item, path: path + step(i), name }));
      else if (node !== null && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          // An XML element's text beside its attributes: a rule reads it by the element's own path.
          const [childName, childPath] = key === "#text" ? [name, path] : [key, path + step(key)];
          if (looksLikeMoney(value) && bidName(childName)) found.push({ path: childPath, value });
          else next.push({ node: value, path: childPath, name: childName });
          if (found.length >= MAX_FOUND) break;
        }
      }
    }
    level = next;
  }
  return found;
}
