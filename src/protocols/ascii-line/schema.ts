// Placeholder until the family lands; replaced by the family's real schema.
import { z } from "zod";
import { commonProfileFields } from "../../profiles/common.js";

export const asciiLineProfileSchema = z
  .object({ ...commonProfileFields, family: z.literal("ascii-line") })
  .strict();
export type AsciiLineProfile = z.infer<typeof asciiLineProfileSchema>;
