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
  const fromOptions = missingRuntimeSettings(["--enable-source-maps"], {
    NODE_OPTIONS: "--trace-warnings  --max-semi-space-size=16",
  });
  t.deepEqual(fromOptions.flags, []);
  t.deepEqual(fromOptions.env, { MALLOC_ARENA_MAX: "2" });
});

test("similar flag name does not count", (t) => {
  t.deepEqual(missingRuntimeSettings(["--max-semi-space-size-x=1"], {}).flags, [
    "--max-semi-space-size=2",
  ]);
});
