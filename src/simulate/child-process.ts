/**
 * Watches a helper process (socat, a test broker): keeps the tail of its output, records how it
 * exited, kills it if this process exits first, and stops it with SIGTERM, then SIGKILL.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";

const outputMaxChars = 8_192;
const stopTimeoutMs = 5_000;

export interface WatchedChild {
  child: ChildProcess;
  /** Resolves when the process has exited or failed to start. */
  exited: Promise<void>;
  /** "exit code N", "signal S" or "spawn error: ..."; undefined while running. */
  exitStatus(): string | undefined;
  /** The last few kilobytes of its stdout and stderr. */
  output(): string;
  /** Stops it: SIGTERM, then SIGKILL after 5 s. Calling it again does nothing. */
  stop(): Promise<void>;
}

/** Helpers still running; one exit handler kills them all, however many there are. */
const running = new Set<ChildProcess>();
// Best effort: a test process that ends without its teardown still stops its helpers.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function watchChild(child: ChildProcess): WatchedChild {
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-outputMaxChars);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exitStatus = signal === null ? `exit code ${code}` : `signal ${signal}`;
      resolve();
    });
    child.once("error", (error) => {
      exitStatus = `spawn error: ${error.message}`;
      resolve();
    });
  });
  running.add(child);

  void exited.then(() => running.delete(child));
  const stop = async () => {
    running.delete(child);
    if (exitStatus !== undefined) return;
    child.kill("SIGTERM");
    const exitedInTime = await Promise.race([
      exited.then(() => true),
      delay(stopTimeoutMs).then(() => false),
    ]);
    if (!exitedInTime) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  return { child, exited, exitStatus: () => exitStatus, output: () => output, stop };
}
