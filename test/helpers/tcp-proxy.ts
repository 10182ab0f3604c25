// A TCP proxy on a loopback port in front of the shared PostgreSQL, so a test can take the database
// away from one Gavel without touching the server every other test uses:
// - `silence()`: connections stay open but nothing passes either way (a network that drops packets);
// - `cut()`: every connection is reset and new ones are refused until `heal()`;
// - `heal()`: connections pass again.
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

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
