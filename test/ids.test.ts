import { describe, expect, it } from "vitest";
import { uuidv7 } from "../src/ids";

describe("uuidv7", () => {
  it("is a version-7, RFC-variant UUID carrying the time, unique across refills of its random pool", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => uuidv7(1_700_000_000_000 + i));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
    expect(parseInt(ids[0].replace(/-/g, "").slice(0, 12), 16)).toBe(1_700_000_000_000);
  });
});
