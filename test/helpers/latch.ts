// Latches: explicit orderings for tests about time. A step that must come after another waits on a
// latch the test opens once the first step has happened, never on a timer that a slow or busy
// machine can outrun.

/** A one-shot gate that the test opens by hand; everything waiting on it goes on then, not before. */
export interface Latch<T = void> {
  readonly promise: Promise<T>;
  readonly isOpen: boolean;
  open(value: T): void;
}

export function latch<T = void>(): Latch<T> {
  let resolve!: (value: T) => void;
  let isOpen = false;
  const promise = new Promise<T>((r) => (resolve = r));
  return {
    promise,
    get isOpen() {
      return isOpen;
    },
    open(value: T) {
      isOpen = true;
      resolve(value);
    },
  };
}

/**
 * Resolves once `condition` holds, looking again every `everyMs` (a few milliseconds; longer for a
 * condition that asks a server); for a state that has no event to wait on. Gives up only after
 * `withinMs`, which is a backstop against a hung test (far beyond anything a busy machine needs),
 * never a bound the test asserts.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  withinMs = 20_000,
  everyMs = 5,
): Promise<void> {
  const until = performance.now() + withinMs;
  while (!(await condition())) {
    if (performance.now() > until) throw new Error(`still waiting after ${withinMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
