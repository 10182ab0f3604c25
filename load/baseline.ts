// The baseline: the ideal fan-out, the stand-in for what this machine can physically do. It takes
// POST /v1/leads, parses the JSON, pings every buyer in parallel through an undici pool with the same
// per-request hard deadline Gavel uses, picks the highest bid, posts with fallback under the
// campaign deadline, and answers — with no authentication, validation, dedup, persistence or
// logging. Run as its own process by the bench, configured by BASELINE_SETTINGS (JSON); prints
// `{"ready":true,"port":…}` once listening. PUT /settings replaces the settings but for the
// simulator's origin (the bench reuses one baseline for every scenario).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent } from "undici";
import { isMain } from "./main-module";
import { buyerOrigin } from "./sim";

export interface BaselineSettings {
  /** The buyer simulator's port and loopback addresses (see load/sim.ts). */
  simPort: number;
  simHosts: number;
  /** How many buyers it has (`/b/0` … `/b/n-1`). */
  buyers: number;
  pingTimeoutMs: number;
  postTimeoutMs: number;
  deadlineMs: number;
  /** Time kept after the ping phase for the post, as Gavel computes it. */
  postReserveMs: number;
  /** Connections per buyer origin: Gavel's buyer transport keeps up to 256. */
  connections: number;
  /** Fields sent in pings (the non-pii ones); posts carry everything. */
  publicFields: string[];
  /** Supplier revenue share, in percent. */
  payoutPercent: number;
  /** Above 1: sold shared to up to this many buyers (each simulated buyer is a buyer of its own). */
  maxSells?: number;
}

type Reply = { ok: true; status: number; body: string } | { ok: false; timeout: boolean };

export async function startBaseline(initial: BaselineSettings, port = 0) {
  let settings = initial;
  // One keep-alive pool per origin, as Gavel's transport (an undici Agent).
  const agent = new Agent({ connections: settings.connections, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 });
  const headers = { "content-type": "application/json", accept: "application/json" };

  /** One exchange under one hard deadline covering headers and the whole body, as Gavel's transport. */
  async function call(buyer: number, path: string, body: string, timeoutMs: number, extra?: Record<string, string>): Promise<Reply> {
    if (timeoutMs <= 0) return { ok: false, timeout: true };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const origin = buyerOrigin(settings.simPort, settings.simHosts, buyer);
      const res = await agent.request({ origin, path, method: "POST", headers: extra ? { ...headers, ...extra } : headers, body, signal: controller.signal });
      return { ok: true, status: res.statusCode, body: await res.body.text() };
    } catch {
      return { ok: false, timeout: controller.signal.aborted };
    } finally {
      clearTimeout(timer);
    }
  }

  async function auction(lead: { campaign?: string; data?: Record<string, unknown> }, started: number) {
    const leadId = randomUUID();
    const deadline = started + settings.deadlineMs;
    const bids = await pingPhase(leadId, lead, deadline);
    return sell(bids, leadId, lead.campaign, lead.data ?? {}, deadline);
  }

  /** Every buyer pinged with the public fields at once; the bids, highest first. */
  async function pingPhase(leadId: string, lead: { campaign?: string; data?: Record<string, unknown> }, deadline: number) {
    const data = lead.data ?? {};
    const publicData: Record<string, unknown> = {};
    for (const name of settings.publicFields) if (data[name] !== undefined) publicData[name] = data[name];
    const pingBudget = Math.min(settings.pingTimeoutMs, deadline - settings.postReserveMs - performance.now());
    const replies = await Promise.all(
      Array.from({ length: settings.buyers }, (_, i) =>
        call(i, `/b/${i}/ping`, JSON.stringify({ ping_id: randomUUID(), lead_id: leadId, campaign: lead.campaign, test: false, data: publicData }), pingBudget).then(
          (reply) => ({ i, reply }),
        ),
      ),
    );
    const bids: { i: number; price: number; ref: unknown }[] = [];
    for (const { i, reply } of replies) {
      if (!reply.ok || reply.status !== 200) continue;
      try {
        const answer = JSON.parse(reply.body) as { bid?: unknown; ping_ref?: unknown };
        if (typeof answer.bid === "number" && answer.bid > 0) bids.push({ i, price: Math.round(answer.bid * 100), ref: answer.ping_ref });
      } catch {}
    }
    bids.sort((a, b) => b.price - a.price);
    return bids;
  }

  /** The post phase: down the ranking (or shared), under the deadline. */
  async function sell(bids: { i: number; price: number; ref: unknown }[], leadId: string, campaign: unknown, data: Record<string, unknown>, deadline: number) {
    if ((settings.maxSells ?? 1) > 1) return postShared(bids, leadId, campaign, data, deadline, settings.maxSells!);
    for (const bid of bids) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const body = JSON.stringify({ lead_id: leadId, ping_ref: bid.ref, campaign, test: false, price: bid.price / 100, data });
      const reply = await call(bid.i, `/b/${bid.i}/post`, body, Math.min(settings.postTimeoutMs, left), { "idempotency-key": `${leadId}:${bid.i}` });
      // As Gavel's default `on_post_timeout: "stop"`: an unknown outcome is never offered on.
      if (!reply.ok && reply.timeout) return { lead_id: leadId, status: "error", price: 0, sold_to: 0 };
      if (!reply.ok) continue;
      let accepted = false;
      try {
        accepted = reply.status === 200 && (JSON.parse(reply.body) as { accepted?: unknown }).accepted === true;
      } catch {}
      if (accepted) return { lead_id: leadId, status: "sold", price: Math.floor((bid.price * settings.payoutPercent) / 100) / 100, sold_to: 1 };
    }
    return { lead_id: leadId, status: "unsold", price: 0, sold_to: 0 };
  }

  /** One post: sold, refused (a reject, an error, a refused connection) or unknown (a timeout), as Gavel reads it. */
  async function postOnce(bid: { i: number; price: number; ref: unknown }, leadId: string, campaign: unknown, data: unknown, deadline: number) {
    const left = deadline - performance.now();
    if (left <= 0) return "refused" as const;
    const body = JSON.stringify({ lead_id: leadId, ping_ref: bid.ref, campaign, test: false, price: bid.price / 100, data });
    const reply = await call(bid.i, `/b/${bid.i}/post`, body, Math.min(settings.postTimeoutMs, left), { "idempotency-key": `${leadId}:${bid.i}` });
    if (!reply.ok) return reply.timeout ? ("unknown" as const) : ("refused" as const);
    try {
      if (reply.status === 200 && (JSON.parse(reply.body) as { accepted?: unknown }).accepted === true) return "sold" as const;
    } catch {}
    return "refused" as const;
  }

  /**
   * Shared mode as Gavel runs it: the top k bids (each buyer its own) posted at once, the next bid
   * down the ranking for each post that does not sell, until k have accepted, the bids run out or
   * the deadline passes; an unknown outcome keeps its slot (Gavel's default `on_post_timeout: "stop"`).
   */
  function postShared(bids: { i: number; price: number; ref: unknown }[], leadId: string, campaign: unknown, data: unknown, deadline: number, k: number) {
    return new Promise<{ lead_id: string; status: string; price: number; sold_to: number }>((resolve) => {
      let next = 0;
      let inFlight = 0;
      let filled = 0;
      let sold = 0;
      let revenue = 0;
      let unknown = false;
      const fill = () => {
        while (filled + inFlight < k && next < bids.length && deadline - performance.now() > 0) {
          const bid = bids[next++];
          inFlight++;
          void postOnce(bid, leadId, campaign, data, deadline).then((outcome) => {
            inFlight--;
            if (outcome === "sold") {
              sold++;
              filled++;
              revenue += bid.price;
            } else if (outcome === "unknown") {
              unknown = true;
              filled++;
            }
            fill();
          });
        }
        if (inFlight > 0) return;
        if (sold > 0) resolve({ lead_id: leadId, status: "sold", price: Math.floor((revenue * settings.payoutPercent) / 100) / 100, sold_to: sold });
        else resolve({ lead_id: leadId, status: unknown ? "error" : "unsold", price: 0, sold_to: 0 });
      };
      fill();
    });
  }

  // Suppliers that ping first, as Gavel does the work: a ping runs the ping phase and keeps its
  // ranked bids (here in memory, for the TTL) and answers the supplier's price on the top bid; its
  // post sells down the kept ranking under a deadline of its own, without pinging again.
  const PING_TTL_MS = 60_000;
  const kept = new Map<string, { bids: { i: number; price: number; ref: unknown }[]; campaign: unknown; expiresAt: number }>();
  const forget = setInterval(() => {
    const now = performance.now();
    for (const [id, ping] of kept) if (ping.expiresAt <= now) kept.delete(id);
  }, 10_000);
  forget.unref();

  function pingFirst(req: IncomingMessage, res: ServerResponse, started: number) {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: { campaign?: string; data?: Record<string, unknown>; ping_id?: string };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(res, 400, { title: "body is not JSON" });
      }
      const deadline = started + settings.deadlineMs;
      if (req.url === "/v1/pings") {
        const pingId = randomUUID();
        pingPhase(pingId, body, deadline).then((bids) => {
          if (bids.length) kept.set(pingId, { bids, campaign: body.campaign, expiresAt: performance.now() + PING_TTL_MS });
          const price = bids.length ? Math.floor((bids[0].price * settings.payoutPercent) / 100) / 100 : 0;
          send(res, 200, { ping_id: pingId, status: bids.length ? "bid" : "no_bid", price });
        }, () => send(res, 500, { title: "baseline failed" }));
        return;
      }
      const ping = body.ping_id === undefined ? undefined : kept.get(body.ping_id);
      if (!ping) return send(res, 410, { title: "ping expired" });
      kept.delete(body.ping_id!);
      sell(ping.bids, body.ping_id!, ping.campaign, body.data ?? {}, deadline).then(
        (answer) => send(res, 200, { ...answer, ping_id: body.ping_id }),
        () => send(res, 500, { title: "baseline failed" }),
      );
    });
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    if (req.method === "PUT" && req.url === "/settings") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        try {
          settings = { ...settings, ...(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<BaselineSettings>), simPort: settings.simPort, simHosts: settings.simHosts };
          send(res, 200, { ok: true });
        } catch (error) {
          send(res, 400, { title: String(error) });
        }
      });
      return;
    }
    if (req.method === "POST" && (req.url === "/v1/pings" || req.url === "/v1/posts")) return pingFirst(req, res, started);
    if (req.method !== "POST" || req.url !== "/v1/leads") {
      req.resume();
      return send(res, req.url === "/healthz" ? 200 : 404, { status: req.url === "/healthz" ? "ok" : "not found" });
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let lead;
      try {
        lead = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(res, 400, { title: "body is not JSON" });
      }
      auction(lead, started).then(
        (answer) => send(res, 200, answer),
        () => send(res, 500, { title: "baseline failed" }),
      );
    });
  });
  server.on("connection", (socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await agent.destroy();
    },
  };
}

if (isMain(import.meta.url)) {
  const settings = JSON.parse(process.env.BASELINE_SETTINGS ?? "null") as BaselineSettings | null;
  if (!settings) {
    console.error("BASELINE_SETTINGS (JSON) is required");
    process.exit(2);
  }
  const baseline = await startBaseline(settings, Number(process.env.PORT ?? 0));
  process.stdout.write(JSON.stringify({ ready: true, port: baseline.port }) + "\n");
  const stop = () => baseline.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
