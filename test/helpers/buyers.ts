// Real loopback buyers for integration tests: a node:http server on 127.0.0.1, port 0, that records
// what it received and answers pings and posts as each test tells it to — including the ways real
// buyers misbehave (hang, trickle, reset, garbage, huge bodies, 500s).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface Received {
  path: string;
  method: string;
  /** The query string's parameters (a GET ping carries its fields here). */
  query: Record<string, string>;
  headers: IncomingMessage["headers"];
  body: any;
  raw: string;
  at: number;
  /** Settles when the connection this request came on closes (Gavel hung up, or the buyer closed). */
  closed: Promise<void>;
}

export type Answer =
  | { status?: number; json?: unknown; text?: string; contentType?: string; headers?: Record<string, string>; delayMs?: number }
  | { hang: true }
  /** Answered once the promise settles (a latch the test opens), never on a timer. */
  | { held: Promise<Answer> }
  | { trickle: true; everyMs?: number }
  | { reset: true }
  | { hugeBytes: number };

export type Behaviour = (request: Received) => Answer;

export interface TestBuyer {
  url: string;
  pingUrl: string;
  postUrl: string;
  pings: Received[];
  posts: Received[];
  /** Settles once every held or delayed answer given so far has been written, or dropped because its connection was gone. */
  answered(): Promise<void>;
  close(): Promise<void>;
}

/** Settles when `socket` closes; one promise (and one listener) per keep-alive socket, however many requests it carries. */
const socketClosed = new WeakMap<Socket, Promise<void>>();
function closedOf(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  let closed = socketClosed.get(socket);
  if (!closed) socketClosed.set(socket, (closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))));
  return closed;
}

export async function startBuyer(behaviour: { ping?: Behaviour; post?: Behaviour }): Promise<TestBuyer> {
  const pings: Received[] = [];
  const posts: Received[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const pending = new Set<Promise<unknown>>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {}
      const url = new URL(req.url ?? "/", "http://buyer");
      const query = Object.fromEntries(url.searchParams);
      const socket = req.socket;
      const closed = closedOf(socket);
      const received: Received = { path: req.url ?? "", method: req.method ?? "", query, headers: req.headers, body, raw, at: Date.now(), closed };
      const isPing = (req.url ?? "").startsWith("/ping");
      (isPing ? pings : posts).push(received);
      const fallback: Behaviour = isPing ? () => ({ json: { bid: 1 } }) : () => ({ json: { accepted: true } });
      const answer = ((isPing ? behaviour.ping : behaviour.post) ?? fallback)(received);
      respond(res, answer);
    });
  });

  function later(fn: () => void, ms: number) {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function respond(res: ServerResponse, answer: Answer) {
    if ("hang" in answer) return;
    if ("held" in answer) {
      const done = answer.held.then(
        (then) => respond(res, then),
        () => res.socket?.destroy(),
      );
      pending.add(done);
      void done.finally(() => pending.delete(done));
      return;
    }
    if ("reset" in answer) return res.socket?.destroy();
    if ("trickle" in answer) {
      res.writeHead(200, { "content-type": "application/json" });
      const drip = () => {
        if (res.destroyed) return;
        res.write(" ");
        later(drip, answer.everyMs ?? 50);
      };
      return drip();
    }
    if ("hugeBytes" in answer) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ bid: 5, pad: "x".repeat(answer.hugeBytes) }));
    }
    const send = () => {
      if (res.destroyed) return;
      const body = answer.text ?? (answer.json === undefined ? "" : JSON.stringify(answer.json));
      const type = answer.contentType ?? (answer.text !== undefined ? "text/plain" : "application/json");
      res.writeHead(answer.status ?? 200, { "content-type": type, ...answer.headers });
      res.end(body);
    };
    if (answer.delayMs) {
      const done = new Promise<void>((resolve) => later(() => (send(), resolve()), answer.delayMs!));
      pending.add(done);
      void done.finally(() => pending.delete(done));
    } else send();
  }

  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    pingUrl: `${url}/ping`,
    postUrl: `${url}/post`,
    pings,
    posts,
    async answered() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
