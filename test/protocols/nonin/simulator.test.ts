import test from "ava";
import { DevicePipeline, type IngestResult } from "../../../src/device/pipeline.js";
import { defaultSimulatorOptions, type SimulatorOptions } from "../../../src/protocols/family.js";
import { encodeSelectFormat } from "../../../src/protocols/nonin/codec.js";
import type { NoninProfile } from "../../../src/protocols/nonin/schema.js";
import {
  createNoninSimulator,
  type NoninScenario,
} from "../../../src/protocols/nonin/simulator.js";
import { codecFor } from "../../../src/protocols/registry.js";
import { noninProfile } from "./packets.js";

const host = { name: "IOMTGW", revision: "1.0.0" };
const sensorOff = { "0x40": { code: "sensor-disconnect", text: "Sensor disconnected" } };

interface Loop {
  pipeline: DevicePipeline;
  results: IngestResult[];
  stats: Readonly<Record<string, number>>;
  hostBytes: number;
}

/**
 * Runs a simulator and a pipeline against each other for `ticks` simulator ticks: the device's
 * bytes go to the pipeline, and the session's bytes go back to the device.
 */
function runLoop(
  profile: NoninProfile,
  ticks: number,
  options: Partial<SimulatorOptions> = {},
  scenario: NoninScenario = {},
): Loop {
  const simulator = createNoninSimulator(
    profile,
    { ...defaultSimulatorOptions, ...options },
    scenario,
  );
  const pipeline = new DevicePipeline(codecFor(profile), profile, host);
  const results: IngestResult[] = [];
  let hostBytes = 0;
  const toDevice = (outgoing: { bytes: Buffer }[], nowMs: number) => {
    for (const item of outgoing) {
      hostBytes += item.bytes.length;
      toHost(simulator.receive(item.bytes, nowMs), nowMs);
    }
  };
  const toHost = (chunks: Buffer[], nowMs: number) => {
    for (const chunk of chunks) {
      const result = pipeline.ingest(chunk, nowMs);
      results.push(result);
      toDevice(result.outgoing, nowMs);
    }
  };
  toDevice(pipeline.open(0), 0);
  toHost(simulator.start(0), 0);
  for (let tick = 1; tick <= ticks; tick++)
    toHost(simulator.tick(tick * simulator.tickMs), tick * simulator.tickMs);
  return { pipeline, results, stats: simulator.stats, hostBytes };
}

function valuesOf(loop: Loop, deviceCode: string): (number | null)[] {
  return loop.results.flatMap((result) =>
    result.batches.flatMap((batch) =>
      batch.measurements.filter((m) => m.deviceCode === deviceCode).map((m) => m.value),
    ),
  );
}

for (const format of [2, 7, 8] as const) {
  test(`simulator: format ${format} decodes with no errors`, (t) => {
    const loop = runLoop(noninProfile(format), 30);
    const packets = format === 8 ? 10 : 30;
    const { counters } = loop.pipeline;
    t.is(loop.stats.packetsSent, packets);
    t.is(counters.frames, packets, "the start half packet is no frame");
    t.is(counters.checksumErrors, 0);
    t.is(counters.decodeErrors, 0);
    t.true(counters.discardedBytes > 0, "the half packet sent at start is discarded");
    const rates = valuesOf(loop, "HR");
    t.is(rates.length, packets);
    t.true(
      rates.every((rate) => rate !== null && rate >= 50 && rate <= 120),
      rates.join(","),
    );
    t.true(valuesOf(loop, "SPO2").every((spo2) => spo2 !== null && spo2 >= 90 && spo2 <= 100));
    t.is(loop.hostBytes, 0, "a profile without selectFormat never writes");
  });
}

test("simulator: heart rates above 127 and 255 survive the loop", (t) => {
  const heartRates = [72, 127, 128, 255, 256, 300, 510];
  for (const format of [2, 7, 8] as const) {
    const loop = runLoop(noninProfile(format), format === 8 ? 21 : 7, {}, { heartRates });
    t.deepEqual(valuesOf(loop, "HR"), heartRates, `format ${format}`);
  }
});

test("simulator: sensor off sends missing values and a status flag", (t) => {
  const profile = noninProfile(2, { fields: { statusBits: sensorOff } });
  const loop = runLoop(profile, 6, {}, { sensorOffEvery: 3 });
  const missing = [false, false, true, false, false, true];
  t.deepEqual(
    valuesOf(loop, "HR").map((value) => value === null),
    missing,
  );
  t.deepEqual(
    valuesOf(loop, "SPO2").map((value) => value === null),
    missing,
  );
  const alarms = loop.results.flatMap((r) => r.alarms.map((a) => `${a.alarmCode} ${a.state}`));
  t.deepEqual(alarms, [
    "sensor-disconnect active",
    "sensor-disconnect cleared",
    "sensor-disconnect active",
  ]);
});

test("simulator: corrupt packets are checksum errors", (t) => {
  const loop = runLoop(noninProfile(7), 30, { corruptEvery: 5 });
  t.is(loop.stats.corruptPackets, 6);
  t.is(loop.pipeline.counters.checksumErrors, 6);
  t.is(loop.pipeline.counters.frames, 30);
  t.is(valuesOf(loop, "HR").length, 24);
});

test("simulator: corrupt format 8 records are discarded", (t) => {
  const loop = runLoop(noninProfile(8), 30, { corruptEvery: 2 });
  t.is(loop.stats.corruptPackets, 5);
  t.is(loop.pipeline.counters.frames, 5);
  // The last corrupt record is still searched through: 3 of its bytes stay buffered.
  t.is(loop.pipeline.counters.discardedBytes, 2 + 4 * 4 + 1, "the start half record and 5 records");
});

test("simulator: garbage before packets is discarded", (t) => {
  const loop = runLoop(noninProfile(2), 30, { garbageEvery: 3 });
  t.is(loop.stats.garbageBursts, 10);
  t.is(loop.pipeline.counters.frames, 30);
  t.is(loop.pipeline.counters.decodeErrors, 0);
  t.is(loop.pipeline.counters.discardedBytes, 63 + 10 * 3, "the start half packet and the noise");
});

test("session: select format switches the device", (t) => {
  const profile = noninProfile(7, { session: { selectFormat: { options: 1 } } });
  const loop = runLoop(profile, 9, {}, { powerOnFormat: 2 });
  t.is(loop.hostBytes, 8, "one select-format command");
  t.is(loop.stats.formatCommands, 1);
  t.is(loop.stats.formatRejections, 0);
  t.is(loop.pipeline.counters.frames, 9, "every packet after the ACK is format 7");
  t.is(loop.pipeline.counters.decodeErrors, 0);
  t.is(loop.pipeline.counters.discardedBytes, 63 + 1, "the format 2 half packet and the ACK");
});

test("session: sends the documented command bytes", (t) => {
  const profile = noninProfile(7, { session: { selectFormat: { options: 1 } } });
  const pipeline = new DevicePipeline(codecFor(profile), profile, host);
  const opening = pipeline.open(0);
  t.deepEqual(
    opening.map((item) => item.bytes.toString("hex")),
    ["027004020701" + "7e03"],
  );
  t.deepEqual(pipeline.tick(1000), []);
});

test("simulator: NAK for a bad command, ACK for a good one", (t) => {
  const simulator = createNoninSimulator(noninProfile(2), defaultSimulatorOptions);
  const bad = Buffer.from(encodeSelectFormat(7, 1));
  bad[6] = 0x00;
  t.deepEqual(simulator.receive(bad, 0), [Buffer.of(0x15)]);
  t.deepEqual(simulator.receive(encodeSelectFormat(13 as never, 0), 0), [Buffer.of(0x15)]);
  const split = encodeSelectFormat(8, 0);
  t.deepEqual(simulator.receive(Buffer.concat([Buffer.of(0x55), split.subarray(0, 3)]), 0), []);
  t.deepEqual(simulator.receive(split.subarray(3), 0), [Buffer.of(0x06)]);
  t.is(simulator.stats.formatRejections, 2);
  t.is(simulator.stats.hostBytesIgnored, 1);
});
