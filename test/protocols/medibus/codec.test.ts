import test from "ava";
import {
  checksum,
  checksumText,
  Command,
  encodeCommand,
  encodeResponse,
} from "../../../src/protocols/medibus/codec.js";

const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");

const WORKED_EXAMPLE = "01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D";

test("checksum of the worked example is 0x7A", (t) => {
  const frame = Buffer.from(WORKED_EXAMPLE.replaceAll(" ", ""), "hex");
  t.is(checksum(frame.subarray(0, frame.length - 3)), 0x7a);
});

test("checksum text keeps the leading zero", (t) => {
  t.is(checksumText(0x0a), "0A");
  t.is(checksumText(0x00), "00");
});

test("checksum text is upper-case", (t) => {
  t.is(checksumText(0xfe), "FE");
});

test("checksum keeps only the low 8 bits", (t) => {
  t.is(checksum(Buffer.from([0xff, 0x02])), 0x01);
});

const messages: Array<[string, Buffer, string]> = [
  ["ICC command", encodeCommand(Command.icc), "1B 51 36 43 0D"],
  ["ICC response", encodeResponse(Command.icc), "01 51 35 32 0D"],
  ["NOP command", encodeCommand(Command.nop), "1B 30 34 42 0D"],
  ["NOP response", encodeResponse(Command.nop), "01 30 33 31 0D"],
  ["Request Device ID", encodeCommand(Command.deviceId), "1B 52 36 44 0D"],
  ["measured data CP1 request", encodeCommand(Command.measuredDataCp1), "1B 24 33 46 0D"],
  ["measured data CP2 request", encodeCommand(Command.measuredDataCp2), "1B 2B 34 36 0D"],
  ["alarms CP1 request", encodeCommand(Command.alarmsCp1), "1B 27 34 32 0D"],
  ["device settings request", encodeCommand(Command.deviceSettings), "1B 29 34 34 0D"],
  ["text messages request", encodeCommand(Command.textMessages), "1B 2A 34 35 0D"],
  ["date and time request", encodeCommand(Command.dateTime), "1B 28 34 33 0D"],
  ["Stop command", encodeCommand(Command.stop), "1B 55 37 30 0D"],
  ["corrupt-command response", encodeResponse(Command.corrupt), "01 15 31 36 0D"],
  [
    "configure data response command",
    encodeCommand(Command.configureDataResponse, "242B"),
    "1B 4A 32 34 32 42 33 46 0D",
  ],
  [
    "worked example response",
    encodeResponse(Command.measuredDataCp1, "EB 98 E1 70 "),
    WORKED_EXAMPLE,
  ],
];

for (const [name, bytes, expected] of messages) {
  test(`encodes ${name}`, (t) => {
    t.is(hex(bytes), expected);
  });
}

test("encodes data given as bytes like data given as text", (t) => {
  const fromText = encodeResponse(Command.measuredDataCp1, "EB 98 ");
  const fromBytes = encodeResponse(Command.measuredDataCp1, Buffer.from("EB 98 ", "ascii"));
  t.deepEqual(fromBytes, fromText);
});

test("encodes 251 data bytes", (t) => {
  const bytes = encodeResponse(Command.measuredDataCp1, "A".repeat(251));
  t.is(bytes.length, 256);
});

const rejected: Array<[string, () => Buffer, string]> = [
  ["252 data bytes", () => encodeResponse(Command.nop, "A".repeat(252)), "more than the 251"],
  ["CR inside data", () => encodeCommand(Command.nop, "A\rB"), "data byte 1 is 0xd"],
  ["ESC inside data", () => encodeCommand(Command.nop, "\x1b"), "data byte 0 is 0x1b"],
  ["bit 7 in data", () => encodeResponse(Command.nop, Buffer.from([0x41, 0xd0])), "0xd0"],
  ["code with bit 7", () => encodeCommand(0x80), "code 0x80"],
  ["SOH as code", () => encodeCommand(0x01), "code 0x1"],
];

for (const [name, encode, fragment] of rejected) {
  test(`rejects ${name}`, (t) => {
    const error = t.throws(encode, { instanceOf: RangeError });
    t.true(error?.message.includes(fragment), error?.message);
  });
}
