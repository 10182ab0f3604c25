// Shell commands as a newcomer runs them: bash in the repository's root, each in a process group of
// its own, so that stopping one (Ctrl-C: SIGINT to the group, as a terminal sends it) reaches every
// process it started (npx, npm, node). Every wait is bounded.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The environment of a fresh terminal: this process's, without what the test runner or npm put
 * there (npm_* variables, DATABASE_URL) and without `drop`, names a recipe must set itself.
 */
export function terminalEnv(drop: readonly string[] = [], add: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("npm_") || k === "DATABASE_URL" || k === "INIT_CWD" || drop.includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...add };
}

export interface ShellResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ShellProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern`; rejects if the process exits first or `timeoutMs` passes. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Sends `signal` to the whole group and waits for the exit (SIGKILL to the group after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ShellResult>;
  exited: Promise<ShellResult>;
}

export function startShell(command: string, env: NodeJS.ProcessEnv): ShellProcess {
  const child = spawn("bash", ["-c", command], { cwd: repoRoot, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    for (const l of listeners) l();
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  // Set before the listeners run, so that a waitFor still pending rejects at the exit (not at its timeout).
  let gone = false;
  const exited = new Promise<ShellResult>((resolve) =>
    child.once("close", (code, signal) => {
      gone = true;
      for (const l of listeners) l();
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const signalGroup = (signal: NodeJS.Signals) => {
    if (gone || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };

  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = stdout.match(pattern);
          if (match) return done(() => resolve(match));
          if (gone) done(() => reject(new Error(`exited before printing ${pattern}:\n${stdout}\n${stderr}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`nothing matching ${pattern} in ${timeoutMs} ms:\n${stdout}\n${stderr}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = "SIGINT", graceMs = 30_000) {
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Runs `command` to its end; past `timeoutMs` its group is killed (and the result says SIGKILL). */
export async function runShell(command: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ShellResult> {
  const shell = startShell(command, env);
  const timer = setTimeout(() => void shell.stop("SIGKILL"), timeoutMs);
  const result = await shell.exited;
  clearTimeout(timer);
  return result;
}
