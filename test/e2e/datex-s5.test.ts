/**
 * A simulated GE/Datex-Ohmeda S/5 monitor, run by `iomt-gateway simulate`, on one end of a socat
 * pty pair, and the agent on the other end, publishing to mosquitto with mutual TLS. The
 * subscriber checks values, units, invalid markers and wave segments.
 */
import test from "ava";
import { setTimeout as delay } from "node:timers/promises";
import { SerialPort } from "serialport";
import {
  deviceStatePayload,
  observationsPayload,
  type ObservationsPayload,
} from "../../src/mqtt/payloads.js";
import { DatexFramer } from "../../src/protocols/datex/framer.js";
import { decodeDatexFrame } from "../../src/protocols/datex/decoder.js";
import { cliCommand, startCli, type AgentProcess } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";
import { segmentsOf } from "../helpers/wave-messages.js";
import type { ExecutionContext } from "ava";
import {
  createTestPki,
  startAgentFromConfig,
  startBrokerAndSubscriber,
  startPtyPair,
  writeAgentConfig,
  serialDevice,
} from "./single-device.js";

const prefix = "iomt/v1/icu3/gw-s5";
const device = `${prefix}/devices/bed7-monitor`;

/** Starts `iomt-gateway simulate` on `port` and waits until it has opened the port. */
async function startSimulator(
  t: ExecutionContext,
  port: string,
  extra: string[] = [],
): Promise<AgentProcess> {
  const args = ["simulate", "--profile", "ge-datex-s5-monitor", "--port", port, ...extra];
  const simulator = startCli(cliCommand("source"), args, process.cwd());
  t.teardown(async () => {
    await simulator.stop();
    if (!t.passed) t.log(simulator.output().slice(-2000));
  });
  for (let waited = 0; !simulator.output().includes("simulating device"); waited += 50) {
    if (waited > 20_000 || simulator.child.exitCode !== null) {
      throw new Error(`simulate did not start:\n${simulator.output()}`);
    }
    await delay(50);
  }
  return simulator;
}

test("S/5 monitor on a pty reaches the broker", async (t) => {
  const dir = tempDir(t);
  const pki = await createTestPki(dir);
  const { broker, subscriber } = await startBrokerAndSubscriber(t, pki, `${prefix}/#`);

  const pty = await startPtyPair(t, dir, "s5");
  await startSimulator(t, pty.devicePath);

  const configFile = writeAgentConfig(dir, {
    site: "icu3",
    gateway: "gw-s5",
    brokerUrl: broker.url,
    pki,
    devices: [serialDevice("bed7-monitor", "ge-datex-s5-monitor", pty.hostPath)],
  });
  startAgentFromConfig(t, dir, configFile);

  // The first record comes at once after the request, the next one 5 s later.
  const messages = await subscriber.waitFor((m) => m.topic === `${device}/obs`, 30_000, 2);
  for (const message of messages) {
    const parsed = observationsPayload.strict().safeParse(message.payload);
    t.true(parsed.success, parsed.error?.message);
  }
  const obs = messages[0]?.payload as ObservationsPayload;
  t.is(obs.profile, "ge-datex-s5-monitor@1.0.0");
  t.regex(obs.deviceTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  const byCode = new Map(obs.observations.map((o) => [o.deviceCode, o]));
  const heartRate = byCode.get("ecg.hr");
  t.is(heartRate?.mdcCode, 147842);
  t.is(heartRate?.unit, "/min");
  t.true(typeof heartRate?.value === "number" && heartRate.value >= 55 && heartRate.value <= 110);
  t.like(byCode.get("nibp.sys"), { mdcCode: 150021, value: 120, unit: "mm[Hg]" });
  t.like(byCode.get("t2.temp"), { value: null, absentReason: "invalid", unit: "Cel" });
  t.like(byCode.get("flow_vol.peep"), { value: null, absentReason: "absent" });
  const etco2 = byCode.get("co2.et_press");
  t.is(etco2?.unit, "mm[Hg]");
  t.true(typeof etco2?.value === "number" && etco2.value > 30 && etco2.value < 45);
  const seqs = messages.map((m) => (m.payload as ObservationsPayload).seq);
  t.true((seqs[1] ?? 0) > (seqs[0] ?? 0));

  const waves = await subscriber.waitFor((m) => m.topic === `${device}/wave`, 20_000, 3);
  const segments = segmentsOf(waves);
  const ecg = segments.find((segment) => segment.deviceCode === "ecg1");
  t.like(ecg, { mdcCode: 131072, unit: "mV", scale: 0.01 });
  // A segment closes at the first record that brings it to 500 ms of signal. Records carry
  // about 250 ms each, or a little more when a timer of the simulator fired late.
  const ecgSamples = ecg?.samples.length ?? 0;
  t.true(ecgSamples >= 150 && ecgSamples < 225, `${ecgSamples} ECG samples`);
  t.true(Math.abs((ecg?.samplePeriodMs ?? 0) - 1000 / 300) < 1e-9);
  t.true(ecg?.samples.some((sample) => typeof sample === "number" && sample > 50) === true);
  const pressure = segments.find((segment) => segment.deviceCode === "invp1");
  t.like(pressure, { mdcCode: 150016, unit: "mm[Hg]", samplePeriodMs: 10 });
  const pressureSamples = pressure?.samples.length ?? 0;
  t.true(pressureSamples >= 50 && pressureSamples < 75, `${pressureSamples} pressure samples`);
  t.true(segments.some((segment) => segment.deviceCode === "pleth"));

  const [state] = await subscriber.waitFor(
    (m) =>
      m.topic === `${device}/state` && deviceStatePayload.parse(m.payload).state === "connected",
    10_000,
  );
  t.regex(deviceStatePayload.parse(state?.payload).link, /s5-host 19200 8E1$/);
});

test("simulate --stream sends without a request", async (t) => {
  const dir = tempDir(t);
  const pty = await startPtyPair(t, dir, "s5");
  const host = new SerialPort({ path: pty.hostPath, baudRate: 19200, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    host.open((error) => (error ? reject(error) : resolve())),
  );
  host.on("error", () => undefined);
  t.teardown(() => new Promise<void>((resolve) => host.close(() => resolve())));
  const framer = new DatexFramer({ maxFrameBytes: 3000 });
  const kinds: string[] = [];
  let samples = 0;
  host.on("data", (chunk: Buffer) => {
    for (const event of framer.push(chunk)) {
      if (event.kind !== "frame") continue;
      const result = decodeDatexFrame(event.bytes);
      if (!result.ok) {
        kinds.push(result.error.code);
        continue;
      }
      for (const record of result.records) {
        if (record.kind === "wave") samples += record.samples.length;
        if (record.kind !== "session") kinds.push(record.kind);
      }
    }
  });
  await startSimulator(t, pty.devicePath, ["--stream"]);
  for (let waited = 0; kinds.filter((kind) => kind === "numerics").length < 2; waited += 100) {
    if (waited > 10_000) return t.fail(`records received: ${kinds.join(", ")}`);
    await delay(100);
  }
  t.false(kinds.includes("FRAME_CHECKSUM") || kinds.includes("DECODE_INVALID"));
  t.true(kinds.includes("wave"));
  t.true(samples > 0);
});
