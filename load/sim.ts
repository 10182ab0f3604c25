// The buyer simulator: N buyers behind one loopback port, speaking Gavel's native buyer protocol at
// POST /b/:i/ping and POST /b/:i/post, with keep-alive. Run as its own process by the bench (so its
// CPU is measured apart), configured by the SIM_SETTINGS environment variable (JSON, see
// SimSettings); prints `{"ready":true,"port":…}` once listening. GET /stats returns its counters;
// PUT /settings replaces the settings (the bench reuses one simulator for every scenario).
//
// It is built to stay cheap per request, so that it is never what limits the measurement: no body
// parsing (the request body is drained, not read), answers written as short preformatted strings,
// and no timer at all for instant buyers.
//
// With SIM_HOSTS=n (the bench's --buyer-hosts) it listens on the same port on 127.0.0.1 … 127.0.0.n
// as well, and buyer i is reached at 127.0.0.(1 + i mod n): one origin per buyer, as in production,
// instead of one origin whose connection pool every buyer shares.
//
// Which buyers misbehave is fixed by index: buyers 0 … hang-1 never answer (the socket is held until
// the caller gives up, or cut after `holdMaxMs`), the next `trickle` ones send headers and then one
// byte of their answer every `trickleEveryMs`.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { latencySampler, type Latency } from "./latency";
import { isMain } from "./main-module";

export interface SimSettings {
  buyers: number;
  ping: Latency;
  post: Latency;
  /** Bids are uniform in [min, max] dollars, rounded to the cent. */
  bid: [number, number];
  /** Share of pings answered `{ "bid": null }` (0..1). */
  noBidRate: number;
  /** Share of posts answered `{ "accepted": false }` (0..1). */
  rejectRate: number;
  /** Share of buyers that never answer (0..1). */
  hangFraction: number;
  /** Share of buyers that send headers, then a byte every `trickleEveryMs`. */
  trickleFraction: number;
  trickleEveryMs: number;
  /** A hanging or trickling request is cut after this long even if the caller never gives up. */
  holdMaxMs: number;
}

export const defaultSimSettings: SimSettings = {
  buyers: 10,
  ping: { kind: "fixed", ms: 0 },
  post: { kind: "fixed", ms: 0 },
  bid: [1, 20],
  noBidRate: 0.2,
  rejectRate: 0.1,
  hangFraction: 0,
  trickleFraction: 0,
  trickleEveryMs: 50,
  holdMaxMs: 30_000,
};

export interface SimStats {
  pings: number;
  posts: number;
  bids: number;
  noBids: number;
  accepted: number;
  rejected: number;
  hung: number;
  trickled: number;
  /** Requests the caller gave up on before the simulator had answered in full. */
  abandoned: number;
  notFound: number;
  /** TCP connections accepted: a client that reuses its keep-alive connections keeps this flat. */
  connections: number;
}

export function behaviourOf(settings: SimSettings, index: number): "hang" | "trickle" | "normal" {
  const hang = Math.round(settings.buyers * settings.hangFraction);
  const trickle = Math.round(settings.buyers * settings.trickleFraction);
  if (index < hang) return "hang";
  if (index < hang + trickle) return "trickle";
  return "normal";
}

/** Where buyer `index` is reached when the simulator listens on `hosts` loopback addresses. */
export function buyerOrigin(port: number, hosts: number, index: number): string {
  return `http://127.0.0.${1 + (index % Math.max(1, hosts))}:${port}`;
}

export interface Simulator {
  port: number;
  stats: SimStats;
  configure(settings: SimSettings): void;
  close(): Promise<void>;
}

export async function startSimulator(initial: SimSettings, port = 0, hosts = 1): Promise<Simulator> {
  const stats: SimStats = { pings: 0, posts: 0, bids: 0, noBids: 0, accepted: 0, rejected: 0, hung: 0, trickled: 0, abandoned: 0, notFound: 0, connections: 0 };
  let settings = initial;
  let behaviours: ReturnType<typeof behaviourOf>[] = [];
  let pingDelay = () => 0;
  let postDelay = () => 0;
  let bidMin = 0;
  let bidMax = 0;
  const configure = (next: SimSettings) => {
    settings = next;
    behaviours = Array.from({ length: settings.buyers }, (_, i) => behaviourOf(settings, i));
    pingDelay = latencySampler(settings.ping);
    postDelay = latencySampler(settings.post);
    [bidMin, bidMax] = settings.bid;
  };
  configure(initial);
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let refs = 0;

  const answer = (res: ServerResponse, text: string) => {
    if (res.destroyed) return;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const later = (ms: number, fn: () => void) => {
    if (ms < 0.5) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const hold = (res: ServerResponse) => {
    stats.hung++;
    const t = setTimeout(() => {
      timers.delete(t);
      res.destroy();
    }, settings.holdMaxMs);
    timers.add(t);
    res.once("close", () => {
      if (!res.writableFinished) stats.abandoned++;
      clearTimeout(t);
      timers.delete(t);
    });
  };
  const trickle = (res: ServerResponse, text: string) => {
    stats.trickled++;
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders();
    let sent = 0;
    const started = Date.now();
    const t = setInterval(() => {
      if (res.destroyed || Date.now() - started > settings.holdMaxMs) return stop();
      res.write(text[sent++]);
      if (sent >= text.length) {
        res.end();
        stop();
      }
    }, settings.trickleEveryMs);
    const stop = () => {
      clearInterval(t);
      timers.delete(t);
      if (!res.writableEnded) res.destroy();
    };
    timers.add(t);
    res.once("close", () => {
      if (!res.writableFinished) stats.abandoned++;
      clearInterval(t);
      timers.delete(t);
    });
  };

  const pingAnswer = () => {
    if (Math.random() < settings.noBidRate) {
      stats.noBids++;
      return `{"bid":null,"reason":"not interested"}`;
    }
    stats.bids++;
    const bid = Math.round((bidMin + Math.random() * (bidMax - bidMin)) * 100) / 100;
    return `{"bid":${bid},"ping_ref":"r${++refs}"}`;
  };
  const postAnswer = () => {
    if (Math.random() < settings.rejectRate) {
      stats.rejected++;
      return `{"accepted":false,"reason":"duplicate in our CRM"}`;
    }
    stats.accepted++;
    return `{"accepted":true}`;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "";
    // /b/<index>/ping or /b/<index>/post, parsed without a regular expression.
    const slash = url.indexOf("/", 3);
    const index = url.startsWith("/b/") && slash > 3 ? Number(url.slice(3, slash)) : NaN;
    const action = url.slice(slash + 1);
    const behaviour = behaviours[index];
    if (req.method !== "POST" || behaviour === undefined || (action !== "ping" && action !== "post")) {
      if (req.method === "GET" && url === "/stats") return answer(res, JSON.stringify(stats));
      stats.notFound++;
      res.writeHead(404).end();
      return;
    }
    const isPing = action === "ping";
    if (isPing) stats.pings++;
    else stats.posts++;
    if (behaviour === "hang") return hold(res);
    const text = isPing ? pingAnswer() : postAnswer();
    if (behaviour === "trickle") return trickle(res, text);
    later(isPing ? pingDelay() : postDelay(), () => answer(res, text));
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "PUT" && req.url === "/settings") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        try {
          configure({ ...defaultSimSettings, ...JSON.parse(Buffer.concat(chunks).toString("utf8")) });
          answer(res, JSON.stringify({ ok: true }));
        } catch (error) {
          res.writeHead(400).end(String(error));
        }
      });
      return;
    }
    // Answer once the request body is in, as a real buyer would; the body itself is not needed.
    req.on("end", () => handle(req, res));
    req.resume();
  };
  const listen = async (host: string, onPort: number) => {
    const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, onRequest);
    server.on("connection", (socket: Socket) => {
      socket.setNoDelay(true);
      stats.connections++;
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(onPort, host, () => resolve());
    });
    return server;
  };
  const servers = [await listen("127.0.0.1", port)];
  const bound = (servers[0].address() as { port: number }).port;
  for (let h = 2; h <= hosts; h++) servers.push(await listen(`127.0.0.${h}`, bound));
  return {
    port: bound,
    stats,
    configure,
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      for (const s of sockets) s.destroy();
      return closed.then(() => undefined);
    },
  };
}

// As a process: settings from SIM_SETTINGS, one ready line on stdout, stop on SIGTERM/SIGINT.
if (isMain(import.meta.url)) {
  const settings: SimSettings = { ...defaultSimSettings, ...JSON.parse(process.env.SIM_SETTINGS ?? "{}") };
  const sim = await startSimulator(settings, Number(process.env.PORT ?? 0), Number(process.env.SIM_HOSTS ?? 1));
  process.stdout.write(JSON.stringify({ ready: true, port: sim.port }) + "\n");
  const stop = () => sim.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
