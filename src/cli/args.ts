/** Shared argument parsing: node:util parseArgs, with usage errors as GatewayError CLI_USAGE. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { GatewayError } from "../errors.js";
import { builtInProfileDirs, profilesDirProblem } from "../profiles/load.js";

export function parseCommandArgs<T extends ParseArgsConfig["options"]>(
  args: string[],
  options: T,
  help: string,
  allowPositionals = false,
) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals,
      tokens: true,
    });
  } catch (error) {
    throw new GatewayError("CLI_USAGE", `${(error as Error).message}\n\n${help}`);
  }
  rejectRepeatedOptions(parsed.tokens, options, help);
  return { values: parsed.values, positionals: parsed.positionals };
}

/**
 * Rejects an option given twice, such as two --config, because parseArgs keeps only the last
 * one and the user could not tell which value is used. Options declared `multiple` may repeat.
 */
function rejectRepeatedOptions(
  tokens: readonly { kind: string; name?: string }[],
  options: ParseArgsConfig["options"],
  help: string,
): void {
  const counts = new Map<string, number>();
  for (const token of tokens) {
    if (token.kind !== "option" || token.name === undefined) continue;
    if (options?.[token.name]?.multiple === true) continue;
    counts.set(token.name, (counts.get(token.name) ?? 0) + 1);
  }
  for (const [name, count] of counts) {
    if (count > 1) {
      throw new GatewayError(
        "CLI_USAGE",
        `--${name} was given ${count} times; give it once\n\n${help}`,
      );
    }
  }
}

export function requireOption(value: string | undefined, name: string, help: string): string {
  if (value === undefined || value === "") {
    throw new GatewayError("CLI_USAGE", `missing --${name}\n\n${help}`);
  }
  return value;
}

/** Parses a whole-number option from 0 to `max`; returns `fallback` when it is absent. */
export function integerOption(
  value: string | undefined,
  name: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  // Digits only, so "", "1e3" and "0x10" are rejected rather than read as numbers.
  const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? "of 0 or more" : `from 0 to ${max}`;
    throw new GatewayError(
      "CLI_USAGE",
      `--${name} must be a whole number ${range} (got ${JSON.stringify(value)})`,
    );
  }
  return parsed;
}

/** Returns the folders to load profiles from: --profiles-dir, when given, then the built-in ones. */
export function profileDirsOption(extraDir: string | undefined): string[] {
  if (extraDir === undefined) return builtInProfileDirs();
  const problem = profilesDirProblem(extraDir);
  if (problem !== undefined) {
    throw new GatewayError(
      "CLI_USAGE",
      `--profiles-dir: ${problem}; give the folder that contains the profile files`,
    );
  }
  return [extraDir, ...builtInProfileDirs()];
}
