// Template output real buyers' specs ask for (issue #18 item 2): phone styles, hashes of contact
// fields, escapes for text that is itself XML, a URL or JSON, and time variables in a zone.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compileTemplate, renderText, type TemplateVars } from "../src/channels/template";

const vars: TemplateVars = {
  lead_id: "lead-1",
  ping_id: "ping-1",
  campaign: "auto",
  test: false,
  data: { phone: "+15125550142", uk: "+442079460958", email: "jo@example.com", address: "12 Oak & Elm St", dob: "1990-07-04" },
  ping_ref: "ref-9",
  price: 12.5,
  received_at: "2026-03-02T15:04:05.000Z",
  now: "2026-03-02T15:04:06.250Z",
};

const one = (expression: string, v: TemplateVars = vars, endpoint: "ping" | "post" = "post") => {
  const { template, problems } = compileTemplate(`{{${expression}}}`, endpoint);
  expect(problems).toEqual([]);
  return template.render(v);
};
const problemsOf = (template: unknown, endpoint: "ping" | "post" = "post") => compileTemplate(template, endpoint).problems.map((p) => p.message);
const hex = (algorithm: string, text: string) => createHash(algorithm).update(text).digest("hex");

describe("template output", () => {
  it("writes a phone in each style", () => {
    expect(one("data.phone | phone:dashed")).toBe("512-555-0142");
    expect(one("data.phone | phone:dotted")).toBe("512.555.0142");
    expect(one("data.phone | phone:national")).toBe("(512) 555-0142");
    expect(one("data.phone | phone:international")).toBe("+1 512 555 0142");
    expect(one("data.phone | phone:e164")).toBe("+15125550142");
    expect(one("data.phone | phone:digits")).toBe("15125550142");
    expect(one("data.phone | phone:national_digits")).toBe("5125550142");
    expect(one("data.p | phone:dashed", { ...vars, data: { p: "(512) 555 0142" } })).toBe("512-555-0142");
    // Outside North America the national grouping stays, with the separator asked for.
    expect(one("data.uk | phone:dashed")).toBe("020-7946-0958");
    expect(one("data.none | phone:dashed")).toBeNull();
  });

  it("hashes the normalised value as hex", () => {
    expect(one("data.email | sha256")).toBe(hex("sha256", "jo@example.com"));
    expect(one("data.email | md5")).toBe(hex("md5", "jo@example.com"));
    expect(one("data.email | sha1")).toBe(hex("sha1", "jo@example.com"));
    expect(one("data.phone | sha256")).toBe(hex("sha256", "+15125550142"));
    expect(one("data.phone | phone:national_digits | md5")).toBe(hex("md5", "5125550142"));
    expect(one("data.email | sha256 | upper")).toBe(hex("sha256", "jo@example.com").toUpperCase());
    expect(one("data.none | sha256")).toBeNull();
  });

  it("reads a pii field in a ping only through a hash", () => {
    const ping: TemplateVars = { ...vars, data: { zip: "75001" }, hashable: { email: "jo@example.com" } };
    expect(one("data.email | sha256", ping, "ping")).toBe(hex("sha256", "jo@example.com"));
    expect(one("data.email", ping, "ping")).toBeNull();
    expect(one("data.email | lower", ping, "ping")).toBeNull();
  });

  it("escapes a value for text that is XML, a URL or JSON", () => {
    expect(one("data.address | xml")).toBe("12 Oak &amp; Elm St");
    expect(one("data.x | xml", { ...vars, data: { x: `<a href="b">'c'</a>` } })).toBe("&lt;a href=&quot;b&quot;&gt;&apos;c&apos;&lt;/a&gt;");
    expect(one("data.address | url")).toBe("12%20Oak%20%26%20Elm%20St");
    expect(one("data.x | json", { ...vars, data: { x: 'say "hi"\n' } })).toBe('say \\"hi\\"\\n');
    const { template } = compileTemplate("<Lead><Address>{{data.address | xml}}</Address><Id>{{lead_id}}</Id></Lead>", "post");
    expect(renderText(template, vars)).toBe("<Lead><Address>12 Oak &amp; Elm St</Address><Id>lead-1</Id></Lead>");
  });

  it("refuses a lead's value placed unescaped inside XML text", () => {
    expect(problemsOf({ xml: "<Lead><Address>{{data.address}}</Address></Lead>" })).toEqual([
      "'{{data.address}}' sits inside XML text: end it with '| xml' so that '&' and '<' reach the buyer's parser intact",
    ]);
    expect(problemsOf({ xml: "<Lead><Id>{{lead_id}}</Id><Zip>{{data.zip | xml}}</Zip><E>{{data.email | sha256}}</E><P>{{data.phone | phone:dashed}}</P></Lead>" })).toEqual([]);
    // The last transform decides: an escape before another transform is not one.
    expect(problemsOf({ xml: "<A>{{data.address | xml | upper}}</A>" })).toHaveLength(1);
    // Text that is not XML needs no escape.
    expect(problemsOf({ a: "Oak {{data.address}} > 2" })).toEqual([]);
  });

  it("refuses a buyer's own value (a capture, the bid's id, its ping_ref) placed unescaped inside XML text", () => {
    expect(problemsOf({ xml: "<Lead><Ref>{{ping.ref}}</Ref><Bid>{{bid.id}}</Bid><R>{{ping_ref}}</R><Id>{{lead_id}}</Id></Lead>" })).toEqual([
      "'{{ping.ref}}' sits inside XML text: end it with '| xml' so that '&' and '<' reach the buyer's parser intact",
      "'{{bid.id}}' sits inside XML text: end it with '| xml' so that '&' and '<' reach the buyer's parser intact",
      "'{{ping_ref}}' sits inside XML text: end it with '| xml' so that '&' and '<' reach the buyer's parser intact",
    ]);
    expect(problemsOf({ xml: "<Lead><Ref>{{ping.ref | xml}}</Ref><Bid>{{bid.id | xml}}</Bid><R>{{ping_ref | xml}}</R></Lead>" })).toEqual([]);
  });

  it("refuses a value placed unescaped inside a string of text that is itself JSON", () => {
    const message = (name: string) => `'{{${name}}}' sits inside a string of JSON text: end it with '| json' so that '"' and '\\' reach the buyer's parser intact`;
    // A form field holding JSON: its strings need '| json'; a value outside a string, and Gavel's own, do not.
    expect(problemsOf({ payload: '{"n":"{{data.name}}","id":"{{lead_id}}","age":{{data.age}},"ref":"{{ping.ref}}"}' })).toEqual([message("data.name"), message("ping.ref")]);
    expect(problemsOf({ payload: '{"n":"{{data.name | json}}","p":"{{data.phone | digits}}","e":"{{data.email | sha256}}"}' })).toEqual([]);
    // An escaped quote does not end the string; a list written per item is checked item by item.
    expect(problemsOf({ payload: '{"a":"say \\"{{data.name}}\\""}' })).toEqual([message("data.name")]);
    expect(problemsOf({ payload: '[{{#each data.drivers}}{"n":"{{item.name}}"},{{/each}}]' })).toEqual([message("item.name")]);
    expect(problemsOf({ payload: '[{{#each data.drivers}}"{{item.name | json}}",{{/each}}""]' })).toEqual([]);
    // What it writes with '| json' is JSON whatever the value holds.
    const { template } = compileTemplate({ payload: '{"n":"{{data.name | json}}"}' }, "post");
    const out = template.render({ ...vars, data: { name: 'Ann "A" \\ B' } }) as { payload: string };
    expect(JSON.parse(out.payload)).toEqual({ n: 'Ann "A" \\ B' });
    // Text that only looks like braces is not JSON.
    expect(problemsOf({ a: "{{data.first}} {{data.last}}", b: "{ {{data.name}} }" })).toEqual([]);
  });

  it("writes when the lead arrived and now, in a format and a zone", () => {
    expect(one("received_at")).toBe("2026-03-02T15:04:05.000Z");
    expect(one("received_at | date:yyyy-MM-dd HH:mm:ss")).toBe("2026-03-02 15:04:05");
    expect(one("received_at | tz:America/Chicago | date:MM/dd/yyyy hh:mm a")).toBe("03/02/2026 09:04 AM");
    expect(one("received_at | tz:America/Chicago | iso")).toBe("2026-03-02T09:04:05-06:00");
    expect(one("received_at | iso")).toBe("2026-03-02T15:04:05Z");
    expect(one("received_at | unix")).toBe(1772463845);
    expect(one("now | date:HH:mm:ss.SSS")).toBe("15:04:06.250");
    // A bare date stays the calendar day it names, in any zone.
    expect(one("data.dob | date:MM/dd/yyyy")).toBe("07/04/1990");
    expect(one("data.dob | tz:Asia/Tokyo | date:MM/dd/yyyy")).toBe("07/04/1990");
    // In a ping too.
    expect(one("now | unix", vars, "ping")).toBe(1772463846);
  });

  it("refuses unknown transforms, styles and zones when the channel is saved", () => {
    expect(problemsOf("{{data.phone | dashes}}")[0]).toMatch(/^unknown transform 'dashes' \(known: .*phone.*md5, sha1, sha256, xml, url, json/);
    expect(problemsOf("{{data.phone | phone}}")[0]).toBe("phone needs a style: dashed, dotted, national, international, e164, digits, national_digits (e.g. phone:dashed)");
    expect(problemsOf("{{data.phone | phone:fancy}}")[0]).toMatch(/^phone needs a style/);
    expect(problemsOf("{{now | tz:Mars/Olympus}}")[0]).toBe("unknown time zone 'Mars/Olympus' (an IANA name, e.g. America/Chicago)");
    expect(problemsOf("{{now | tz}}")[0]).toMatch(/^tz needs an IANA time zone/);
    expect(problemsOf("{{now | date:yyyy-MM-dd'T'HH:mmxxx}}")[0]).toMatch(/no offset or zone tokens/);
    expect(problemsOf("{{received}}")[0]).toBe("unknown variable 'received' (known: lead_id, ping_id, campaign, test, received_at, now, ping_ref, price, sale, bid.id, ping.<capture>, data.<field>)");
  });
});
