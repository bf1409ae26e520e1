import test from "ava";
import { AstmMessageAssembler } from "../../../src/protocols/astm/assembler.js";
import { encodeFrame, encodeMessage, restrictedBytes } from "../../../src/protocols/astm/codec.js";
import { createAstmDecoder } from "../../../src/protocols/astm/decoder.js";
import { parseAstmFrame } from "../../../src/protocols/astm/frame.js";
import { AstmRecordDecoder } from "../../../src/protocols/astm/records.js";
import { astmProfileSchema } from "../../../src/protocols/astm/schema.js";
import type { DeviceRecord } from "../../../src/protocols/types.js";
import { bytesOf } from "../../helpers/framer-cases.js";
import { seededRandom } from "../../../src/random.js";
import { loadProfiles, builtInProfileDirs } from "../../../src/profiles/load.js";

const latin1 = (text: string) => Buffer.from(text, "latin1");
const dataFrame = (number: number, text: string, last = true) =>
  encodeFrame(number, latin1(text), last);

test("checksum matches the worked python-astm vector", (t) => {
  const frame = dataFrame(1, "A|B|C|D\r");
  t.is(frame.subarray(-4, -2).toString("latin1"), "BF");
});

interface BadFrame {
  name: string;
  bytes: Buffer;
  code: "FRAME_CHECKSUM" | "DECODE_INVALID";
  pattern: RegExp;
}

const good = dataFrame(1, "L|1|N\r");
const withByte = (index: number, byte: number) => {
  const copy = Buffer.from(good);
  copy[index] = byte;
  return copy;
};

const badFrames: BadFrame[] = [
  {
    name: "wrong checksum",
    bytes: withByte(good.length - 3, 0x30),
    code: "FRAME_CHECKSUM",
    pattern: /expected "04"/,
  },
  {
    name: "frame number 8",
    bytes: withByte(1, 0x38),
    code: "DECODE_INVALID",
    pattern: /digit from 0 to 7/,
  },
  {
    name: "no ETB or ETX",
    bytes: withByte(good.length - 5, 0x41),
    code: "DECODE_INVALID",
    pattern: /ETB or ETX/,
  },
  {
    name: "checksum not hex",
    bytes: withByte(good.length - 4, 0x47),
    code: "DECODE_INVALID",
    pattern: /two hex digits/,
  },
  {
    name: "LF missing",
    bytes: withByte(good.length - 1, 0x0d),
    code: "DECODE_INVALID",
    pattern: /CR LF/,
  },
  {
    name: "too short",
    bytes: bytesOf("02 31 03 0D 0A"),
    code: "DECODE_INVALID",
    pattern: /STX FN text/,
  },
  {
    name: "single byte other than ENQ or EOT",
    bytes: bytesOf("06"),
    code: "DECODE_INVALID",
    pattern: /ENQ, EOT/,
  },
];

for (const bad of badFrames) {
  test(`frame parser rejects ${bad.name}`, (t) => {
    const parsed = parseAstmFrame(bad.bytes);
    if (parsed.ok) return t.fail("parsed");
    t.is(parsed.error.code, bad.code);
    t.regex(parsed.error.message, bad.pattern);
  });
}

test("frame parser rejects a restricted byte in the text", (t) => {
  // Built by hand: encodeFrame refuses restricted bytes.
  const covered = latin1("1A\x10B\x03");
  let sum = 0;
  for (const byte of covered) sum = (sum + byte) & 0xff;
  const bytes = Buffer.concat([
    bytesOf("02"),
    covered,
    latin1(`${sum.toString(16).toUpperCase().padStart(2, "0")}\r\n`),
  ]);
  const parsed = parseAstmFrame(bytes);
  t.false(parsed.ok);
  if (!parsed.ok) t.regex(parsed.error.message, /restricted byte 0x10/);
});

test("frame parser takes lower-case checksum digits", (t) => {
  const frame = dataFrame(1, "H|\\^&\r");
  const digits = frame.subarray(-4, -2).toString("latin1").toLowerCase();
  t.not(digits, digits.toUpperCase(), "the checksum must have a letter for this test");
  const lower = Buffer.concat([frame.subarray(0, -4), latin1(`${digits}\r\n`)]);
  t.true(parseAstmFrame(lower).ok);
});

test("assembler numbers frames 1 to 7 then 0", (t) => {
  const assembler = new AstmMessageAssembler(256);
  t.is(assembler.accept({ kind: "enquiry" }).event, "enquiry");
  const numbers = [1, 2, 3, 4, 5, 6, 7, 0, 1];
  for (const frameNumber of numbers) {
    const text = latin1(`C|${frameNumber}\r`);
    const assembly = assembler.accept({ kind: "data", frameNumber, last: false, text });
    t.is(assembly.event, "accepted", `frame ${frameNumber}`);
    t.deepEqual(assembly.records, [`C|${frameNumber}`]);
  }
});

test("assembler marks a repeat and a gap", (t) => {
  const assembler = new AstmMessageAssembler(256);
  assembler.accept({ kind: "enquiry" });
  const data = (frameNumber: number) => ({
    kind: "data" as const,
    frameNumber,
    last: false,
    text: latin1("C|1\r"),
  });
  t.is(assembler.accept(data(1)).event, "accepted");
  const repeat = assembler.accept(data(1));
  t.is(repeat.event, "repeated");
  t.deepEqual(repeat.records, []);
  t.is(assembler.accept(data(3)).event, "rejected");
  t.is(assembler.accept(data(2)).event, "accepted");
});

test("assembler rejects a first frame numbered 0", (t) => {
  const assembler = new AstmMessageAssembler(256);
  assembler.accept({ kind: "enquiry" });
  t.is(
    assembler.accept({ kind: "data", frameNumber: 0, last: true, text: latin1("L|1\r") }).event,
    "rejected",
  );
});

test("assembler rejects frames outside a transfer", (t) => {
  const assembler = new AstmMessageAssembler(256);
  const frame = { kind: "data" as const, frameNumber: 1, last: true, text: latin1("L|1\r") };
  t.is(assembler.accept(frame).event, "rejected");
  assembler.accept({ kind: "enquiry" });
  assembler.accept({ kind: "end" });
  t.is(assembler.accept(frame).event, "rejected");
});

test("assembler joins a record continued across frames", (t) => {
  const assembler = new AstmMessageAssembler(256);
  assembler.accept({ kind: "enquiry" });
  const first = assembler.accept({
    kind: "data",
    frameNumber: 1,
    last: false,
    text: latin1("H|\\^&\rR|1|^^^p"),
  });
  t.deepEqual(first.records, ["H|\\^&"]);
  t.is(assembler.bufferedBytes, 8);
  const second = assembler.accept({
    kind: "data",
    frameNumber: 2,
    last: true,
    text: latin1("H|7.40\rL|1|N"),
  });
  t.deepEqual(second.records, ["R|1|^^^pH|7.40", "L|1|N"]);
  t.is(assembler.bufferedBytes, 0);
});

test("assembler skips a record over the bound and keeps the next", (t) => {
  const assembler = new AstmMessageAssembler(64);
  assembler.accept({ kind: "enquiry" });
  const text = latin1(`C|1|${"X".repeat(100)}\rL|1|N\r`);
  const assembly = assembler.accept({ kind: "data", frameNumber: 1, last: true, text });
  t.is(assembly.event, "accepted");
  t.deepEqual(assembly.records, ["L|1|N"]);
  t.is(assembly.dropped.length, 1);
  t.regex(assembly.dropped[0]?.message ?? "", /maxRecordBytes \(64\)/);
});

test("assembler reports a record cut off by EOT", (t) => {
  const assembler = new AstmMessageAssembler(64);
  assembler.accept({ kind: "enquiry" });
  assembler.accept({ kind: "data", frameNumber: 1, last: false, text: latin1("R|1|^^^pH") });
  const end = assembler.accept({ kind: "end" });
  t.is(end.dropped.length, 1);
  t.is(assembler.bufferedBytes, 0);
});

test("records decode a result with unit and time", (t) => {
  const decoder = new AstmRecordDecoder();
  decoder.decode("H|\\^&|||BGA^2.1^SN9|||||||P|LIS2-A2|20240101120000");
  const result = decoder.decode("R|2|^^^pCO2|40.1|mm[Hg]||N||F||||20240101120500");
  t.deepEqual(result, {
    ok: true,
    records: [
      {
        kind: "numerics",
        values: [{ deviceCode: "pCO2", text: "40.1", unit: "mm[Hg]" }],
        snapshot: false,
        deviceTime: "20240101120500",
      },
    ],
  });
});

test("records use the header time and other delimiters", (t) => {
  const decoder = new AstmRecordDecoder();
  const header = decoder.decode("H!@#$!!!BGA#1.0!!!!!!!P!LIS2-A2!20240101130000");
  t.deepEqual(header, { ok: true, records: [{ kind: "identity", model: "BGA", firmware: "1.0" }] });
  const result = decoder.decode("R!1!###Na!140!mmol$S$L!!N!!F");
  t.deepEqual(result, {
    ok: true,
    records: [
      {
        kind: "numerics",
        values: [{ deviceCode: "Na", text: "140", unit: "mmol#L" }],
        snapshot: false,
        deviceTime: "20240101130000",
      },
    ],
  });
});

test("records make status X and I absent", (t) => {
  const decoder = new AstmRecordDecoder();
  for (const status of ["X", "I"]) {
    const result = decoder.decode(`R|1|^^^pO2|0|mm[Hg]||||${status}`);
    const record = result.ok ? result.records[0] : undefined;
    t.is(record?.kind === "numerics" ? record.values[0]?.text : "?", "", `status ${status}`);
  }
});

test("records never decode patient fields", (t) => {
  const decoder = new AstmRecordDecoder();
  t.deepEqual(decoder.decode("P|1||PAT-4711||DOE^JANE||19700101|F"), { ok: true, records: [] });
  t.deepEqual(decoder.decode("O|1|SAMPLE01||^^^BG|R"), { ok: true, records: [] });
});

test("records reject an unknown type and a result without test id", (t) => {
  const decoder = new AstmRecordDecoder();
  const unknown = decoder.decode("Z|1|x");
  t.false(unknown.ok);
  if (!unknown.ok) t.regex(unknown.error.message, /record type "Z"/);
  const noTest = decoder.decode("R|1||7.4");
  t.false(noTest.ok);
  if (!noTest.ok) t.regex(noTest.error.message, /universal test id/);
  t.true(decoder.decode("R|1|^^^pH|7.4").ok, "a bad record leaves the decoder usable");
});

test("decoder takes a message of several frames and skips a bad record", (t) => {
  const profile = astmProfileSchema.parse({
    ...builtIn(),
    records: { maxRecordBytes: 64 },
  });
  const decode = createAstmDecoder(profile);
  const message = latin1(`H|\\^&\rR|1|^^^pH|7.40\rZ|bad\rR|2|^^^pO2|90|mm[Hg]\rL|1|N\r`);
  const records: DeviceRecord[] = [];
  let skipped = 0;
  for (const frame of [Buffer.of(0x05), ...encodeMessage(message, 20), Buffer.of(0x04)]) {
    const result = decode(frame);
    if (!result.ok) return t.fail(result.error.message);
    records.push(...result.records);
    skipped += result.skipped?.length ?? 0;
  }
  const codes = records.flatMap((record) =>
    record.kind === "numerics" ? record.values.map((value) => value.deviceCode) : [],
  );
  t.deepEqual(codes, ["pH", "pO2"]);
  t.is(skipped, 1);
  const events = records.flatMap((record) =>
    record.kind === "session" && record.event.type === "astm" ? [record.event.event] : [],
  );
  // 55 bytes of records in frames of 20 text bytes: three frames.
  t.deepEqual(events, ["enquiry", "accepted", "accepted", "accepted", "end"]);
});

function builtIn(): Record<string, unknown> {
  const loaded = loadProfiles(builtInProfileDirs()).profiles.get("astm-e1381-blood-gas");
  if (loaded === undefined) throw new Error("profile astm-e1381-blood-gas missing");
  return { ...loaded.profile };
}

test("decoder never throws on random frames", (t) => {
  const random = seededRandom(20_261_206);
  const profile = astmProfileSchema.parse(builtIn());
  const decode = createAstmDecoder(profile);
  const alphabet = latin1("HPORL|\\^&R|1|^^^pH|7.4\r\x02\x03\x17\x04\x05");
  for (let run = 0; run < 2000; run++) {
    const length = Math.floor(random() * 40);
    const text = Buffer.from(
      Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)] ?? 0x41),
    );
    const frame =
      random() < 0.1
        ? Buffer.of(random() < 0.5 ? 0x05 : 0x04)
        : random() < 0.7
          ? encodeFrame(
              Math.floor(random() * 8),
              text.filter((byte) => !restrictedBytes.has(byte)),
              random() < 0.5,
            )
          : Buffer.concat([Buffer.of(0x02), text]);
    t.notThrows(() => decode(frame), `run ${run}`);
  }
});
