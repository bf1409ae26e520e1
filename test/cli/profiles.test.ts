import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cliCommand, repoRoot, runCli } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";

test("profiles lists every family with its serial settings", async (t) => {
  const dir = tempDir(t);
  const result = await runCli(cliCommand("source"), ["profiles"], dir);
  t.is(result.code, 0, result.output);
  const lines = result.output.trim().split("\n");
  for (const [id, family, serial] of [
    ["nonin-oem3-df2@1.0.0", "nonin", "9600 8N1"],
    ["nonin-onyx2-9560-df7@1.0.0", "nonin", "9600 8N1"],
    ["nonin-wristox2-3150-df8@1.0.0", "nonin", "9600 8N1"],
    ["draeger-medibus-fabius-gs@1.0.0", "medibus", "9600 8E1"],
    ["draeger-medibus-evita4@1.0.0", "medibus", "19200 8E1"],
  ]) {
    const line = lines.find((candidate) => candidate.startsWith(`${id} `));
    t.truthy(line, id);
    t.regex(line ?? "", new RegExp(`^\\S+  ${family}  ${serial}  .* \\d+ vectors pass$`), id);
  }
});

test("profiles check runs a Nonin profile's vectors and reports a failure", async (t) => {
  const dir = tempDir(t);
  const text = readFileSync(
    join(repoRoot, "firmware-profiles", "nonin-wristox2-3150-df8.yaml"),
    "utf8",
  );
  // The first vector's heart rate is 150; expecting 151 must fail.
  const broken = text.replace("value: 150, unit: /min }", "value: 151, unit: /min }");
  t.not(broken, text);
  const file = join(dir, "nonin.yaml");
  writeFileSync(file, broken);
  const result = await runCli(cliCommand("source"), ["profiles", "check", file], dir);
  t.is(result.code, 1);
  t.regex(result.output, /1 of 6 vectors FAIL/);
  t.regex(result.output, /PROFILE_VECTOR_FAILED: heart rate above 127: observations: expected/);
});
