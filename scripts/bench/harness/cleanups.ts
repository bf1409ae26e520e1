/**
 * Cleanups of the benchmark runs in progress. A run registers each step as it creates a folder
 * or starts a process. Ctrl-C or SIGTERM runs the steps before the process exits, so an
 * interrupted benchmark leaves no private keys in the temporary folder and no broker running.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

type Step = () => Promise<void> | void;

const active = new Set<Cleanups>();
let stopping = false;

/**
 * Tells whether a signal is stopping the benchmark. Its cleanup then exits the process, so a
 * run that fails because its programs were stopped must not exit first.
 */
export function interrupted(): boolean {
  return stopping;
}

export class Cleanups {
  private readonly steps: Step[] = [];

  constructor() {
    active.add(this);
  }

  push(step: Step): void {
    this.steps.push(step);
  }

  /** Runs the steps, newest first. A failed step is reported and the others still run. */
  async run(): Promise<void> {
    active.delete(this);
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.error(`benchmark cleanup failed: ${(error as Error).message}`);
      }
    }
  }
}

/**
 * Creates a run's folder and its broker's folder, removed by `cleanups`. The broker's folder
 * stays apart, because mkdtemp's mode 0700 would keep the mosquitto user out of the run's.
 */
export function runFolders(cleanups: Cleanups): { dir: string; brokerDir: string } {
  const dir = mkdtempSync(join(tmpdir(), "iomt-bench-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const brokerDir = mkdtempSync(join(tmpdir(), "iomt-bench-broker-"));
  cleanups.push(() => rmSync(brokerDir, { recursive: true, force: true }));
  return { dir, brokerDir };
}

/** Makes SIGINT and SIGTERM run every active cleanup, then exit with 128 plus the signal number. */
export function cleanUpOnSignals(): void {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => {
      stopping = true;
      console.error(`\n${signal}: stopping the benchmark and removing its files`);
      void Promise.all([...active].map((cleanups) => cleanups.run())).finally(() =>
        process.exit(code),
      );
    });
  }
}
