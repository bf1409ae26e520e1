// Placeholder until the family lands; replaced by the family's real schema.
import { z } from "zod";
import { commonProfileFields } from "../../profiles/common.js";

export const medibusProfileSchema = z
  .object({ ...commonProfileFields, family: z.literal("medibus") })
  .strict();
export type MedibusProfile = z.infer<typeof medibusProfileSchema>;
