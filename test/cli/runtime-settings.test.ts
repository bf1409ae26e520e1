import test from "ava";
import { missingRuntimeSettings } from "../../src/cli/runtime-settings.js";

test("plain start misses both settings", (t) => {
  t.deepEqual(missingRuntimeSettings([], {}), {
    flags: ["--max-semi-space-size=2"],
    env: { MALLOC_ARENA_MAX: "2" },
  });
});

test("restarted process misses none", (t) => {
  t.deepEqual(missingRuntimeSettings(["--max-semi-space-size=2"], { MALLOC_ARENA_MAX: "2" }), {
    flags: [],
    env: {},
  });
});

test("user's own values win", (t) => {
  t.deepEqual(missingRuntimeSettings(["--max-semi-space-size=8"], { MALLOC_ARENA_MAX: "4" }), {
    flags: [],
    env: {},
  });
  t.deepEqual(missingRuntimeSettings([], { MALLOC_ARENA_MAX: "" }).env, {});
});

test("user's flag counts in every spelling Node reads", (t) => {
  const spellings: [string[], string][] = [
    [["--max_semi_space_size=4"], ""],
    [[], "--trace-warnings  --max-semi-space-size=16"],
    [[], "--max_semi_space_size=4"],
    [[], '"--max-semi-space-size=4"'],
  ];
  for (const [execArgv, nodeOptions] of spellings) {
    t.deepEqual(
      missingRuntimeSettings(execArgv, { NODE_OPTIONS: nodeOptions }).flags,
      [],
      nodeOptions,
    );
  }
});

test("flag words Node ignores do not count", (t) => {
  // Node splits NODE_OPTIONS on spaces only, so a tab leaves the flag glued to its neighbour.
  const tab = missingRuntimeSettings([], {
    NODE_OPTIONS: "--trace-warnings\t--max-semi-space-size=4",
  });
  t.deepEqual(tab.flags, ["--max-semi-space-size=2"]);
  t.deepEqual(missingRuntimeSettings(["--max-semi-space-size-x=1"], {}).flags, [
    "--max-semi-space-size=2",
  ]);
});
