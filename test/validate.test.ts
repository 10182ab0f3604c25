import { describe, expect, it } from "vitest";
import { dedupKeys } from "../src/leads/dedup";
import { compileFields } from "../src/leads/validate";
import { FieldSpec } from "../src/resources/schemas";

const fields = (specs: unknown[]) => compileFields(specs.map((s) => FieldSpec.parse(s)));

describe("field validation and normalisation", () => {
  const check = (spec: object, value: unknown) => {
    const r = fields([{ name: "f", ...spec }]).validate({ f: value });
    return r.ok ? { value: r.data.f } : { error: r.errors[0].message };
  };

  it.each([
    [{ type: "email" }, "  Jane.Doe@Example.COM ", "jane.doe@example.com"],
    [{ type: "phone" }, "(512) 555-0142", "+15125550142"],
    [{ type: "phone" }, "512.555.0142", "+15125550142"],
    [{ type: "phone" }, "+44 20 7946 0958", "+442079460958"],
    [{ type: "zip" }, "12345-6789", "12345"],
    [{ type: "zip" }, "123456789", "12345"],
    [{ type: "zip" }, 75001, "75001"],
    [{ type: "state" }, "texas", "TX"],
    [{ type: "state" }, "new  york", "NY"],
    [{ type: "state" }, "ca", "CA"],
    [{ type: "integer" }, "42", 42],
    [{ type: "number" }, "4.5", 4.5],
    [{ type: "boolean" }, "yes", true],
    [{ type: "boolean" }, "0", false],
    [{ type: "enum", values: ["Auto", "Home"] }, "home", "Home"],
    [{ type: "date" }, "2024-02-29", "2024-02-29"],
    [{ type: "string", max: 5 }, "  abc  ", "abc"],
  ])("normalises %j %j", (spec, input, expected) => {
    expect(check(spec, input)).toEqual({ value: expected });
  });

  it.each([
    [{ type: "email" }, "nope"],
    [{ type: "phone" }, "12"],
    [{ type: "zip" }, "1234"],
    [{ type: "state" }, "XX"],
    [{ type: "integer" }, "4.5"],
    [{ type: "integer", min: 18 }, 17],
    [{ type: "number", max: 10 }, 11],
    [{ type: "boolean" }, "maybe"],
    [{ type: "enum", values: ["a"] }, "b"],
    [{ type: "date" }, "2023-02-29"],
    [{ type: "date" }, "29/02/2024"],
    [{ type: "string", min: 3 }, "ab"],
    [{ type: "string", pattern: "^[A-Z]+$" }, "abc"],
  ])("rejects %j %j", (spec, input) => {
    expect(check(spec, input)).toHaveProperty("error");
  });

  it("reports every error, keeps undeclared fields as strings, and lists public fields", () => {
    const compiled = fields([
      { name: "zip", type: "zip", required: true },
      { name: "email", type: "email", required: true, pii: true },
      { name: "age", type: "integer" },
    ]);
    expect(compiled.publicFields).toEqual(["zip", "age"]);
    const bad = compiled.validate({ zip: "x", age: "old" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.map((e) => e.path)).toEqual(["data.zip", "data.email", "data.age"]);
    const good = compiled.validate({ zip: "10001", email: "a@b.co", extra: 12, age: "" });
    expect(good).toEqual({ ok: true, data: { zip: "10001", email: "a@b.co", extra: "12" } });
    // Objects and arrays too: as their JSON text, so every undeclared value is a string.
    const shaped = compiled.validate({ zip: "10001", email: "a@b.co", tags: ["a", 1], meta: { ip: "1.2.3.4", n: [true] }, ok: false });
    expect(shaped).toEqual({ ok: true, data: { zip: "10001", email: "a@b.co", tags: '["a",1]', meta: '{"ip":"1.2.3.4","n":[true]}', ok: "false" } });
  });
});

describe("dedup keys", () => {
  it("gives one key per present field with match any, and none for empty fields", () => {
    const rule = { fields: ["email", "phone"], match: "any" as const };
    expect(dedupKeys(rule, { email: "a@b.co", phone: "+15125550100" })).toHaveLength(2);
    expect(dedupKeys(rule, { email: "a@b.co", phone: "" })).toHaveLength(1);
    expect(dedupKeys(rule, {})).toEqual([]);
    expect(dedupKeys(rule, { email: "a@b.co" })).toEqual(dedupKeys(rule, { email: "A@B.CO" }));
  });

  it("gives one combined key with match all, only when every field is present", () => {
    const rule = { fields: ["email", "phone"], match: "all" as const };
    expect(dedupKeys(rule, { email: "a@b.co", phone: "+15125550100" })).toHaveLength(1);
    expect(dedupKeys(rule, { email: "a@b.co" })).toEqual([]);
    expect(dedupKeys(rule, { email: "a@b.co", phone: "1" })).not.toEqual(dedupKeys(rule, { email: "a@b.co", phone: "2" }));
  });

  it("does not confuse the same value in different fields", () => {
    const rule = { fields: ["a", "b"], match: "any" as const };
    expect(dedupKeys(rule, { a: "x" })).not.toEqual(dedupKeys(rule, { b: "x" }));
  });
});
