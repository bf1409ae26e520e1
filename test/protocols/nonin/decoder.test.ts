import test from "ava";
import { createNoninDecoder } from "../../../src/protocols/nonin/decoder.js";
import type { DecodeResult, DeviceRecord } from "../../../src/protocols/types.js";
import { noninProfile, packet, packetFrames, record } from "./packets.js";

const alarmFields = {
  statusBits: {
    "0x40": { code: "sensor-disconnect", text: "Sensor disconnected" },
    "0x20": { code: "artifact", text: "Artifact", priority: 2 },
  },
};
const decode2 = createNoninDecoder(noninProfile(2, { fields: alarmFields }));
const decode7 = createNoninDecoder(
  noninProfile(7, { fields: { status2Bits: { "0x01": { code: "low-battery", text: "Low" } } } }),
);
const decode8 = createNoninDecoder(
  noninProfile(8, {
    fields: { ...alarmFields, status2Bits: { "0x01": { code: "low-battery", text: "Low" } } },
  }),
);

function records(result: DecodeResult): DeviceRecord[] {
  if (!result.ok) throw new Error(result.error.message);
  return result.records;
}

function texts(result: DecodeResult): Record<string, string> {
  const values = records(result).flatMap((r) => (r.kind === "numerics" ? r.values : []));
  return Object.fromEntries(
    values.map((value) => [value.deviceCode, value.absentReason ?? value.text]),
  );
}

function alarmCodes(result: DecodeResult): string[] | undefined {
  const alarms = records(result).find((r) => r.kind === "alarms");
  return alarms?.kind === "alarms" ? alarms.alarms.map((alarm) => alarm.deviceCode) : undefined;
}

const heartRates: [number, string][] = [
  [0, "0"],
  [72, "72"],
  [127, "127"],
  [128, "128"],
  [200, "200"],
  [255, "255"],
  [256, "256"],
  [300, "300"],
  [510, "510"],
  [511, "absent"],
];

for (const [rate, text] of heartRates) {
  test(`decoder: heart rate ${rate} in formats 2, 7 and 8`, (t) => {
    t.is(texts(decode2(packet(2, { heartRate: rate })))["HR"], text, "format 2");
    t.is(texts(decode7(packet(7, { heartRate: rate })))["HR"], text, "format 7");
    t.is(texts(decode8(record(rate, 97)))["HR"], text, "format 8");
  });
}

test("decoder: every value of a format 2 packet", (t) => {
  t.deepEqual(texts(decode2(packet(2, { heartRate: 300, spo2: 95 }))), {
    HR: "300",
    SPO2: "95",
    "SPO2-D": "95",
    "SPO2-FAST": "95",
    "SPO2-BB": "95",
    "E-HR": "300",
    "E-SPO2": "95",
    "E-SPO2-D": "95",
    "HR-D": "300",
    "E-HR-D": "300",
  });
});

test("decoder: SpO2 127 is missing, 100 and 0 are values", (t) => {
  t.is(texts(decode2(packet(2, { spo2: 127 })))["SPO2"], "absent");
  t.is(texts(decode8(record(72, 127)))["SPO2"], "absent");
  t.is(texts(decode2(packet(2, { spo2: 100 })))["SPO2"], "100");
  t.is(texts(decode8(record(72, 0)))["SPO2"], "0");
});

test("decoder: profile sets the missing-value markers", (t) => {
  const decode = createNoninDecoder(
    noninProfile(8, { framing: { missingHeartRate: 0, missingSpo2: 0 } }),
  );
  t.deepEqual(texts(decode(record(0, 0))), { HR: "absent", SPO2: "absent" });
  t.deepEqual(texts(decode(record(511, 127))), { HR: "511", SPO2: "127" });
});

test("decoder: pleth samples of formats 2 and 7", (t) => {
  const wave = (result: DecodeResult) => records(result).find((r) => r.kind === "wave");
  // The test packets carry pleth 0x4000 + 0x100 per frame: format 2 sends its high byte.
  const samples7 = Array.from({ length: 25 }, (_, index) => 0x4000 + index * 0x100);
  t.deepEqual(wave(decode7(packet(7))), { kind: "wave", deviceCode: "PLETH", samples: samples7 });
  const samples2 = samples7.map((sample) => sample >> 8);
  t.deepEqual(wave(decode2(packet(2))), { kind: "wave", deviceCode: "PLETH", samples: samples2 });
  t.is(wave(decode8(record(72, 97))), undefined);
});

test("decoder: firmware revision from frame 4", (t) => {
  const identity = records(decode7(packet(7, { firmware: 17 }))).find((r) => r.kind === "identity");
  t.deepEqual(identity, { kind: "identity", firmware: "17" });
});

test("decoder: status bit in any frame raises its alarm", (t) => {
  t.deepEqual(alarmCodes(decode2(packet(2, { statusInFrame: [13, 0x20] }))), ["artifact"]);
  t.deepEqual(alarmCodes(decode2(packet(2, { status: 0x60 }))), ["sensor-disconnect", "artifact"]);
  t.deepEqual(alarmCodes(decode2(packet(2))), [], "a snapshot with no alarm clears them");
});

test("decoder: unlisted status bits are not alarms", (t) => {
  t.deepEqual(alarmCodes(decode2(packet(2, { status: 0x06 }))), []);
  const plain = createNoninDecoder(noninProfile(2));
  t.is(alarmCodes(plain(packet(2, { status: 0x40 }))), undefined, "no alarm record at all");
});

test("decoder: alarm keeps the profile's priority", (t) => {
  const result = records(decode2(packet(2, { status: 0x20 })));
  const alarms = result.find((r) => r.kind === "alarms");
  t.deepEqual(alarms, {
    kind: "alarms",
    snapshot: true,
    alarms: [{ deviceCode: "artifact", text: "Artifact", priority: 2 }],
  });
});

test("decoder: STAT2 of formats 7 and 8", (t) => {
  t.deepEqual(alarmCodes(decode7(packet(7, { stat2: 0x01 }))), ["low-battery"]);
  t.deepEqual(alarmCodes(decode8(record(72, 97, 0, 0x01))), ["low-battery"]);
  t.deepEqual(alarmCodes(decode8(record(72, 97, 0x40, 0x00))), ["sensor-disconnect"]);
});

test("decoder: bad checksum names the frame", (t) => {
  const frames = packetFrames(2);
  const frame = frames[11] as Buffer;
  frame[4] = 0x00;
  const result = decode2(Buffer.concat(frames));
  if (result.ok) return t.fail("a corrupt packet decoded");
  t.is(result.error.code, "FRAME_CHECKSUM");
  t.regex(result.error.message, /^FRAME_CHECKSUM: frame 12 of the packet has checksum 0x00/);
});

test("decoder: packet of the wrong size is invalid", (t) => {
  for (const bytes of [packet(2).subarray(0, 120), Buffer.concat([record(72, 97), Buffer.of(0)])]) {
    const decode = bytes.length === 120 ? decode2 : decode8;
    const result = decode(bytes);
    if (result.ok) return t.fail("a short packet decoded");
    t.is(result.error.code, "DECODE_INVALID");
    t.regex(result.error.message, /packet has \d+ bytes, but this one has \d+/);
  }
});

test("decoder: frame without the fixed bits is invalid", (t) => {
  const frames = packetFrames(2);
  (frames[3] as Buffer)[0] = 0x02;
  const result = decode2(Buffer.concat(frames));
  if (result.ok) return t.fail("a broken packet decoded");
  t.is(result.error.code, "DECODE_INVALID");
  t.regex(result.error.message, /frame 4 of the packet lacks the fixed bits of format 2/);
});

test("decoder: second sync bit in a packet is invalid", (t) => {
  const result = decode7(packet(7, { statusInFrame: [9, 0x01] }));
  if (result.ok) return t.fail("a packet with two sync frames decoded");
  t.regex(result.error.message, /frame 9 of the packet lacks the fixed bits/);
});
