import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../src/log.js";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import { defaultSimulatorOptions } from "../../src/protocols/family.js";
import { runTcpSimulator } from "../../src/simulate/runner.js";
import { cliCommand, startCli } from "../helpers/agent-process.js";
import { startMosquitto } from "../helpers/mosquitto.js";
import { connectSubscriber } from "../helpers/subscriber.js";
import { tempDir } from "../helpers/tmp.js";

test("a MEDIBUS device behind a TCP device server reaches the broker", async (t) => {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
  const broker = await startMosquitto({ pki, dir: tempDir(t) });
  t.teardown(() => broker.stop());
  const profile =
    loadProfiles(builtInProfileDirs()).profiles.get("draeger-medibus-evita4")?.profile;
  if (profile === undefined) return t.fail("profile missing");
  const server = await runTcpSimulator(
    profile,
    "127.0.0.1",
    0,
    defaultSimulatorOptions,
    createLogger({ level: "error", format: "text" }),
  );
  t.teardown(() => server.stop());
  const subscriber = await connectSubscriber(broker.url, pki, "dashboard");
  t.teardown(() => subscriber.close());
  await subscriber.subscribe("iomt/v1/#", 1);

  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `site: s1
gateway: g1
dataDir: ${join(dir, "data")}
broker: { url: "${broker.url}", caFile: "${pki.ca.cert}", certFile: "${pki.clients.gateway?.cert}", keyFile: "${pki.clients.gateway?.key}" }
devices:
  - { id: vent1, profile: draeger-medibus-evita4, link: { kind: tcp, host: 127.0.0.1, port: ${server.port} } }
`,
  );
  const agent = startCli(cliCommand("source"), ["run", "--config", file], dir);
  t.teardown(async () => {
    await agent.stop();
  });
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
