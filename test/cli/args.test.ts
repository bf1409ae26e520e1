import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { integerOption, parseCommandArgs, profileDirsOption } from "../../src/cli/args.js";
import { hasCode } from "../../src/errors.js";
import { builtInProfileDirs } from "../../src/profiles/load.js";
import { tempDir } from "../helpers/tmp.js";

const options = {
  config: { type: "string", short: "c" },
  tag: { type: "string", multiple: true },
} as const;

test("parseCommandArgs rejects a repeated option", (t) => {
  for (const args of [
    ["--config", "a.yaml", "--config", "b.yaml"],
    ["-c", "a.yaml", "--config=b.yaml"],
  ]) {
    const error = t.throws(() => parseCommandArgs(args, options, "HELP"));
    t.true(hasCode(error, "CLI_USAGE"), String(error));
    t.regex(error?.message ?? "", /--config was given 2 times; give it once\n\nHELP/);
  }
});

test("parseCommandArgs keeps repeats of a multiple option", (t) => {
  const { values } = parseCommandArgs(["--tag", "a", "--tag", "b", "-c", "x"], options, "HELP");
  t.deepEqual(values.tag, ["a", "b"]);
  t.is(values.config, "x");
});

test("integerOption checks the range", (t) => {
  t.is(integerOption(undefined, "tcp-port", 7, 65_535), 7);
  t.is(integerOption("0", "tcp-port", 7, 65_535), 0);
  t.is(integerOption("65535", "tcp-port", 7, 65_535), 65_535);
  for (const bad of ["65536", "70000", "-1", "1.5", "", "1e3", "0x10", " 80"]) {
    const error = t.throws(() => integerOption(bad, "tcp-port", 0, 65_535), undefined, bad);
    t.true(hasCode(error, "CLI_USAGE"), bad);
    t.regex(error?.message ?? "", /--tcp-port must be a whole number from 0 to 65535/, bad);
  }
  const error = t.throws(() => integerOption("x", "seed", 1));
  t.regex(error?.message ?? "", /--seed must be a whole number of 0 or more \(got "x"\)/);
});

test("profileDirsOption puts the folder first", (t) => {
  const dir = tempDir(t);
  t.deepEqual(profileDirsOption(dir), [dir, ...builtInProfileDirs()]);
  t.deepEqual(profileDirsOption(undefined), builtInProfileDirs());
});

test("profileDirsOption rejects a missing folder or a file", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "profile.yaml");
  writeFileSync(file, "id: x\n");
  const cases: [string, RegExp][] = [
    [join(dir, "absent"), /absent does not exist; give the folder/],
    [file, /profile\.yaml is a file, not a folder; give the folder/],
  ];
  for (const [path, message] of cases) {
    const error = t.throws(() => profileDirsOption(path));
    t.true(hasCode(error, "CLI_USAGE"), path);
    t.regex(error?.message ?? "", message);
  }
});
