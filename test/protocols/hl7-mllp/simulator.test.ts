import test from "ava";
import { loadProfiles, builtInProfileDirs } from "../../../src/profiles/load.js";
import type { Profile } from "../../../src/profiles/schema.js";
import { defaultSimulatorOptions } from "../../../src/protocols/family.js";
import { encodeMllp, mllpContent } from "../../../src/protocols/hl7-mllp/codec.js";
import { parseHl7Message } from "../../../src/protocols/hl7-mllp/message.js";
import type { Hl7AckSession } from "../../../src/protocols/hl7-mllp/session.js";
import {
  Hl7MonitorSimulator,
  SIMULATED_PATIENT_ID,
  SIMULATED_PATIENT_NAME,
} from "../../../src/protocols/hl7-mllp/simulator.js";
import { runDeviceLoop } from "../../helpers/device-loop.js";

const profile = loadProfiles(builtInProfileDirs()).profiles.get("hl7-pcd01-oru")
  ?.profile as Profile;

function createSimulator(): Hl7MonitorSimulator {
  return new Hl7MonitorSimulator(32768, {
    ...defaultSimulatorOptions,
    messagePeriodMs: 1000,
    ackTimeoutMs: 5000,
  });
}

function firstMessage(simulator: Hl7MonitorSimulator): Buffer[] {
  simulator.start(0);
  for (let now = 50; now <= 1000; now += 50) {
    const output = simulator.tick(now);
    if (output.length > 0) return output;
  }
  return [];
}

const ackFor = (controlId: string, code = "AA") =>
  encodeMllp(`MSH|^~\\&|GW||MON||20240101||ACK^R01^ACK|A1|P|2.6\rMSA|${code}|${controlId}\r`);

test("simulator sends the start block in a write of its own", (t) => {
  const chunks = firstMessage(createSimulator());
  t.is(chunks.length, 2);
  t.deepEqual([...(chunks[0] ?? [])], [0x0b]);
  t.deepEqual([...(chunks[1]?.subarray(-2) ?? [])], [0x1c, 0x0d]);
  const parsed = parseHl7Message(mllpContent(Buffer.concat(chunks)).toString("latin1"));
  if (!parsed.ok) return t.fail(parsed.problem);
  t.is(parsed.message.header.messageType, "ORU^R01^ORU_R01");
  t.is(parsed.message.segments.filter((segment) => segment.id === "OBX").length, 7);
});

test("simulator sends the message again when no ACK comes", (t) => {
  const simulator = createSimulator();
  const first = Buffer.concat(firstMessage(simulator));
  for (let now = 300; now < 5200; now += 50) t.deepEqual(simulator.tick(now), [], `at ${now} ms`);
  t.deepEqual(Buffer.concat(simulator.tick(5250)), first);
  t.is(simulator.stats.resends, 1);
});

test("simulator waits for the ACK of its control id", (t) => {
  const simulator = createSimulator();
  firstMessage(simulator);
  simulator.receive(ackFor("OTHER"), 300);
  t.is(simulator.stats.acceptedAcks, 0);
  simulator.receive(ackFor("SIM000001"), 300);
  t.is(simulator.stats.acceptedAcks, 1);
  t.deepEqual(simulator.tick(1250), []);
  t.is(Buffer.concat(simulator.tick(1300)).length > 0, true);
});

test("loop acknowledges every message and publishes values with units", (t) => {
  const loop = runDeviceLoop<Hl7MonitorSimulator, Hl7AckSession>(
    profile,
    { messagePeriodMs: 1000 },
    10_000,
  );
  const stats = loop.simulator.stats;
  t.true(stats.messagesSent >= 8);
  t.is(stats.acceptedAcks, stats.messagesSent);
  t.is(stats.resends, 0);
  const measurements = loop.batches.flatMap((batch) => batch.measurements);
  const units = new Map(measurements.map((m) => [m.mdcCode, m.unit]));
  t.deepEqual(
    [...units],
    [
      [150456, "%"],
      [147842, "/min"],
      [150021, "mm[Hg]"],
      [150022, "mm[Hg]"],
      [150364, "Cel"],
      [151562, "/min"],
    ],
  );
  t.true(measurements.every((m) => m.value !== null));
  t.regex(loop.batches[0]?.deviceTime ?? "", /^\d{14}\+0000$/);
  t.deepEqual(Object.keys(Object.fromEntries(loop.pipeline.unmappedCodes)), ["8867-4^LN"]);
  const published = JSON.stringify(loop.batches);
  t.false(published.includes(SIMULATED_PATIENT_ID));
  t.false(published.includes(SIMULATED_PATIENT_NAME.split("^")[0] ?? "?"));
});

test("loop rejects unsupported messages with AR and skips stray bytes", (t) => {
  const loop = runDeviceLoop<Hl7MonitorSimulator, Hl7AckSession>(
    profile,
    { messagePeriodMs: 500, corruptEvery: 3, garbageEvery: 2 },
    10_000,
  );
  const stats = loop.simulator.stats;
  t.true(stats.unsupportedSent >= 3);
  t.is(stats.rejectAcks, stats.unsupportedSent);
  t.is(stats.acceptedAcks, stats.messagesSent - stats.unsupportedSent);
  t.is(loop.session.stats.rejected, stats.unsupportedSent);
  t.is(loop.pipeline.counters.decodeErrors, stats.unsupportedSent);
  t.is(loop.pipeline.counters.discardedBytes, stats.garbageBursts * 3);
});

test("loop resends after a lost ACK and the gateway acknowledges again", (t) => {
  let lost = 0;
  const loop = runDeviceLoop<Hl7MonitorSimulator, Hl7AckSession>(
    profile,
    { messagePeriodMs: 1000 },
    12_000,
    {
      deliverToDevice: (message) => (lost++ === 0 ? null : message.bytes),
    },
  );
  t.is(loop.simulator.stats.resends, 1);
  t.is(loop.session.stats.duplicates, 1);
  t.is(loop.session.stats.accepted, loop.simulator.stats.messagesSent);
  t.is(loop.pipeline.counters.unexpectedFrames, 1);
  const measurements = loop.batches.flatMap((batch) => batch.measurements);
  t.is(measurements.length, loop.simulator.stats.messagesSent * 6);
});
