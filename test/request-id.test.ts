// X-Request-Id: a client's valid id is kept, anything else is replaced by a new one; the id comes
// back on every answer (errors, problem+json and admission's 503 included) and is on every log line
// the request writes. In-process (createApp + app.request): none of it depends on sockets or time.
import { describe, expect, it } from "vitest";
import { MAX_REQUEST_ID_LENGTH } from "../src/http/request-id";
import { createLogger } from "../src/logger";
import { useInProcessApp } from "./helpers/app";
import { consumer } from "./helpers/gavel";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const lines: Record<string, unknown>[] = [];
const logger = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line)) });

describe("X-Request-Id", () => {
  const t = useInProcessApp({ logger });

  const idOf = async (headers: Record<string, string>, path = "/healthz") => {
    const res = await t.a.call("GET", path, { headers, token: "" });
    return res.headers.get("x-request-id");
  };

  it("answers with the client's own id when it is at most 128 letters, digits, _, - or =", async () => {
    for (const id of ["abc", "req_01J9-ZX=", "0".repeat(MAX_REQUEST_ID_LENGTH), "550e8400-e29b-41d4-a716-446655440000"])
      expect(await idOf({ "x-request-id": id })).toBe(id);
  });

  it("replaces an id that is too long, empty or has any other character by a new one", async () => {
    for (const id of ["0".repeat(MAX_REQUEST_ID_LENGTH + 1), "", "has space", "semi;colon", "quote\"d", "new\\nline", "caf\u00e9", "a/b", "{json}"]) {
      const answered = await idOf({ "x-request-id": id });
      expect(answered, JSON.stringify(id)).not.toBe(id);
      expect(answered).toMatch(UUID_V7);
    }
  });

  it("gives a request that sends none a new id, different each time", async () => {
    const ids = [await idOf({}), await idOf({}), await idOf({})];
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(3);
  });

  it("comes back on error answers: 400, 401, 403, 404 and 422 problem+json", async () => {
    const key = await t.a.supplier("rid-errors", "rid-errors-sup");
    const cases: { status: number; method: string; path: string; token?: string; body?: unknown }[] = [
      { status: 400, method: "POST", path: "/v1/campaigns", body: "{not json" },
      { status: 401, method: "GET", path: "/v1/leads", token: "" },
      { status: 403, method: "GET", path: "/v1/leads", token: key },
      { status: 404, method: "GET", path: "/v1/nothing-here" },
      { status: 404, method: "GET", path: "/v1/campaigns/nothing-here" },
      { status: 422, method: "POST", path: "/v1/campaigns", body: { id: "Not A Slug" } },
      { status: 422, method: "POST", path: "/v1/leads", token: key, body: { campaign: "rid-errors", data: { email: "not an email" } } },
    ];
    for (const [i, c] of cases.entries()) {
      const id = `err-${i}`;
      const res = await t.a.call(c.method, c.path, { token: c.token, body: c.body, headers: { "x-request-id": id } });
      expect(res.status, `${c.method} ${c.path}`).toBe(c.status);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(res.headers.get("x-request-id"), `${c.method} ${c.path}`).toBe(id);
    }
  });

  it("comes back on the 503 of a lead refused by admission control", async () => {
    const key = await t.a.supplier("rid-full", "rid-full-sup");
    // Every slot taken (by hand: no auction has to be held up for it).
    let taken = 0;
    while (t.a.gate.tryEnter()) taken++;
    try {
      const res = await t.a.call("POST", "/v1/leads", { token: key, body: { campaign: "rid-full", data: consumer() }, headers: { "x-request-id": "full-1" } });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ type: "urn:gavel:problem:overloaded" });
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("x-request-id")).toBe("full-1");
    } finally {
      for (; taken > 0; taken--) t.a.gate.leave();
    }
  });

  it("is on every log line of its request, and each request's lines carry its own id", async () => {
    const key = await t.a.supplier("rid-logs", "rid-logs-sup", { dedup: { fields: ["email"] } });
    lines.length = 0;
    const answers = await Promise.all(
      ["lead-a", "lead-b", "lead-c"].map(async (id) => {
        const res = await t.a.call("POST", "/v1/leads", { token: key, body: { campaign: "rid-logs", data: consumer() }, headers: { "x-request-id": id } });
        expect(res.status).toBe(200);
        expect(res.headers.get("x-request-id")).toBe(id);
        return { id, leadId: res.body.lead_id as string };
      }),
    );
    for (const { id, leadId } of answers) {
      const mine = lines.filter((l) => l.lead_id === leadId);
      // The lead's summary line at least.
      expect(mine.length).toBeGreaterThan(0);
      for (const line of mine) expect(line.request_id).toBe(id);
    }
    // A lead refused as a duplicate logs its line too, with its own request's id.
    const person = consumer();
    expect((await t.a.call("POST", "/v1/leads", { token: key, body: { campaign: "rid-logs", data: person } })).body.status).toBe("unsold");
    const again = await t.a.call("POST", "/v1/leads", { token: key, body: { campaign: "rid-logs", data: person }, headers: { "x-request-id": "lead-again" } });
    expect(again.body.status).toBe("duplicate");
    expect(lines.filter((l) => l.lead_id === again.body.lead_id)).toMatchObject([{ request_id: "lead-again", status: "duplicate" }]);
  });
});
