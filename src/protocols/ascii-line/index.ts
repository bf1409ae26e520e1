// Placeholder until the family lands.
import type { ProtocolFamily } from "../family.js";
import type { AsciiLineProfile } from "./schema.js";

const missing = (): never => {
  throw new Error("the ascii-line family is not implemented yet");
};

export const asciiLineFamily: ProtocolFamily<AsciiLineProfile> = {
  id: "ascii-line",
  createFramer: missing,
  createDecoder: missing,
  createSession: missing,
  createSimulator: missing,
};
