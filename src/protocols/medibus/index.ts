/** The Dräger MEDIBUS protocol family: ESC/SOH command-response over RS-232. */
import type { ProtocolFamily } from "../family.js";
import { decodeMedibusFrame } from "./decoder.js";
import { createMedibusFramer } from "./framer.js";
import type { MedibusProfile } from "./schema.js";
import { createMedibusSession } from "./session.js";
import { createMedibusSimulator, simulatedDataCodes } from "./simulator.js";

export const medibusFamily: ProtocolFamily<MedibusProfile> = {
  id: "medibus",
  createFramer: (profile) => createMedibusFramer({ maxFrameBytes: profile.maxFrameBytes }),
  // The decoder needs nothing from the profile: the code mapping happens after it.
  createDecoder: () => decodeMedibusFrame,
  createSession: (profile, host) => createMedibusSession(profile.session, host),
  // The simulated device sends the codes the profile maps, and reports the profile's model.
  createSimulator: (profile, options) =>
    createMedibusSimulator(profile.maxFrameBytes, {
      ...options,
      dataCodes: simulatedDataCodes(Object.keys(profile.measurements)),
      deviceName: profile.model.replace(/\s+/g, ""),
    }),
};
