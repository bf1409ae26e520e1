import { GatewayError } from "../errors.js";
import { loadProfiles } from "../profiles/load.js";
import type { Profile } from "../profiles/schema.js";

/** Returns the profile with `profileId` from the first folder that has it. */
export function findProfile(profileId: string, dirs: readonly string[]): Profile {
  const profile = loadProfiles(dirs).profiles.get(profileId)?.profile;
  if (profile === undefined) {
    throw new GatewayError(
      "PROFILE_NOT_FOUND",
      `profile "${profileId}" was not found; run "iomt-gateway profiles" to list them`,
    );
  }
  return profile;
}
