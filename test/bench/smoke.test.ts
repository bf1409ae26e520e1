import test from "ava";
import { execFile, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";

// Checks that the benchmark harness still works end to end; it asserts no figure of speed.
test("bench smoke scenario delivers every frame", async (t) => {
  const out = tempDir(t);
  await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "scripts", "bench", "run.ts"), "smoke", "--out", out],
    { cwd: repoRoot },
  );
  const [file] = readdirSync(out);
  t.regex(file ?? "", /^smoke-.*\.json$/);
  const result = JSON.parse(readFileSync(join(out, file ?? ""), "utf8"));
  t.is(result.scenario, "smoke");
  const [comparison] = result.comparisons;
  for (const target of [comparison.agent, comparison.passThrough]) {
    t.true(target.framesExpected > 0, `${target.target} delivered frames`);
    t.is(target.framesLost, 0, `${target.target} lost no frame`);
    t.is(target.seqGaps, 0, `${target.target} left no sequence gap`);
    t.is(target.unknownMessages, 0, `${target.target} sent only records the harness matched`);
    for (const field of [
      "recordsPerSecond",
      "cpuSecondsPerThousandRecords",
      "peakRssMb",
      "diskBytesPerRecord",
      "spawnToFirstRecordMs",
    ]) {
      t.is(typeof target[field], "number", `${target.target} ${field}`);
    }
  }
  t.is(typeof comparison.agent.latency.numerics.p99Ms, "number");
  t.is(typeof comparison.passThrough.latency.line.p99Ms, "number");
  t.is(typeof comparison.agent.eventLoopDelayP99Ms, "number");
});

test("bench rejects an unwritable --out", (t) => {
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "scripts", "bench", "run.ts"), "smoke", "--out", "/proc/x"],
    { cwd: repoRoot, encoding: "utf8" },
  );
  t.is(run.status, 2);
  t.regex(run.stderr, /invalid --out "\/proc\/x": \/proc\/x is under \/proc/);
  t.notRegex(run.stdout, /port\(s\)/);
});
