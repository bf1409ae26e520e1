/** The simulate command's refusals and its exit when its serial port goes away. */
import test from "ava";
import { createServer } from "node:net";
import { createPtyPair } from "../../src/simulate/pty-pair.js";
import { cliCommand, runCli, startCli } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";

test("simulate rejects --wave-rate for a profile without waves", async (t) => {
  const args = ["simulate", "--profile", "masimo-radical7-ascii1", "--tcp-port", "0"];
  const { code, output } = await runCli(
    cliCommand("source"),
    [...args, "--wave-rate", "10"],
    tempDir(t),
  );
  t.is(code, 2);
  t.regex(output, /CLI_USAGE: --wave-rate: profile masimo-radical7-ascii1 maps no waves/);
});

test("simulate names a busy TCP port and the fix", async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  t.teardown(() => busy.close());
  const address = busy.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const args = ["simulate", "--profile", "masimo-radical7-ascii1", "--tcp-port", String(port)];
  const { code, output } = await runCli(cliCommand("source"), args, tempDir(t));
  t.is(code, 1);
  t.regex(output, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
  t.regex(output, /another program listens on it; .*0 picks a free port/);
});

test("simulate exits when its pty pair goes away", async (t) => {
  const dir = tempDir(t);
  const pty = await createPtyPair(dir);
  t.teardown(() => pty.stop());
  const args = ["simulate", "--profile", "masimo-radical7-ascii1", "--port", pty.devicePath];
  const simulator = startCli(cliCommand("source"), args, dir);
  t.teardown(() => simulator.stop());
  for (let wait = 0; !simulator.output().includes("simulating device") && wait < 300; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.regex(simulator.output(), /simulating device/);
  await pty.stop();
  const code = await simulator.exited;
  t.is(code, 1);
  t.regex(simulator.output(), /serial port is gone, so the simulator stops/);
});
