import { formatProblem } from "../config/problems.js";
import { describeSerialSettings } from "../link/serial.js";
import { loadProfileFile, loadProfiles } from "../profiles/load.js";
import type { Profile } from "../profiles/schema.js";
import { runVectors } from "../profiles/vectors.js";
import { parseCommandArgs, profileDirsOption } from "./args.js";
import { describeOverrides } from "./overrides.js";

const help = `Usage: iomt-gateway profiles [--profiles-dir DIR]
       iomt-gateway profiles check FILE

Lists the firmware profiles with their ids, versions, families, serial settings and firmware
ranges, and runs each profile's test vectors. "check FILE" validates one profile file a
technician wrote and runs its test vectors. Exit status: 0 when every profile is valid and passes its vectors.

Options:
  --profiles-dir DIR   Extra folder of profiles, searched first.
  -h, --help           Show this help.
`;

export function profilesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { "profiles-dir": { type: "string" } },
    help,
    true,
  );
  if (values.help) {
    process.stdout.write(help);
    return Promise.resolve(0);
  }
  if (positionals[0] === "check") return Promise.resolve(checkFile(positionals[1]));
  if (positionals.length > 0) {
    process.stderr.write(`CLI_USAGE: unknown argument "${positionals[0]}"\n\n${help}`);
    return Promise.resolve(2);
  }
  const set = loadProfiles(profileDirsOption(values["profiles-dir"]));
  let failed = set.problems.length > 0;
  for (const problem of set.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  for (const { profile } of set.profiles.values()) {
    failed = report(profile) || failed;
  }
  for (const line of describeOverrides(set.overrides)) process.stdout.write(`${line}\n`);
  return Promise.resolve(failed ? 1 : 0);
}

function checkFile(file: string | undefined): number {
  if (file === undefined) {
    process.stderr.write(`CLI_USAGE: profiles check needs a FILE\n\n${help}`);
    return 2;
  }
  const loaded = loadProfileFile(file);
  if (!loaded.ok) {
    process.stderr.write(`PROFILE_INVALID: ${loaded.problems.length} problem(s) found:\n`);
    for (const problem of loaded.problems) process.stderr.write(`  ${formatProblem(problem)}\n`);
    return 1;
  }
  return report(loaded.loaded.profile) ? 1 : 0;
}

/** Prints one profile's line and its vectors; returns true when a vector failed. */
function report(profile: Profile): boolean {
  const outcomes = runVectors(profile);
  const failed = outcomes.filter((outcome) => outcome.failures.length > 0);
  const verdict =
    failed.length === 0
      ? `${outcomes.length} vectors pass`
      : `${failed.length} of ${outcomes.length} vectors FAIL`;
  process.stdout.write(
    `${profile.id}@${profile.version}  ${profile.family}  ${describeSerialSettings(profile.serial)}  ` +
      `${profile.name}  firmware ${profile.firmware}  ${verdict}\n`,
  );
  for (const outcome of failed) {
    for (const failure of outcome.failures) {
      process.stdout.write(`  PROFILE_VECTOR_FAILED: ${outcome.name}: ${failure}\n`);
    }
  }
  return failed.length > 0;
}
