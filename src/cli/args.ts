/** Shared argument parsing: node:util parseArgs, with usage errors as GatewayError CLI_USAGE. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { GatewayError } from "../errors.js";

export function parseCommandArgs<T extends ParseArgsConfig["options"]>(
  args: string[],
  options: T,
  help: string,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals,
    });
  } catch (error) {
    throw new GatewayError("CLI_USAGE", `${(error as Error).message}\n\n${help}`);
  }
}

export function requireOption(value: string | undefined, name: string, help: string): string {
  if (value === undefined || value === "") {
    throw new GatewayError("CLI_USAGE", `missing --${name}\n\n${help}`);
  }
  return value;
}

export function integerOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new GatewayError(
      "CLI_USAGE",
      `--${name} must be a whole number of 0 or more (got ${JSON.stringify(value)})`,
    );
  }
  return parsed;
}
