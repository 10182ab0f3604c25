// `gavel buyers`: simulated buyers that stay up until Ctrl-C, for a newcomer's own Gavel to sell to
// (the README's curl walkthrough points its channel at the first one). They listen on fixed
// loopback ports by default, so a recipe can name their URLs before they are started, and print
// every answer they send, so the newcomer sees each ping and post arrive.
import { parseArgs } from "node:util";
import { startBuyers, type BuyerAnswer, type BuyerProfile, type SimulatedBuyers } from "./buyers";
import { aborted, untilStopped } from "./stop-signal";
import { table } from "./table";

export interface StandingBuyer {
  profile: BuyerProfile;
  blurb: string;
}

/** The first buyer's port; the others take the next ones, in the order below. */
export const DEFAULT_BUYERS_PORT = 4101;

/**
 * Bidders, a rejecter and a slow one. The first bids the same price every time and accepts every
 * post, so that a recipe using it sells, and says what it sells for, every time.
 */
export const standingBuyers: readonly StandingBuyer[] = [
  { profile: { name: "acme", latencyMs: [10, 40], bid: [12.5, 12.5] }, blurb: "bids $12.50 every time, accepts every post" },
  { profile: { name: "budget", latencyMs: [5, 30], bid: [3, 7], noBidRate: 0.4 }, blurb: "bids $3-7, no bid 40% of the time, accepts every post" },
  { profile: { name: "picky", latencyMs: [20, 60], bid: [17, 22], rejectRate: 1 }, blurb: "bids highest ($17-22), rejects every post" },
  {
    profile: { name: "slow", latencyMs: [900, 1100], postLatencyMs: [20, 60], bid: [14, 18] },
    blurb: "bids $14-18 after 0.9-1.1 s: a ping timeout shorter than that gives up on it",
  },
];

export const BUYERS_USAGE = `Usage: gavel buyers [--port N]

Starts simulated buyers on 127.0.0.1 (Gavel's native buyer protocol) and keeps them up until
Ctrl-C, printing their ping and post URLs and then every answer they send.

  --port N   the first buyer's port; the others take N+1, N+2, … (default ${DEFAULT_BUYERS_PORT};
             0 picks free ports)
`;

export interface ServeBuyersOptions {
  /** The first buyer's port (default DEFAULT_BUYERS_PORT); 0 for free ports. */
  port?: number;
  out?: { write(chunk: string): unknown };
  /** Stops the buyers when aborted (the command aborts it on SIGINT and SIGTERM). */
  signal: AbortSignal;
}

const clockTime = (d: Date) => d.toISOString().slice(11, 23);

/** Runs the buyers until `signal` aborts. Resolves with the process's exit code. */
export async function serveBuyers(options: ServeBuyersOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const base = options.port ?? DEFAULT_BUYERS_PORT;
  const ports = standingBuyers.map((_, i) => (base === 0 ? 0 : base + i));
  const nameWidth = Math.max(...standingBuyers.map((b) => b.profile.name.length));
  const log = (event: BuyerAnswer) => {
    const what = event.answer === undefined ? "(no answer)" : JSON.stringify(event.answer);
    out.write(`${clockTime(new Date())}  ${event.buyer.padEnd(nameWidth)}  ${event.kind}  → ${what}${event.replayed ? " (repeated post, same answer)" : ""}\n`);
  };

  let buyers: SimulatedBuyers;
  try {
    buyers = await startBuyers(
      standingBuyers.map((b) => b.profile),
      Math.random,
      { ports, onAnswer: log },
    );
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { port?: number };
    if (e.code !== "EADDRINUSE") throw error;
    process.stderr.write(
      `gavel buyers: port ${e.port ?? "?"} is taken (the buyers use ${ports[0]}-${ports.at(-1)}). ` +
        `Start them on others with --port N, and use the URLs they print instead of ${ports[0]}'s.\n`,
    );
    return 1;
  }

  const rows = standingBuyers.map(({ profile, blurb }) => {
    const b = buyers.byName(profile.name);
    return [profile.name, b.pingUrl, b.postUrl, blurb];
  });
  out.write(`Simulated buyers on 127.0.0.1 (Gavel's native buyer protocol), up until Ctrl-C:\n\n`);
  out.write(table(["buyer", "ping URL", "post URL", "behaviour"], rows, []).replace(/^(?=.)/gm, "  "));
  out.write(
    `\nPut these URLs in a channel's ping.url and post.url (README.md, "A first sale with curl", uses ${rows[0][0]}).\n` +
      `Each answer they send is printed below.\n\n`,
  );

  await aborted(options.signal);
  await buyers.close();
  out.write(`buyers stopped\n`);
  return 0;
}

/** `gavel buyers [--port N]`, as the command line gives it. */
export async function buyersCommand(args: string[]): Promise<number> {
  let port: number;
  try {
    const { values } = parseArgs({ args, options: { port: { type: "string", short: "p" }, help: { type: "boolean", short: "h" } } });
    if (values.help) {
      process.stdout.write(BUYERS_USAGE);
      return 0;
    }
    port = values.port === undefined ? DEFAULT_BUYERS_PORT : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 - standingBuyers.length)
      throw new Error(`--port must be a whole number from 0 to ${65535 - standingBuyers.length}, not '${values.port}'`);
  } catch (error) {
    process.stderr.write(`gavel buyers: ${(error as Error).message}\n\n${BUYERS_USAGE}`);
    return 2;
  }
  return untilStopped((signal) => serveBuyers({ port, signal }));
}
