/**
 * A simulated Nonin Onyx II 9560 (format 7) on a socat virtual serial cable, read by the agent
 * and published to a mosquitto with mutual TLS, as the subscriber with its own client
 * certificate sees it.
 */
import test from "ava";
import type { DeviceInfoPayload, HealthPayload } from "../../src/mqtt/payloads.js";
import { defaultSimulatorOptions } from "../../src/protocols/family.js";
import { tempDir } from "../helpers/tmp.js";
import { segmentsOf } from "../helpers/wave-messages.js";
import type { ObservationsPayload } from "./scenario.js";
import {
  builtInProfile,
  createTestPki,
  startAgentFromConfig,
  startBrokerAndSubscriber,
  startPtyPair,
  startSerialSimulator,
  writeAgentConfig,
  serialDevice,
} from "./single-device.js";

const prefix = "iomt/v1/ward2/gw-nonin/devices/bed7-spo2";

test("Nonin oximeter on a serial port reaches the broker", async (t) => {
  const dir = tempDir(t);
  const pki = await createTestPki(dir);
  const { broker, subscriber } = await startBrokerAndSubscriber(t, pki);

  const pty = await startPtyPair(t, dir, "nonin");
  const simulator = await startSerialSimulator(
    t,
    builtInProfile("nonin-onyx2-9560-df7"),
    pty.devicePath,
    { ...defaultSimulatorOptions, corruptEvery: 4 },
  );

  const file = writeAgentConfig(dir, {
    site: "ward2",
    gateway: "gw-nonin",
    brokerUrl: broker.url,
    pki,
    settings: { health: { intervalMs: 1000 } },
    devices: [serialDevice("bed7-spo2", "nonin-onyx2-9560-df7", pty.hostPath)],
  });
  startAgentFromConfig(t, dir, file);

  const messages = await subscriber.waitFor((m) => m.topic === `${prefix}/obs`, 20_000, 3);
  for (const message of messages) {
    const payload = message.payload as ObservationsPayload;
    t.is(payload.profile, "nonin-onyx2-9560-df7@1.0.0");
    const [rate, spo2] = payload.observations;
    t.is(rate?.mdcRefId, "MDC_PULS_OXIM_PULS_RATE");
    t.is(rate?.unit, "/min");
    t.true(typeof rate?.value === "number" && rate.value >= 50 && rate.value <= 120);
    t.is(spo2?.mdcRefId, "MDC_PULS_OXIM_SAT_O2");
    t.true(typeof spo2?.value === "number" && spo2.value >= 90 && spo2.value <= 100);
  }

  // Every fourth packet is corrupt: counted in health, and the device stays connected.
  const [health] = await subscriber.waitFor(
    (m) =>
      m.topic === "iomt/v1/ward2/gw-nonin/health" &&
      ((m.payload as HealthPayload).devices[0]?.counters.checksumErrors ?? 0) > 0,
    20_000,
  );
  const device = (health?.payload as HealthPayload).devices[0];
  t.is(device?.state, "connected");
  t.true((device?.counters.frames ?? 0) > (device?.counters.checksumErrors ?? 0));
  // The pleth samples of whole packets, batched into segments of about 500 ms.
  const [wave] = await subscriber.waitFor((m) => m.topic === `${prefix}/wave`, 10_000);
  const [segment, ...others] = segmentsOf(wave === undefined ? [] : [wave]);
  t.is(others.length, 0, "one wave, one segment");
  if (segment === undefined) return;
  t.is(segment.mdcRefId, "MDC_PULS_OXIM_PLETH");
  t.is(segment.deviceCode, "PLETH");
  t.is(segment.samplePeriodMs, 13.333);
  t.true(
    segment.samples.length >= 25 && segment.samples.length % 25 === 0,
    `${segment.samples.length}`,
  );
  t.true(segment.samples.every((sample) => sample !== null && sample >= 0 && sample <= 65_535));
  const [info] = await subscriber.waitFor((m) => m.topic === `${prefix}/info`, 10_000);
  t.is((info?.payload as DeviceInfoPayload).firmware, "42");
  t.true((simulator.stats().formatCommands ?? 0) >= 1, "the session selected format 7");
  t.is(simulator.stats().formatRejections, 0);
});
