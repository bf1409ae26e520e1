/**
 * Profile schema of the ASTM family: analyzers (blood gas, point of care) that send results
 * with the ASTM E1381-95 low-level protocol (CLSI LIS01-A2) and E1394-97 records (LIS02-A2).
 * The device is the sender and the gateway the receiver: the device starts every transfer with
 * ENQ, and the gateway never sends one, so line contention cannot occur.
 */
import { z } from "zod";
import { commonProfileFields } from "../../profiles/common.js";
import { FRAME_OVERHEAD_BYTES, STANDARD_MAX_TEXT_BYTES } from "./codec.js";

const framingSchema = z
  .object({
    /**
     * Most text bytes in one frame. Default 240, the limit of E1381-95 and LIS01-A2; some
     * analyzers send frames of up to 64,000 bytes (LIS1-A), which need a larger value here and
     * in maxFrameBytes. The framer itself is bounded by maxFrameBytes; this sets what the
     * simulator sends.
     */
    maxTextBytes: z.number().int().min(1).max(65_536).default(STANDARD_MAX_TEXT_BYTES),
  })
  .strict();

const sessionSchema = z
  .object({
    /**
     * Time the receiver waits for the next frame or EOT during a transfer, in ms, before it
     * returns the line to neutral and drops the unfinished message. Default 30000, the
     * receiver timer of LIS01-A2. Range 5000 to 120000.
     */
    receiverTimeoutMs: z.number().int().min(5000).max(120_000).default(30_000),
  })
  .strict();

const recordsSchema = z
  .object({
    /**
     * Longest record kept while it is assembled across frames, in bytes. Default 8192: a result
     * record of a blood gas analyzer is under 200 bytes, and comment records are the longest.
     * A longer record is skipped and counted as a decode error, and the frames stay
     * acknowledged.
     */
    maxRecordBytes: z.number().int().min(64).max(65_536).default(8192),
  })
  .strict();

export const astmProfileSchema = z
  .object({
    ...commonProfileFields,
    family: z.literal("astm-e1381"),
    framing: framingSchema.prefault({}),
    session: sessionSchema.prefault({}),
    records: recordsSchema.prefault({}),
  })
  .strict()
  .superRefine((profile, context) => {
    const needed = profile.framing.maxTextBytes + FRAME_OVERHEAD_BYTES;
    if (profile.maxFrameBytes >= needed) return;
    context.addIssue({
      code: "custom",
      path: ["maxFrameBytes"],
      message:
        `must be at least framing.maxTextBytes + ${FRAME_OVERHEAD_BYTES} (${needed}), the ` +
        `size of a full frame with STX, frame number, ETB or ETX, checksum and CR LF`,
    });
  });

export type AstmProfile = z.infer<typeof astmProfileSchema>;
