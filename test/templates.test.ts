// Body and header templates: placeholders, types, every transform, and the problems a bad template
// is refused with when its channel is saved.
import { describe, expect, it } from "vitest";
import { compileTemplate, renderText, transformNames, type TemplateVars } from "../src/channels/template";

const vars: TemplateVars = {
  lead_id: "lead-1",
  ping_id: "ping-1",
  campaign: "auto",
  test: false,
  data: { zip: "75001", age: 34, state: "TX", phone: "+15125550142", dob: "1990-07-04", smoker: true, coverage: "auto", note: "" },
  ping_ref: "ref-9",
  price: 12.5,
};

function render(template: unknown, endpoint: "ping" | "post" = "post", v: TemplateVars = vars) {
  const { template: t, problems } = compileTemplate(template, endpoint);
  expect(problems).toEqual([]);
  return t.render(v);
}

const one = (expression: string, v: TemplateVars = vars) => render(`{{${expression}}}`, "post", v);
const problemsOf = (template: unknown, endpoint: "ping" | "post" = "post") => compileTemplate(template, endpoint).problems;

describe("templates", () => {
  it("keeps a lone placeholder's type and writes mixed text as text", () => {
    expect(one("data.age")).toBe(34);
    expect(one("test")).toBe(false);
    expect(one("price")).toBe(12.5);
    expect(render("Age {{data.age}} in {{data.state}}")).toBe("Age 34 in TX");
    expect(render("  {{ lead_id }} ")).toBe("  lead-1 ");
  });

  it("maps nested objects, arrays and constants, and knows every variable", () => {
    expect(
      render({
        Lead: { Id: "{{lead_id}}", Zip: "{{data.zip}}", Tags: ["web", "{{campaign}}"], Source: "gavel", Version: 2, Live: true },
        ping: "{{ping_id}}",
        ref: "{{ping_ref}}",
        test: "{{test}}",
      }),
    ).toEqual({
      Lead: { Id: "lead-1", Zip: "75001", Tags: ["web", "auto"], Source: "gavel", Version: 2, Live: true },
      ping: "ping-1",
      ref: "ref-9",
      test: false,
    });
  });

  it("renders a missing value as null, and as an empty string inside text", () => {
    expect(one("data.income")).toBeNull();
    expect(render("income={{data.income}}")).toBe("income=");
    expect(renderText(compileTemplate("{{data.income}}", "post").template, vars)).toBe("");
  });

  it("marks a template without placeholders as constant", () => {
    expect(compileTemplate({ a: 1, b: ["x"] }, "ping").template.constant).toBe(true);
    expect(compileTemplate({ a: "{{lead_id}}" }, "ping").template.constant).toBe(false);
  });

  it("lists the data fields a template reads, with where", () => {
    expect(compileTemplate({ a: { b: "{{data.zip}}" }, c: ["{{data.age}} {{data.state}}"] }, "ping").template.fields).toEqual([
      { path: ["a", "b"], field: "zip" },
      { path: ["c", 0], field: "age" },
      { path: ["c", 0], field: "state" },
    ]);
  });

  describe("transforms", () => {
    it("upper, lower, trim", () => {
      expect(one("data.coverage | upper")).toBe("AUTO");
      expect(one("data.state | lower")).toBe("tx");
      expect(one("data.x | trim", { ...vars, data: { x: "  a b  " } })).toBe("a b");
    });

    it("string, number and fixed", () => {
      expect(one("data.age | string")).toBe("34");
      expect(one("data.zip | number")).toBe(75001);
      expect(one("data.state | number")).toBeNull();
      expect(one("price | fixed")).toBe("12.50");
      expect(one("price | fixed:0")).toBe("13");
      expect(one("data.missing | fixed")).toBeNull();
    });

    it("phones: digits, e164 and national", () => {
      expect(one("data.phone | digits")).toBe("15125550142");
      expect(one("data.phone | national")).toBe("5125550142");
      expect(one("data.p | e164", { ...vars, data: { p: "(512) 555-0142" } })).toBe("+15125550142");
      expect(one("data.phone | e164")).toBe("+15125550142");
    });

    it("dates in any date-fns format; a bare date is a calendar day in every time zone", () => {
      expect(one("data.dob | date:MM/dd/yyyy")).toBe("07/04/1990");
      expect(one("data.dob | date:yyyyMMdd")).toBe("19900704");
      expect(one("data.dob | date:d MMM yyyy")).toBe("4 Jul 1990");
      expect(one("data.t | date:HH:mm", { ...vars, data: { t: "2024-01-02T03:04:05" } })).toBe("03:04");
      expect(one("data.bad | date:MM/dd/yyyy", { ...vars, data: { bad: "someday" } })).toBe("someday");
    });

    it("yes/no to and from booleans", () => {
      expect(one("data.smoker | yesno")).toBe("yes");
      expect(one("data.smoker | yesno:Y/N")).toBe("Y");
      expect(one("data.f | yesno:Yes/No", { ...vars, data: { f: false } })).toBe("No");
      expect(one("data.f | bool", { ...vars, data: { f: "Yes" } })).toBe(true);
      expect(one("data.f | bool", { ...vars, data: { f: "n" } })).toBe(false);
      expect(one("data.f | bool", { ...vars, data: { f: "0" } })).toBe(false);
      expect(one("data.f | bool", { ...vars, data: { f: "maybe" } })).toBe("maybe");
    });

    it("map and default", () => {
      expect(one("data.coverage | map:auto=AUTO_INS,home=HOME_INS")).toBe("AUTO_INS");
      expect(one("data.state | map:ok=Oklahoma")).toBe("TX");
      expect(one("data.income | default:0")).toBe(0);
      expect(one("data.note | default:none")).toBe("none");
      expect(one("data.income | default:true")).toBe(true);
      expect(one("data.age | default:0")).toBe(34);
    });

    it("chain left to right", () => {
      expect(one("data.income | default:n/a | upper")).toBe("N/A");
      expect(one("data.phone | national | number")).toBe(5125550142);
    });

    it("all have a test above", () => {
      expect([...transformNames].sort()).toEqual(
        [
          ...["bool", "date", "default", "digits", "e164", "fixed", "lower", "map", "national", "number", "string", "trim", "upper", "yesno"],
          // test/template-output.test.ts
          ...["phone", "tz", "iso", "unix", "md5", "sha1", "sha256", "xml", "url", "json"],
        ].sort(),
      );
    });
  });

  describe("problems found when the channel is saved", () => {
    it("an unknown variable, with the known ones", () => {
      expect(problemsOf({ a: { b: "{{lead}}" } })).toEqual([
        { path: ["a", "b"], message: "unknown variable 'lead' (known: lead_id, ping_id, campaign, test, received_at, now, ping_ref, price, sale, bid.id, ping.<capture>, data.<field>)" },
      ]);
    });

    it("post-only variables in a ping", () => {
      expect(problemsOf({ ref: "{{ping_ref}}", p: "{{price}}", s: "{{sale}}" }, "ping").map((p) => p.message)).toEqual([
        "'{{ping_ref}}' is only known in posts",
        "'{{price}}' is only known in posts",
        "'{{sale}}' is only known in posts",
      ]);
      expect(problemsOf({ s: "{{sale | upper}}" }, "post")).toEqual([]);
    });

    it("unknown transforms and bad arguments", () => {
      expect(problemsOf("{{data.zip | shout}}")[0].message).toMatch(/^unknown transform 'shout' \(known: upper, lower/);
      expect(problemsOf("{{data.dob | date}}")[0].message).toBe("date needs a format, e.g. date:MM/dd/yyyy");
      expect(problemsOf("{{data.dob | date:YYYY}}")[0].message).toBe("bad date format 'YYYY': use yyyy for the year (Y is the week-numbering year)");
      expect(problemsOf("{{data.dob | date:DD/MM}}")[0].message).toMatch(/use dd for the day of the month/);
      expect(problemsOf("{{data.dob | date:bogus}}")[0].message).toMatch(/^bad date format 'bogus': Format string contains an unescaped latin alphabet character/);
      expect(problemsOf("{{data.dob | date:yyyy-MM-dd'T'HH 'Day'}}")).toEqual([]);
      expect(problemsOf("{{data.s | yesno:Y}}")[0].message).toMatch(/two words/);
      expect(problemsOf("{{price | fixed:x}}")[0].message).toMatch(/decimal places/);
      expect(problemsOf("{{data.c | map:auto}}")[0].message).toMatch(/from=to/);
      expect(problemsOf("{{data.c | default}}")[0].message).toMatch(/needs a value/);
    });

    it("empty and unbalanced placeholders, bad field names", () => {
      expect(problemsOf("{{}}")[0].message).toBe("empty placeholder '{{}}'");
      expect(problemsOf("{{data.zip")[0].message).toMatch(/unbalanced/);
      expect(problemsOf("zip}}")[0].message).toMatch(/unbalanced/);
      expect(problemsOf("{{data.zip-code}}")[0].message).toMatch(/bad field name/);
    });

    it("every problem of a template, each at its own path", () => {
      expect(problemsOf({ a: "{{x}}", b: ["ok", "{{y}}"] }).map((p) => p.path)).toEqual([["a"], ["b", 1]]);
    });
  });
});
