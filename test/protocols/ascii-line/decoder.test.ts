import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { parse } from "yaml";
import { DevicePipeline } from "../../../src/device/pipeline.js";
import { hasCode } from "../../../src/errors.js";
import { profileSchema } from "../../../src/profiles/schema.js";
import { createAsciiLineDecoder } from "../../../src/protocols/ascii-line/decoder.js";
import { deviceTimeProblem } from "../../../src/protocols/ascii-line/device-time.js";
import {
  asciiLineProfileSchema,
  withoutFirstLineSkip,
  type AsciiLineProfile,
} from "../../../src/protocols/ascii-line/schema.js";
import { codecFor } from "../../../src/protocols/registry.js";
import type { DeviceRecord } from "../../../src/protocols/types.js";

const profileFile = join(__dirname, "../../../firmware-profiles/masimo-radical7-ascii1.yaml");

function loadMasimoProfile(): AsciiLineProfile {
  const parsed = asciiLineProfileSchema.safeParse(parse(readFileSync(profileFile, "utf8")));
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
  return parsed.data;
}

const masimo = loadMasimoProfile();
const decode = createAsciiLineDecoder(masimo);

const normalLine =
  "01/01/24 12:00:00 SN=0000012345 SPO2=097% BPM=072 PI=02.10% SPCO=--.-% SPMET=01.2% " +
  "DESAT=-- PIDELTA=+-- PVI=014 ALARM=0000 EXC=000800\r\n";

function records(line: string | Buffer): DeviceRecord[] {
  const result = decode(typeof line === "string" ? Buffer.from(line, "latin1") : line);
  if (!result.ok) throw result.error;
  return result.records;
}

function recordOf<K extends DeviceRecord["kind"]>(
  list: DeviceRecord[],
  kind: K,
): Extract<DeviceRecord, { kind: K }> | undefined {
  return list.find((record): record is Extract<DeviceRecord, { kind: K }> => record.kind === kind);
}

test("decoder: normal line gives values by key", (t) => {
  const numerics = recordOf(records(normalLine), "numerics");
  t.deepEqual(numerics, {
    kind: "numerics",
    deviceTime: "01/01/24 12:00:00",
    snapshot: true,
    values: [
      { deviceCode: "SPO2", text: "097" },
      { deviceCode: "BPM", text: "072" },
      { deviceCode: "PI", text: "02.10" },
      { deviceCode: "SPCO", text: "--.-" },
      { deviceCode: "SPMET", text: "01.2" },
      { deviceCode: "DESAT", text: "--" },
      { deviceCode: "PIDELTA", text: "+--" },
      { deviceCode: "PVI", text: "014" },
    ],
  });
});

test("decoder: serial number becomes identity", (t) => {
  t.deepEqual(recordOf(records(normalLine), "identity"), {
    kind: "identity",
    serialNumber: "0000012345",
  });
});

test("decoder: dashed serial number is no identity", (t) => {
  const line = normalLine.replace("SN=0000012345", "SN=----------");
  t.is(recordOf(records(line), "identity"), undefined);
});

test("decoder: EXC bits become alarms", (t) => {
  const line = normalLine.replace("EXC=000800", "EXC=000825");
  const alarms = recordOf(records(line), "alarms");
  t.is(alarms?.snapshot, true);
  t.deepEqual(
    alarms?.alarms.map((alarm) => alarm.deviceCode),
    ["no-sensor", "low-perfusion", "sensor-off", "set-mode"],
  );
  t.deepEqual(alarms?.alarms[2], { deviceCode: "sensor-off", text: "Sensor off" });
  t.deepEqual(alarms?.alarms[3]?.priority, 0);
});

test("decoder: unknown EXC bit is kept", (t) => {
  const alarms = recordOf(records(normalLine.replace("EXC=000800", "EXC=001100")), "alarms");
  t.deepEqual(alarms?.alarms, [
    { deviceCode: "EXC:0x100", text: "unknown exception bit" },
    { deviceCode: "EXC:0x1000", text: "unknown exception bit" },
  ]);
});

test("decoder: ALARM bits are published raw", (t) => {
  const alarms = recordOf(records(normalLine.replace("ALARM=0000", "ALARM=0012")), "alarms");
  const text = "device alarm bit; Masimo does not publish its meaning";
  t.deepEqual(alarms?.alarms, [
    { deviceCode: "ALARM:0x2", text },
    { deviceCode: "ALARM:0x10", text },
    { deviceCode: "set-mode", text: masimo.fields.bitFields.EXC?.bits["0x800"]?.text, priority: 0 },
  ]);
});

test("decoder: clear EXC gives an empty snapshot", (t) => {
  const alarms = recordOf(records(normalLine.replace("EXC=000800", "EXC=000000")), "alarms");
  t.deepEqual(alarms, { kind: "alarms", alarms: [], snapshot: true });
});

test("decoder: dashed bit fields give no alarms record", (t) => {
  const line = "01/01/24 12:00:00 SPO2=097% ALARM=---- EXC=------\r\n";
  t.is(recordOf(records(line), "alarms"), undefined);
});

test("decoder: newer firmware keys are decoded by key", (t) => {
  const line =
    "01/01/24 12:00:02 SN=---------- SPO2=098% BPM=071 PI=00.55 SPCO=--% SPMET=--.-% " +
    "SPHB=--.- SPOC=-- RESVD=--- DESAT=-- PIDELTA=+-- PVI=--- ALARM=000000 EXC=0000C00 " +
    "EXC1=00000000\r\n";
  const list = records(line);
  const values = recordOf(list, "numerics")?.values ?? [];
  t.deepEqual(
    values.map((value) => value.deviceCode),
    ["SPO2", "BPM", "PI", "SPCO", "SPMET", "SPHB", "SPOC", "RESVD", "DESAT", "PIDELTA", "PVI"],
  );
  t.deepEqual(values[2], { deviceCode: "PI", text: "00.55" });
  t.deepEqual(values[5], { deviceCode: "SPHB", text: "--.-" });
  const codes = recordOf(list, "alarms")?.alarms.map((alarm) => alarm.deviceCode);
  t.deepEqual(codes, ["low-signal-iq", "set-mode"]);
});

test("decoder: keys in another order decode the same", (t) => {
  const line = "01/01/24 12:00:00 EXC=000000 BPM=072 SPO2=097% SN=0000012345\r\n";
  const values = recordOf(records(line), "numerics")?.values;
  t.deepEqual(values, [
    { deviceCode: "BPM", text: "072" },
    { deviceCode: "SPO2", text: "097" },
  ]);
});

test("decoder: frame without terminator decodes", (t) => {
  const values = recordOf(records(normalLine.trimEnd()), "numerics")?.values;
  t.is(values?.length, 8);
});

test("decoder: stray words without a key are skipped", (t) => {
  const line = "01/01/24 12:00:00 hello SPO2=097% =5 world\r\n";
  t.deepEqual(recordOf(records(line), "numerics")?.values, [{ deviceCode: "SPO2", text: "097" }]);
});

test("decoder: strips one suffix only", (t) => {
  const line = "01/01/24 12:00:00 SPO2=097%% PI=%\r\n";
  t.deepEqual(recordOf(records(line), "numerics")?.values, [
    { deviceCode: "SPO2", text: "097%" },
    { deviceCode: "PI", text: "" },
  ]);
});

test("decoder: optional time stamp may be missing", (t) => {
  const profile: AsciiLineProfile = {
    ...masimo,
    fields: { ...masimo.fields, deviceTime: { format: "MM/DD/YY HH:MM:SS", required: false } },
  };
  const result = createAsciiLineDecoder(profile)(Buffer.from("SPO2=097%\r\n", "latin1"));
  t.true(result.ok);
  const numerics = result.ok ? recordOf(result.records, "numerics") : undefined;
  t.is(numerics?.deviceTime, undefined);
  t.deepEqual(numerics?.values, [{ deviceCode: "SPO2", text: "097" }]);
});

test("decoder: tab separator and colon pairs", (t) => {
  const profile: AsciiLineProfile = {
    ...masimo,
    framing: { ...masimo.framing, tokenSeparator: "\t", keyValueSeparator: ":" },
    fields: { stripSuffixes: [], bitFields: {} },
  };
  const result = createAsciiLineDecoder(profile)(Buffer.from("HR:72\t\tSPO2:97\r\n", "latin1"));
  t.true(result.ok);
  t.deepEqual(result.ok ? recordOf(result.records, "numerics")?.values : undefined, [
    { deviceCode: "HR", text: "72" },
    { deviceCode: "SPO2", text: "97" },
  ]);
});

interface BadLine {
  name: string;
  line: string;
  fragment: string;
}

const badLines: BadLine[] = [
  {
    name: "NUL byte",
    line: "01/01/24 12:00:00 SPO2=0\x0097%\r\n",
    fragment: "byte 0x00 at offset 24 is not",
  },
  {
    name: "byte with bit 7 set",
    line: "01/01/24 12:00:00 SPO2=\xff97%\r\n",
    fragment: '(got "01/01/24 12:00:00 SPO2=\\xff97%")',
  },
  { name: "lone CR inside the line", line: "01/01/24 12:00:00 A=1\rB=2\r\n", fragment: "0x0d" },
  {
    name: "no KEY=VALUE token",
    line: "01/01/24 12:00:00 hello world\r\n",
    fragment: "at least one KEY=VALUE token",
  },
  { name: "time stamp only", line: "01/01/24 12:00:00\r\n", fragment: "KEY=VALUE" },
  { name: "empty key only", line: "01/01/24 12:00:00 =097\r\n", fragment: "KEY=VALUE" },
  {
    name: "EXC not hex",
    line: "01/01/24 12:00:00 SPO2=097% EXC=00G800\r\n",
    fragment: 'bit field EXC must be 1 to 16 hex digits (got "00G800")',
  },
  {
    name: "EXC empty",
    line: "01/01/24 12:00:00 SPO2=097% EXC=\r\n",
    fragment: 'bit field EXC must be 1 to 16 hex digits (got "")',
  },
  {
    name: "EXC with 17 digits",
    line: `01/01/24 12:00:00 SPO2=097% EXC=${"0".repeat(17)}\r\n`,
    fragment: "bit field EXC",
  },
  {
    name: "ALARM with a sign",
    line: "01/01/24 12:00:00 SPO2=097% ALARM=+0010\r\n",
    fragment: 'bit field ALARM must be 1 to 16 hex digits (got "+0010")',
  },
  {
    name: "duplicate key",
    line: "01/01/24 12:00:00 SPO2=097% SPO2=098%\r\n",
    fragment: 'key "SPO2" occurs twice',
  },
  {
    name: "partial first line",
    line: "0% SPMET=01.2% EXC=000800\r\n",
    fragment: 'must have the form MM/DD/YY HH:MM:SS (got "0% SPMET=01.2%")',
  },
  {
    name: "time stamp in another layout",
    line: "2024-01-01 12:00:00 SPO2=097%\r\n",
    fragment: "device time stamp",
  },
  {
    name: "month 13 and hour 25",
    line: "13/45/26 25:61:00 SPO2=097%\r\n",
    fragment:
      'device time stamp "13/45/26 25:61:00" is not a valid MM/DD/YY HH:MM:SS date and time (month 13 is not 1 to 12)',
  },
  {
    name: "day 31 of April",
    line: "04/31/24 12:00:00 SPO2=097%\r\n",
    fragment: "day 31 is not 1 to 30",
  },
  {
    name: "29 February 2023",
    line: "02/29/23 12:00:00 SPO2=097%\r\n",
    fragment: "day 29 is not 1 to 28",
  },
  { name: "hour 24", line: "01/01/24 24:00:00 SPO2=097%\r\n", fragment: "hour 24 is not 0 to 23" },
  {
    name: "minute 60",
    line: "01/01/24 12:60:00 SPO2=097%\r\n",
    fragment: "minute 60 is not 0 to 59",
  },
  {
    name: "second 61",
    line: "01/01/24 12:00:61 SPO2=097%\r\n",
    fragment: "second 61 is not 0 to 59",
  },
];

test("decoder: 29 February of a leap year is valid", (t) => {
  const result = decode(Buffer.from("02/29/24 23:59:59 SPO2=097%\r\n", "latin1"));
  t.is(
    result.ok ? recordOf(result.records, "numerics")?.deviceTime : undefined,
    "02/29/24 23:59:59",
  );
});

test("decoder: invalid optional time stamp is dropped", (t) => {
  const profile: AsciiLineProfile = {
    ...masimo,
    fields: { ...masimo.fields, deviceTime: { format: "MM/DD/YY HH:MM:SS", required: false } },
  };
  const line = "13/45/26 25:61:00 SPO2=097%\r\n";
  const result = createAsciiLineDecoder(profile)(Buffer.from(line, "latin1"));
  t.true(result.ok);
  const numerics = result.ok ? recordOf(result.records, "numerics") : undefined;
  t.is(numerics?.deviceTime, undefined);
  t.deepEqual(numerics?.values, [{ deviceCode: "SPO2", text: "097" }]);
});

for (const [format, text] of [
  ["DD/MM/YY HH:MM:SS", "31/12/24 23:59:59"],
  ["YYYY-MM-DD HH:MM:SS", "2024-12-31 00:00:00"],
  ["DD-MMM-YY HH:MM:SS", "31-Dec-24 08:30:00"],
] as const) {
  test(`device time ${format} accepts and checks ranges`, (t) => {
    t.is(deviceTimeProblem(format, text), undefined);
    t.truthy(deviceTimeProblem(format, text.replace("31", "32")), "day 32");
  });
}

test("device time DD-MMM-YY rejects an unknown month", (t) => {
  t.is(
    deviceTimeProblem("DD-MMM-YY HH:MM:SS", "01-Foo-24 08:30:00"),
    "the month is not a month name",
  );
});

for (const bad of badLines) {
  test(`decoder: rejects ${bad.name}`, (t) => {
    const result = decode(Buffer.from(bad.line, "latin1"));
    if (result.ok) {
      t.fail(`decoded ${JSON.stringify(result.records)}`);
      return;
    }
    t.true(hasCode(result.error, "DECODE_INVALID"), result.error.message);
    t.true(result.error.message.includes(bad.fragment), result.error.message);
  });
}

test("decoder: error text is bounded for a long line", (t) => {
  const result = decode(Buffer.from(`01/01/24 12:00:00 ${"x".repeat(400)}\r\n`, "latin1"));
  t.false(result.ok);
  const message = result.ok ? "" : result.error.message;
  t.true(message.includes("and 370 more bytes"), message);
  t.true(message.length < 300, `${message.length} characters`);
});

test("profile: Masimo file validates in the profile union", (t) => {
  const parsed = profileSchema.safeParse(parse(readFileSync(profileFile, "utf8")));
  t.true(parsed.success, parsed.success ? "" : JSON.stringify(parsed.error.issues));
  t.is(parsed.data?.family, "ascii-line");
});

for (const vector of masimo.testVectors) {
  test(`profile vector: ${vector.name}`, (t) => {
    // Vector text starts at a line boundary, so the first line must not be skipped.
    const profile = withoutFirstLineSkip(masimo);
    const pipeline = new DevicePipeline(codecFor(profile), profile, { name: "t", revision: "1" });
    pipeline.open(0);
    const input = vector.text ?? "";
    const result = pipeline.ingest(Buffer.from(input, "latin1"), 0);
    const observations = result.batches.flatMap((batch) => batch.measurements);
    const expected = vector.expect;
    t.deepEqual(
      observations.map(({ mdcCode, value, unit, absentReason }) => {
        return absentReason === undefined
          ? { mdcCode, value, unit }
          : { mdcCode, value, unit, absentReason };
      }),
      expected.observations,
    );
    t.deepEqual(
      result.alarms.map(({ alarmCode, state }) => ({ alarmCode, state })),
      expected.alarms,
    );
    if (expected.identity !== undefined) t.deepEqual(result.identity, expected.identity);
    if (expected.frames !== undefined) t.is(pipeline.counters.frames, expected.frames);
    t.is(pipeline.counters.decodeErrors, expected.decodeErrors);
    t.is(pipeline.counters.checksumErrors, expected.checksumErrors);
    if (expected.discardedBytes !== undefined) {
      t.is(pipeline.counters.discardedBytes, expected.discardedBytes);
    }
    if (expected.unmappedCodes !== undefined) t.deepEqual(result.unmapped, expected.unmappedCodes);
  });
}
