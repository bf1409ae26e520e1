import test from "ava";
import { encodeMllp } from "../../../src/protocols/hl7-mllp/codec.js";
import { createHl7Decoder } from "../../../src/protocols/hl7-mllp/decoder.js";
import { parseHl7Message, unescapeHl7 } from "../../../src/protocols/hl7-mllp/message.js";
import { seededRandom } from "../../../src/random.js";
import type { DeviceRecord, RawValue } from "../../../src/protocols/types.js";

const decode = createHl7Decoder();
const msh = (type = "ORU^R01^ORU_R01", id = "MSG1", version = "2.6") =>
  `MSH|^~\\&|MON|ICU|GW|HOSP|20240101120000||${type}|${id}|P|${version}`;
const frameOf = (...segments: string[]) => encodeMllp(segments.map((s) => `${s}\r`).join(""));

function numerics(records: DeviceRecord[]): { values: RawValue[]; deviceTime?: string }[] {
  return records.flatMap((record) =>
    record.kind === "numerics" ? [{ values: record.values, deviceTime: record.deviceTime }] : [],
  );
}

test("decoder reads an NM OBX with MDC code, unit and time", (t) => {
  const result = decode(
    frameOf(
      msh(),
      "PID|||PAT-4711^^^SIM^MR||DOE^JANE",
      "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|98|262688^MDC_DIM_PERCENT^MDC|||||R|||20240101120005",
    ),
  );
  if (!result.ok) return t.fail(result.error.message);
  t.deepEqual(numerics(result.records), [
    {
      values: [{ deviceCode: "150456", text: "98", unit: "262688" }],
      deviceTime: "20240101120005",
    },
  ]);
  const session = result.records.find((record) => record.kind === "session");
  t.like(session, {
    event: { type: "hl7-message", header: { controlId: "MSG1", sendingApplication: "MON" } },
  });
  t.false(JSON.stringify(result.records).includes("DOE"), "no patient name in a record");
  t.false(JSON.stringify(result.records).includes("PAT-4711"), "no patient id in a record");
});

test("decoder groups OBX by time and falls back to OBR-7 then MSH-7", (t) => {
  const withObr = decode(
    frameOf(
      msh(),
      "OBR|1|||x^y^SCT|||20240101115959",
      "OBX|1|NM|147842^HR^MDC||72|/min^/min^UCUM",
      "OBX|2|NM|150456^SPO2^MDC||97|%^%^UCUM",
      "OBX|3|NM|151562^RR^MDC||14|/min^/min^UCUM|||||F|||20240101120001",
    ),
  );
  if (!withObr.ok) return t.fail(withObr.error.message);
  const groups = numerics(withObr.records);
  t.deepEqual(
    groups.map((group) => [group.deviceTime, group.values.length]),
    [
      ["20240101115959", 2],
      ["20240101120001", 1],
    ],
  );
  const noObr = decode(frameOf(msh(), "OBX|1|NM|147842^HR^MDC||72"));
  if (!noObr.ok) return t.fail(noObr.error.message);
  t.is(numerics(noObr.records)[0]?.deviceTime, "20240101120000");
});

test("decoder keys other coding systems by code and system", (t) => {
  const result = decode(frameOf(msh(), "OBX|1|NM|8867-4^Heart rate^LN||72|/min"));
  if (!result.ok) return t.fail(result.error.message);
  t.is(numerics(result.records)[0]?.values[0]?.deviceCode, "8867-4^LN");
});

test("decoder skips OBX that are not NM", (t) => {
  const result = decode(
    frameOf(
      msh(),
      "OBX|1||69965^MDC_DEV_MON^MDC|1",
      "OBX|2|ST|x^y^MDC||text",
      "OBX|3|CWE|a^b^MDC||c",
    ),
  );
  if (!result.ok) return t.fail(result.error.message);
  t.deepEqual(numerics(result.records), []);
  t.is(result.skipped, undefined);
});

test("decoder makes status X and D absent", (t) => {
  for (const status of ["X", "D"]) {
    const result = decode(frameOf(msh(), `OBX|1|NM|150456^S^MDC||98|%|||||${status}`));
    if (!result.ok) return t.fail(result.error.message);
    t.is(numerics(result.records)[0]?.values[0]?.text, "", `status ${status}`);
  }
});

test("decoder reports an NM OBX without code and keeps the rest", (t) => {
  const result = decode(frameOf(msh(), "OBX|1|NM|||98", "OBX|2|NM|150456^S^MDC||97"));
  if (!result.ok) return t.fail(result.error.message);
  t.is(result.skipped?.length, 1);
  t.regex(result.skipped?.[0]?.message ?? "", /OBX-1 of type NM has no OBX-3 code/);
  t.is(numerics(result.records)[0]?.values[0]?.text, "97");
});

test("decoder keeps the last OBX of a repeated code", (t) => {
  const result = decode(
    frameOf(
      msh(),
      "OBX|1|NM|150456^S^MDC||97",
      "OBX|2|NM|147842^H^MDC||72",
      "OBX|3|NM|150456^S^MDC||95",
    ),
  );
  if (!result.ok) return t.fail(result.error.message);
  t.deepEqual(
    numerics(result.records)[0]?.values.map((value) => [value.deviceCode, value.text]),
    [
      ["147842", "72"],
      ["150456", "95"],
    ],
  );
  t.is(result.skipped?.length, 1);
  t.regex(
    result.skipped?.[0]?.message ?? "",
    /OBX-3 repeats code "150456" of OBX-1 .*OBX-1 skipped/,
  );
});

test("decoder keeps one code at two observation times", (t) => {
  const result = decode(
    frameOf(
      msh(),
      "OBX|1|NM|150456^S^MDC||97||||||R|||20240101120001",
      "OBX|2|NM|150456^S^MDC||96||||||R|||20240101120002",
    ),
  );
  if (!result.ok) return t.fail(result.error.message);
  t.deepEqual(
    numerics(result.records).map((record) => record.values[0]?.text),
    ["97", "96"],
  );
  t.is(result.skipped, undefined);
});

interface Rejected {
  name: string;
  frame: Buffer;
  pattern: RegExp;
}

const rejected: Rejected[] = [
  { name: "a message without MSH", frame: frameOf("PID|||1"), pattern: /must start with an MSH/ },
  { name: "empty content", frame: encodeMllp(""), pattern: /must start with an MSH/ },
  {
    name: "MSH without encoding characters",
    frame: frameOf("MSH|"),
    pattern: /must start with an MSH/,
  },
  { name: "a bad segment id", frame: frameOf(msh(), "ob|1"), pattern: /segment id "ob"/ },
  { name: "an ADT message", frame: frameOf(msh("ADT^A01")), pattern: /"ADT\^A01" is not ORU\^R01/ },
  { name: "version 3", frame: frameOf(msh(undefined, "M1", "3.0")), pattern: /version "3.0"/ },
  { name: "no control id", frame: frameOf(msh(undefined, "")), pattern: /MSH-10/ },
];

for (const bad of rejected) {
  test(`decoder rejects ${bad.name}`, (t) => {
    const result = decode(bad.frame);
    if (result.ok) return t.fail("decoded");
    t.is(result.error.code, "DECODE_INVALID");
    t.regex(result.error.message, bad.pattern);
  });
}

test("message parser reads custom separators and escapes", (t) => {
  const parsed = parseHl7Message(
    "MSH#*~!@#A#B#C#D#20240101##ORU*R01#7#P#2.5\rOBX#1#NM#1*x*MDC##5#mg!S!dL\r",
  );
  if (!parsed.ok) return t.fail(parsed.problem);
  t.is(parsed.message.header.controlId, "7");
  t.is(parsed.message.component, "*");
  t.is(unescapeHl7(parsed.message, "mg!S!dL"), "mg*dL");
  t.is(unescapeHl7(parsed.message, "a!F!b!E!c!X12!"), "a#b!c");
});

test("decoder never throws on random messages", (t) => {
  const random = seededRandom(20_261_207);
  const pieces = [
    "MSH|^~\\&|",
    "ORU^R01",
    "|",
    "^",
    "~",
    "\\",
    "&",
    "\r",
    "\n",
    "OBX|1|NM|",
    "150456^S^MDC",
    "98",
    "\\F\\",
    "\\X0D\\",
    "PID|",
    "2.6",
  ];
  for (let run = 0; run < 2000; run++) {
    const count = Math.floor(random() * 20);
    const text = Array.from(
      { length: count },
      () => pieces[Math.floor(random() * pieces.length)] ?? "",
    ).join("");
    t.notThrows(
      () =>
        decode(encodeMllp(random() < 0.7 ? `MSH|^~\\&|||||||ORU^R01|${run}|P|2.6\r${text}` : text)),
      `run ${run}`,
    );
  }
});
