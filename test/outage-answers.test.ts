// While the database does not answer, a lead is still answered by its deadline plus the grace, even
// when the process must read its configuration again (the cache expired): the last good read
// serves. The statement bound is set far above the deadline here, so only that rule can answer in
// time. The database is taken away through a TCP proxy: PostgreSQL only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuyer, type TestBuyer } from "./helpers/buyers";
import { onPostgres } from "./helpers/db";
import { consumer, pingPost, testClock, type TestGavel } from "./helpers/gavel";
import { startGavelBehindProxy, type TcpProxy } from "./helpers/tcp-proxy";

describe.skipIf(!onPostgres)("answers during a database outage (PostgreSQL)", () => {
  let proxy: TcpProxy;
  let g: TestGavel;
  let close: () => Promise<void>;
  let buyer: TestBuyer;
  const clock = testClock("2026-11-29T12:00:00Z");

  beforeAll(async () => {
    ({ g, proxy, close } = await startGavelBehindProxy(
      { GAVEL_ANSWER_GRACE_MS: "500", GAVEL_CONFIG_TTL_MS: "1000" },
      { statementTimeoutMs: 60_000, queryTimeoutMs: 120_000 },
      { clock },
    ));
    buyer = await startBuyer({ ping: () => ({ json: { bid: 3 } }) });
  });
  afterAll(async () => {
    await close?.();
    await buyer?.close();
  });

  it("answers 503 by the deadline plus the grace when the configuration cache has expired and the database is silent", async () => {
    const apiKey = await g.setup({ campaign: { id: "outage", auction: { timeout_ms: 1000 } }, channels: [pingPost("outage-ch", buyer)] });
    expect((await g.lead(apiKey, { campaign: "outage", data: consumer() })).body).toMatchObject({ status: "sold" });
    proxy.silence();
    clock.advance(60_000); // the campaign and the supplier's key must be read again
    const answer = await g.lead(apiKey, { campaign: "outage", data: consumer() });
    expect(answer.status).toBe(503);
    expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    // Deadline 1 s plus grace 0.5 s; the bound asserted is five times that, and twenty times below
    // the statement bound that would answer without the last good read.
    expect(answer.ms).toBeLessThan(7_500);
  });
});
