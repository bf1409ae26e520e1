/**
 * A device discards what the gateway acknowledged, so an acknowledgement must mean the record is
 * on disk. A device server on loopback sends one HL7 message while the broker is down. The
 * agent is killed the moment its MSA AA arrives, and a second run delivers the record.
 */
import test from "ava";
import { createServer, type AddressInfo } from "node:net";
import { observationsPayload } from "../../src/mqtt/payloads.js";
import { freeLoopbackPort } from "../helpers/ports.js";
import { tempDir } from "../helpers/tmp.js";
import {
  createTestPki,
  startAgentFromConfig,
  startBrokerAndSubscriber,
  writeAgentConfig,
  tcpDevice,
} from "./single-device.js";

const message =
  "\x0bMSH|^~\\&|MON|ICU|||20261204120000||ORU^R01|PWR2|P|2.6\r" +
  "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||76|262688^MDC_DIM_PERCENT^MDC|||||F\r\x1c\r";

test("HL7 AA follows the stored record", async (t) => {
  const dir = tempDir(t);
  const pki = await createTestPki(dir);
  const deviceServer = createServer((socket) => {
    socket.on("data", (chunk) => {
      if (chunk.toString("latin1").includes("MSA|AA|PWR2")) agent.child.kill("SIGKILL");
    });
    socket.on("error", () => undefined);
    socket.write(message);
  });
  await new Promise<void>((resolve) => deviceServer.listen(0, "127.0.0.1", resolve));
  t.teardown(() => deviceServer.close());
  const devicePort = (deviceServer.address() as AddressInfo).port;

  const writeConfig = (brokerUrl: string) =>
    writeAgentConfig(dir, {
      site: "lab",
      gateway: "gw1",
      brokerUrl,
      pki,
      settings: { reconnect: { initialDelayMs: 100, maxDelayMs: 500 } },
      devices: [tcpDevice("mon1", "hl7-pcd01-oru", devicePort)],
    });

  // First run: no broker listens, so the record can only survive in the outbox.
  const nobody = `mqtts://localhost:${await freeLoopbackPort()}`;
  const agent = startAgentFromConfig(t, dir, writeConfig(nobody));
  const exit = await Promise.race([
    agent.exited.then(() => agent.child.signalCode),
    new Promise((resolve) => setTimeout(() => resolve("no AA within 20 s"), 20_000)),
  ]);
  t.is(exit, "SIGKILL", agent.output());
  deviceServer.close();

  const { broker, subscriber } = await startBrokerAndSubscriber(
    t,
    pki,
    "iomt/v1/lab/gw1/devices/mon1/obs",
  );
  startAgentFromConfig(t, dir, writeConfig(broker.url));

  const [delivered] = await subscriber.waitFor(() => true, 20_000);
  const payload = observationsPayload.parse(delivered?.payload);
  t.is(payload.observations[0]?.value, 76);
  t.true(payload.replayed);
});
