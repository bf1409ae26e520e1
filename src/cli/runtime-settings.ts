/**
 * The Node and C library settings `run` needs, applied whichever way the agent is started: by
 * hand, by the systemd unit, or by the benchmark. Both must be given before Node starts, so
 * `run` starts Node again in the same process (execve) with the ones that are missing.
 *
 * - `--max-semi-space-size=2`: Node lets each half of the young generation grow to 16 MB on a
 *   64-bit system. The agent's records live for milliseconds, so past 2 MB it holds only
 *   garbage. At the ward load of docs/benchmarks.md this saves about 10 MB of peak resident
 *   memory at the same CPU.
 * - `MALLOC_ARENA_MAX=2`: V8 compiles hot functions on its worker threads, and glibc gives
 *   each of those threads a malloc arena of its own. Fewer arenas took the agent's peak down
 *   by a further 3 to 5 MB at the same CPU (docs/benchmarks.md).
 *
 * A setting the user gave, on the command line, in NODE_OPTIONS or in the environment, wins.
 */
import inspector from "node:inspector";
import { messageOf } from "../errors.js";

export const runtimeFlags: readonly string[] = ["--max-semi-space-size=2"];
export const runtimeEnv: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

export interface MissingSettings {
  flags: string[];
  env: Record<string, string>;
}

/** Lists the flags and variables this process lacks and the user did not set. */
export function missingRuntimeSettings(
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
): MissingSettings {
  const userFlags = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)];
  const flags = runtimeFlags.filter((flag) => {
    const name = flag.split("=")[0] ?? flag;
    return !userFlags.some((arg) => arg === name || arg.startsWith(`${name}=`));
  });
  const missingEnv = Object.fromEntries(
    Object.entries(runtimeEnv).filter(([name]) => env[name] === undefined),
  );
  return { flags, env: missingEnv };
}

/**
 * Starts Node again with the missing settings. Returns undefined when none is missing. Returns
 * the reason when a debugger is attached (a restart would drop it), when this Node has no
 * execve (it came in Node 22.15) or when the exec failed, and the agent then runs on Node's
 * defaults.
 */
export function applyRuntimeSettings(): string | undefined {
  const missing = missingRuntimeSettings(process.execArgv, process.env);
  if (missing.flags.length === 0 && Object.keys(missing.env).length === 0) return undefined;
  if (inspector.url() !== undefined) return "the inspector is open";
  if (process.execve === undefined) return `Node ${process.version} has no process.execve`;
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...missing.flags, ...process.execArgv, ...process.argv.slice(1)],
      { ...process.env, ...missing.env },
    );
  } catch (error) {
    return messageOf(error);
  }
}
