import test from "ava";
import { join } from "node:path";
import { DevicePipeline, maxUnmappedCodes, otherUnmappedCode } from "../../src/device/pipeline.js";
import { loadProfileFile } from "../../src/profiles/load.js";
import type { Profile } from "../../src/profiles/schema.js";
import { encodeResponse } from "../../src/protocols/medibus/codec.js";
import { codecFor } from "../../src/protocols/registry.js";
import { masimoPipeline } from "../helpers/masimo-pipeline.js";

const host = { name: "IOMTGW", revision: "1.0.0" };

function profile(name: string): Profile {
  const loaded = loadProfileFile(join(__dirname, "..", "..", "firmware-profiles", name));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.loaded.profile;
}

const line = (extra: string) =>
  `01/01/24 12:00:00 SN=0000012345 SPO2=097% BPM=072 PI=02.10% ${extra}EXC=000000\r\n`;

test("frame that fails to decode is not fresh data", (t) => {
  const pipeline = masimoPipeline();
  pipeline.open(0);
  const result = pipeline.ingest(Buffer.from("SN=0000012345 SPO2=050% BPM=072\r\n"), 1000);
  t.is(pipeline.counters.decodeErrors, 1);
  t.is(result.validFrames, 0);
  t.is(pipeline.lastFrameAtMs, undefined);
  t.deepEqual(result.batches, []);
});

test("valid frame refreshes the last frame time", (t) => {
  const pipeline = masimoPipeline();
  pipeline.open(0);
  const result = pipeline.ingest(Buffer.from(line("")), 1000);
  t.is(result.validFrames, 1);
  t.is(pipeline.lastFrameAtMs, 1000);
});

test("unmapped codes are bounded per device", (t) => {
  const pipeline = masimoPipeline();
  pipeline.open(0);
  for (let index = 0; index < 200; index++) {
    pipeline.ingest(Buffer.from(line(`NEWKEY${index}=1 `)), index);
  }
  t.is(pipeline.unmappedCodes.size, maxUnmappedCodes);
  t.true((pipeline.unmappedCodes.get(otherUnmappedCode) ?? 0) >= 200 - maxUnmappedCodes);
  t.is(pipeline.counters.unmappedValues, 200);
});

test("MEDIBUS response to no request publishes nothing", (t) => {
  const medibus = profile("draeger-medibus-evita4.yaml");
  const pipeline = new DevicePipeline(codecFor(medibus), medibus, host);
  const opening = pipeline.open(0);
  t.deepEqual(
    opening.map((item) => item.label),
    ["ICC"],
  );
  // Measured data while the session waits for the ICC response.
  const result = pipeline.ingest(encodeResponse(0x24, "EB 55 E1 55 "), 10);
  t.deepEqual(result.batches, []);
  t.is(pipeline.counters.unexpectedFrames, 1);
  t.is(result.validFrames, 1, "a valid frame still shows the link is alive");
});

test("MEDIBUS corrupt response gets no 0x15 reply", (t) => {
  const medibus = profile("draeger-medibus-evita4.yaml");
  const pipeline = new DevicePipeline(codecFor(medibus), medibus, host);
  pipeline.open(0);
  const corrupt = Buffer.from([0x01, 0x24, 0x45, 0x42, 0x20, 0x39, 0x38, 0x20, 0x30, 0x30, 0x0d]);
  const result = pipeline.ingest(corrupt, 10);
  t.is(pipeline.counters.checksumErrors, 1);
  t.deepEqual(result.outgoing, []);
});

test("MEDIBUS corrupt command gets a 0x15 reply", (t) => {
  const medibus = profile("draeger-medibus-evita4.yaml");
  const pipeline = new DevicePipeline(codecFor(medibus), medibus, host);
  pipeline.open(0);
  const result = pipeline.ingest(Buffer.from([0x1b, 0x30, 0x30, 0x30, 0x0d]), 10);
  t.deepEqual(
    result.outgoing.map((item) => item.bytes.toString("hex")),
    ["011531360d"],
  );
});

test("HL7 40000-byte frame is one oversize frame", (t) => {
  const hl7 = profile("hl7-pcd01-oru.yaml");
  const pipeline = new DevicePipeline(codecFor(hl7), hl7, host);
  pipeline.open(0);
  const frame = Buffer.concat([
    Buffer.of(0x0b),
    Buffer.alloc(40_000 - 3, 0x4d),
    Buffer.of(0x1c, 0x0d),
  ]);
  for (let offset = 0; offset < frame.length; offset += 1000) {
    pipeline.ingest(frame.subarray(offset, offset + 1000), 10);
  }
  t.is(pipeline.counters.oversizeFrames, 1);
  t.is(pipeline.counters.discardedBytes, 40_000);
});

test("ASTM oversize frame is counted once and NAKed", (t) => {
  const astm = profile("astm-e1381-blood-gas.yaml");
  const pipeline = new DevicePipeline(codecFor(astm), astm, host);
  pipeline.open(0);
  const enquiry = pipeline.ingest(Buffer.of(0x05), 10);
  t.deepEqual(
    enquiry.outgoing.map((item) => item.bytes.toString("hex")),
    ["06"],
  );
  const frame = Buffer.concat([
    Buffer.from("\x021H|", "latin1"),
    Buffer.alloc(1000, 0x5a),
    Buffer.from("\r\x0300\r\n", "latin1"),
  ]);
  const outgoing = [];
  for (const byte of frame) outgoing.push(...pipeline.ingest(Buffer.of(byte), 20).outgoing);
  t.is(pipeline.counters.oversizeFrames, 1);
  t.is(pipeline.counters.discardedBytes, frame.length);
  t.deepEqual(
    outgoing.map((item) => item.bytes.toString("hex")),
    ["15"],
  );
});

test("HL7 frame without MSH is a decode error with no reply", (t) => {
  const hl7 = profile("hl7-pcd01-oru.yaml");
  const pipeline = new DevicePipeline(codecFor(hl7), hl7, host);
  pipeline.open(0);
  const result = pipeline.ingest(Buffer.from("\x0bhello world\x1c\r", "latin1"), 10);
  t.is(pipeline.counters.frames, 1);
  t.is(pipeline.counters.decodeErrors, 1);
  t.deepEqual(result.outgoing, []);
  t.is(result.errors.length, 1, "the supervisor logs each error as a bad frame");
  t.regex(result.errors[0]?.message ?? "", /^DECODE_INVALID: HL7 message must start with an MSH/);
});

test("HL7 message with another field separator is taken", (t) => {
  const hl7 = profile("hl7-pcd01-oru.yaml");
  const pipeline = new DevicePipeline(codecFor(hl7), hl7, host);
  pipeline.open(0);
  const message = "MSH#^~\\&#MON#ICU#####ORU^R01#M1#P#2.6\rOBX#1#NM#150456^^MDC##97#%\r";
  const result = pipeline.ingest(Buffer.from(`\x0b${message}\x1c\r`, "latin1"), 10);
  t.is(pipeline.counters.decodeErrors, 0);
  t.deepEqual(
    result.batches.flatMap((batch) => batch.measurements.map((m) => m.value)),
    [97],
  );
  t.regex(result.outgoing[0]?.bytes.toString("latin1") ?? "", /MSA#AA#M1/);
});
