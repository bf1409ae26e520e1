/**
 * The first module main.ts imports, so that `run` restarts Node with its settings before the
 * rest of the bundle loads. Loading it took about 90 ms on the development machine, so a
 * restart after it would pay that twice.
 */
import { applyRuntimeSettings, type NotRestarted } from "./runtime-settings.js";

/** The settings `run` goes without and why; undefined when it has them or for other commands. */
export const runtimeSettingsMissing: NotRestarted | undefined =
  process.argv[2] === "run" ? applyRuntimeSettings() : undefined;
