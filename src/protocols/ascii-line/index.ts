/**
 * The ascii-line protocol family: devices that send one KEY=VALUE line per reading without
 * being asked, such as the Masimo Radical-7 in "ASCII 1" mode. The host never writes to them.
 */
import type { ProtocolFamily } from "../family.js";
import { createListenOnlySession } from "../types.js";
import { createAsciiLineDecoder } from "./decoder.js";
import { createAsciiLineFramer } from "./framer.js";
import type { AsciiLineProfile } from "./schema.js";
import { createRadical7Simulator } from "./simulator.js";

export const asciiLineFamily: ProtocolFamily<AsciiLineProfile> = {
  id: "ascii-line",
  createFramer: createAsciiLineFramer,
  createDecoder: createAsciiLineDecoder,
  createSession: () => createListenOnlySession(),
  createSimulator: (profile, options) => createRadical7Simulator(profile, options),
};

export { withoutFirstLineSkip } from "./schema.js";
