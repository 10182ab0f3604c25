// A second Gavel as a real child process (`node --import tsx src/main.ts`), for tests of rules that
// must hold across processes sharing one PostgreSQL. Its port is read from its "gavel listening on …" log.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ADMIN } from "./gavel";

export interface ChildGavel {
  url: string;
  /** Stops it as an operator would (SIGTERM: it drains its running auctions). */
  stop(): Promise<void>;
  /** Ends it at once with `signal` (SIGKILL: a crash, nothing drained); resolves once it is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** What it wrote to stdout and stderr so far (its JSON log lines), for a failing test to show. */
  output(): string;
}

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * `database`: a PostgreSQL URL, or `{ dataDir }` for the embedded database in that folder (which one
 * process opens at a time).
 */
export async function startChildGavel(database: string | { dataDir: string }, env: Record<string, string> = {}): Promise<ChildGavel> {
  const { DATABASE_URL: _inherited, ...parentEnv } = process.env;
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: {
      ...parentEnv,
      ...(typeof database === "string" ? { DATABASE_URL: database } : { GAVEL_DATA_DIR: database.dataDir }),
      PORT: "0",
      HOST: "127.0.0.1",
      ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: "info",
      GAVEL_DB_POOL: "10",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    // A child that never says it listens is killed, not left running after the test gives up on it.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child Gavel did not start in time: ${stdout}${stderr}`));
    }, 120_000);
    child.on("exit", (code) => reject(new Error(`child Gavel exited with ${code}: ${stderr}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line);
          if (typeof entry.msg === "string" && entry.msg.startsWith("gavel listening")) {
            clearTimeout(timer);
            resolve(entry.port);
          }
        } catch {}
      }
    });
  });
  const gone = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => stdout + stderr,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return gone;
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
      }
      return gone;
    },
  };
}
