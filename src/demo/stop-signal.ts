// Ctrl-C for the commands that stay up (`gavel demo --keep`, `gavel buyers`).

/**
 * Runs `body` with a signal that aborts on Ctrl-C (SIGINT) or SIGTERM, and listens until `body` has
 * settled, closing included: one Ctrl-C can arrive twice (the terminal signals the whole process
 * group, and `npm run` relays the signal to its script as well), and a second SIGINT with no listener
 * would end the process before it closed its servers. (That is also why `npm run demo` runs
 * `node --import tsx`, not the tsx command: tsx's own relay kills its child with SIGKILL when a
 * relayed signal is not acknowledged within 30 ms, as while a closing embedded database holds the
 * event loop.)
 */
export async function untilStopped<T>(body: (stop: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Resolves once `signal` has aborted. */
export const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
