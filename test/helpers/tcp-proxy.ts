// A TCP proxy on a loopback port in front of the shared PostgreSQL, so a test can take the database
// away from one Gavel without touching the server every other test uses:
// - `silence()`: connections stay open but nothing passes either way (a network that drops packets);
// - `cut()`: every connection is reset and new ones are refused until `heal()`;
// - `heal()`: connections pass again.
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import type { DatabaseBounds } from "../../src/db/client";
import { freshDatabase } from "./db";
import { startTestGavel, type TestGavel, type TestGavelOptions } from "./gavel";

export interface TcpProxy {
  port: number;
  /** A postgres:// URL like `databaseUrl`, through this proxy. */
  url(databaseUrl: string): string;
  silence(): void;
  cut(): void;
  heal(): void;
  /** Connections currently open through the proxy. */
  readonly open: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: "pass" | "silent" | "cut" = "pass";
  const pairs = new Set<{ client: Socket; server: Socket }>();

  const server: Server = createServer((client) => {
    if (mode === "cut") return void client.destroy();
    const upstream = connect(target.port, target.host);
    const pair = { client, server: upstream };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on("data", (chunk) => {
        // Silent: the bytes are swallowed, as by a network that drops them.
        if (mode === "pass") to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url(databaseUrl) {
      const u = new URL(databaseUrl);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    silence() {
      mode = "silent";
    },
    cut() {
      mode = "cut";
      for (const pair of pairs) {
        pair.client.resetAndDestroy();
        pair.server.destroy();
      }
      pairs.clear();
    },
    heal() {
      mode = "pass";
    },
    get open() {
      return pairs.size;
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.server.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A test Gavel on a fresh PostgreSQL database reached through a TCP proxy of its own, with the
 * given statement bounds, so a test can take the database away from it alone.
 */
export async function startGavelBehindProxy(
  env: Record<string, string>,
  bounds: DatabaseBounds,
  options: TestGavelOptions = {},
): Promise<{ g: TestGavel; proxy: TcpProxy; close(): Promise<void> }> {
  const db = await freshDatabase();
  const url = (db.target as { url: string }).url;
  const pg = new URL(url);
  const proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
  const g = await startTestGavel(env, { ...options, target: { url: proxy.url(url), poolSize: 4, bounds } });
  return {
    g,
    proxy,
    async close() {
      // Let the pool's last statements through, so closing does not wait out their bounds.
      proxy.cut();
      proxy.heal();
      await g.close();
      await proxy.close();
      await db.drop();
    },
  };
}
