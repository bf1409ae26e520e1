/**
 * UCUM units, as the profiles write them, to the UNECE Recommendation 20 common codes that OPC UA
 * EUInformation carries (OPC 10000-8, 5.6.3). Pure data, so the table can be tested without
 * node-opcua.
 */
export interface UnitOfMeasure {
  /**
   * UNECE common code, turned into EUInformation.unitId by node-opcua's makeEUInformation, or
   * null for a unit given no code here (unitId -1, as OPC UA Part 8 allows).
   */
  commonCode: string | null;
  /** EUInformation.displayName. */
  symbol: string;
  /** EUInformation.description. */
  description: string;
}

/**
 * Every UCUM unit the built-in profiles use. %, mbar, kPa and Cel are in node-opcua's own
 * standardUnits list (P1, MBR, KPA, CEL).
 * NOTE: the other codes (C94, HN, MLT, 2Z, C62) are not yet checked against the published
 * Recommendation 20 list.
 */
export const ucumUnits: Readonly<Record<string, UnitOfMeasure>> = {
  "%": { commonCode: "P1", symbol: "%", description: "percent" },
  "1": { commonCode: "C62", symbol: "1", description: "one (a ratio or count without unit)" },
  Cel: { commonCode: "CEL", symbol: "°C", description: "degree Celsius" },
  kPa: { commonCode: "KPA", symbol: "kPa", description: "kilopascal" },
  mV: { commonCode: "2Z", symbol: "mV", description: "millivolt" },
  // NOTE: pH is a number without a unit; no Recommendation 20 code for it was confirmed here.
  "[pH]": { commonCode: null, symbol: "pH", description: "pH (potential of hydrogen)" },
  // NOTE: no Recommendation 20 code for the centimetre of water was confirmed here.
  "cm[H2O]": { commonCode: null, symbol: "cmH2O", description: "centimetre of water" },
  "/min": { commonCode: "C94", symbol: "/min", description: "reciprocal minute (per minute)" },
  "mm[Hg]": { commonCode: "HN", symbol: "mmHg", description: "millimetre of mercury" },
  mbar: { commonCode: "MBR", symbol: "mbar", description: "millibar" },
  mL: { commonCode: "MLT", symbol: "mL", description: "millilitre" },
};

/** Returns the unit for a UCUM code, or undefined for one the table lacks (unitId -1 then). */
export function unitOfUcum(ucum: string): UnitOfMeasure | undefined {
  return Object.hasOwn(ucumUnits, ucum) ? ucumUnits[ucum] : undefined;
}
