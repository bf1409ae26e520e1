/**
 * Profile schema of the Nonin family: pulse oximeters that send fixed-size binary frames
 * without being asked, in data format 2, 7 or 8 (see codec.ts for the layouts).
 */
import { z } from "zod";
import {
  bitMaskPattern,
  bitMeaningsSchema,
  commonProfileFields,
  parseBitMask,
} from "../../profiles/common.js";
import {
  deviceCodesOf,
  MISSING_HEART_RATE,
  MISSING_SPO2,
  packetBytes,
  STATUS2_FLAG_BITS,
  statusFlagBits,
  waveCodesOf,
  type NoninFormat,
} from "./codec.js";

const framingSchema = z
  .object({
    /** The data format the device sends: 2, 7 or 8. */
    format: z.union([z.literal(2), z.literal(7), z.literal(8)]),
    /** Heart rate that means "no value". Default 511, all nine bits set. */
    missingHeartRate: z.number().int().min(0).max(511).default(MISSING_HEART_RATE),
    /** SpO2 that means "no value". Default 127, all seven bits set. */
    missingSpo2: z.number().int().min(0).max(127).default(MISSING_SPO2),
  })
  .strict();

/** Status bits by hex mask, each published as a device alarm while it is set. */
const statusBitsSchema = bitMeaningsSchema("0x40");

const fieldsSchema = z
  .object({
    /**
     * STATUS bits that are alarms, such as 0x40 "sensor disconnect". In formats 2 and 7 a bit
     * counts as set when any frame of the packet has it. Bits not listed are not published,
     * because some are signal-quality marks that change with every pulse.
     */
    statusBits: statusBitsSchema,
    /** STAT2 bits that are alarms (formats 7 and 8 only), such as 0x01 "low battery". */
    status2Bits: statusBitsSchema,
  })
  .strict()
  .prefault({});

const sessionSchema = z
  .object({
    /**
     * Whether the gateway sends the select-format command when the link opens, so that the
     * device sends `framing.format`. Unset means the gateway never writes to the device.
     */
    selectFormat: z
      .object({
        /** The command's options byte, as the device's specification defines it. */
        options: z.number().int().min(0).max(255),
      })
      .strict()
      .optional(),
  })
  .strict()
  .prefault({});

export const noninProfileSchema = z
  .object({
    ...commonProfileFields,
    family: z.literal("nonin"),
    framing: framingSchema,
    fields: fieldsSchema,
    session: sessionSchema,
  })
  .strict()
  .superRefine((profile, context) => {
    const format = profile.framing.format;
    const needed = packetBytes(format);
    if (profile.maxFrameBytes < needed) {
      context.addIssue({
        code: "custom",
        path: ["maxFrameBytes"],
        message: `must be at least ${needed}, the size of one format ${format} packet`,
      });
    }
    const codes = deviceCodesOf(format);
    for (const code of Object.keys(profile.measurements)) {
      if (codes.includes(code)) continue;
      context.addIssue({
        code: "custom",
        path: ["measurements", code],
        message: `key "${code}" is not a value of format ${format}; use one of ${codes.join(", ")}`,
      });
    }
    const waves = waveCodesOf(format);
    for (const code of Object.keys(profile.waves)) {
      if (waves.includes(code)) continue;
      context.addIssue({
        code: "custom",
        path: ["waves", code],
        message:
          waves.length === 0
            ? `must be empty: format ${format} carries no wave`
            : `key "${code}" is not a wave of format ${format}; use ${waves.join(", ")}`,
      });
    }
    checkFreeBits(profile.fields.statusBits, statusFlagBits(format), "statusBits", format, context);
    if (format === 2 && Object.keys(profile.fields.status2Bits).length > 0) {
      context.addIssue({
        code: "custom",
        path: ["fields", "status2Bits"],
        message: "must be empty for format 2, which has no STAT2 byte",
      });
    }
    checkFreeBits(profile.fields.status2Bits, STATUS2_FLAG_BITS, "status2Bits", format, context);
  });

function checkFreeBits(
  bits: Record<string, unknown>,
  free: number,
  key: string,
  format: NoninFormat,
  context: z.RefinementCtx,
): void {
  for (const mask of Object.keys(bits)) {
    if (!bitMaskPattern.test(mask) || (parseBitMask(mask) & ~BigInt(free)) === 0n) continue;
    context.addIssue({
      code: "custom",
      path: ["fields", key, mask],
      message:
        `mask ${mask} is a framing or value bit in format ${format}; ` +
        `only bits in 0x${free.toString(16)} can be status flags`,
    });
  }
}

export type NoninProfile = z.infer<typeof noninProfileSchema>;
