import test from "ava";
import { noninProfileSchema } from "../../../src/protocols/nonin/schema.js";
import { noninProfile } from "./packets.js";

function problems(change: (profile: Record<string, unknown>) => void): string[] {
  const profile = structuredClone(noninProfile(2)) as unknown as Record<string, unknown>;
  change(profile);
  const result = noninProfileSchema.safeParse(profile);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

test("schema: maxFrameBytes must hold a packet", (t) => {
  t.deepEqual(
    problems((p) => (p.maxFrameBytes = 64)),
    ["maxFrameBytes: must be at least 125, the size of one format 2 packet"],
  );
});

test("schema: measurement key must be a value of the format", (t) => {
  const found = problems((p) => {
    p.framing = { format: 8 };
    (p.measurements as Record<string, unknown>)["E-HR"] = {
      mdcCode: 1,
      mdcRefId: "MDC_X",
      unit: "/min",
    };
  });
  t.deepEqual(found, [
    'measurements.E-HR: key "E-HR" is not a value of format 8; use one of HR, SPO2',
  ]);
});

test("schema: status bits must be free bits", (t) => {
  const meaning = { code: "x", text: "x" };
  t.deepEqual(
    problems((p) => (p.fields = { statusBits: { "0x01": meaning, "0x40": meaning } })),
    [
      "fields.statusBits.0x01: mask 0x01 is a framing or value bit in format 2; only bits in 0x7e can be status flags",
    ],
  );
  t.deepEqual(
    problems((p) => (p.fields = { statusBits: { "0x60": meaning } })),
    ["fields.statusBits.0x60: mask 0x60 must have exactly one bit set, such as 0x40"],
  );
});

test("schema: format 2 has no STAT2", (t) => {
  const meaning = { code: "x", text: "x" };
  t.deepEqual(
    problems((p) => (p.fields = { status2Bits: { "0x01": meaning } })),
    ["fields.status2Bits: must be empty for format 2, which has no STAT2 byte"],
  );
});

test("schema: format must be 2, 7 or 8", (t) => {
  t.is(problems((p) => (p.framing = { format: 13 })).length, 1);
});
