/**
 * A virtual serial cable for tests: socat joins two pseudo-terminals, so a device simulator writes
 * to one end and the gateway reads the other through a real serial port driver. A pty does not
 * enforce the baud rate, so tests cannot check pacing this way.
 */
import { spawn } from "node:child_process";
import { lstat, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { watchChild } from "./child-process.js";

export interface PtyPairOptions {
  /** File name of the device end's symlink inside `dir`. Default: "ttyDEVICE". */
  deviceName?: string;
  /** File name of the host (gateway) end's symlink inside `dir`. Default: "ttyHOST". */
  hostName?: string;
  /** Maximum wait in ms for both symlinks to appear. Default: 5000. */
  startTimeoutMs?: number;
}

export interface PtyPair {
  /** Symlink to the end that the device simulator opens. */
  devicePath: string;
  /** Symlink to the end that the gateway opens. */
  hostPath: string;
  /**
   * Stops socat, waits for its exit and removes the symlinks. A serial port still open on either
   * end detects a lost link, as after an unplugged cable, though sometimes only at its next write.
   * Calling it again does nothing. A new `createPtyPair` with the same `dir` and names creates the
   * same paths again, as when the cable is plugged back in.
   */
  stop(): Promise<void>;
}

const defaultStartTimeoutMs = 5_000;
const pollIntervalMs = 10;

/** Starts socat with a pty pair linked at `dir`/ttyDEVICE and `dir`/ttyHOST and waits for both. */
export async function createPtyPair(dir: string, options: PtyPairOptions = {}): Promise<PtyPair> {
  const devicePath = path.resolve(dir, options.deviceName ?? "ttyDEVICE");
  const hostPath = path.resolve(dir, options.hostName ?? "ttyHOST");
  const timeoutMs = options.startTimeoutMs ?? defaultStartTimeoutMs;

  // A link left by a socat that was killed with SIGKILL would look ready before the new one is.
  await rm(devicePath, { force: true });
  await rm(hostPath, { force: true });

  const child = spawn(
    "socat",
    ["-d", "-d", `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const watched = watchChild(child);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await watched.stop();
    await rm(devicePath, { force: true });
    await rm(hostPath, { force: true });
  };

  const deadline = Date.now() + timeoutMs;
  while (!((await isLiveLink(devicePath)) && (await isLiveLink(hostPath)))) {
    const exitStatus = watched.exitStatus();
    if (exitStatus !== undefined || Date.now() >= deadline) {
      const reason = exitStatus ?? `timed out after ${timeoutMs} ms`;
      const hint = reason.startsWith("spawn error") ? "; install socat" : "";
      await stop();
      throw new Error(
        `socat did not create ${devicePath} and ${hostPath} (${reason})${hint}\n` +
          `--- stderr ---\n${watched.output() || "(empty)"}`,
      );
    }
    await delay(pollIntervalMs);
  }
  return { devicePath, hostPath, stop };
}

/** Returns true when `link` is a symlink whose target exists. */
async function isLiveLink(link: string): Promise<boolean> {
  try {
    if (!(await lstat(link)).isSymbolicLink()) return false;
    await stat(link);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
