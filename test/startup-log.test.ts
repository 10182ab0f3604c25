// What Gavel's log tells a person: where it listens and where its docs and dashboard are, on the
// first line; and for each lead, who bought it, under names that cannot be read as a count.
import { beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger";
import { consumer, pingPost, useTestGavel } from "./helpers/gavel";

const lines: Record<string, any>[] = [];
const logger = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line)) });

describe("the log", () => {
  const t = useTestGavel({}, { logger });
  let key: string;

  beforeAll(async () => {
    const buyer = await t.buyer({ ping: () => ({ json: { bid: 6 } }) });
    key = await t.g.setup({ campaign: { id: "log" }, channels: [pingPost("log-acme-tx", buyer, { buyer_id: "log-acme" })] });
  });

  it("says on start where Gavel listens, and where /docs and the dashboard are", async () => {
    const listening = lines.find((l) => l.msg.startsWith("gavel listening"))!;
    const url = t.g.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listening).toMatchObject({ url, host: "127.0.0.1", port: t.g.gavel.port, docs: `${url}/docs`, dashboard: `${url}/` });
    expect(listening.msg).toBe(`gavel listening on ${url} — API reference ${url}/docs, dashboard ${url}/`);
    // The addresses it names answer.
    expect((await fetch(listening.docs)).status).toBe(200);
    expect((await fetch(listening.openapi)).status).toBe(200);
  });

  it("names the channel and buyer of a sale in the lead's line (sold_channel, sold_buyer), and no count", async () => {
    const sold = await t.g.lead(key, { campaign: "log", data: consumer() });
    expect(sold.body).toMatchObject({ status: "sold", sold_to: 1 });
    const line = lines.find((l) => l.msg === "lead" && l.lead_id === sold.body.lead_id)!;
    expect(line).toMatchObject({ status: "sold", sold_channel: "log-acme-tx", sold_buyer: "log-acme", price: sold.body.price });
    expect(line).not.toHaveProperty("sold_to");

    await t.g.admin("PATCH", "/v1/channels/log-acme-tx", { status: "paused" });
    const nobody = await t.g.lead(key, { campaign: "log", data: consumer() });
    expect(nobody.body.status).toBe("unsold");
    expect(lines.find((l) => l.msg === "lead" && l.lead_id === nobody.body.lead_id)).toMatchObject({ sold_channel: null, sold_buyer: null });
  });
});
