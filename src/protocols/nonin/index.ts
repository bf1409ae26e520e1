/** The Nonin protocol family: pulse oximeters sending binary data format 2, 7 or 8. */
import type { ProtocolFamily } from "../family.js";
import { createNoninDecoder } from "./decoder.js";
import { createNoninFramer } from "./framer.js";
import type { NoninProfile } from "./schema.js";
import { createNoninSession } from "./session.js";
import { createNoninSimulator } from "./simulator.js";

export const noninFamily: ProtocolFamily<NoninProfile> = {
  id: "nonin",
  createFramer: (profile) => createNoninFramer(profile.framing.format),
  createDecoder: createNoninDecoder,
  createSession: (profile) => createNoninSession(profile),
  createSimulator: (profile, options) => createNoninSimulator(profile, options),
};
