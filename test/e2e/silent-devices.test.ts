import test from "ava";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { AlarmPayload, DeviceStatePayload } from "../../src/mqtt/payloads.js";
import { tempDir } from "../helpers/tmp.js";
import {
  createTestPki,
  startAgentFromConfig,
  startBrokerAndSubscriber,
  writeAgentConfig,
  serialDevice,
  tcpDevice,
} from "./single-device.js";

const prefix = "iomt/v1/s1/g1/devices";

test("missing port and mute device are reported, not left connecting", async (t) => {
  const dir = tempDir(t);
  const pki = await createTestPki(dir);
  const { broker, subscriber } = await startBrokerAndSubscriber(t, pki);

  // A device server that accepts the connection and never sends a byte.
  const sockets = new Set<Socket>();
  const mute = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    mute.close();
  });
  const mutePort = (mute.address() as AddressInfo).port;

  const file = writeAgentConfig(dir, {
    site: "s1",
    gateway: "g1",
    brokerUrl: broker.url,
    pki,
    devices: [
      serialDevice("ghost", "masimo-radical7-ascii1", join(dir, "no-such-tty")),
      tcpDevice("mute", "draeger-medibus-evita4", mutePort),
    ],
  });
  startAgentFromConfig(t, dir, file);

  const [ghost] = await subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/ghost/state` && (m.payload as DeviceStatePayload).state === "lost",
    10_000,
  );
  t.regex((ghost?.payload as DeviceStatePayload).reason ?? "", /no-such-tty does not exist/);
  await subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/ghost/alarm` && (m.payload as AlarmPayload).alarmCode === "link-lost",
    10_000,
  );

  const [stale] = await subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/mute/state` && (m.payload as DeviceStatePayload).state === "stale",
    15_000,
  );
  t.regex((stale?.payload as DeviceStatePayload).reason ?? "", /no valid frame ever/);
  const [alarm] = await subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/mute/alarm` && (m.payload as AlarmPayload).alarmCode === "data-stale",
    5000,
  );
  t.is((alarm?.payload as AlarmPayload).state, "active");
  t.false(subscriber.messages.some((m) => m.topic === `${prefix}/mute/obs`));
});
