/** The one schema every firmware profile file is validated against, across families. */
import { z } from "zod";
import { asciiLineProfileSchema } from "../protocols/ascii-line/schema.js";
import { intellivueProfileSchema } from "../protocols/intellivue/schema.js";
import { astmProfileSchema } from "../protocols/astm/schema.js";
import { hl7MllpProfileSchema } from "../protocols/hl7-mllp/schema.js";
import { datexProfileSchema } from "../protocols/datex/schema.js";
import { medibusProfileSchema } from "../protocols/medibus/schema.js";
import { noninProfileSchema } from "../protocols/nonin/schema.js";

export const profileSchema = z.discriminatedUnion("family", [
  asciiLineProfileSchema,
  medibusProfileSchema,
  intellivueProfileSchema,
  astmProfileSchema,
  hl7MllpProfileSchema,
  datexProfileSchema,
  noninProfileSchema,
]);

export type Profile = z.infer<typeof profileSchema>;
export type ProfileFamilyId = Profile["family"];
