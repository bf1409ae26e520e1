/**
 * A device discards what the gateway acknowledged, so an acknowledgement must mean the record is
 * on disk. A device server on loopback sends one HL7 message while the broker is down. The
 * agent is killed the moment its MSA AA arrives, and a second run delivers the record.
 */
import test from "ava";
import { writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { observationsPayload } from "../../src/mqtt/payloads.js";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { cliCommand, startCli } from "../helpers/agent-process.js";
import { startMosquitto } from "../helpers/mosquitto.js";
import { freeLoopbackPort } from "../helpers/ports.js";
import { connectSubscriber } from "../helpers/subscriber.js";
import { tempDir } from "../helpers/tmp.js";

const message =
  "\x0bMSH|^~\\&|MON|ICU|||20261204120000||ORU^R01|PWR2|P|2.6\r" +
  "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||76|262688^MDC_DIM_PERCENT^MDC|||||F\r\x1c\r";

test("HL7 AA follows the stored record", async (t) => {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
  const client = pki.clients.gateway;
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

  const writeConfig = (brokerUrl: string) => {
    const file = join(dir, "config.yaml");
    writeFileSync(
      file,
      `site: lab
gateway: gw1
dataDir: ${join(dir, "data")}
broker: { url: "${brokerUrl}", caFile: "${pki.ca.cert}", certFile: "${client?.cert}", keyFile: "${client?.key}" }
reconnect: { initialDelayMs: 100, maxDelayMs: 500 }
devices:
  - { id: mon1, profile: hl7-pcd01-oru, link: { kind: tcp, host: 127.0.0.1, port: ${devicePort} } }
`,
    );
    return file;
  };

  // First run: no broker listens, so the record can only survive in the outbox.
  const nobody = `mqtts://localhost:${await freeLoopbackPort()}`;
  const agent = startCli(cliCommand("source"), ["run", "--config", writeConfig(nobody)], dir);
  t.teardown(() => agent.stop());
  const exit = await Promise.race([
    agent.exited.then(() => agent.child.signalCode),
    new Promise((resolve) => setTimeout(() => resolve("no AA within 20 s"), 20_000)),
  ]);
  t.is(exit, "SIGKILL", agent.output());
  deviceServer.close();

  const broker = await startMosquitto({ pki, dir: tempDir(t) });
  t.teardown(() => broker.stop());
  const subscriber = await connectSubscriber(broker.url, pki, "dashboard");
  t.teardown(() => subscriber.close());
  await subscriber.subscribe("iomt/v1/lab/gw1/devices/mon1/obs", 1);
  const second = startCli(cliCommand("source"), ["run", "--config", writeConfig(broker.url)], dir);
  t.teardown(() => second.stop());

  const [delivered] = await subscriber.waitFor(() => true, 20_000);
  const payload = observationsPayload.parse(delivered?.payload);
  t.is(payload.observations[0]?.value, 76);
  t.true(payload.replayed);
});
