import test from "ava";
import { join } from "node:path";
import { DevicePipeline } from "../../../src/device/pipeline.js";
import type { Measurement } from "../../../src/device/measurements.js";
import type { WaveSegment } from "../../../src/device/waves.js";
import { loadProfileFile } from "../../../src/profiles/load.js";
import { encodeFrame } from "../../../src/protocols/datex/codec.js";
import { decodeDatexFrame } from "../../../src/protocols/datex/decoder.js";
import { DatexFramer } from "../../../src/protocols/datex/framer.js";
import {
  encodeDisplayedRequest,
  encodeWaveRequest,
  WaveCommand,
} from "../../../src/protocols/datex/requests.js";
import type { DatexProfile } from "../../../src/protocols/datex/schema.js";
import {
  DatexSimulator,
  type DatexSimulatorOptions,
} from "../../../src/protocols/datex/simulator.js";
import { defaultSimulatorOptions } from "../../../src/protocols/family.js";
import { codecFor } from "../../../src/protocols/registry.js";
import type { DeviceRecord } from "../../../src/protocols/types.js";
import { hex } from "../../helpers/framer.js";

const MAX_FRAME_BYTES = 3000;
const host = { name: "iomt-gateway", revision: "0.1.0" };

function loadProfile(): DatexProfile {
  const file = join(__dirname, "..", "..", "..", "firmware-profiles", "ge-datex-s5-monitor.yaml");
  const loaded = loadProfileFile(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  if (loaded.loaded.profile.family !== "datex-s5") throw new Error("unexpected family");
  return loaded.loaded.profile;
}

const profile = loadProfile();

function createSimulator(options: Partial<DatexSimulatorOptions> = {}): DatexSimulator {
  return new DatexSimulator(MAX_FRAME_BYTES, { ...defaultSimulatorOptions, ...options });
}

const displayedRequest = (intervalS: number, driLevel = 9) =>
  encodeFrame(encodeDisplayedRequest({ driLevel, intervalS, classBits: 0 }));
const waveRequest = (waveTypes: number[], command: number = WaveCommand.start) =>
  encodeFrame(encodeWaveRequest({ driLevel: 9, command, waveTypes }));

/** Ticks the simulator from `fromMs` to `toMs` and decodes what it sent, with the send times. */
function advance(simulator: DatexSimulator, fromMs: number, toMs: number) {
  const framer = new DatexFramer({ maxFrameBytes: MAX_FRAME_BYTES });
  const received: { atMs: number; records: DeviceRecord[] }[] = [];
  for (let now = fromMs; now <= toMs; now += simulator.tickMs) {
    for (const chunk of simulator.tick(now)) {
      for (const event of framer.push(chunk)) {
        if (event.kind !== "frame") continue;
        const result = decodeDatexFrame(event.bytes);
        if (!result.ok) throw new Error(result.error.message);
        received.push({ atMs: now, records: result.records });
      }
    }
  }
  return received;
}

const kinds = (entry: { records: DeviceRecord[] }) =>
  entry.records.filter((record) => record.kind !== "session").map((record) => record.kind);

test("simulator sends nothing unasked", (t) => {
  const simulator = createSimulator();
  t.deepEqual(simulator.start(0), []);
  t.deepEqual(advance(simulator, 10, 10_000), []);
});

test("simulator sends displayed values every interval", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  t.deepEqual(simulator.receive(displayedRequest(5), 100), []);
  const received = advance(simulator, 110, 15_200);
  t.deepEqual(
    received.map((entry) => entry.atMs),
    [110, 5100, 10_100, 15_100],
  );
  t.deepEqual(kinds(received[0] ?? { records: [] }), ["numerics"]);
});

test("simulator stops at interval 0", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  simulator.receive(displayedRequest(5), 0);
  advance(simulator, 0, 1000);
  simulator.receive(displayedRequest(0), 1000);
  t.deepEqual(advance(simulator, 1010, 20_000), []);
});

test("simulator ignores another interface level", (t) => {
  const simulator = createSimulator({ driLevel: 7 });
  simulator.start(0);
  simulator.receive(Buffer.concat([displayedRequest(5, 9), displayedRequest(5, 8)]), 0);
  t.deepEqual(advance(simulator, 10, 6000), []);
  t.is(simulator.stats.ignoredRequests, 2);
  simulator.receive(displayedRequest(5, 7), 6000);
  t.is(advance(simulator, 6010, 6100).length, 1);
});

test("simulator sends waves at their rates", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  simulator.receive(waveRequest([1, 4, 8]), 0);
  const received = advance(simulator, 0, 2000);
  const waves = received.flatMap((entry) => entry.records.filter((r) => r.kind === "wave"));
  const count = (code: string) =>
    waves.reduce((sum, wave) => sum + (wave.deviceCode === code ? wave.samples.length : 0), 0);
  t.is(received.length, 8, "one record every 250 ms");
  t.is(count("ecg1"), 600);
  t.is(count("invp1"), 200);
  t.is(count("pleth"), 200);
});

test("simulator takes the wave rate option", (t) => {
  const simulator = createSimulator({ waveRate: 250 });
  simulator.start(0);
  simulator.receive(waveRequest([1, 9]), 0);
  advance(simulator, 0, 2000);
  t.is(simulator.stats.samplesSent, 1000, "two waves at 250/s for 2 s");
});

test("simulator stops waves on request", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  simulator.receive(waveRequest([8]), 0);
  advance(simulator, 0, 500);
  simulator.receive(waveRequest([], WaveCommand.stop), 500);
  t.deepEqual(advance(simulator, 510, 3000), []);
});

test("simulator counts a request with a bad checksum", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  const frame = displayedRequest(5);
  frame[frame.length - 2] = (frame[frame.length - 2] ?? 0) ^ 0x01;
  simulator.receive(frame, 0);
  t.is(simulator.stats.badRequests, 1);
  t.deepEqual(advance(simulator, 10, 6000), []);
});

test("simulator stream needs no request", (t) => {
  const simulator = createSimulator({ stream: true });
  const first = simulator.start(0);
  t.true(first.length > 0);
  const received = advance(simulator, 10, 10_000);
  const numerics = received.filter((entry) => kinds(entry).includes("numerics"));
  t.is(numerics.length, 10, "numerics once a second");
  t.is(simulator.stats.samplesSent, 5000, "500 samples/s for 10 s");
});

test("same seed gives the same bytes", (t) => {
  const run = () => {
    const simulator = createSimulator({ seed: 42, stream: true });
    const output = simulator.start(0);
    for (let now = 10; now <= 3000; now += 10) output.push(...simulator.tick(now));
    return output.map(hex);
  };
  t.deepEqual(run(), run());
});

interface LoopLog {
  measurements: { atMs: number; values: Measurement[] }[];
  segments: WaveSegment[];
  checksumErrors: number;
  decodeErrors: number;
  discardedBytes: number;
}

/**
 * Runs the gateway's pipeline (framer, decoder, session, mapping) against the simulator on a
 * fake clock: the simulator ticks every 10 ms and the session every 500 ms. `replaceAtMs`
 * swaps in a fresh simulator, as when the monitor restarts and drops the requests.
 */
function runLoop(
  options: Partial<DatexSimulatorOptions>,
  durationMs: number,
  replaceAtMs?: number,
) {
  const codec = codecFor(profile);
  const create = () => createSimulator(options);
  let simulator = create();
  const pipeline = new DevicePipeline(codec, profile, host);
  const log: LoopLog = {
    measurements: [],
    segments: [],
    checksumErrors: 0,
    decodeErrors: 0,
    discardedBytes: 0,
  };
  const fromDevice = (chunks: Buffer[], now: number) => {
    for (const chunk of chunks) {
      const result = pipeline.ingest(chunk, now);
      for (const batch of result.batches) {
        log.measurements.push({ atMs: now, values: batch.measurements });
      }
      log.segments.push(...result.segments);
      toDevice(
        result.outgoing.map((message) => message.bytes),
        now,
      );
    }
  };
  const toDevice = (chunks: Buffer[], now: number) => {
    for (const chunk of chunks) fromDevice(simulator.receive(chunk, now), now);
  };
  fromDevice(simulator.start(0), 0);
  toDevice(
    pipeline.open(0).map((message) => message.bytes),
    0,
  );
  for (let now = simulator.tickMs; now <= durationMs; now += simulator.tickMs) {
    if (now === replaceAtMs) {
      simulator = create();
      fromDevice(simulator.start(now), now);
    }
    fromDevice(simulator.tick(now), now);
    if (now % pipeline.tickMs === 0) {
      toDevice(
        pipeline.tick(now).map((message) => message.bytes),
        now,
      );
    }
  }
  log.checksumErrors = pipeline.counters.checksumErrors;
  log.decodeErrors = pipeline.counters.decodeErrors;
  log.discardedBytes = pipeline.counters.discardedBytes;
  return { log, pipeline, simulator };
}

const valueAt = (log: LoopLog, atMs: number, deviceCode: string) =>
  log.measurements
    .find((entry) => entry.atMs >= atMs)
    ?.values.find((measurement) => measurement.deviceCode === deviceCode);
const samplesOf = (log: LoopLog, code: string) =>
  log.segments
    .filter((segment) => segment.deviceCode === code)
    .reduce((sum, segment) => sum + segment.samples.length, 0);

test("loop gets displayed values every interval", (t) => {
  const { log, pipeline } = runLoop({}, 30_000);
  t.true(pipeline.established);
  t.is(log.measurements.length, 7, "at 0, 5, 10, 15, 20, 25 and 30 s");
  const heartRate = valueAt(log, 0, "ecg.hr");
  t.is(heartRate?.unit, "/min");
  t.true(typeof heartRate?.value === "number" && heartRate.value >= 55, JSON.stringify(heartRate));
  t.deepEqual(valueAt(log, 0, "nibp.sys"), {
    deviceCode: "nibp.sys",
    mdcCode: 150021,
    mdcRefId: "MDC_PRESS_BLD_NONINV_SYS",
    unit: "mm[Hg]",
    value: 120,
  });
  t.is(log.checksumErrors + log.decodeErrors, 0);
});

test("loop publishes the monitor's markers as absent or invalid", (t) => {
  const { log } = runLoop({}, 30_000);
  t.is(valueAt(log, 10_000, "spo2.spo2")?.absentReason, "absent", "sensor off at 10 s");
  t.is(valueAt(log, 10_000, "spo2.spo2")?.value, null);
  t.is(typeof valueAt(log, 15_000, "spo2.spo2")?.value, "number", "sensor back at 15 s");
  t.is(valueAt(log, 0, "t2.temp")?.absentReason, "invalid", "T2 over range");
  t.is(valueAt(log, 0, "flow_vol.peep")?.absentReason, "absent", "no ventilation module");
});

test("loop batches waves into segments", (t) => {
  const { log } = runLoop({}, 10_000);
  // 10 s of signal at 300/s and 100/s, less the partial segment still pending.
  t.true(samplesOf(log, "ecg1") >= 2850, `${samplesOf(log, "ecg1")} ECG samples`);
  t.true(samplesOf(log, "invp1") >= 950, `${samplesOf(log, "invp1")} IBP samples`);
  t.true(samplesOf(log, "pleth") >= 950, `${samplesOf(log, "pleth")} pleth samples`);
  const ecg = log.segments.find((segment) => segment.deviceCode === "ecg1");
  t.is(ecg?.samples.length, 150, "500 ms of ECG per segment");
  t.is(ecg?.unit, "mV");
  t.is(ecg?.scale, 0.01);
});

test("loop finds the monitor's interface level", (t) => {
  const { log, simulator } = runLoop({ driLevel: 7 }, 10_000);
  t.is(simulator.stats.ignoredRequests, 4, "displayed and wave requests at levels 9 and 8");
  t.is(log.measurements.length, 3);
});

test("loop asks again after the monitor restarts", (t) => {
  const { log, pipeline } = runLoop({}, 40_000, 12_000);
  const times = log.measurements.map((entry) => entry.atMs);
  // Records from the first tick, then every 5 s. The restarted monitor is silent until asked
  // again 15 s after the last record, sends at its next tick, then every 5 s again.
  t.deepEqual(times, [10, 5000, 10_000, 25_010, 30_000, 35_000, 40_000]);
  t.true(pipeline.established);
  t.true(samplesOf(log, "ecg1") > 0);
});

test("loop survives injected faults", (t) => {
  // Every 5 s the monitor sends 20 wave records and one displayed-values record, so a period
  // that divides 21 would corrupt every displayed-values record.
  const { log, simulator } = runLoop({ corruptEvery: 5, garbageEvery: 4 }, 30_000);
  const stats = simulator.stats;
  t.true(stats.corruptFramesSent > 0);
  t.is(log.checksumErrors, stats.corruptFramesSent, "every corrupt frame was counted");
  t.is(log.discardedBytes, stats.garbageBursts * 3, "garbage dropped");
  t.is(log.decodeErrors, 0);
  t.true(log.measurements.length >= 5, `${log.measurements.length} displayed-values records`);
  t.true(samplesOf(log, "ecg1") > 5000);
});
