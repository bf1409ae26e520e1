import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { parse } from "yaml";
import { DevicePipeline, type IngestResult } from "../../../src/device/pipeline.js";
import { defaultSimulatorOptions, type SimulatorOptions } from "../../../src/protocols/family.js";
import { createAsciiLineDecoder } from "../../../src/protocols/ascii-line/decoder.js";
import { createAsciiLineFramer } from "../../../src/protocols/ascii-line/framer.js";
import { asciiLineFamily } from "../../../src/protocols/ascii-line/index.js";
import {
  asciiLineProfileSchema,
  type AsciiLineProfile,
} from "../../../src/protocols/ascii-line/schema.js";
import {
  createRadical7Simulator,
  type Radical7Scenario,
} from "../../../src/protocols/ascii-line/simulator.js";
import { codecFor } from "../../../src/protocols/registry.js";
import type { DeviceRecord, RawValue } from "../../../src/protocols/types.js";

const profileFile = join(__dirname, "../../../firmware-profiles/masimo-radical7-ascii1.yaml");
const masimo: AsciiLineProfile = asciiLineProfileSchema.parse(
  parse(readFileSync(profileFile, "utf8")),
);

/** 2024-01-01 12:00:00 UTC. */
const startMs = Date.UTC(2024, 0, 1, 12, 0, 0);

/** Returns the simulator's bytes: the line tail sent at start, then one tick per line. */
function run(
  lineCount: number,
  options: Partial<SimulatorOptions> = {},
  scenario?: Radical7Scenario,
): { chunks: Buffer[]; stats: Readonly<Record<string, number>> } {
  const simulator = createRadical7Simulator(
    masimo,
    { ...defaultSimulatorOptions, ...options },
    scenario,
  );
  const chunks = [...simulator.start(startMs)];
  for (let i = 0; i < lineCount; i++) {
    chunks.push(...simulator.tick(startMs + (i + 1) * simulator.tickMs));
  }
  return { chunks, stats: simulator.stats };
}

interface Decoded {
  records: DeviceRecord[][];
  decodeErrors: string[];
  garbageBytes: number;
}

/** Feeds the bytes through the profile's own framer (first line skipped) and decoder. */
function decodeAll(chunks: readonly Buffer[]): Decoded {
  const framer = createAsciiLineFramer(masimo);
  const decode = createAsciiLineDecoder(masimo);
  const decoded: Decoded = { records: [], decodeErrors: [], garbageBytes: 0 };
  for (const event of chunks.flatMap((chunk) => framer.push(chunk))) {
    if (event.kind === "discard") {
      decoded.garbageBytes += event.byteCount;
      continue;
    }
    const result = decode(event.bytes);
    if (result.ok) decoded.records.push(result.records);
    else decoded.decodeErrors.push(result.error.message);
  }
  return decoded;
}

function valuesOf(records: DeviceRecord[]): RawValue[] {
  return records.flatMap((record) => (record.kind === "numerics" ? record.values : []));
}

function textOf(records: DeviceRecord[], deviceCode: string): string | undefined {
  return valuesOf(records).find((value) => value.deviceCode === deviceCode)?.text;
}

function alarmCodesOf(records: DeviceRecord[]): string[] {
  return records.flatMap((record) =>
    record.kind === "alarms" ? record.alarms.map((alarm) => alarm.deviceCode) : [],
  );
}

test("simulator: output decodes with no errors", (t) => {
  const { chunks, stats } = run(120);
  const decoded = decodeAll(chunks);
  t.deepEqual(decoded.decodeErrors, []);
  t.is(decoded.records.length, 120);
  t.is(stats.linesSent, 120);
  t.true(decoded.garbageBytes > 0, "the line tail sent at start is discarded");
});

test("simulator: lines use the device's formatting", (t) => {
  const { chunks } = run(30);
  const lines = chunks.slice(1).map((chunk) => chunk.toString("latin1"));
  const layout = new RegExp(
    String.raw`^\d\d/\d\d/\d\d \d\d:\d\d:\d\d SN=SIM0000001 SPO2=\d{3}% BPM=\d{3} ` +
      String.raw`PI=\d\d\.\d\d% SPCO=\d\d\.\d% SPMET=\d\d\.\d% DESAT=-- PIDELTA=\+-- ` +
      String.raw`PVI=\d{3} ALARM=0000 EXC=000000\r\n$`,
  );
  for (const line of lines) t.regex(line, layout);
  t.true(lines[0]?.startsWith("01/01/24 12:00:01 "), lines[0]);
});

test("simulator: values drift near their centres", (t) => {
  const decoded = decodeAll(run(600).chunks);
  const numbers = (code: string) => decoded.records.map((list) => Number(textOf(list, code)));
  const spo2 = numbers("SPO2");
  const bpm = numbers("BPM");
  const pi = numbers("PI");
  t.true(
    spo2.every((value) => value >= 90 && value <= 100),
    "SpO2 within 90..100",
  );
  t.true(
    bpm.every((value) => value >= 50 && value <= 120),
    "pulse rate within 50..120",
  );
  t.true(
    pi.every((value) => value >= 0.3 && value <= 10),
    "PI within 0.3..10",
  );
  t.true(new Set(bpm).size > 3, "pulse rate changes over time");
  const meanSpo2 = spo2.reduce((sum, value) => sum + value, 0) / spo2.length;
  t.true(Math.abs(meanSpo2 - 97) < 1.5, `mean SpO2 ${meanSpo2}`);
});

test("simulator: same seed gives the same bytes", (t) => {
  const first = Buffer.concat(run(20, { seed: 42 }).chunks);
  const second = Buffer.concat(run(20, { seed: 42 }).chunks);
  const other = Buffer.concat(run(20, { seed: 43 }).chunks);
  t.true(first.equals(second));
  t.false(first.equals(other));
});

test("simulator: sensor off gives dashes and an alarm", (t) => {
  const { chunks, stats } = run(12, {}, { sensorOffEvery: 4 });
  const decoded = decodeAll(chunks);
  t.deepEqual(decoded.decodeErrors, []);
  t.is(stats.sensorOffLines, 3);
  for (const [index, list] of decoded.records.entries()) {
    const sensorOff = (index + 1) % 4 === 0;
    t.is(textOf(list, "SPO2") === "---", sensorOff, `line ${index + 1} SPO2`);
    t.is(textOf(list, "PI") === "--.--", sensorOff, `line ${index + 1} PI`);
    t.is(textOf(list, "PVI") === "---", sensorOff, `line ${index + 1} PVI`);
    t.deepEqual(alarmCodesOf(list), sensorOff ? ["sensor-off"] : [], `line ${index + 1} alarms`);
  }
});

test("simulator: sensor off reaches pipeline as absent", (t) => {
  const pipeline = new DevicePipeline(codecFor(masimo), masimo, { name: "t", revision: "1" });
  pipeline.open(startMs);
  const results: IngestResult[] = run(3, {}, { sensorOffEvery: 2 }).chunks.map((chunk) =>
    pipeline.ingest(chunk, startMs),
  );
  const measurements = results.flatMap((result) =>
    result.batches.flatMap((batch) => batch.measurements),
  );
  const spo2 = measurements.filter((measurement) => measurement.deviceCode === "SPO2");
  t.deepEqual(
    spo2.map((measurement) => measurement.absentReason),
    [undefined, "absent", undefined],
  );
  const alarms = results.flatMap((result) => result.alarms);
  t.deepEqual(
    alarms.map(({ alarmCode, state }) => `${alarmCode} ${state}`),
    ["sensor-off active", "sensor-off cleared"],
  );
});

test("simulator: garbage bursts cost no lines", (t) => {
  const { chunks, stats } = run(30, { garbageEvery: 5 });
  const decoded = decodeAll(chunks);
  t.is(stats.garbageBursts, 6);
  t.is(decoded.decodeErrors.length, 6);
  for (const message of decoded.decodeErrors) t.regex(message, /must be printable ASCII/);
  t.is(decoded.records.length, 30);
});

test("simulator: corrupt lines fail decoding", (t) => {
  const { chunks, stats } = run(30, { corruptEvery: 3 });
  const decoded = decodeAll(chunks);
  t.is(stats.corruptLines, 10);
  t.is(decoded.decodeErrors.length, 10);
  for (const message of decoded.decodeErrors) t.regex(message, /byte 0xff/);
  t.is(decoded.records.length, 20);
});

test("simulator: host bytes are counted and ignored", (t) => {
  const simulator = asciiLineFamily.createSimulator(masimo, defaultSimulatorOptions);
  t.deepEqual(simulator.receive(Buffer.from("\x1bQ6C\r"), startMs), []);
  t.deepEqual(simulator.receive(Buffer.from("hello"), startMs), []);
  t.is(simulator.stats.hostBytesIgnored, 10);
  t.is(simulator.tickMs, 1000);
});

test("family: session is listen-only", (t) => {
  const session = asciiLineFamily.createSession(masimo, { name: "gw", revision: "1" });
  t.true(session.established);
  t.deepEqual(session.onOpen(0), []);
  t.deepEqual(session.onTick(1000), []);
  t.deepEqual(session.onCorruptFrame(1000, Buffer.from("SPO2=0\r\n")), []);
});
