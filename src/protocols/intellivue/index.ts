/** The Philips IntelliVue MIB/RS-232 data export family: associate, then extended polls. */
import type { ProtocolFamily } from "../family.js";
import { createIntellivueDecoder } from "./decoder.js";
import { createIntellivueFramer } from "./framer.js";
import type { IntellivueProfile } from "./schema.js";
import { createIntellivueSession } from "./session.js";
import { createIntellivueSimulator } from "./simulator.js";

export const intellivueFamily: ProtocolFamily<IntellivueProfile> = {
  id: "intellivue",
  createFramer: (profile) => createIntellivueFramer({ maxFrameBytes: profile.maxFrameBytes }),
  createDecoder: (profile) => createIntellivueDecoder({ demoData: profile.demoData }),
  createSession: (profile) => createIntellivueSession(profile.session),
  createSimulator: (profile, options) => createIntellivueSimulator(profile, options),
};
