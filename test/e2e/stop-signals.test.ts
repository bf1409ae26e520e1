/**
 * Stopping by signal. A service manager sends SIGTERM, and a technician at a terminal may
 * press Ctrl-C as well. A second signal must not stop the agent a second time: that used to
 * leave it running against its closed outbox.
 */
import test from "ava";
import type { ObservationsPayload } from "../../src/mqtt/payloads.js";
import { startSerialDeviceRig } from "./single-device.js";

test("SIGTERM then SIGINT with the broker away stops once", async (t) => {
  const { broker, subscriber, agent } = await startSerialDeviceRig(t, {
    id: "bed1",
    profileId: "masimo-radical7-ascii1",
    ptyName: "spo2",
  });
  await subscriber.waitFor(
    (m) => (m.payload as ObservationsPayload).observations !== undefined,
    20_000,
  );
  await subscriber.close();
  await broker.stop();
  await new Promise((resolve) => setTimeout(resolve, 3000));

  // Both signals arrive before the agent handles the first, as when a terminal's Ctrl-C
  // meets the service manager's SIGTERM.
  agent.child.kill("SIGTERM");
  agent.child.kill("SIGINT");
  const timeout = new Promise<string>((resolve) =>
    setTimeout(() => resolve("still running"), 30_000),
  );
  const code = await Promise.race([agent.exited, timeout]);

  t.is(code, 0, agent.output().slice(-3000));
  t.is(agent.output().match(/"msg":"agent stopped"/g)?.length, 1);
  t.regex(agent.output(), /"msg":"already stopping; signal ignored","signal":"SIG(INT|TERM)"/);
  t.notRegex(agent.output(), /database is not open/);
});
