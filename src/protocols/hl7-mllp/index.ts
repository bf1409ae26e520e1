/** The HL7 v2 over MLLP protocol family: ORU^R01 observations pushed to the gateway. */
import type { ProtocolFamily } from "../family.js";
import { createHl7Decoder } from "./decoder.js";
import { createMllpFramer } from "./framer.js";
import type { Hl7MllpProfile } from "./schema.js";
import { createHl7Session } from "./session.js";
import { createHl7Simulator } from "./simulator.js";

export const hl7MllpFamily: ProtocolFamily<Hl7MllpProfile> = {
  id: "hl7-mllp",
  createFramer: (profile) => createMllpFramer({ maxFrameBytes: profile.maxFrameBytes }),
  createDecoder: () => createHl7Decoder(),
  createSession: (_profile, host) => createHl7Session(host),
  createSimulator: (profile, options) => createHl7Simulator(profile.maxFrameBytes, options),
};
