import test from "ava";
import {
  absoluteTimeText,
  decodeFloat,
  encodeAbsoluteTime,
  encodeFrame,
  type FloatValue,
  fcs16,
  floatText,
  wrapFrame,
} from "../../../src/protocols/intellivue/codec.js";
import {
  decodeIntellivueFrame,
  pollReplyCode,
  remoteErrorCode,
} from "../../../src/protocols/intellivue/decoder.js";
import {
  ABORT,
  associationRefusal,
  Attribute,
  MDS_CREATE_EVENT,
  mdsCreateEvent,
  mdsCreateResult,
  ObjectClass,
  pollReply,
  pollRequest,
  RELEASE_REQUEST,
  remoteError,
  sampleArrayObservation,
} from "../../../src/protocols/intellivue/messages.js";
import type { DecodeResult, DeviceRecord } from "../../../src/protocols/types.js";

const bytesOf = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");
const decode = (frame: Buffer, demoData: "invalid" | "publish" = "invalid") =>
  decodeIntellivueFrame(frame, { demoData });
const records = (result: DecodeResult): DeviceRecord[] => (result.ok ? result.records : []);
const errorCode = (result: DecodeResult) => (result.ok ? "ok" : result.error.code);

test("FCS of 123456789 is the CRC-16/X-25 check value", (t) => {
  t.is(fcs16(Buffer.from("123456789")), 0x906e);
});

test("FCS vectors of mdpnp TestFCSOutputStream", (t) => {
  t.is(hex(wrapFrame(bytesOf("3A 71"))), "C0 3A 71 9B 26 C1");
  t.is(hex(wrapFrame(bytesOf("3A 91"))), "C0 3A 91 95 7D E1 C1");
});

test("MDS Create Event Result as VSCaptureMP sends it", (t) => {
  const frame = encodeFrame(mdsCreateResult(1, 0x000abd00));
  t.is(
    hex(frame),
    "C0 11 01 00 1C E1 00 00 02 00 02 00 14 00 01 00 01 00 0E 00 21 00 00 00 00 " +
      "00 0A BD 00 0D 06 00 00 39 17 C1",
  );
});

test("extended and single poll requests of the notes", (t) => {
  const extended = (periodMs: number) =>
    hex(
      encodeFrame(
        pollRequest({ invokeId: 1, pollNumber: 1, objectClass: 6, extended: true, periodMs }),
      ),
    );
  t.true(extended(30_000).endsWith("F1 3E 00 04 00 03 A9 80 58 71 C1"));
  t.true(extended(2500).endsWith("F1 3E 00 04 00 00 4E 20 A7 9F C1"));
  t.is(
    hex(encodeFrame(pollRequest({ invokeId: 1, pollNumber: 1, objectClass: 6, extended: false }))),
    "C0 11 01 00 24 E1 00 00 02 00 01 00 1C 00 01 00 07 00 16 00 21 00 00 00 00 00 00 00 00 " +
      "0C 16 00 08 00 01 00 01 00 06 00 00 C6 C7 C1",
  );
});

const floatCases: [number, string][] = [
  [0x00000062, "98"],
  [0xff0003d9, "98.5"],
  [0xff000170, "36.8"],
  [0xfe002e18, "118.00"],
  [0xfdfffffb, "-0.005"],
  [0x02000003, "300"],
];

for (const [raw, text] of floatCases) {
  test(`FLOAT-Type 0x${raw.toString(16).padStart(8, "0")} is ${text}`, (t) => {
    const value = decodeFloat(raw);
    t.is(value.kind, "number");
    if (value.kind === "number") t.is(floatText(value), text);
  });
}

const specialCases: [number, FloatValue["kind"]][] = [
  [0x007fffff, "nan"],
  [0x00800000, "nres"],
  [0x007ffffe, "positive-infinity"],
  [0x00800002, "negative-infinity"],
  [0xfe7fffff, "nan"],
];

for (const [raw, kind] of specialCases) {
  test(`FLOAT-Type 0x${raw.toString(16).padStart(8, "0")} is ${kind}`, (t) => {
    t.is(decodeFloat(raw).kind, kind);
  });
}

const sessionCases: [string, Buffer, unknown][] = [
  ["association refusal", associationRefusal(), { type: "rejected", command: 0x0d }],
  [
    "release request",
    RELEASE_REQUEST,
    { type: "command", command: 0x09, payload: RELEASE_REQUEST },
  ],
  ["abort", ABORT, { type: "command", command: 0x19, payload: ABORT }],
  ["remote error", remoteError(7, 0), { type: "rejected", command: remoteErrorCode(7) }],
  [
    "MDS Create Event",
    mdsCreateEvent(0x1234, 0),
    { type: "command", command: MDS_CREATE_EVENT, payload: Buffer.from([0x12, 0x34]) },
  ],
];

for (const [name, userData, event] of sessionCases) {
  test(`decodes ${name} as a session event`, (t) => {
    t.deepEqual(records(decode(encodeFrame(userData))), [{ kind: "session", event }]);
  });
}

const REFERENCE_REPLY = bytesOf(`
  C0 11 01 00 A0 E1 00 00 02 00 02 00 98 00 01 00 07 00 92 00 21 00 00 00 00 F1 3B 00 88 00 01 00
  00 00 12 34 56 20 24 01 01 12 00 00 00 00 01 00 06 00 00 00 01 00 6E 00 00 00 04 00 68 00 10 00
  01 00 0E 09 50 00 0A 41 82 00 00 0A A0 00 00 00 48 00 11 00 01 00 0E 09 50 00 0A 4B B8 00 00 02
  20 00 00 00 62 00 12 00 01 00 26 09 4B 00 22 00 03 00 1E 4A 05 00 00 0F 20 00 00 00 78 4A 06 00
  00 0F 20 00 00 00 50 4A 07 00 00 0F 20 00 00 00 5D 00 13 00 01 00 0E 09 50 00 0A 4B 48 80 00 17
  A0 00 7F FF FF AA 35 C1`);

test("decodes the reference extended poll reply", (t) => {
  const [numerics, session] = records(decode(REFERENCE_REPLY));
  t.deepEqual(numerics, {
    kind: "numerics",
    snapshot: false,
    deviceTime: "2024-01-01T12:00:00.00",
    values: [
      { deviceCode: "4182/0AA0", text: "72" },
      { deviceCode: "4BB8/0220", text: "98" },
      { deviceCode: "4A05/0F20", text: "120" },
      { deviceCode: "4A06/0F20", text: "80" },
      { deviceCode: "4A07/0F20", text: "93" },
      { deviceCode: "4B48/17A0", text: "", absentReason: "invalid" },
    ],
  });
  t.deepEqual(session, {
    kind: "session",
    event: { type: "response", command: pollReplyCode(6, true) },
  });
});

test("wave samples carry the reply's RelativeTime as the device clock", (t) => {
  const frame = encodeFrame(
    pollReply({
      invokeId: 3,
      extended: true,
      linkedState: 2,
      pollNumber: 1,
      relativeTime: 0xfffffff0,
      absoluteTime: encodeAbsoluteTime(new Date("2024-01-01T12:00:00Z")),
      objectClass: ObjectClass.waves,
      observations: [
        {
          handle: 0x10,
          attributes: [
            { id: Attribute.sampleArrayObserved, value: sampleArrayObservation(0x4bb4, 0, [1, 2]) },
          ],
        },
      ],
    }),
  );
  const [wave] = records(decode(frame));
  t.like(wave, {
    kind: "wave",
    deviceCode: "4BB4",
    samples: [1, 2],
    deviceClock: { ticks: 0xfffffff0, ticksPerMs: 8 },
  });
});

test("bad FCS is a checksum error", (t) => {
  const frame = Buffer.from(REFERENCE_REPLY);
  frame[frame.length - 2] = 0x36;
  t.is(errorCode(decode(frame)), "FRAME_CHECKSUM");
});

test("changed data byte is a checksum error", (t) => {
  const frame = Buffer.from(REFERENCE_REPLY);
  frame[80] = (frame[80] ?? 0) ^ 0x01;
  t.is(errorCode(decode(frame)), "FRAME_CHECKSUM");
});

const invalidCases: [string, Buffer][] = [
  ["a frame too short", bytesOf("C0 11 01 C1")],
  ["a frame without C0", bytesOf("11 01 00 00 00 00 C1")],
  ["an escape before C1", bytesOf("C0 11 01 00 00 7D C1")],
  ["a wrong protocol id", wrapFrame(bytesOf("12 01 00 01 E1"))],
  ["a wrong length", wrapFrame(bytesOf("11 01 00 05 E1 00"))],
  ["an unknown first byte", encodeFrame(bytesOf("42 00 00 00"))],
  ["a length past the data", encodeFrame(bytesOf("E1 00 00 02 00 02 00 FF 00 01"))],
  ["an unknown operation type", encodeFrame(bytesOf("E1 00 00 02 00 09 00 00"))],
  ["a truncated poll reply", encodeFrame(REFERENCE_REPLY.subarray(5, 60))],
];

for (const [name, frame] of invalidCases) {
  test(`${name} is invalid`, (t) => {
    const result = decode(frame);
    t.is(errorCode(result), "DECODE_INVALID");
    if (!result.ok) t.regex(result.error.message, /IntelliVue/);
  });
}

test("short frame names the line settings", (t) => {
  // Line noise between a C0 and a C1 reaches the decoder as a frame of a few bytes.
  const result = decode(bytesOf("C0 05 31 46 C1"));
  t.is(errorCode(result), "DECODE_INVALID");
  if (!result.ok) t.regex(result.error.message, /got 5 bytes: C0 05 31 46 C1.*115200 8N1/);
});

test("attribute past its list names the attribute", (t) => {
  // The last numeric's NOM_ATTR_NU_VAL_OBS (0x0950) claims 255 bytes in place of 10.
  const frame = Buffer.from(REFERENCE_REPLY.subarray(5, REFERENCE_REPLY.length - 3));
  frame.writeUInt16BE(0x00ff, frame.indexOf(bytesOf("09 50 00 0A 4B 48")) + 2);
  const result = decode(encodeFrame(frame));
  t.is(errorCode(result), "DECODE_INVALID");
  if (!result.ok) {
    t.regex(result.error.message, /attribute list field attribute 0x0950 needs 255 bytes/);
  }
});

test("absolute time as text, or undefined when unset", (t) => {
  t.is(absoluteTimeText(bytesOf("20 24 01 31 23 59 58 99")), "2024-01-31T23:59:58.99");
  t.is(absoluteTimeText(bytesOf("FF FF FF FF FF FF FF FF")), undefined);
  t.is(absoluteTimeText(bytesOf("20 24 01 31 23 5A 58 99")), undefined);
  t.is(absoluteTimeText(bytesOf("20 24 01 31 23 59 58")), undefined);
});

test("demo data is invalid unless the policy publishes it", (t) => {
  // SpO2 97 with state DEMO_DATA (0x0400), patched into the reference reply.
  const frame = Buffer.from(REFERENCE_REPLY.subarray(5, REFERENCE_REPLY.length - 3));
  frame.writeUInt16BE(0x0400, frame.indexOf(bytesOf("4B B8 00 00 02 20")) + 2);
  const values = (policy: "invalid" | "publish") => {
    const [numerics] = records(decode(encodeFrame(frame), policy));
    return numerics?.kind === "numerics" ? numerics.values[1] : undefined;
  };
  t.deepEqual(values("invalid"), { deviceCode: "4BB8/0220", text: "", absentReason: "invalid" });
  t.deepEqual(values("publish"), { deviceCode: "4BB8/0220", text: "98" });
});
