// Placeholder until the family lands.
import type { ProtocolFamily } from "../family.js";
import type { MedibusProfile } from "./schema.js";

const missing = (): never => {
  throw new Error("the medibus family is not implemented yet");
};

export const medibusFamily: ProtocolFamily<MedibusProfile> = {
  id: "medibus",
  createFramer: missing,
  createDecoder: missing,
  createSession: missing,
  createSimulator: missing,
};
