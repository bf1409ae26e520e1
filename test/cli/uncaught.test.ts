/** The agent's last-resort handler, in a child process so the exception can end it. */
import test from "ava";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers/tmp.js";

const repoRoot = resolve(__dirname, "..", "..");

test("uncaught exception is logged, then exits", (t) => {
  const script = join(tempDir(t), "throws.ts");
  writeFileSync(
    script,
    [
      `import { createLogger } from ${JSON.stringify(join(repoRoot, "src", "log.js"))};`,
      `import { logUncaughtExceptions } from ${JSON.stringify(join(repoRoot, "src", "cli", "run.js"))};`,
      'logUncaughtExceptions(createLogger({ level: "info", format: "json" }));',
      'setImmediate(() => { throw new Error("thrown inside a library"); });',
      "",
    ].join("\n"),
  );
  const child = spawnSync(process.execPath, ["--import", "tsx", script], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 30_000,
  });
  t.is(child.status, 1, child.stderr);
  const record = JSON.parse(child.stderr.trim().split("\n").at(-1) ?? "{}") as Record<
    string,
    unknown
  >;
  t.is(record.level, "error");
  t.is(record.msg, "uncaught exception, exiting");
  t.is(record.error, "thrown inside a library");
  t.regex(String(record.stack), /throws\.ts/);
});
