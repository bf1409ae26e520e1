/** Maps a profile's `family` to the code that implements it. */
import type { Profile } from "../profiles/schema.js";
import { asciiLineFamily } from "./ascii-line/index.js";
import { astmFamily } from "./astm/index.js";
import { datexFamily } from "./datex/index.js";
import type { HostIdentity, SimulatorOptions, DeviceSimulator } from "./family.js";
import { intellivueFamily } from "./intellivue/index.js";
import { hl7MllpFamily } from "./hl7-mllp/index.js";
import { medibusFamily } from "./medibus/index.js";
import { noninFamily } from "./nonin/index.js";
import type { Decoder, Framer, Session } from "./types.js";

export interface ProfileCodec {
  createFramer(): Framer;
  createDecoder(): Decoder;
  createSession(host: HostIdentity): Session;
  createSimulator(options: SimulatorOptions): DeviceSimulator;
}

/** Binds a validated profile to its family, so callers need not switch on the family. */
export function codecFor(profile: Profile): ProfileCodec {
  switch (profile.family) {
    case "ascii-line":
      return bind(asciiLineFamily, profile);
    case "medibus":
      return bind(medibusFamily, profile);
    case "intellivue":
      return bind(intellivueFamily, profile);
    case "astm-e1381":
      return bind(astmFamily, profile);
    case "hl7-mllp":
      return bind(hl7MllpFamily, profile);
    case "datex-s5":
      return bind(datexFamily, profile);
    case "nonin":
      return bind(noninFamily, profile);
  }
}

function bind<P>(
  family: {
    createFramer(p: P): Framer;
    createDecoder(p: P): Decoder;
    createSession(p: P, host: HostIdentity): Session;
    createSimulator(p: P, options: SimulatorOptions): DeviceSimulator;
  },
  profile: P,
): ProfileCodec {
  return {
    createFramer: () => family.createFramer(profile),
    createDecoder: () => family.createDecoder(profile),
    createSession: (host) => family.createSession(profile, host),
    createSimulator: (options) => family.createSimulator(profile, options),
  };
}
