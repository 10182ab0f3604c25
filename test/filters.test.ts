import { describe, expect, it } from "vitest";
import { compileFilter } from "../src/auction/filters";
import { Filter } from "../src/channels/config";

const holds = (filter: object, data: Record<string, unknown>) => compileFilter(Filter.parse(filter))(data);

describe("channel filters", () => {
  it.each([
    [{ field: "state", op: "eq", value: "TX" }, { state: "TX" }, true],
    [{ field: "state", op: "eq", value: "TX" }, { state: "tx" }, true],
    [{ field: "state", op: "eq", value: "TX" }, {}, false],
    [{ field: "state", op: "neq", value: "TX" }, { state: "OK" }, true],
    [{ field: "state", op: "neq", value: "TX" }, {}, true],
    [{ field: "state", op: "in", value: ["TX", "OK"] }, { state: "OK" }, true],
    [{ field: "state", op: "in", value: ["TX", "OK"] }, { state: "CA" }, false],
    [{ field: "state", op: "nin", value: ["CA"] }, { state: "TX" }, true],
    [{ field: "state", op: "nin", value: ["CA"] }, { state: "CA" }, false],
    [{ field: "age", op: "gt", value: 21 }, { age: 22 }, true],
    [{ field: "age", op: "gt", value: 21 }, { age: 21 }, false],
    [{ field: "age", op: "gte", value: 21 }, { age: 21 }, true],
    [{ field: "age", op: "lt", value: 65 }, { age: 64 }, true],
    [{ field: "age", op: "lte", value: 65 }, { age: 66 }, false],
    [{ field: "age", op: "gte", value: 21 }, {}, false],
    [{ field: "age", op: "between", value: [25, 40] }, { age: 40 }, true],
    [{ field: "age", op: "between", value: [25, 40] }, { age: 41 }, false],
    [{ field: "dob", op: "lt", value: "2000-01-01" }, { dob: "1999-12-31" }, true],
    [{ field: "zip", op: "prefix", value: ["750", "751"] }, { zip: "75123" }, true],
    [{ field: "zip", op: "prefix", value: "750" }, { zip: "76001" }, false],
    [{ field: "phone", op: "exists", value: true }, { phone: "+15125550100" }, true],
    [{ field: "phone", op: "exists", value: true }, { phone: "" }, false],
    [{ field: "phone", op: "exists", value: false }, {}, true],
  ])("%j on %j → %s", (filter, data, expected) => {
    expect(holds(filter, data)).toBe(expected);
  });

  it("refuses values that do not fit the op", () => {
    expect(Filter.safeParse({ field: "age", op: "between", value: [1] }).success).toBe(false);
    expect(Filter.safeParse({ field: "state", op: "in", value: "TX" }).success).toBe(false);
    expect(Filter.safeParse({ field: "x", op: "exists", value: "yes" }).success).toBe(false);
    expect(Filter.safeParse({ field: "x", op: "like", value: "a" }).success).toBe(false);
  });
});
