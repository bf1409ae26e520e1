/**
 * Turns a family decoder's raw values into measurements, using the profile's mapping. This is
 * the one place where device codes meet MDC codes, units, scales and absent markers.
 */
import type { MeasurementMapping } from "../profiles/common.js";
import type { RawValue } from "../protocols/types.js";

export type AbsentReason = "absent" | "invalid";

export interface Measurement {
  deviceCode: string;
  mdcCode: number;
  mdcRefId: string;
  /** The number after scaling, or null with a reason. */
  value: number | null;
  absentReason?: AbsentReason;
  unit: string;
}

export interface MappingResult {
  measurements: Measurement[];
  /** Device codes the profile has no mapping for: counted and reported, never silent. */
  unmapped: string[];
  /**
   * Mapped values whose text was neither a number nor an absent marker, or whose unit or
   * number the mapping does not accept (deviceUnits, validRange).
   */
  invalid: RawValue[];
}

export interface MapperProfile {
  measurements: Record<string, MeasurementMapping>;
  absentPatterns: string[];
  missingValues: "absent" | "ignore";
}

const numberText = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export class MeasurementMapper {
  private readonly absent: RegExp[];

  constructor(private readonly profile: MapperProfile) {
    this.absent = profile.absentPatterns.map((pattern) => new RegExp(pattern));
  }

  map(values: readonly RawValue[], snapshot: boolean): MappingResult {
    const result: MappingResult = { measurements: [], unmapped: [], invalid: [] };
    const seen = new Set<string>();
    for (const raw of values) {
      const mapping = this.profile.measurements[raw.deviceCode];
      if (mapping === undefined) {
        result.unmapped.push(raw.deviceCode);
        continue;
      }
      seen.add(raw.deviceCode);
      let parsed: { value: number | null; absentReason?: AbsentReason } =
        raw.absentReason === undefined
          ? this.parse(raw.text, mapping.scale)
          : { value: null, absentReason: raw.absentReason };
      // An absent value has no unit to check, and devices often leave the unit out with it.
      const wrongUnit = parsed.value !== null && !unitMatches(raw, mapping);
      const outOfRange = parsed.value !== null && !inValidRange(parsed.value, mapping);
      if (wrongUnit || outOfRange) parsed = { value: null, absentReason: "invalid" };
      // A device's own invalid marker is data, not a value the gateway failed to read.
      if (raw.absentReason === undefined && parsed.absentReason === "invalid") {
        result.invalid.push(raw);
      }
      result.measurements.push({ ...measurementOf(raw.deviceCode, mapping), ...parsed });
    }
    if (snapshot && this.profile.missingValues === "absent") {
      for (const [deviceCode, mapping] of Object.entries(this.profile.measurements)) {
        if (seen.has(deviceCode)) continue;
        result.measurements.push({
          ...measurementOf(deviceCode, mapping),
          value: null,
          absentReason: "absent",
        });
      }
    }
    return result;
  }

  private parse(
    text: string,
    scale: number,
  ): { value: number | null; absentReason?: AbsentReason } {
    const trimmed = text.trim();
    if (trimmed === "" || this.absent.some((pattern) => pattern.test(trimmed))) {
      return { value: null, absentReason: "absent" };
    }
    if (!numberText.test(trimmed)) return { value: null, absentReason: "invalid" };
    // Round away binary noise from the scale (0.1 * 3 is 0.30000000000000004).
    const value = Number((Number(trimmed) * scale).toPrecision(12));
    // Hundreds of digits overflow to Infinity, which JSON would turn into a bare null.
    if (!Number.isFinite(value)) return { value: null, absentReason: "invalid" };
    return { value };
  }
}

/** Whether the unit the device sent, if it sends one, is one the profile accepts for the code. */
function unitMatches(raw: RawValue, mapping: MeasurementMapping): boolean {
  if (mapping.deviceUnits === undefined) return true;
  return mapping.deviceUnits.includes(raw.unit ?? "");
}

function inValidRange(value: number, mapping: MeasurementMapping): boolean {
  const range = mapping.validRange;
  return range === undefined || (value >= range.min && value <= range.max);
}

function measurementOf(deviceCode: string, mapping: MeasurementMapping) {
  return { deviceCode, mdcCode: mapping.mdcCode, mdcRefId: mapping.mdcRefId, unit: mapping.unit };
}
