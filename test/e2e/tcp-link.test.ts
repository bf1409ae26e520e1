import test from "ava";
import { tempDir } from "../helpers/tmp.js";
import {
  builtInProfile,
  createTestPki,
  startAgentFromConfig,
  startBrokerAndSubscriber,
  startTcpSimulator,
  writeAgentConfig,
  tcpDevice,
} from "./single-device.js";

test("a MEDIBUS device behind a TCP device server reaches the broker", async (t) => {
  const dir = tempDir(t);
  const pki = await createTestPki(dir);
  const { broker, subscriber } = await startBrokerAndSubscriber(t, pki);
  const server = await startTcpSimulator(t, builtInProfile("draeger-medibus-evita4"));

  const file = writeAgentConfig(dir, {
    site: "s1",
    gateway: "g1",
    brokerUrl: broker.url,
    pki,
    devices: [tcpDevice("vent1", "draeger-medibus-evita4", server.port)],
  });
  startAgentFromConfig(t, dir, file);
  const [message] = await subscriber.waitFor(
    (m) => m.topic === "iomt/v1/s1/g1/devices/vent1/obs",
    20_000,
  );
  const payload = message?.payload as { observations: { mdcCode: number; unit: string }[] };
  t.true(payload.observations.some((o) => o.mdcCode === 151868 && o.unit === "mL"));
  const [state] = await subscriber.waitFor(
    (m) =>
      m.topic === "iomt/v1/s1/g1/devices/vent1/state" &&
      (m.payload as { state: string }).state === "connected",
    10_000,
  );
  t.regex((state?.payload as { link: string }).link, /^tcp 127\.0\.0\.1:\d+$/);
});
