/**
 * The Node and C library settings `run` needs, applied whichever way the agent is started: by
 * hand, by the systemd unit, or by the benchmark. Both must be given before Node starts, so
 * `run` starts Node again in the same process (execve) with the ones that are missing.
 *
 * - `--max-semi-space-size=2`: Node lets each half of the young generation grow to 16 MB on a
 *   64-bit system. The agent's records live for milliseconds, so past 2 MB it holds only
 *   garbage. At the ward load of docs/benchmarks.md this saves about 10 MB of peak resident
 *   memory, with no CPU change beyond the noise of the runs.
 * - `MALLOC_ARENA_MAX=2`: V8 compiles hot functions on its worker threads, and glibc gives
 *   each of those threads a malloc arena of its own. Fewer arenas took the agent's peak down
 *   by a further 3 to 5 MB, again with no clear CPU change (docs/benchmarks.md).
 *
 * A setting the user gave, on the command line, in NODE_OPTIONS or in the environment, wins.
 * There is no restart under a debugger or a parent's IPC channel, which it would cut, nor a
 * second one: `run` then warns and keeps Node's defaults.
 */
import { accessSync, constants, readFileSync } from "node:fs";

const runtimeFlags: readonly string[] = ["--max-semi-space-size=2"];
const runtimeEnv: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** The variable set in the restarted process, so that a setting still missing cannot loop. */
const restartedVariable = "IOMT_GATEWAY_RESTARTED";

export interface MissingSettings {
  flags: string[];
  env: Record<string, string>;
}

/** The settings `run` goes without, and why it did not restart to get them. */
export interface NotRestarted {
  reason: string;
  settings: string[];
}

/**
 * Returns the option name of a Node argument. Node drops the double quotes of NODE_OPTIONS
 * words and treats `_` and `-` alike in option names.
 */
function optionName(arg: string): string {
  const unquoted = arg.replace(/"/g, "");
  return (unquoted.split("=")[0] ?? unquoted).replace(/_/g, "-");
}

/**
 * Lists the flags and variables this process lacks and the user did not set. `startEnvNames`
 * are the variables the process started with. One that `--env-file` put in `env` reached Node
 * but not the C library, so it is set again, with the user's value.
 */
export function missingRuntimeSettings(
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
  startEnvNames: ReadonlySet<string>,
): MissingSettings {
  // Node splits NODE_OPTIONS on spaces only.
  const userOptions = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(" ")].map(optionName);
  const flags = runtimeFlags.filter((flag) => !userOptions.includes(optionName(flag)));
  const missingEnv = Object.fromEntries(
    Object.entries(runtimeEnv)
      .filter(([name]) => !startEnvNames.has(name))
      .map(([name, value]) => [name, env[name] ?? value]),
  );
  return { flags, env: missingEnv };
}

/** Returns the names of the variables the process started with, which the C library read. */
function startEnvNames(): Set<string> {
  try {
    const entries = readFileSync("/proc/self/environ", "utf8").split("\0");
    return new Set(entries.map((entry) => entry.split("=")[0] ?? ""));
  } catch {
    return new Set(Object.keys(process.env));
  }
}

/** Returns why this process must not replace itself now, or undefined when it may. */
function restartObstacle(): string | undefined {
  if (process.env[restartedVariable] !== undefined) {
    return "the settings were still missing after a restart";
  }
  // A Node built without the inspector throws when the module is loaded.
  const inspector = process.features.inspector
    ? process.getBuiltinModule("node:inspector")
    : undefined;
  if (inspector?.url() !== undefined) return "the inspector is open, and a restart would drop it";
  if (process.channel !== undefined) {
    return "the parent's IPC channel is open, and a restart would close it";
  }
  if (process.execve === undefined) return `Node ${process.version} has no process.execve`;
  try {
    accessSync(process.execPath, constants.X_OK);
  } catch {
    return `${process.execPath} is no longer executable`;
  }
  return undefined;
}

/**
 * Starts Node again with the missing settings. Returns undefined when none is missing, and the
 * missing settings with a reason when it cannot restart; the agent then runs on Node's
 * defaults.
 */
export function applyRuntimeSettings(): NotRestarted | undefined {
  const missing = missingRuntimeSettings(process.execArgv, process.env, startEnvNames());
  const settings = [
    ...missing.flags,
    ...Object.entries(missing.env).map(([name, value]) => `${name}=${value}`),
  ];
  if (settings.length === 0) return undefined;
  const reason = restartObstacle();
  if (reason !== undefined) return { reason, settings };
  // NOTE: Node 22 and 24 abort the process when execve fails instead of throwing, so the
  // checks above rule out the causes they can see first.
  process.execve?.(
    process.execPath,
    [process.execPath, ...missing.flags, ...process.execArgv, ...process.argv.slice(1)],
    { ...process.env, ...missing.env, [restartedVariable]: "1" },
  );
  return undefined;
}
