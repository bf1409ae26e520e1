import test from "ava";
import { MeasurementMapper } from "../../src/device/measurements.js";

const profile = {
  measurements: {
    SPO2: { mdcCode: 150456, mdcRefId: "MDC_PULS_OXIM_SAT_O2", unit: "%", scale: 1 },
    TEMP: { mdcCode: 150364, mdcRefId: "MDC_TEMP_BODY", unit: "Cel", scale: 0.1 },
  },
  absentPatterns: ["^-+(\\.-+)?$"],
  missingValues: "ignore" as const,
};

test("maps a number with its code, unit and scale", (t) => {
  const result = new MeasurementMapper(profile).map([{ deviceCode: "TEMP", text: " 373" }], false);
  t.deepEqual(result.measurements, [
    { deviceCode: "TEMP", mdcCode: 150364, mdcRefId: "MDC_TEMP_BODY", unit: "Cel", value: 37.3 },
  ]);
});

const texts: { text: string; value: number | null; absentReason?: "absent" | "invalid" }[] = [
  { text: "097", value: 97 },
  { text: "-1.5", value: -1.5 },
  { text: "---", value: null, absentReason: "absent" },
  { text: "--.-", value: null, absentReason: "absent" },
  { text: "    ", value: null, absentReason: "absent" },
  { text: "9O", value: null, absentReason: "invalid" },
  { text: "1e3", value: null, absentReason: "invalid" },
  { text: "0x10", value: null, absentReason: "invalid" },
];

for (const { text, value, absentReason } of texts) {
  test(`value text ${JSON.stringify(text)} maps to ${String(value)}`, (t) => {
    const [measurement] = new MeasurementMapper(profile).map(
      [{ deviceCode: "SPO2", text }],
      false,
    ).measurements;
    t.is(measurement?.value, value);
    t.is(measurement?.absentReason, absentReason);
  });
}

test("invalid text is reported besides the measurement", (t) => {
  const result = new MeasurementMapper(profile).map([{ deviceCode: "SPO2", text: "9O" }], false);
  t.deepEqual(result.invalid, [{ deviceCode: "SPO2", text: "9O" }]);
});

test("unmapped codes are reported, never dropped silently", (t) => {
  const result = new MeasurementMapper(profile).map(
    [
      { deviceCode: "PVI", text: "14" },
      { deviceCode: "SPO2", text: "97" },
    ],
    true,
  );
  t.deepEqual(result.unmapped, ["PVI"]);
  t.is(result.measurements.length, 1);
});

test("snapshot publishes missing mapped codes as absent when asked", (t) => {
  const mapper = new MeasurementMapper({ ...profile, missingValues: "absent" });
  const result = mapper.map([{ deviceCode: "SPO2", text: "97" }], true);
  t.deepEqual(
    result.measurements.map((m) => [m.deviceCode, m.value, m.absentReason]),
    [
      ["SPO2", 97, undefined],
      ["TEMP", null, "absent"],
    ],
  );
});

test("partial record does not mark missing codes absent", (t) => {
  const mapper = new MeasurementMapper({ ...profile, missingValues: "absent" });
  t.is(mapper.map([{ deviceCode: "SPO2", text: "97" }], false).measurements.length, 1);
});

test("number too large for a double is invalid, not null", (t) => {
  const [measurement] = new MeasurementMapper(profile).map(
    [{ deviceCode: "SPO2", text: `1${"0".repeat(320)}` }],
    false,
  ).measurements;
  t.is(measurement?.value, null);
  t.is(measurement?.absentReason, "invalid");
});

const ranged = {
  ...profile,
  measurements: {
    SPO2: { ...profile.measurements.SPO2, validRange: { min: 0, max: 100 } },
    TEMP: { ...profile.measurements.TEMP, validRange: { min: 25, max: 45 } },
  },
};

const rangeCases: { code: string; text: string; value: number | null }[] = [
  { code: "SPO2", text: "-97", value: null },
  { code: "SPO2", text: "099999999999999999999", value: null },
  { code: "SPO2", text: "100.1", value: null },
  { code: "SPO2", text: "100", value: 100 },
  { code: "SPO2", text: "0", value: 0 },
  // The range applies to the scaled value: 450 * 0.1 is 45 Cel.
  { code: "TEMP", text: "450", value: 45 },
  { code: "TEMP", text: "451", value: null },
];

for (const { code, text, value } of rangeCases) {
  test(`validRange maps ${code} ${JSON.stringify(text)} to ${String(value)}`, (t) => {
    const result = new MeasurementMapper(ranged).map([{ deviceCode: code, text }], false);
    t.is(result.measurements[0]?.value, value);
    t.is(result.measurements[0]?.absentReason, value === null ? "invalid" : undefined);
    t.is(result.invalid.length, value === null ? 1 : 0, "counted as invalid");
  });
}

test("validRange leaves an absent value absent", (t) => {
  const result = new MeasurementMapper(ranged).map([{ deviceCode: "SPO2", text: "---" }], false);
  t.is(result.measurements[0]?.absentReason, "absent");
  t.deepEqual(result.invalid, []);
});
