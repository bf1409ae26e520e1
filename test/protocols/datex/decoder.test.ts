import test from "ava";
import {
  buildRecord,
  checksum,
  encodeFrame,
  MainType,
  stuffFrame,
} from "../../../src/protocols/datex/codec.js";
import { decodeDatexFrame } from "../../../src/protocols/datex/decoder.js";
import { CLASS_WORD_OFFSET, classWord } from "../../../src/protocols/datex/layout.js";
import {
  encodeDisplayedRecord,
  encodeWaveRecord,
  type GroupValues,
} from "../../../src/protocols/datex/records.js";
import type { DecodeResult, DeviceRecord, RawValue } from "../../../src/protocols/types.js";
import { seededRandom } from "../../../src/random.js";
import { bytesOf, hex } from "../../helpers/framer.js";

const fields = { recordNumber: 1, driLevel: 9, time: 1_700_000_000 };
const ACTIVE = 3;

/**
 * A synthetic record: HR 72, NIBP 120/80 (93), T1, SpO2 and CO2. Its first 64 bytes and length
 * were worked out by hand, independently of this code, from the same layout.
 */
function fixtureRecord(extra: Record<string, GroupValues> = {}): Buffer {
  return encodeDisplayedRecord(fields, {
    ecg: { status: ACTIVE, values: { hr: 72, imp_rr: 16 } },
    nibp: { status: ACTIVE, values: { sys: 12_000, dia: 8000, mean: 9300 } },
    t1: { status: ACTIVE, values: { temp: 3690 } },
    spo2: { status: ACTIVE, values: { spo2: 9800, pr: 72 } },
    co2: { status: ACTIVE, values: { et: 500, rr: 16, amb_press: 7600 } },
    ...extra,
  });
}

const numerics = (result: DecodeResult): RawValue[] => {
  if (!result.ok) return [];
  return result.records.flatMap((record) => (record.kind === "numerics" ? record.values : []));
};
const valueOf = (result: DecodeResult, code: string) =>
  numerics(result).find((value) => value.deviceCode === code);
const errorCode = (result: DecodeResult) => (result.ok ? undefined : result.error.code);
const sessionEvents = (result: DecodeResult) =>
  result.ok ? result.records.filter((record) => record.kind === "session") : [];

test("fixture record matches by-hand bytes", (t) => {
  const frame = encodeFrame(fixtureRecord());
  t.is(frame.length, 321);
  t.is(
    hex(frame.subarray(0, 64)),
    "7E 3E 01 01 09 00 00 00 F1 53 65 00 00 00 00 00 00 00 00 01 00 00 FF 00 00 00 00 00 00 00 00 00 " +
      "00 00 00 00 00 00 00 00 00 00 F1 53 65 03 00 00 00 00 00 48 00 01 80 01 80 01 80 10 00 00 00 00",
  );
});

test("decoder reads the basic class", (t) => {
  const result = decodeDatexFrame(encodeFrame(fixtureRecord()));
  t.true(result.ok);
  t.deepEqual(valueOf(result, "ecg.hr"), { deviceCode: "ecg.hr", text: "72" });
  t.deepEqual(valueOf(result, "nibp.sys"), { deviceCode: "nibp.sys", text: "12000" });
  t.deepEqual(valueOf(result, "t1.temp"), { deviceCode: "t1.temp", text: "3690" });
  t.deepEqual(valueOf(result, "spo2.spo2"), { deviceCode: "spo2.spo2", text: "9800" });
  t.deepEqual(valueOf(result, "co2.amb_press"), { deviceCode: "co2.amb_press", text: "7600" });
  const record = result.ok ? result.records[0] : undefined;
  t.is(record?.kind === "numerics" ? record.deviceTime : undefined, "2023-11-14T22:13:20");
  t.is(record?.kind === "numerics" ? record.snapshot : undefined, true);
});

test("decoder derives EtCO2 as a partial pressure", (t) => {
  const result = decodeDatexFrame(encodeFrame(fixtureRecord()));
  t.deepEqual(valueOf(result, "co2.et_press"), { deviceCode: "co2.et_press", text: "3800000" });
});

test("decoder derives no EtCO2 pressure from a marker", (t) => {
  const record = fixtureRecord({
    co2: { status: ACTIVE, values: { et: 500, rr: 16, amb_press: -32766 } },
  });
  const value = valueOf(decodeDatexFrame(encodeFrame(record)), "co2.et_press");
  t.is(value?.absentReason, "absent");
});

test("decoder sends no values of a group that does not exist", (t) => {
  const result = decodeDatexFrame(encodeFrame(fixtureRecord()));
  t.is(valueOf(result, "p1.sys"), undefined);
  t.is(valueOf(result, "flow_vol.peep"), undefined);
  // ecg_extra has no status, so its fields are always sent.
  t.is(valueOf(result, "ecg_extra.hr_ecg")?.absentReason, "absent");
});

test("decoder sends an inactive group as absent", (t) => {
  const record = fixtureRecord({ nibp: { status: 1, values: { sys: 12_000 } } });
  const value = valueOf(decodeDatexFrame(encodeFrame(record)), "nibp.sys");
  t.deepEqual(value, { deviceCode: "nibp.sys", text: "", absentReason: "absent" });
});

const markerCases: [number, "absent" | "invalid" | undefined][] = [
  [-32767, "absent"],
  [-32766, "absent"],
  [-32765, "invalid"],
  [-32764, "invalid"],
  [-32763, "invalid"],
  [-32762, "invalid"],
  [-32768, "invalid"],
  [-32001, "invalid"],
  [-32000, undefined],
  [0, undefined],
];

for (const [raw, reason] of markerCases) {
  test(`decoder marks ${raw} as ${reason ?? "a number"}`, (t) => {
    const record = fixtureRecord({ t2: { status: ACTIVE, values: { temp: raw } } });
    const value = valueOf(decodeDatexFrame(encodeFrame(record)), "t2.temp");
    t.is(value?.absentReason, reason);
    t.is(value?.text, String(raw));
  });
}

test("decoder skips other classes and trend subrecords", (t) => {
  const ext1 = fixtureRecord();
  ext1.writeUInt16LE(classWord(1, 1), 40 + CLASS_WORD_OFFSET);
  t.deepEqual(numerics(decodeDatexFrame(encodeFrame(ext1))), []);
  const trend = fixtureRecord();
  trend.writeUInt8(2, 18);
  const result = decodeDatexFrame(encodeFrame(trend));
  t.deepEqual(numerics(result), []);
  t.deepEqual(sessionEvents(result), [
    { kind: "session", event: { type: "response", command: MainType.physiological, driLevel: 9 } },
  ]);
});

test("decoder reads wave subrecords", (t) => {
  const record = encodeWaveRecord(fields, [
    { type: 1, samples: [0, 10, -32767] },
    { type: 8, samples: [500] },
    { type: 99, samples: [] },
  ]);
  const result = decodeDatexFrame(encodeFrame(record));
  const waves = result.ok ? result.records.filter((r) => r.kind === "wave") : [];
  const time = "2023-11-14T22:13:20";
  t.deepEqual(waves, [
    { kind: "wave", deviceCode: "ecg1", samples: [0, 10, -32767], deviceTime: time },
    { kind: "wave", deviceCode: "pleth", samples: [500], deviceTime: time },
    { kind: "wave", deviceCode: "wave99", samples: [], deviceTime: time },
  ]);
  t.deepEqual(sessionEvents(result), [
    { kind: "session", event: { type: "response", command: MainType.wave, driLevel: 9 } },
  ]);
});

test("decoder passes an alarm record on as a session event only", (t) => {
  const record = buildRecord(
    { recordNumber: 1, driLevel: 9, plugId: 0, time: 0, mainType: MainType.alarm },
    [{ type: 1, bytes: Buffer.alloc(10) }],
  );
  const result = decodeDatexFrame(encodeFrame(record));
  t.true(result.ok);
  t.deepEqual(result.ok ? result.records : [], [
    { kind: "session", event: { type: "response", command: MainType.alarm, driLevel: 9 } },
  ] satisfies DeviceRecord[]);
});

interface BadCase {
  name: string;
  frame: () => Buffer;
  code: "FRAME_CHECKSUM" | "DECODE_INVALID";
  message: RegExp;
}

const withChecksum = (record: Buffer, sum: number) =>
  stuffFrame(Buffer.concat([record, Buffer.of(sum & 0xff)]));

const badCases: BadCase[] = [
  {
    name: "a wrong sum",
    frame: () => withChecksum(fixtureRecord(), checksum(fixtureRecord()) + 1),
    code: "FRAME_CHECKSUM",
    message: /expected 0x24, received 0x25/,
  },
  {
    name: "the checksum sent unstuffed",
    // A sum of 0x7E sent plain reads as the closing flag, so the record loses its last byte.
    frame: () => {
      const record = fixtureRecord();
      record.writeUInt32LE(1_700_000_045, 6);
      record.writeUInt32LE(1_700_000_045, 40);
      return Buffer.concat([Buffer.of(0x7e), record, Buffer.of(0x7e)]);
    },
    code: "FRAME_CHECKSUM",
    message: /checksum/,
  },
  {
    name: "a byte flipped by noise",
    frame: () => {
      const frame = encodeFrame(fixtureRecord());
      frame[100] = (frame[100] ?? 0) ^ 0x04;
      return frame;
    },
    code: "FRAME_CHECKSUM",
    message: /parity/,
  },
  {
    name: "an escape before the closing flag",
    frame: () => bytesOf("7E 01 02 7D 7E"),
    code: "DECODE_INVALID",
    message: /escape byte/,
  },
  {
    name: "a record shorter than its header",
    frame: () => encodeFrame(Buffer.alloc(20)),
    code: "DECODE_INVALID",
    message: /shorter than its 40-byte header/,
  },
  {
    name: "a length that disagrees with the frame",
    frame: () => {
      const record = fixtureRecord();
      record.writeUInt16LE(300, 0);
      return encodeFrame(record);
    },
    code: "DECODE_INVALID",
    message: /length of 300 bytes, but the frame holds 318/,
  },
  {
    name: "a subrecord past the record's end",
    frame: () => {
      const record = fixtureRecord();
      record.writeInt16LE(100, 16);
      return encodeFrame(record);
    },
    code: "DECODE_INVALID",
    message: /subrecord at offset 100/,
  },
  {
    name: "a wave with more samples than bytes",
    frame: () => {
      const record = encodeWaveRecord(fields, [{ type: 1, samples: [1, 2] }]);
      record.writeInt16LE(3, 40);
      return encodeFrame(record);
    },
    code: "DECODE_INVALID",
    message: /needs 12 bytes/,
  },
  {
    name: "a wave with a negative sample count",
    frame: () => {
      const record = encodeWaveRecord(fields, [{ type: 1, samples: [1, 2] }]);
      record.writeInt16LE(-1, 40);
      return encodeFrame(record);
    },
    code: "DECODE_INVALID",
    message: /gives -1 samples/,
  },
  {
    name: "a frame without flags",
    frame: () => encodeFrame(fixtureRecord()).subarray(1),
    code: "DECODE_INVALID",
    message: /flag 0x7E/,
  },
];

for (const badCase of badCases) {
  test(`decoder rejects ${badCase.name}`, (t) => {
    const result = decodeDatexFrame(badCase.frame());
    t.is(errorCode(result), badCase.code);
    t.regex(result.ok ? "" : result.error.message, badCase.message);
  });
}

test("decoder never throws on damaged records", (t) => {
  const random = seededRandom(20_261_204);
  const byte = () => Math.floor(random() * 256);
  const valid = fixtureRecord();
  for (let run = 0; run < 2000; run++) {
    const record = Buffer.from(valid);
    const flips = 1 + Math.floor(random() * 6);
    for (let flip = 0; flip < flips; flip++) record[Math.floor(random() * record.length)] = byte();
    const length = 40 + Math.floor(random() * (record.length - 39));
    const cut = record.subarray(0, length);
    cut.writeUInt16LE(length, 0);
    const result = decodeDatexFrame(encodeFrame(cut));
    if (!result.ok && result.error.code !== "DECODE_INVALID") {
      t.fail(`run ${run}: ${result.error.message}`);
      return;
    }
  }
  t.pass();
});
