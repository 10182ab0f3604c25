// Data fields a campaign does not declare: kept as strings (an object or an array as its JSON text)
// and treated as pii, so what reaches a buyer (only in the native post's `data`: a template can
// name declared fields only) is always text, never a structure the campaign never declared.
import { beforeAll, describe, expect, it } from "vitest";
import type { TestBuyer } from "./helpers/buyers";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

describe("undeclared fields", () => {
  const t = useTestGavel();
  let native: TestBuyer;
  let key: string;

  beforeAll(async () => {
    native = await t.buyer({ ping: () => ({ json: { bid: 5 } }) });
    key = await t.g.setup({
      campaign: { id: "undeclared" },
      channels: [pingPost("undeclared-native", native)],
    });
  });

  const extras = { meta: { ip: "203.0.113.7", ua: ["x", 1] }, tags: ["a", "b"], opt_in: true, score: 7, none: null };

  it("are kept as strings, objects and arrays as their JSON text, and reach the winning buyer's post only", async () => {
    const res = await t.g.lead(key, { campaign: "undeclared", data: consumer(extras) });
    expect(res.body).toMatchObject({ status: "sold" });
    const expected = { meta: '{"ip":"203.0.113.7","ua":["x",1]}', tags: '["a","b"]', opt_in: "true", score: "7" };

    const trace = (await t.g.admin("GET", res.body.trace_url)).body;
    expect(trace.data).toMatchObject(expected);
    expect(trace.data).not.toHaveProperty("none");

    // pii: never in a ping.
    for (const name of Object.keys(extras)) expect(native.pings[0].body.data).not.toHaveProperty(name);
    const posted = native.posts[0].body.data;
    expect(posted).toMatchObject(expected);
    for (const name of Object.keys(expected)) expect(typeof posted[name]).toBe("string");
  });

  it("are masked for analysts like any pii field", async () => {
    const res = await t.g.lead(key, { campaign: "undeclared", data: consumer(extras) });
    const analyst = (await t.g.admin("POST", "/v1/tokens", { name: "undeclared analyst", role: "analyst" })).body.token;
    const trace = (await t.g.admin("GET", res.body.trace_url, undefined, analyst)).body;
    expect(trace.data).toMatchObject({ meta: "***", tags: "***", opt_in: "***", score: "***" });
  });
});
