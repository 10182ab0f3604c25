// Processes of the load lab: spawning the children (Gavel, the baseline, the buyer simulator), reading
// their CPU time and memory from /proc, and making sure every one of them is gone when the bench
// ends — normally, on an error, or on Ctrl-C.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository root (load/ sits right under it). */
export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const watchdog = fileURLToPath(new URL("./watchdog.mjs", import.meta.url));

/** /proc reports CPU time in clock ticks; USER_HZ is 100 on every Linux the bench runs on. */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of a process (all its threads), in ms; null when it is gone. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Resident memory now and at its peak (VmHWM), in MB; null when the process is gone. */
export function memoryMb(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; the child binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Lines the child wrote to stderr (the last 50), for error messages. */
  stderr: string[];
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const children = new Set<Child>();

/** Children started and not yet stopped. */
export function runningChildren(): string[] {
  return [...children].map((c) => `${c.name} (${c.pid})`);
}

/** Kills every child still running, synchronously: safe inside an `exit` handler. */
export function killAllChildren(): void {
  for (const child of children) {
    try {
      child.process.kill("SIGKILL");
    } catch {}
  }
  children.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAllChildren);
}

export interface SpawnOptions {
  /** Script to run, relative to the repository root: TypeScript through tsx, or built `.js` with plain node. */
  script: string;
  env?: Record<string, string>;
  /** Extra node flags (`--cpu-prof`, …). */
  nodeArgs?: string[];
  /** Resolve only when the child prints a line for which this returns a value. */
  readyLine?: (line: string) => unknown;
  readyTimeoutMs?: number;
  /** Send the child's stdout to this file (for a server's log lines) instead of a pipe. */
  stdoutFile?: string;
}

/**
 * Starts `node [--import tsx] <script>` as a child. A small watchdog module loaded first makes the
 * child exit by itself if the bench dies without cleaning up (its parent pid changes).
 */
export async function spawnChild(name: string, options: SpawnOptions): Promise<{ child: Child; ready: unknown }> {
  hookExit();
  const stdoutFd = options.stdoutFile === undefined ? undefined : openSync(options.stdoutFile, "a");
  const loader = options.script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), ...loader, "--import", watchdog, options.script], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", stdoutFd ?? "pipe", "pipe"],
  });
  if (stdoutFd !== undefined) closeSync(stdoutFd); // the child holds its own copy
  const stderr: string[] = [];
  createInterface({ input: proc.stderr! }).on("line", (line) => {
    stderr.push(line);
    if (stderr.length > 50) stderr.shift();
  });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const child: Child = {
    name,
    pid: proc.pid!,
    process: proc,
    stderr,
    async stop(graceMs = 5000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
  children.add(child);

  let ready: unknown = undefined;
  if (options.readyLine) {
    const readyLine = options.readyLine;
    ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${options.readyTimeoutMs ?? 60_000} ms`)), options.readyTimeoutMs ?? 60_000);
      const lines = createInterface({ input: proc.stdout! });
      lines.on("line", (line) => {
        const value = readyLine(line);
        if (value !== undefined) {
          clearTimeout(timer);
          resolve(value);
        }
      });
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited during start-up (${signal ?? code}): ${stderr.slice(-10).join("\n")}`));
      });
    }).catch(async (error) => {
      await child.stop(1000);
      throw error;
    });
  } else {
    proc.stdout?.resume(); // a pipe nobody reads would fill up and block the child
  }
  return { child, ready };
}

/** Reads the first `{"ready": …}` JSON line a lab child prints. */
export function jsonReadyLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return parsed.ready ? parsed : undefined;
  } catch {
    return undefined;
  }
}
