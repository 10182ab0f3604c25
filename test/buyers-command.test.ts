// `gavel buyers` (issue #13, item 1): the simulated buyers a newcomer's own Gavel sells to. Each
// buyer it prints answers at the URLs it prints as its blurb says: acme bids $12.50 and accepts,
// budget bids low (or not at all), picky bids high and rejects every post, slow answers its ping
// after about a second; every answer is printed; on the stop signal they all close. In process,
// on free loopback ports, with Gavel's native protocol spoken to them directly.
import { describe, expect, it } from "vitest";
import { serveBuyers } from "../src/demo/serve-buyers";

interface Printed {
  ping: string;
  post: string;
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: any; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: await res.json(), ms: performance.now() - started };
}

describe("gavel buyers", () => {
  it("serves a bidder, a low bidder, a rejecter and a slow one at the URLs it prints, and closes them on Ctrl-C", async () => {
    let printed = "";
    let listed!: () => void;
    const ready = new Promise<void>((resolve) => (listed = resolve));
    const out = {
      write: (chunk: string) => {
        printed += chunk;
        if (/Each answer they send is printed below/.test(printed)) listed();
      },
    };
    const stop = new AbortController();
    const running = serveBuyers({ port: 0, out, signal: stop.signal });

    // The table: one row per buyer, its ping URL and its post URL.
    await ready;
    const urls = new Map<string, Printed>();
    for (const m of printed.matchAll(/^\s+(\w+)\s+(http:\/\/127\.0\.0\.1:\d+\/ping)\s+(http:\/\/127\.0\.0\.1:\d+\/post)\s/gm)) urls.set(m[1], { ping: m[2], post: m[3] });
    expect([...urls.keys()]).toEqual(["acme", "budget", "picky", "slow"]);

    let n = 0;
    const ping = (name: string) =>
      postJson(urls.get(name)!.ping, { ping_id: `p-${++n}`, lead_id: `l-${n}`, campaign: "auto-insurance", test: false, data: { zip: "75001", state: "TX" } });
    const post = (name: string, pingRef: unknown) =>
      postJson(urls.get(name)!.post, { lead_id: `l-${++n}`, campaign: "auto-insurance", test: false, ping_ref: pingRef, price: 10, data: { zip: "75001", email: "a@example.com" } });

    // acme: $12.50 every time, and it buys.
    for (let i = 0; i < 3; i++) {
      const bid = await ping("acme");
      expect(bid.body).toMatchObject({ bid: 12.5 });
      expect((await post("acme", bid.body.ping_ref)).body).toMatchObject({ accepted: true });
    }
    // budget: $3-7 when it bids at all.
    for (let i = 0; i < 5; i++) {
      const bid = (await ping("budget")).body;
      if (bid.bid !== null) expect(bid.bid).toBeGreaterThanOrEqual(3);
      if (bid.bid !== null) expect(bid.bid).toBeLessThanOrEqual(7);
    }
    // picky: the highest bids, and it refuses every post.
    for (let i = 0; i < 3; i++) {
      const bid = await ping("picky");
      expect(bid.body.bid).toBeGreaterThanOrEqual(17);
      expect((await post("picky", bid.body.ping_ref)).body).toMatchObject({ accepted: false });
    }
    // slow: a bid, after most of a second (a lower bound only: a busy machine makes it slower).
    const slow = await ping("slow");
    expect(slow.body.bid).toBeGreaterThanOrEqual(14);
    expect(slow.ms).toBeGreaterThanOrEqual(850);

    // Every answer was printed as it went out.
    expect(printed).toMatch(/acme\s+ping\s+→ \{"bid":12\.5/);
    expect(printed).toMatch(/picky\s+post\s+→ \{"accepted":false/);

    stop.abort();
    expect(await running).toBe(0);
    expect(printed).toMatch(/buyers stopped\n$/);
    await expect(fetch(urls.get("acme")!.ping, { method: "POST", body: "{}" })).rejects.toThrow();
  }, 120_000);
});
