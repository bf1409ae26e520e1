import test, { type ExecutionContext } from "ava";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtInProfileDirs, loadProfileFile, loadProfiles } from "../../src/profiles/load.js";
import { runVectors } from "../../src/profiles/vectors.js";
import { tempDir } from "../helpers/tmp.js";

const repoProfiles = join(__dirname, "..", "..", "firmware-profiles");
const files = readdirSync(repoProfiles).filter((name) => name.endsWith(".yaml"));

test("built-in profiles all load", (t) => {
  const set = loadProfiles(builtInProfileDirs());
  t.deepEqual(set.problems, []);
  t.is(set.profiles.size, files.length);
  t.true(set.profiles.has("masimo-radical7-ascii1"));
  t.true(set.profiles.has("draeger-medibus-evita4"));
});

for (const name of files) {
  test(`${name} passes its test vectors`, (t) => {
    const loaded = loadProfileFile(join(repoProfiles, name));
    if (!loaded.ok) return t.fail(JSON.stringify(loaded.problems));
    const outcomes = runVectors(loaded.loaded.profile);
    t.true(outcomes.length > 0);
    for (const outcome of outcomes) t.deepEqual(outcome.failures, [], outcome.name);
  });
}

test("vector with a wrong expectation fails", (t) => {
  const loaded = loadProfileFile(join(repoProfiles, "masimo-radical7-ascii1.yaml"));
  if (!loaded.ok) return t.fail();
  const profile = loaded.loaded.profile;
  const [first] = profile.testVectors;
  if (first === undefined) return t.fail();
  const broken = {
    ...first,
    expect: {
      ...first.expect,
      observations: first.expect.observations.map((o) => ({
        ...o,
        value: o.value === null ? 1 : o.value + 1,
      })),
    },
  };
  const [outcome] = runVectors({ ...profile, testVectors: [broken] });
  t.is(outcome?.failures.length, 1);
  t.regex(outcome?.failures[0] ?? "", /^observations: expected/);
});

test("invalid profile reports each problem with its line", (t) => {
  const text = readFileSync(join(repoProfiles, "masimo-radical7-ascii1.yaml"), "utf8")
    .replace(/baudRate: 9600/, "baudRate: 9601")
    .replace(/^version: .*$/m, "version: one");
  const file = join(tempDir(t), "broken.yaml");
  writeFileSync(file, text);
  const loaded = loadProfileFile(file);
  if (loaded.ok) return t.fail("broken profile was accepted");
  const paths = loaded.problems.map((p) => p.path).sort();
  t.deepEqual(paths, ["serial.baudRate", "version"]);
  for (const problem of loaded.problems) t.true((problem.line ?? 0) > 0);
});

/** Writes the Masimo profile with `edit` applied and returns the load problems. */
function problemsOfEdited(t: ExecutionContext, edit: (text: string) => string) {
  const original = readFileSync(join(repoProfiles, "masimo-radical7-ascii1.yaml"), "utf8");
  const text = edit(original);
  t.not(text, original, "the edit applies");
  const file = join(tempDir(t), "edited.yaml");
  writeFileSync(file, text);
  const loaded = loadProfileFile(file);
  return loaded.ok ? [] : loaded.problems;
}

for (const [name, scale] of [
  ["0", "0"],
  ["infinite", ".inf"],
  ["not a number", ".nan"],
] as const) {
  test(`profile rejects a scale that is ${name}`, (t) => {
    const problems = problemsOfEdited(t, (text) =>
      text.replace("      unit: /min,\n", `      unit: /min,\n      scale: ${scale},\n`),
    );
    t.deepEqual(
      problems.map((problem) => problem.path),
      ["measurements.BPM.scale"],
    );
    t.true((problems[0]?.line ?? 0) > 0, "problem has a line");
  });
}

test("profile rejects one mdcCode with two units", (t) => {
  const problems = problemsOfEdited(t, (text) =>
    text.replace(
      "  PI: { mdcCode: 150488,",
      '  SPO2X: { mdcCode: 150456, mdcRefId: MDC_PULS_OXIM_SAT_O2, unit: "1" }\n  PI: { mdcCode: 150488,',
    ),
  );
  t.is(problems.length, 1);
  t.is(problems[0]?.path, "measurements.SPO2X.unit");
  t.regex(problems[0]?.message ?? "", /mdcCode 150456 .*"1".*measurements\.SPO2 .*"%"/);
  t.true((problems[0]?.line ?? 0) > 0, "problem has a line");
});

test("profile reports a bad absent pattern with its line", (t) => {
  const problems = problemsOfEdited(t, (text) =>
    text.replace('  - "^[+-]?-+(\\\\.-+)?$"', '  - "^[+-]?-+(\\\\.-+)?$"\n  - "(unclosed"'),
  );
  t.is(problems.length, 1);
  t.is(problems[0]?.path, "absentPatterns[1]");
  t.regex(problems[0]?.message ?? "", /is not a valid regular expression/);
  t.is(problems[0]?.line, 35);
  t.is(problems[0]?.column, 5);
});
