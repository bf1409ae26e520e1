/**
 * Periodic callbacks that share one timer per period. Each device ticks its session every 100
 * to 250 ms and checks its serial path every second. With timers of their own, 16 monitors
 * ticking every 50 ms woke the process 336 times a second. One timer per period woke it 21
 * times, and a Raspberry Pi-class CPU pays for every wake-up.
 */

interface Group {
  timer: NodeJS.Timeout;
  callbacks: Set<() => void>;
}

export class SharedIntervals {
  private readonly groups = new Map<string, Group>();

  /**
   * Calls `callback` every `periodMs`, together with the other callbacks of that period, in the
   * order they were added. An unreferenced callback (`ref: false`) does not keep the process
   * alive. Returns a function that removes the callback.
   */
  every(periodMs: number, callback: () => void, options: { ref?: boolean } = {}): () => void {
    const ref = options.ref ?? true;
    const key = `${periodMs}:${ref}`;
    let group = this.groups.get(key);
    if (group === undefined) {
      const callbacks = new Set<() => void>();
      const timer = setInterval(() => runAll(callbacks), periodMs);
      if (!ref) timer.unref();
      group = { timer, callbacks };
      this.groups.set(key, group);
    }
    // A function object of its own, so the same callback added twice is removed once per add.
    const entry = () => callback();
    group.callbacks.add(entry);
    return () => this.remove(key, entry);
  }

  private remove(key: string, entry: () => void): void {
    const group = this.groups.get(key);
    if (group === undefined || !group.callbacks.delete(entry)) return;
    if (group.callbacks.size > 0) return;
    clearInterval(group.timer);
    this.groups.delete(key);
  }
}

/**
 * Runs every callback even when one throws. The first exception is thrown afterwards, so it
 * reaches the process's handler as it would from a timer of its own.
 */
function runAll(callbacks: ReadonlySet<() => void>): void {
  let failure: { error: unknown } | undefined;
  for (const callback of [...callbacks]) {
    try {
      callback();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}
