import { describe, expect, it } from "vitest";
import { diffDocs, sameJson } from "../src/resources/diff";

describe("field-level diffs", () => {
  it("lists changed, added and removed leaves by path", () => {
    const before = { id: "a", auction: { floor: 1, timeout_ms: 2000 }, name: "A", gone: true };
    const after = { id: "a", auction: { floor: 2, timeout_ms: 2000 }, name: "A", added: "x" };
    expect(diffDocs(before, after)).toEqual([
      { path: "auction.floor", before: 1, after: 2 },
      { path: "gone", before: true },
      { path: "added", after: "x" },
    ]);
  });

  it("compares lists whole and ignores key order", () => {
    expect(diffDocs({ f: [1, 2] }, { f: [2, 1] })).toEqual([{ path: "f", before: [1, 2], after: [2, 1] }]);
    expect(sameJson({ a: 1, b: { c: 2 } }, { b: { c: 2 }, a: 1 })).toBe(true);
    expect(diffDocs({ a: 1, b: 2 }, { b: 2, a: 1 })).toEqual([]);
  });

  it("flattens a new document into its leaves", () => {
    expect(diffDocs(null, { id: "x", auth: { type: "bearer", token: "t" } })).toEqual([
      { path: "id", after: "x" },
      { path: "auth.type", after: "bearer" },
      { path: "auth.token", after: "t" },
    ]);
  });

  it("masks secret values, showing that they changed but not what they were", () => {
    const before = { auth: { type: "bearer", token: "old-secret" }, ping: { headers: { "X-Key": "k1" } } };
    const after = { auth: { type: "bearer", token: "new-secret" }, ping: { headers: { "X-Key": "k2" } } };
    const diff = diffDocs(before, after, ["auth.token", "ping.headers.X-Key"]);
    expect(diff).toEqual([
      { path: "auth.token", before: "***", after: "***" },
      { path: "ping.headers.X-Key", before: "***", after: "***" },
    ]);
    expect(JSON.stringify(diffDocs(null, after, ["auth.token"]))).not.toContain("new-secret");
  });
});
