import test from "ava";
import { writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createDevPki } from "../../src/pki/dev-ca.js";
import type { AlarmPayload, DeviceStatePayload } from "../../src/mqtt/payloads.js";
import { cliCommand, startCli } from "../helpers/agent-process.js";
import { startMosquitto } from "../helpers/mosquitto.js";
import { connectSubscriber } from "../helpers/subscriber.js";
import { tempDir } from "../helpers/tmp.js";

const prefix = "iomt/v1/s1/g1/devices";

test("missing port and mute device are reported, not left connecting", async (t) => {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
  const broker = await startMosquitto({ pki, dir: tempDir(t) });
  t.teardown(() => broker.stop());
  const subscriber = await connectSubscriber(broker.url, pki, "dashboard");
  t.teardown(() => subscriber.close());
  await subscriber.subscribe("iomt/v1/#", 1);

  // A device server that accepts the connection and never sends a byte.
  const sockets = new Set<Socket>();
  const mute = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    mute.close();
  });
  const mutePort = (mute.address() as AddressInfo).port;

  const file = join(dir, "config.yaml");
  const client = pki.clients.gateway;
  writeFileSync(
    file,
    `site: s1
gateway: g1
dataDir: ${join(dir, "data")}
broker: { url: "${broker.url}", caFile: "${pki.ca.cert}", certFile: "${client?.cert}", keyFile: "${client?.key}" }
devices:
  - { id: ghost, profile: masimo-radical7-ascii1, link: { kind: serial, path: "${join(dir, "no-such-tty")}" } }
  - { id: mute, profile: draeger-medibus-evita4, link: { kind: tcp, host: 127.0.0.1, port: ${mutePort} } }
`,
  );
  const agent = startCli(cliCommand("source"), ["run", "--config", file], dir);
  t.teardown(async () => {
    await agent.stop();
  });

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
