/** The ASTM E1381/E1394 protocol family: analyzers that send results to the gateway. */
import type { ProtocolFamily } from "../family.js";
import { createAstmDecoder } from "./decoder.js";
import { createAstmFramer } from "./framer.js";
import type { AstmProfile } from "./schema.js";
import { createAstmSession } from "./session.js";
import { createAstmSimulator } from "./simulator.js";

export const astmFamily: ProtocolFamily<AstmProfile> = {
  id: "astm-e1381",
  createFramer: (profile) => createAstmFramer({ maxFrameBytes: profile.maxFrameBytes }),
  createDecoder: createAstmDecoder,
  createSession: (profile) => createAstmSession(profile.session),
  createSimulator: (profile, options) => createAstmSimulator(profile.framing.maxTextBytes, options),
};
