import { dirname, resolve } from "node:path";
import { builtInProfileDirs, type ProfileOverride } from "../profiles/load.js";

/** Describes each profile file that another file with the same id replaces, one line each. */
export function describeOverrides(overrides: readonly ProfileOverride[]): string[] {
  const builtIn = new Set(builtInProfileDirs().map((dir) => resolve(dir)));
  return overrides.map(({ id, file, overridden }) =>
    builtIn.has(resolve(dirname(overridden)))
      ? `profile ${id}: ${file} overrides the built-in profile ${overridden}`
      : `profile ${id}: ${file} is used, and ${overridden}, which has the same id, is ignored`,
  );
}
