/**
 * Checks of a profile that its schema cannot express, because they relate several settings or
 * compile text. Each problem carries the line and column of the setting it names.
 */
import type { Locate, Problem } from "../config/problems.js";
import type { Profile, ProfileFamilyId } from "./schema.js";

/**
 * Families whose device codes contain the unit the device sent, such as IntelliVue's
 * `50B0/0F20` (EtCO2 in mm[Hg]) beside `50B0/0F03` (EtCO2 in kPa). Each code then maps one
 * measurement in one unit, so one MDC code with two units is the monitor's unit setting.
 */
const unitInDeviceCode: ReadonlySet<ProfileFamilyId> = new Set(["intellivue"]);

/** Returns the problems of a profile that passed its schema. */
export function checkProfile(file: string, profile: Profile, locate: Locate): Problem[] {
  return [...checkPatterns(file, profile, locate), ...checkUnits(file, profile, locate)];
}

function checkPatterns(file: string, profile: Profile, locate: Locate): Problem[] {
  return profile.absentPatterns.flatMap((pattern, index) => {
    try {
      new RegExp(pattern);
      return [];
    } catch (error) {
      const message = `is not a valid regular expression (${(error as Error).message})`;
      return [
        { file, path: `absentPatterns[${index}]`, ...locate(["absentPatterns", index]), message },
      ];
    }
  });
}

/**
 * Reports a device code whose mdcCode an earlier code maps with another unit, because a
 * consumer that reads values by MDC code would then mix two units.
 */
function checkUnits(file: string, profile: Profile, locate: Locate): Problem[] {
  if (unitInDeviceCode.has(profile.family)) return [];
  const first = new Map<number, { deviceCode: string; unit: string }>();
  const problems: Problem[] = [];
  for (const [deviceCode, mapping] of Object.entries(profile.measurements)) {
    const earlier = first.get(mapping.mdcCode);
    if (earlier === undefined) {
      first.set(mapping.mdcCode, { deviceCode, unit: mapping.unit });
      continue;
    }
    if (earlier.unit === mapping.unit) continue;
    const message =
      `maps mdcCode ${mapping.mdcCode} with unit ${JSON.stringify(mapping.unit)}, but ` +
      `measurements.${earlier.deviceCode} maps it with unit ${JSON.stringify(earlier.unit)}; ` +
      `use one unit (set scale to convert) or map one of the codes to another mdcCode`;
    const path = ["measurements", deviceCode, "unit"];
    problems.push({ file, path: `measurements.${deviceCode}.unit`, ...locate(path), message });
  }
  return problems;
}
