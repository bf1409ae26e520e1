/**
 * Layout of a physiological subrecord and of its basic class, and the wave types. Device codes
 * are `group.field` in lower case, such as `nibp.sys`, named after the specification's fields.
 *
 * A physiological subrecord is 278 bytes: uint32 time, the 270-byte class block, uint8 marker,
 * uint8 reserved and uint16 cl_drilvl_subt. Every parameter group but ecg_extra starts with a
 * uint32 status (bit 0 exists, bit 1 active) and a uint16 label; the fields are int16.
 */

export const PHYSIOLOGICAL_SUBRECORD_BYTES = 278;
/** Offset of the class block inside a physiological subrecord, after its time. */
export const CLASS_BLOCK_OFFSET = 4;
export const CLASS_BLOCK_BYTES = 270;
/** Offset of cl_drilvl_subt inside a physiological subrecord. */
export const CLASS_WORD_OFFSET = 276;

/**
 * Returns the class of a subrecord from its cl_drilvl_subt word (0 basic, 1 to 3 EXT1 to EXT3).
 * NOTE: one public implementation reads the class from bits 8 to 11. The specification's bit
 * layout was not available to check.
 */
export function classOf(word: number): number {
  return (word >> 8) & 0x0f;
}

/** Builds cl_drilvl_subt from a class and a physiological subrecord type, as classOf reads it. */
export function classWord(phdbClass: number, subrecordType: number): number {
  return ((phdbClass & 0x0f) << 8) | (subrecordType & 0xff);
}

export const BASIC_CLASS = 0;

/** Group status bits. */
export const GroupStatus = { exists: 0x1, active: 0x2 } as const;

/** Values at or below this are the monitor's markers for a value it cannot give. */
export const DATA_INVALID_LIMIT = -32001;

/** The markers the specification names, with the reason each publishes as. */
export const invalidMarkers: ReadonlyMap<number, { name: string; reason: "absent" | "invalid" }> =
  new Map([
    [-32767, { name: "no valid data", reason: "absent" }],
    [-32766, { name: "not updated", reason: "absent" }],
    [-32765, { name: "discontinuity", reason: "invalid" }],
    [-32764, { name: "under range", reason: "invalid" }],
    [-32763, { name: "over range", reason: "invalid" }],
    [-32762, { name: "not calibrated", reason: "invalid" }],
  ]);

export interface GroupLayout {
  name: string;
  /** Offset in the class block. */
  offset: number;
  /** False for ecg_extra, which has no status and label. */
  hasHeader: boolean;
  /** Field names with their offsets from the group start. */
  fields: readonly (readonly [string, number])[];
}

const pressureFields = [
  ["sys", 6],
  ["dia", 8],
  ["mean", 10],
  ["hr", 12],
] as const;
const temperatureFields = [["temp", 6]] as const;
const gasFields = [
  ["et", 6],
  ["fi", 8],
] as const;

const group = (
  name: string,
  offset: number,
  fields: readonly (readonly [string, number])[],
): GroupLayout => ({ name, offset, hasHeader: true, fields });

/** The basic class, offsets in bytes from the start of the class block. */
export const basicGroups: readonly GroupLayout[] = [
  group("ecg", 0, [
    ["hr", 6],
    ["st1", 8],
    ["st2", 10],
    ["st3", 12],
    ["imp_rr", 14],
  ]),
  group("p1", 16, pressureFields),
  group("p2", 30, pressureFields),
  group("p3", 44, pressureFields),
  group("p4", 58, pressureFields),
  group("nibp", 72, pressureFields),
  group("t1", 86, temperatureFields),
  group("t2", 94, temperatureFields),
  group("t3", 102, temperatureFields),
  group("t4", 110, temperatureFields),
  group("spo2", 118, [
    ["spo2", 6],
    ["pr", 8],
    ["ir_amp", 10],
    ["svo2", 12],
  ]),
  group("co2", 132, [
    ["et", 6],
    ["fi", 8],
    ["rr", 10],
    ["amb_press", 12],
  ]),
  group("o2", 146, gasFields),
  group("n2o", 156, gasFields),
  group("aa", 166, [...gasFields, ["mac_sum", 10]]),
  group("flow_vol", 178, [
    ["rr", 6],
    ["ppeak", 8],
    ["peep", 10],
    ["pplat", 12],
    ["tv_insp", 14],
    ["tv_exp", 16],
    ["compliance", 18],
    ["mv_exp", 20],
  ]),
  group("co_wedge", 200, [
    ["co", 6],
    ["blood_temp", 8],
    ["rightef", 10],
    ["pcwp", 12],
  ]),
  group("nmt", 214, [
    ["t1", 6],
    ["tratio", 8],
    ["ptc", 10],
  ]),
  {
    name: "ecg_extra",
    offset: 226,
    hasHeader: false,
    fields: [
      ["hr_ecg", 0],
      ["hr_max", 2],
      ["hr_min", 4],
    ],
  },
  group("svo2", 232, [["svo2", 6]]),
  group("p5", 240, pressureFields),
  group("p6", 254, pressureFields),
];

/**
 * EtCO2 as a partial pressure: the product of co2.et (0.01 %) and co2.amb_press (0.1 mmHg), so
 * a scale of 1e-5 gives mmHg. The decoder derives it, because the mapper scales one value only.
 */
export const ETCO2_PRESSURE_CODE = "co2.et_press";

/** Every device code a basic subrecord can carry. */
export const basicDeviceCodes: readonly string[] = [
  ...basicGroups.flatMap((layout) => layout.fields.map(([field]) => `${layout.name}.${field}`)),
  ETCO2_PRESSURE_CODE,
];

/**
 * Wave types by number, with their sample rates where the specification fixes them. The session
 * requests only waves with a known rate, so it can keep the sum of rates under the monitor's
 * limit.
 */
export const waveTypes: readonly { code: string; type: number; samplesPerSecond?: number }[] = [
  { code: "ecg1", type: 1, samplesPerSecond: 300 },
  { code: "ecg2", type: 2, samplesPerSecond: 300 },
  { code: "ecg3", type: 3, samplesPerSecond: 300 },
  { code: "invp1", type: 4, samplesPerSecond: 100 },
  { code: "invp2", type: 5, samplesPerSecond: 100 },
  { code: "invp3", type: 6, samplesPerSecond: 100 },
  { code: "invp4", type: 7, samplesPerSecond: 100 },
  { code: "pleth", type: 8, samplesPerSecond: 100 },
  { code: "co2", type: 9 },
  { code: "o2", type: 10 },
  { code: "n2o", type: 11 },
  { code: "aa", type: 12 },
  { code: "awp", type: 13 },
  { code: "flow", type: 14 },
  { code: "resp", type: 15, samplesPerSecond: 25 },
  // NOTE: the rate of INVP5 and INVP6 is inferred from INVP1 to INVP4.
  { code: "invp5", type: 16, samplesPerSecond: 100 },
  { code: "invp6", type: 17, samplesPerSecond: 100 },
  { code: "eeg1", type: 18 },
  { code: "eeg2", type: 19 },
  { code: "eeg3", type: 20 },
  { code: "eeg4", type: 21 },
  { code: "vol", type: 23 },
  { code: "ent_100", type: 32 },
  { code: "eeg_bis", type: 35, samplesPerSecond: 300 },
];

/** Maximum sum of requested sample rates a monitor is reported to sustain. */
export const MAX_WAVE_SAMPLES_PER_SECOND = 600;

/** Returns the device code of a wave type, such as "ecg1", or "wave<N>" for an unknown type. */
export function waveCode(type: number): string {
  return waveTypes.find((wave) => wave.type === type)?.code ?? `wave${type}`;
}

/** Wave subrecord header: int16 sample count, uint16 status bits, uint16 reserved. */
export const WAVE_HEADER_BYTES = 6;
