import test from "ava";
import { missingRuntimeSettings } from "../../src/cli/runtime-settings.js";

/** The settings missing from a process that started with `env`, as a shell starts one. */
const missing = (execArgv: string[], env: Record<string, string>) =>
  missingRuntimeSettings(execArgv, env, new Set(Object.keys(env)));

test("plain start misses both settings", (t) => {
  t.deepEqual(missing([], {}), {
    flags: ["--max-semi-space-size=2"],
    env: { MALLOC_ARENA_MAX: "2" },
  });
});

test("restarted process misses none", (t) => {
  t.deepEqual(missing(["--max-semi-space-size=2"], { MALLOC_ARENA_MAX: "2" }), {
    flags: [],
    env: {},
  });
});

test("user's own values win", (t) => {
  t.deepEqual(missing(["--max-semi-space-size=8"], { MALLOC_ARENA_MAX: "4" }), {
    flags: [],
    env: {},
  });
  t.deepEqual(missing([], { MALLOC_ARENA_MAX: "" }).env, {});
});

test("user's flag counts in every spelling Node reads", (t) => {
  const spellings: [string[], string][] = [
    [["--max_semi_space_size=4"], ""],
    [[], "--trace-warnings  --max-semi-space-size=16"],
    [[], "--max_semi_space_size=4"],
    [[], '"--max-semi-space-size=4"'],
    [[], '--max-semi-"space-size=4"'],
  ];
  for (const [execArgv, nodeOptions] of spellings) {
    t.deepEqual(missing(execArgv, { NODE_OPTIONS: nodeOptions }).flags, [], nodeOptions);
  }
});

test("variable from --env-file is set again with its value", (t) => {
  // --env-file fills process.env after the C library has read the environment.
  const fromEnvFile = missingRuntimeSettings([], { MALLOC_ARENA_MAX: "4" }, new Set());
  t.deepEqual(fromEnvFile.env, { MALLOC_ARENA_MAX: "4" });
});
