/** Command-line options of the benchmark scripts, with a usage message in place of a stack trace. */
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses the command line. --help or -h prints `usage` and exits 0. An unknown or malformed option
 * prints the problem and `usage` and exits 2.
 */
export function parseBenchArgs<T extends Options>(options: T, usage: string, positionals = false) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs({ options, allowPositionals: positionals, strict: true });
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

/** Returns option `name` as a whole number of at least `min`, or exits 2 with the usage. */
export function wholeNumberOption(
  value: string | undefined,
  name: string,
  fallback: number,
  { min = 1, usage }: { min?: number; usage: string },
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (Number.isInteger(number) && number >= min) return number;
  console.error(
    `--${name} ${value} is invalid: expected a whole number of at least ${min}\n${usage}`,
  );
  process.exit(2);
}
