// A second Gavel as a real child process (`node --import tsx src/main.ts`), for tests of rules that
// must hold across processes sharing one PostgreSQL. Its port is read from its "gavel listening" log.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ADMIN } from "./gavel";

export interface ChildGavel {
  url: string;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL("../..", import.meta.url));

export async function startChildGavel(databaseUrl: string, env: Record<string, string> = {}): Promise<ChildGavel> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
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
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`child Gavel did not start in time: ${stderr}`)), 30_000);
    child.on("exit", (code) => reject(new Error(`child Gavel exited with ${code}: ${stderr}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line);
          if (entry.msg === "gavel listening") {
            clearTimeout(timer);
            resolve(entry.port);
          }
        } catch {}
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
      }),
  };
}
