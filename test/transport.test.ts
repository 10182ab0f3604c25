// The buyer transport against real loopback servers: what it returns for each way a buyer can
// answer or misbehave, that one deadline covers the whole exchange, and that cut requests leave the
// keep-alive pool healthy.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createBuyerTransport, TargetCache, type BuyerRequest } from "../src/channels/transport";

interface Loopback {
  url: string;
  /** Connections the server holds open. */
  open: () => number;
  requests: IncomingMessage[];
  close(): Promise<void>;
}

const servers: Loopback[] = [];

async function loopback(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  const sockets = new Set<Socket>();
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    req.resume();
    req.on("end", () => answer(req, res));
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const lb: Loopback = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => sockets.size,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(lb);
  return lb;
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const until = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** expect.poll gives up after 1 s by default; a busy machine may need longer to close a socket. */
const eventually = { timeout: 20_000 };

const post = (url: string, rest: Partial<BuyerRequest> = {}): BuyerRequest => ({
  url,
  method: "POST",
  headers: { "content-type": "application/json" },
  body: '{"lead":1}',
  timeoutMs: 1000,
  maxBodyBytes: 1024,
  ...rest,
});

describe("buyer transport", () => {
  const transport = createBuyerTransport();
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  afterAll(() => transport.close());

  it("returns status, body, content type and lower-cased headers, joining a repeated header with a comma", async () => {
    const buyer = await loopback((_req, res) => {
      res.setHeader("Content-Type", "application/json; charset=utf-8");
      res.setHeader("X-Trace", ["a", "b"]);
      res.setHeader("X-Single", "one");
      res.end('{"bid":1.5}');
    });
    const response = await transport.send(post(`${buyer.url}/ping`));
    expect(response).toMatchObject({
      kind: "response",
      status: 200,
      contentType: "application/json; charset=utf-8",
      body: '{"bid":1.5}',
      headers: { "content-type": "application/json; charset=utf-8", "x-trace": "a, b", "x-single": "one", "content-length": "11" },
    });
    expect(buyer.requests[0]).toMatchObject({ method: "POST", url: "/ping" });
  });

  it("sends a GET's query as written and reads a non-2xx answer whole", async () => {
    const buyer = await loopback((req, res) => {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end(`busy ${req.url}`);
    });
    const response = await transport.send({ ...post(`${buyer.url}/ping?zip=10001&name=A%20B&tags=x,y`), method: "GET", body: undefined });
    expect(response).toMatchObject({ kind: "response", status: 503, contentType: "text/plain", body: "busy /ping?zip=10001&name=A%20B&tags=x,y" });
  });

  it("decodes UTF-8 from the whole body, not chunk by chunk", async () => {
    const euro = Buffer.from('{"note":"€"}');
    const split = euro.indexOf(0xe2) + 1; // inside the three bytes of €
    const buyer = await loopback(async (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(euro.subarray(0, split));
      await until(30);
      res.end(euro.subarray(split));
    });
    expect(await transport.send(post(buyer.url))).toMatchObject({ kind: "response", body: '{"note":"€"}' });
  });

  it("answers too_large as soon as the declared length is over the limit, and drops the connection", async () => {
    const buyer = await loopback((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "5000" });
      res.write("x".repeat(100)); // the rest never comes: only the header can have told
    });
    // The rest of the body would never come: waiting for it would run to the 10 s deadline.
    const response = await transport.send(post(buyer.url, { maxBodyBytes: 1000, timeoutMs: 10_000 }));
    expect(response).toMatchObject({ kind: "too_large", status: 200 });
    expect(response.durationMs).toBeLessThan(2000);
    await expect.poll(buyer.open, eventually).toBe(0);
  });

  it("answers too_large when a chunked body grows over the limit, and drops the connection", async () => {
    const buyer = await loopback(async (_req, res) => {
      res.writeHead(201, { "content-type": "application/json" });
      for (let i = 0; i < 20 && !res.destroyed; i++) {
        res.write("y".repeat(100));
        await until(5);
      }
      // Never ends: the limit, not the end of the body, must stop the read.
    });
    const response = await transport.send(post(buyer.url, { maxBodyBytes: 1000, timeoutMs: 10_000 }));
    expect(response).toMatchObject({ kind: "too_large", status: 201 });
    await expect.poll(buyer.open, eventually).toBe(0);
  });

  it("answers too_large for an over-long body that arrives whole with connection: close", async () => {
    const buyer = await loopback((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", connection: "close" });
      res.end("z".repeat(5000));
    });
    expect(await transport.send(post(buyer.url, { maxBodyBytes: 1000 }))).toMatchObject({ kind: "too_large", status: 200 });
    // The same origin still answers afterwards.
    const ok = await loopback((_req, res) => res.end("{}"));
    expect(await transport.send(post(ok.url))).toMatchObject({ kind: "response", body: "{}" });
  });

  it("cuts a buyer that trickles its body at the deadline, not when the trickle ends", async () => {
    const buyer = await loopback(async (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      for (let i = 0; i < 80 && !res.destroyed; i++) {
        res.write(" ");
        await until(250); // 20 s in all; each gap is far below undici's bodyTimeout
      }
      res.end("{}");
    });
    const started = performance.now();
    const response = await transport.send(post(buyer.url, { timeoutMs: 300 }));
    expect(response).toMatchObject({ kind: "timeout", durationMs: expect.any(Number), sent: true }); // `stalled` too, if this loop ran late
    expect(response.durationMs).toBeGreaterThanOrEqual(250);
    expect(performance.now() - started).toBeLessThan(5000); // ~0.3 s on a quiet machine; the trickle lasts 20 s
    await expect.poll(buyer.open, eventually).toBe(0);
  });

  it("times out a buyer that never answers", async () => {
    const buyer = await loopback(() => {});
    const started = performance.now();
    const response = await transport.send(post(buyer.url, { timeoutMs: 300 }));
    expect(response).toMatchObject({ kind: "timeout", durationMs: expect.any(Number), sent: true }); // `stalled` too, if this loop ran late
    expect(response).not.toHaveProperty("congested"); // the buyer had it: its own fault
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it("times out a request still queued behind a busy pool at its own deadline", async () => {
    const narrow = createBuyerTransport({ connectionsPerOrigin: 1 });
    try {
      const buyer = await loopback(() => {});
      // The first holds the one connection until the buyer closes (its deadline is a backstop).
      const first = narrow.send(post(buyer.url, { timeoutMs: 60_000 }));
      await expect.poll(() => buyer.requests.length, eventually).toBe(1);
      const started = performance.now();
      const queued = await narrow.send(post(buyer.url, { timeoutMs: 100 }));
      expect(queued).toMatchObject({ kind: "timeout", sent: false }); // the buyer never had it
      // It waited for Gavel's one connection: congestion on Gavel's side (unless this loop ran so
      // late that the timeout is Gavel's stall instead).
      expect(queued.kind === "timeout" && (queued.congested === true || queued.stalled === true)).toBe(true);
      expect(performance.now() - started).toBeLessThan(1000);
      await buyer.close(); // ends the first one too
      expect(await first).toMatchObject({ kind: "connection_error", sent: true });
      expect(buyer.requests).toHaveLength(1); // the queued request was never sent
    } finally {
      await narrow.close();
    }
  });

  it("says a request that waited for a free connection in a full pool was congested", async () => {
    const pool = createBuyerTransport({ connectionsPerOrigin: 2 });
    try {
      const buyer = await loopback(() => {});
      const holders = [pool.send(post(buyer.url, { timeoutMs: 60_000 })), pool.send(post(buyer.url, { timeoutMs: 60_000 }))];
      await expect.poll(() => buyer.requests.length, eventually).toBe(2);
      const queued = await pool.send(post(buyer.url, { timeoutMs: 100 }));
      expect(queued).toMatchObject({ kind: "timeout", sent: false });
      expect(queued.kind === "timeout" && (queued.congested === true || queued.stalled === true)).toBe(true);
      await buyer.close();
      await Promise.all(holders);
    } finally {
      await pool.close();
    }
  });

  it("reports a refused connection as not sent, and retries it once when asked", async () => {
    const port = await closedPort();
    let attempts = 0;
    const count = (message: unknown) => {
      if (Number((message as { connectParams: { port: string } }).connectParams.port) === port) attempts++;
    };
    subscribe("undici:client:connectError", count);
    try {
      const url = `http://127.0.0.1:${port}/ping`;
      expect(await transport.send(post(url))).toMatchObject({ kind: "connection_error", code: "ECONNREFUSED", sent: false });
      expect(attempts).toBe(1);
      expect(await transport.send(post(url, { retryConnectFailure: true }))).toMatchObject({ kind: "connection_error", code: "ECONNREFUSED", sent: false });
      expect(attempts).toBe(3);
    } finally {
      unsubscribe("undici:client:connectError", count);
    }
  });

  it("reports a connection reset after the request went out as sent, and does not retry it", async () => {
    const buyer = await loopback((req) => req.socket.destroy());
    const response = await transport.send(post(buyer.url, { retryConnectFailure: true }));
    expect(response).toMatchObject({ kind: "connection_error", sent: true });
    expect(response.kind === "connection_error" && response.code).not.toBe("UNKNOWN");
    expect(buyer.requests).toHaveLength(1);
  });

  it("reports a url it cannot parse as an error, never a throw", async () => {
    expect(await transport.send(post("not a url"))).toMatchObject({ kind: "connection_error", code: "ERR_INVALID_URL" });
  });

  it("keeps the keep-alive pool working after many requests cut at their deadline", async () => {
    const small = createBuyerTransport({ connectionsPerOrigin: 8 });
    try {
      const buyer = await loopback((req, res) => {
        if (req.url === "/hang") return;
        res.setHeader("content-type", "application/json");
        res.end('{"bid":1.5}');
      });
      for (let round = 0; round < 3; round++) {
        const cut = await Promise.all(Array.from({ length: 40 }, () => small.send(post(`${buyer.url}/hang`, { timeoutMs: 50 }))));
        expect(cut.every((r) => r.kind === "timeout")).toBe(true);
        const answered = await Promise.all(Array.from({ length: 20 }, () => small.send(post(`${buyer.url}/bid`, { timeoutMs: 10_000 }))));
        expect(answered.every((r) => r.kind === "response" && r.body === '{"bid":1.5}')).toBe(true);
      }
      // Healthy answers keep their connections: one after another, they share a socket.
      const before = buyer.requests.length;
      for (let i = 0; i < 10; i++) expect(await small.send(post(`${buyer.url}/bid`, { timeoutMs: 10_000 }))).toMatchObject({ kind: "response", status: 200 });
      const ports = new Set(buyer.requests.slice(before).map((req) => req.socket.remotePort));
      expect(ports.size).toBeLessThanOrEqual(2);
    } finally {
      await small.close();
    }
  });
});

describe("request targets", () => {
  it("match what new URL makes of the url, cached or not", () => {
    const cache = new TargetCache(8);
    const queryChar = fc.constantFrom(..."abz09=&%+-._~!$'()*,;:@/?# \"<>[]\\^`{|}é€\t".split(""));
    const query = fc.array(queryChar, { maxLength: 12 }).map((cs) => cs.join(""));
    const url = fc.tuple(fc.webUrl({ withQueryParameters: false, withFragments: true }), fc.option(query), fc.option(query)).map(
      ([base, q, frag]) => `${base}${q === null ? "" : `?${q}`}${frag === null ? "" : `#${frag}`}`,
    );
    fc.assert(
      fc.property(fc.array(url, { minLength: 1, maxLength: 20 }), (urls) => {
        for (const u of [...urls, ...urls]) {
          const parsed = new URL(u);
          expect(cache.of(u)).toEqual({ origin: parsed.origin, path: parsed.pathname + parsed.search });
        }
      }),
      { numRuns: 300 },
    );
  });
});
