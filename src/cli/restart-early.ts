/**
 * The first module main.ts imports, so that `run` restarts Node with its settings before the
 * rest of the bundle loads. Loading it took about 90 ms on the development machine, so a
 * restart after it would pay that twice.
 */
import { applyRuntimeSettings } from "./runtime-settings.js";

/** The reason `run` kept Node's defaults; undefined when it has its settings or for other commands. */
export const runtimeSettingsProblem: string | undefined =
  process.argv[2] === "run" ? applyRuntimeSettings() : undefined;
