/** The GE/Datex-Ohmeda S/5 Computer Interface family: flag-framed binary records over RS-232. */
import type { ProtocolFamily } from "../family.js";
import { decodeDatexFrame } from "./decoder.js";
import { createDatexFramer } from "./framer.js";
import type { DatexProfile } from "./schema.js";
import { createDatexSession } from "./session.js";
import { createDatexSimulator } from "./simulator.js";

export const datexFamily: ProtocolFamily<DatexProfile> = {
  id: "datex-s5",
  createFramer: (profile) => createDatexFramer({ maxFrameBytes: profile.maxFrameBytes }),
  // The decoder needs nothing from the profile: the code mapping happens after it.
  createDecoder: () => decodeDatexFrame,
  // The monitor never requests the host's identity, so the session does not need it.
  createSession: (profile) => createDatexSession(profile.session),
  createSimulator: (profile, options) => createDatexSimulator(profile.maxFrameBytes, options),
};
