// Simulated buyers for the demo (and anyone who wants a quick loopback buyer): each profile becomes
// a node:http server on 127.0.0.1, port 0, speaking Gavel's native buyer protocol (SPEC.md
// "Native buyer protocol"). POST /ping answers `{ bid, ping_ref }` (or no bid); POST /post answers
// `{ accepted, price?, reason? }`. Latency, bid range, no-bid rate, reject rate and hanging are per
// profile. Posts are idempotent on the Idempotency-Key header, as a real buyer's should be.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface BuyerProfile {
  /** A slug; also used in ping refs. */
  name: string;
  /** Milliseconds before answering a ping, drawn uniformly from [min, max]. */
  latencyMs: [number, number];
  /** Milliseconds before answering a post; defaults to `latencyMs`. */
  postLatencyMs?: [number, number];
  /** Bids are drawn uniformly from [min, max] and rounded to the cent. */
  bid: [number, number];
  /** Share of pings answered without a bid (0..1). */
  noBidRate?: number;
  /** Share of posts rejected (0..1); 1 rejects every post. */
  rejectRate?: number;
  /** Never answers anything: the request stays open until Gavel gives up. */
  hang?: boolean;
}

export interface BuyerStats {
  pings: number;
  bids: number;
  posts: number;
  accepted: number;
  rejected: number;
}

export interface SimulatedBuyer {
  profile: BuyerProfile;
  url: string;
  pingUrl: string;
  postUrl: string;
  stats: BuyerStats;
}

/** What a simulated buyer answered, for whoever wants to watch (`gavel buyers` prints each one). */
export interface BuyerAnswer {
  buyer: string;
  kind: "ping" | "post";
  /** The JSON it answered; undefined when it never answers (a hanging profile). */
  answer: unknown;
  /** A repeated post (same Idempotency-Key) answered as before. */
  replayed?: boolean;
}

export interface StartBuyersOptions {
  /** Ports to listen on, one per profile in order; default: any free port (0) for each. */
  ports?: readonly number[];
  /** Called as each answer is sent (or, for a hanging profile, as each request arrives). */
  onAnswer?: (event: BuyerAnswer) => void;
}

export interface SimulatedBuyers {
  buyers: SimulatedBuyer[];
  /** The buyer started for the profile with this name. */
  byName(name: string): SimulatedBuyer;
  /** Stops every server, cutting any request still held open. */
  close(): Promise<void>;
}

const between = (random: () => number, [min, max]: [number, number]) => min + random() * (max - min);
const cents = (amount: number) => Math.round(amount * 100) / 100;

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        resolve(parsed && typeof parsed === "object" ? parsed : {});
      } catch {
        resolve({});
      }
    });
    req.on("error", () => resolve({}));
  });
}

async function startOne(
  profile: BuyerProfile,
  random: () => number,
  port: number,
  onAnswer: (event: BuyerAnswer) => void,
): Promise<SimulatedBuyer & { close(): Promise<void> }> {
  const stats: BuyerStats = { pings: 0, bids: 0, posts: 0, accepted: 0, rejected: 0 };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  /** Post answers by Idempotency-Key: a repeated post gets the same answer and is not a second sale. */
  const answered = new Map<string, unknown>();
  let pingCounter = 0;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    if (res.destroyed || res.headersSent) return;
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer(async (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const body = await readBody(req);
    if (req.method !== "POST" || (path !== "/ping" && path !== "/post")) return send(res, 404, { error: "not found" });

    if (path === "/ping") {
      stats.pings++;
      if (profile.hang) return onAnswer({ buyer: profile.name, kind: "ping", answer: undefined }); // never answers
      const delay = between(random, profile.latencyMs);
      const noBid = random() < (profile.noBidRate ?? 0);
      const bid = cents(between(random, profile.bid));
      if (!noBid) stats.bids++;
      const ref = `${profile.name}-${++pingCounter}`;
      const answer = noBid ? { bid: null, reason: "not interested" } : { bid, ping_ref: ref };
      return later(delay, () => {
        send(res, 200, answer);
        onAnswer({ buyer: profile.name, kind: "ping", answer });
      });
    }

    stats.posts++;
    if (profile.hang) return onAnswer({ buyer: profile.name, kind: "post", answer: undefined });
    const delay = between(random, profile.postLatencyMs ?? profile.latencyMs);
    const key = req.headers["idempotency-key"];
    const seen = typeof key === "string" ? answered.get(key) : undefined;
    let answer: unknown = seen;
    if (answer === undefined) {
      const reject = random() < (profile.rejectRate ?? 0);
      if (reject) stats.rejected++;
      else stats.accepted++;
      answer = reject
        ? { accepted: false, reason: "consumer already in our CRM" }
        : { accepted: true, ...(typeof body.price === "number" ? { price: body.price } : {}) };
      if (typeof key === "string") answered.set(key, answer);
    }
    later(delay, () => {
      send(res, 200, answer);
      onAnswer({ buyer: profile.name, kind: "post", answer, ...(seen !== undefined && { replayed: true }) });
    });
  });

  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    profile,
    url,
    pingUrl: `${url}/ping`,
    postUrl: `${url}/post`,
    stats,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * Starts one loopback server per profile. Close them all with the returned `close()`. A port that
 * is taken rejects with Node's EADDRINUSE error, after closing the servers already started.
 */
export async function startBuyers(
  profiles: readonly BuyerProfile[],
  random: () => number = Math.random,
  options: StartBuyersOptions = {},
): Promise<SimulatedBuyers> {
  const started: Awaited<ReturnType<typeof startOne>>[] = [];
  const onAnswer = options.onAnswer ?? (() => {});
  try {
    for (const [i, profile] of profiles.entries()) started.push(await startOne(profile, random, options.ports?.[i] ?? 0, onAnswer));
  } catch (error) {
    await Promise.all(started.map((b) => b.close()));
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    buyers: started.map(({ close: _close, ...buyer }) => buyer),
    byName(name) {
      const found = started.find((b) => b.profile.name === name);
      if (!found) throw new Error(`No simulated buyer '${name}'`);
      return found;
    },
    close() {
      closing ??= Promise.all(started.map((b) => b.close())).then(() => undefined);
      return closing;
    },
  };
}
