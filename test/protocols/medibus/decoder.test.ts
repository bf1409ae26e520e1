import { readFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { parse } from "yaml";
import { profileSchema } from "../../../src/profiles/schema.js";
import { Command, encodeCommand, encodeResponse } from "../../../src/protocols/medibus/codec.js";
import { decodeMedibusFrame, quote } from "../../../src/protocols/medibus/decoder.js";
import type { DecodeResult, DeviceRecord } from "../../../src/protocols/types.js";

const bytesOf = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
const WORKED = bytesOf("01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D");

function recordsOf(result: DecodeResult): DeviceRecord[] {
  if (!result.ok) throw new Error(`decode failed: ${result.error.message}`);
  return result.records;
}

test("worked example decodes to 98 and 70", (t) => {
  const records = recordsOf(decodeMedibusFrame(WORKED));
  t.deepEqual(records, [
    {
      kind: "numerics",
      values: [
        { deviceCode: "EB", text: "98" },
        { deviceCode: "E1", text: "70" },
      ],
      snapshot: true,
    },
    { kind: "session", event: { type: "response", command: Command.measuredDataCp1 } },
  ]);
});

test("worked example carries the values as 4-character fields", (t) => {
  const data = WORKED.subarray(2, WORKED.length - 3).toString("latin1");
  t.is(data.slice(2, 6), " 98 ");
  t.is(data.slice(8, 12), " 70 ");
});

test("measured data keeps signs and decimal points", (t) => {
  const frame = encodeResponse(Command.measuredDataCp1, "78 5.0E3-0.5");
  const [numerics] = recordsOf(decodeMedibusFrame(frame));
  t.deepEqual(numerics, {
    kind: "numerics",
    values: [
      { deviceCode: "78", text: "5.0" },
      { deviceCode: "E3", text: "-0.5" },
    ],
    snapshot: true,
  });
});

test("measured data without values is an empty snapshot", (t) => {
  const [numerics] = recordsOf(decodeMedibusFrame(encodeResponse(Command.measuredDataCp1)));
  t.deepEqual(numerics, { kind: "numerics", values: [], snapshot: true });
});

test("alarms response decodes priority, code and phrase", (t) => {
  const frame = encodeResponse(Command.alarmsCp1, "20ASIM CO2 FAIL512APNEA       ");
  t.deepEqual(recordsOf(decodeMedibusFrame(frame)), [
    {
      kind: "alarms",
      alarms: [
        { deviceCode: "0A", priority: 2, text: "SIM CO2 FAIL" },
        { deviceCode: "12", priority: 5, text: "APNEA" },
      ],
      snapshot: true,
    },
    { kind: "session", event: { type: "response", command: Command.alarmsCp1 } },
  ]);
});

test("empty alarms response clears all alarms", (t) => {
  const [alarms] = recordsOf(decodeMedibusFrame(encodeResponse(Command.alarmsCp1)));
  t.deepEqual(alarms, { kind: "alarms", alarms: [], snapshot: true });
});

test("device identification decodes name and revision", (t) => {
  const frame = encodeResponse(Command.deviceId, "0161'Evita4'01.03:06.00");
  t.deepEqual(recordsOf(decodeMedibusFrame(frame)), [
    { kind: "identity", model: "Evita4", firmware: "01.03:06.00" },
    { kind: "session", event: { type: "response", command: Command.deviceId } },
  ]);
});

test("ICC response is a session response only", (t) => {
  t.deepEqual(recordsOf(decodeMedibusFrame(bytesOf("01 51 35 32 0D"))), [
    { kind: "session", event: { type: "response", command: Command.icc } },
  ]);
});

test("codepage 2 data is a session response only", (t) => {
  const frame = encodeResponse(Command.measuredDataCp2, "21 480");
  t.deepEqual(recordsOf(decodeMedibusFrame(frame)), [
    { kind: "session", event: { type: "response", command: Command.measuredDataCp2 } },
  ]);
});

test("response code 0x15 is a rejection", (t) => {
  t.deepEqual(recordsOf(decodeMedibusFrame(bytesOf("01 15 31 36 0D"))), [
    { kind: "session", event: { type: "rejected", command: Command.corrupt } },
  ]);
});

test("device command carries its arguments", (t) => {
  const frame = encodeCommand(Command.configureDataResponse, "242B");
  t.deepEqual(recordsOf(decodeMedibusFrame(frame)), [
    {
      kind: "session",
      event: {
        type: "command",
        command: Command.configureDataResponse,
        payload: Buffer.from("242B"),
      },
    },
  ]);
});

test("device ICC command has an empty payload", (t) => {
  t.deepEqual(recordsOf(decodeMedibusFrame(bytesOf("1B 51 36 43 0D"))), [
    { kind: "session", event: { type: "command", command: Command.icc, payload: Buffer.alloc(0) } },
  ]);
});

interface BadFrame {
  name: string;
  frame: Buffer;
  code: "FRAME_CHECKSUM" | "DECODE_INVALID";
  fragment: string;
}

const badFrames: BadFrame[] = [
  {
    name: "wrong checksum",
    frame: bytesOf("01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 42 0D"),
    code: "FRAME_CHECKSUM",
    fragment: 'response 0x24 is invalid: expected "7A", received "7B"',
  },
  {
    name: "lower-case checksum",
    frame: bytesOf("01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 61 0D"),
    code: "FRAME_CHECKSUM",
    fragment: 'expected "7A", received "7a"',
  },
  {
    name: "wrong checksum on a command",
    frame: bytesOf("1B 51 30 30 0D"),
    code: "FRAME_CHECKSUM",
    fragment: 'command 0x51 is invalid: expected "6C", received "00"',
  },
  {
    name: "frame shorter than a message",
    frame: bytesOf("1B 0D"),
    code: "DECODE_INVALID",
    fragment: "frame is 2 bytes, shorter than the 5",
  },
  {
    name: "frame without a start byte",
    frame: bytesOf("41 51 35 32 0D"),
    code: "DECODE_INVALID",
    fragment: 'must start with ESC or SOH and end with CR (got "AQ52\\x0d")',
  },
  {
    name: "measured data with a short group",
    frame: encodeResponse(Command.measuredDataCp1, "EB 98 E1 7"),
    code: "DECODE_INVALID",
    fragment: 'groups of 6 characters, but 10 characters leave 4 over (got "EB 98 E1 7")',
  },
  {
    name: "measured data code in lower case",
    frame: encodeResponse(Command.measuredDataCp1, "EB 98 e1 70 "),
    code: "DECODE_INVALID",
    fragment: 'measured data group 2 code must be two upper-case hex digits (got "e1")',
  },
  {
    name: "measured data value with a control byte",
    frame: encodeResponse(Command.measuredDataCp1, "EB 9\x078"),
    code: "DECODE_INVALID",
    fragment: 'group 1 value must be printable ASCII (got " 9\\x078")',
  },
  {
    name: "alarm priority that is not a digit",
    frame: encodeResponse(Command.alarmsCp1, "X0ASIM CO2 FAIL"),
    code: "DECODE_INVALID",
    fragment: 'alarm group 1 priority must be one decimal digit (got "X")',
  },
  {
    name: "alarm group of 14 characters",
    frame: encodeResponse(Command.alarmsCp1, "20ASIM CO2 FAI"),
    code: "DECODE_INVALID",
    fragment: "alarms must be groups of 15 characters",
  },
  {
    name: "alarm code that is not hex",
    frame: encodeResponse(Command.alarmsCp1, "2ZZSIM CO2 FAIL"),
    code: "DECODE_INVALID",
    fragment: 'alarm group 1 code must be two upper-case hex digits (got "ZZ")',
  },
  {
    name: "device identification without apostrophes",
    frame: encodeResponse(Command.deviceId, "0161Evita401.03:06.00"),
    code: "DECODE_INVALID",
    fragment: "device name in apostrophes",
  },
  {
    name: "device identification without revision",
    frame: encodeResponse(Command.deviceId, "0161'Evita4'"),
    code: "DECODE_INVALID",
    fragment: 'device revision must be 1 to 16 characters (got "")',
  },
];

for (const bad of badFrames) {
  test(`rejects ${bad.name}`, (t) => {
    const result = decodeMedibusFrame(bad.frame);
    if (result.ok) {
      t.fail(`decoded to ${JSON.stringify(result.records)}`);
      return;
    }
    t.is(result.error.code, bad.code);
    t.true(result.error.message.includes(bad.fragment), result.error.message);
    t.true(result.error.message.includes("; check "), "message says what to check");
  });
}

test("quote escapes and bounds the value", (t) => {
  t.is(quote('a"\\\x01'), '"a\\x22\\x5c\\x01"');
  const long = quote("A".repeat(100));
  t.true(long.startsWith(`"${"A".repeat(40)}"`));
  t.true(long.endsWith("… (100 characters)"));
});

test("error message stays short for a huge bad value", (t) => {
  const frame = encodeResponse(Command.measuredDataCp1, "E".repeat(251));
  const result = decodeMedibusFrame(frame);
  t.false(result.ok);
  if (!result.ok) t.true(result.error.message.length < 400, result.error.message);
});

// test/profiles/builtin.test.ts runs the vectors of every shipped profile through the pipeline.
const profilePath = path.join(__dirname, "../../../firmware-profiles/draeger-medibus-evita4.yaml");

test("Evita 4 profile is valid", (t) => {
  const parsed = profileSchema.safeParse(parse(readFileSync(profilePath, "utf8")));
  t.true(parsed.success, parsed.success ? "" : JSON.stringify(parsed.error.issues));
  t.is(parsed.data?.family, "medibus");
});
