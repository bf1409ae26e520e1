/**
 * The first module main.ts imports, so that `run` restarts Node with its settings before the
 * rest of the bundle loads: loading it took about 90 ms on the development machine, and a
 * restart after it would pay that twice.
 */
import { applyRuntimeSettings } from "./runtime-settings.js";

/** Why `run` kept Node's defaults, or undefined when it has its settings or is another command. */
export const runtimeSettingsProblem: string | undefined =
  process.argv[2] === "run" ? applyRuntimeSettings() : undefined;
