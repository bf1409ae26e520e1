/**
 * Profile schema of the "ascii-line" family: devices that send one printable ASCII line per
 * reading, made of KEY=VALUE tokens, such as the Masimo Radical-7 in its "ASCII 1" serial mode.
 */
import { z } from "zod";
import { bitMeaningsSchema, commonProfileFields } from "../../profiles/common.js";

export { parseBitMask } from "../../profiles/common.js";

/** Line terminators by name, because YAML expands "\r\n" only inside double quotes. */
export const lineTerminators = { crlf: "\r\n", lf: "\n", cr: "\r" } as const;

/**
 * Layouts of a device time stamp, with the pattern its tokens must match. The tokens of the
 * time stamp are the first tokens of the line, one per space-separated part of the layout.
 */
export const deviceTimeFormats = {
  "MM/DD/YY HH:MM:SS": /^\d{2}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/,
  "DD/MM/YY HH:MM:SS": /^\d{2}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/,
  "YYYY-MM-DD HH:MM:SS": /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/,
  "DD-MMM-YY HH:MM:SS": /^\d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2}$/,
} as const;

export type DeviceTimeFormat = keyof typeof deviceTimeFormats;

const framingSchema = z
  .object({
    /**
     * Bytes that end a line: "crlf" (CR LF, default, as Masimo ASCII 1 sends), "lf" or "cr".
     * With "crlf", a lone CR or LF does not end a line.
     */
    terminator: z.enum(["crlf", "lf", "cr"]).default("crlf"),
    /**
     * Whether to discard the bytes up to and including the first terminator after the link
     * opens, because a port opened while the device is sending starts in the middle of a line.
     * Default true. Test vectors start at a line boundary, so they run with this off.
     */
    skipFirstLine: z.boolean().default(true),
    /** Separator between tokens. A run of separators counts as one. Default one space. */
    tokenSeparator: z.string().min(1).default(" "),
    /** Separator between a key and its value, at its first occurrence in a token. Default "=". */
    keyValueSeparator: z.string().min(1).default("="),
  })
  .strict()
  .refine((framing) => !framing.tokenSeparator.includes(framing.keyValueSeparator), {
    message: "tokenSeparator must not contain keyValueSeparator",
  });

const bitFieldSchema = z
  .object({
    /**
     * Known bits by mask, written in hex with one bit set, such as "0x020". A set bit that is
     * not listed is still published, as code "<KEY>:0x<bit>" with `unknownBitText`.
     */
    bits: bitMeaningsSchema("0x020"),
    /** Alarm text for a set bit the profile does not list. Default "unknown bit". */
    unknownBitText: z.string().min(1).default("unknown bit"),
  })
  .strict();

const fieldsSchema = z
  .object({
    /**
     * Suffixes removed from a value before it is mapped, first match only, such as "%" for
     * Masimo "SPO2=097%". Default none.
     */
    stripSuffixes: z.array(z.string().min(1)).default([]),
    /** Layout of the device time stamp that starts the line. Unset means the line has none. */
    deviceTime: z
      .object({
        format: z.enum(Object.keys(deviceTimeFormats) as [DeviceTimeFormat, ...DeviceTimeFormat[]]),
        /** Whether a line that does not start with a time stamp, such as a partial line, is invalid. */
        required: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /**
     * Key whose value is the device serial number, such as "SN". A value matching one of the
     * profile's absentPatterns means the device has no serial number to report.
     */
    serialNumberKey: z.string().min(1).optional(),
    /**
     * Keys whose value is a hex bit field, such as Masimo "EXC". Each set bit is one active
     * alarm, and every line is a snapshot, so a bit that clears clears its alarm.
     */
    bitFields: z.record(z.string().min(1), bitFieldSchema).default({}),
  })
  .strict()
  .refine((fields) => !Object.hasOwn(fields.bitFields, fields.serialNumberKey ?? ""), {
    message: "serialNumberKey must not also be a bitFields key",
  });

export const asciiLineProfileSchema = z
  .object({
    ...commonProfileFields,
    family: z.literal("ascii-line"),
    /** Unset means every framing default: CR LF lines, first line skipped, "KEY=VALUE" tokens. */
    framing: framingSchema.prefault({}),
    fields: fieldsSchema,
  })
  .strict();

export type AsciiLineProfile = z.infer<typeof asciiLineProfileSchema>;

/**
 * Returns a copy of the profile that does not skip the first line, for running its test
 * vectors, whose text starts at a line boundary.
 */
export function withoutFirstLineSkip(profile: AsciiLineProfile): AsciiLineProfile {
  return { ...profile, framing: { ...profile.framing, skipFirstLine: false } };
}
