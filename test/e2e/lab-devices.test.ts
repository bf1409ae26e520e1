/**
 * Hardware in the loop for the analyzer and HL7 families: a blood gas analyzer simulator speaks
 * ASTM E1381 on a socat virtual serial port, and a monitor simulator sends HL7 over MLLP as a
 * serial device server on loopback TCP. Both inject faults (bad checksums, stray bytes,
 * unsupported messages). The agent publishes to a mosquitto with mutual TLS, and a subscriber
 * with its own client certificate checks values, units and that no patient data arrives.
 */
import test from "ava";
import { observationsPayload } from "../../src/mqtt/payloads.js";
import {
  SIMULATED_PATIENT_ID,
  SIMULATED_PATIENT_NAME,
} from "../../src/protocols/astm/simulator.js";
import { defaultSimulatorOptions } from "../../src/protocols/family.js";
import type { ReceivedMessage } from "../helpers/subscriber.js";
import { tempDir } from "../helpers/tmp.js";
import {
  builtInProfile,
  createTestPki,
  startAgentFromConfig,
  startBrokerAndSubscriber,
  startPtyPair,
  startSerialSimulator,
  startTcpSimulator,
  writeAgentConfig,
  serialDevice,
  tcpDevice,
} from "./single-device.js";

const prefix = "iomt/v1/lab/gw1/devices";

function observationsOf(message: ReceivedMessage | undefined) {
  return observationsPayload.parse(message?.payload).observations;
}

test("analyzer and HL7 monitor reach the broker", async (t) => {
  const dir = tempDir(t);
  const pki = await createTestPki(dir);
  const { broker, subscriber } = await startBrokerAndSubscriber(t, pki);

  const astm = builtInProfile("astm-e1381-blood-gas");
  const pty = await startPtyPair(t, dir, "bga");
  const monitor = await startTcpSimulator(t, builtInProfile("hl7-pcd01-oru"), {
    ...defaultSimulatorOptions,
    corruptEvery: 3,
    garbageEvery: 2,
  });

  const file = writeAgentConfig(dir, {
    site: "lab",
    gateway: "gw1",
    brokerUrl: broker.url,
    pki,
    settings: {
      health: { intervalMs: 1000 },
      reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
    },
    devices: [
      serialDevice("bga1", "astm-e1381-blood-gas", pty.hostPath),
      tcpDevice("mon1", "hl7-pcd01-oru", monitor.port),
    ],
  });
  startAgentFromConfig(t, dir, file);

  const monitorObservations = await subscriber.waitFor(
    (m) => m.topic === `${prefix}/mon1/obs`,
    20_000,
    3,
  );
  const vitals = monitorObservations.flatMap((message) => observationsOf(message));
  const spo2 = vitals.filter((o) => o.mdcCode === 150456);
  t.true(spo2.length >= 3);
  t.true(spo2.every((o) => o.unit === "%" && o.value !== null && o.value >= 90 && o.value <= 100));
  t.true(vitals.some((o) => o.mdcCode === 150021 && o.unit === "mm[Hg]"));

  // Started once the agent runs: an ENQ sent before the port is open gets no reply, and the
  // analyzer would wait out its 15 s sender timer before trying again.
  const analyzer = await startSerialSimulator(t, astm, pty.devicePath, {
    ...defaultSimulatorOptions,
    serialNumber: "BGA-0042",
    corruptEvery: 4,
    garbageEvery: 5,
  });
  const analyzerObservations = await subscriber.waitFor(
    (m) => m.topic === `${prefix}/bga1/obs`,
    30_000,
    3,
  );
  const results = analyzerObservations.flatMap((message) => observationsOf(message));
  const pco2 = results.filter((o) => o.mdcCode === 159752);
  t.true(pco2.length >= 3);
  t.true(
    pco2.every((o) => o.unit === "mm[Hg]" && o.value !== null && o.value >= 32 && o.value <= 48),
  );
  t.true(results.some((o) => o.mdcCode === 159748 && o.unit === "[pH]"));
  t.true(results.some((o) => o.mdcCode === 150364 && o.unit === "Cel"));

  // The gateway sent NAK for the analyzer's corrupt frames, which the analyzer sent again,
  // and AR for the monitor's unsupported messages. A result is published as its last frame
  // arrives, before the analyzer reads the ACK that completes its transfer, so wait for that.
  for (let waited = 0; (analyzer.stats().completedTransfers ?? 0) < 3 && waited < 10_000;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    waited += 50;
  }
  const analyzerStats = analyzer.stats();
  t.true((analyzerStats.naksReceived ?? 0) > 0, "the gateway sent NAK for a bad frame");
  t.true((analyzerStats.completedTransfers ?? 0) >= 3);
  const monitorStats = monitor.stats();
  t.true((monitorStats.acceptedAcks ?? 0) >= 3, "the gateway sent MSA AA");
  t.true((monitorStats.rejectAcks ?? 0) >= 1, "the gateway sent MSA AR");

  const [state] = await subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/bga1/state` &&
      ((m.payload as { counters?: { checksumErrors?: number } }).counters?.checksumErrors ?? 0) > 0,
    20_000,
  );
  t.is((state?.payload as { state: string }).state, "connected");

  const everything = subscriber.messages.map((message) => message.text).join("\n");
  t.false(everything.includes(SIMULATED_PATIENT_ID), "no patient id on any topic");
  t.false(everything.includes(SIMULATED_PATIENT_NAME.split("^")[0] ?? "?"), "no patient name");
});
