import test from "ava";
import { join } from "node:path";
import { repoRoot, runCli } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";

const demo = ["--import", "tsx", join(repoRoot, "scripts", "demo.ts")];

for (const mode of ["socat", "tcp"] as const) {
  test(`npm start demo shows live measurements over ${mode}`, async (t) => {
    const args = ["--duration", "6", "--plain", ...(mode === "tcp" ? ["--tcp"] : [])];
    const { code, output } = await runCli(demo, args, tempDir(t));
    t.is(code, 0, output);
    t.regex(
      output,
      mode === "tcp" ? /devices on loopback TCP/ : /devices on socat virtual serial ports/,
    );
    t.regex(output, /gateway online/);
    t.regex(output, /bed1-spo2 #\d+ PULS_OXIM_SAT_O2=\d+%/);
    t.regex(output, /bed1-vent #\d+ .*VOL_AWAY_TIDAL=\d+ mL/);
    const received = Number(/received (\d+) observation messages/.exec(output)?.[1] ?? 0);
    t.true(received >= 4, `received ${received}`);
  });
}

test("npm start demo serves OPC UA with --opcua", async (t) => {
  const args = ["--duration", "9", "--plain", "--tcp", "--opcua"];
  const { code, output } = await runCli(demo, args, tempDir(t));
  t.is(code, 0, output);
  t.regex(output, /demo: OPC UA opc\.tcp:\/\/localhost:\d+/);
  t.regex(output, /opcua: bed1-spo2 MDC_PULS_OXIM_SAT_O2 = \d+ \(Good\), read over SignAndEncrypt/);
});
