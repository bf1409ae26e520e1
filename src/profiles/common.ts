/**
 * The parts of a firmware profile that every protocol family shares. Each family extends
 * `commonProfileFields` with its own `framing` and `session` settings (see src/protocols/).
 */
import { z } from "zod";

/** Baud rates a UART on the gateway and common bedside devices support. */
export const baudRates = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const;

export const serialSettingsSchema = z
  .object({
    baudRate: z
      .number()
      .int()
      .refine((value) => (baudRates as readonly number[]).includes(value), {
        message: `must be one of ${baudRates.join(", ")}`,
      }),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    parity: z.enum(["none", "even", "odd"]).default("none"),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    flowControl: z.enum(["none", "rtscts", "xonxoff"]).default("none"),
    /** Level of RTS and DTR after open; some devices power their RS-232 driver from them. */
    rts: z.boolean().default(true),
    dtr: z.boolean().default(true),
  })
  .strict();

export type SerialSettings = z.infer<typeof serialSettingsSchema>;

/** One known bit of a bit-field key, published as a device alarm while the bit is set. */
export const bitMeaningSchema = z
  .object({
    /** Alarm code on the alarm topic, stable across firmware versions, such as "sensor-off". */
    code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "must be letters, digits and -_.:"),
    /** Text as the manufacturer's manual words it. */
    text: z.string().min(1),
    /** Priority set by the profile, higher is more urgent. Unset when the manual gives none. */
    priority: z.number().int().min(0).max(10).optional(),
  })
  .strict();

export const bitMaskPattern = /^0x[0-9a-fA-F]{1,16}$/;

/** Parses a hex mask such as "0x020" whose form the schema has checked. */
export function parseBitMask(mask: string): bigint {
  return BigInt(mask);
}

/** Whether a hex mask such as "0x020" has exactly one bit set; a malformed mask passes here. */
export function hasOneBitSet(mask: string): boolean {
  // The key schema reports a mask of the wrong form, and BigInt would throw on it.
  if (!bitMaskPattern.test(mask)) return true;
  const value = parseBitMask(mask);
  return value !== 0n && (value & (value - 1n)) === 0n;
}

/**
 * Returns the schema of known bits by hex mask, each with one bit set, such as `example`
 * ("0x020"), and what each set bit means.
 */
export function bitMeaningsSchema(example: string) {
  return z
    .record(
      z.string().regex(bitMaskPattern, `must be a hex mask such as "${example}"`),
      bitMeaningSchema,
    )
    .default({})
    .superRefine((bits, context) => {
      for (const mask of Object.keys(bits)) {
        if (hasOneBitSet(mask)) continue;
        const message = `mask ${mask} must have exactly one bit set, such as ${example}`;
        context.addIssue({ code: "custom", path: [mask], message });
      }
    });
}

/**
 * Multiplier applied to the number the device sent. 0 would publish every value as 0, and
 * zod's number already rejects infinities.
 */
const scaleSchema = z
  .number()
  .refine((scale) => scale !== 0, { message: "must not be 0; a scale of 0 makes every value 0" })
  .default(1);

/** A closed range of values, bounds included. */
const valueRangeSchema = z
  .object({ min: z.number(), max: z.number() })
  .strict()
  .refine((range) => range.min <= range.max, { message: "min must not be greater than max" });

/** The mapping of one device code to an IEEE 11073-10101 (MDC) measurement with a UCUM unit. */
export const measurementSchema = z
  .object({
    mdcCode: z.number().int().positive(),
    mdcRefId: z
      .string()
      .regex(/^MDC_[A-Z0-9_]+$/, "must be an MDC reference id like MDC_PULS_OXIM_SAT_O2"),
    unit: z.string().min(1).describe("UCUM unit code, such as %, /min, mm[Hg], mbar"),
    scale: scaleSchema,
    /**
     * Unit texts the device may send with this value, for protocols that carry a unit (ASTM
     * R.5, the identifier of HL7 OBX-6); "" matches a value sent without a unit. A value sent
     * with another unit is published as invalid, because the scale and `unit` would be wrong
     * for it. An absent value is not checked. Unset means the device's unit is not checked.
     */
    deviceUnits: z.array(z.string()).min(1).optional(),
    /**
     * Plausible values in `unit`, after scaling, bounds included. A value outside it is
     * published as invalid, because no patient or device setting gives it. Unset means no check.
     */
    validRange: valueRangeSchema.optional(),
  })
  .strict();

export type MeasurementMapping = z.infer<typeof measurementSchema>;

/**
 * The mapping of one device wave to an MDC waveform. Samples are published as the device sent
 * them, with the scale and offset that turn a sample into a value in the unit.
 */
export const waveMappingSchema = z
  .object({
    mdcCode: z.number().int().positive(),
    mdcRefId: z
      .string()
      .regex(/^MDC_[A-Z0-9_]+$/, "must be an MDC reference id like MDC_PRESS_BLD_ART"),
    unit: z.string().min(1).describe("UCUM unit code of the scaled value, such as mV or mm[Hg]"),
    /** value = sample * scale + offset */
    scale: scaleSchema,
    offset: z.number().default(0),
    /** Time between two samples, from the device's documented sample rate. */
    samplePeriodMs: z.number().positive().max(1000),
    /** Samples outside this range are the device's invalid markers and publish as null. */
    validRange: valueRangeSchema.optional(),
  })
  .strict();

export type WaveMapping = z.infer<typeof waveMappingSchema>;

const expectedObservationSchema = z
  .object({
    mdcCode: z.number().int().positive(),
    value: z.number().nullable(),
    unit: z.string(),
    absentReason: z.enum(["absent", "invalid"]).optional(),
  })
  .strict();

const expectedWaveSchema = z
  .object({
    mdcCode: z.number().int().positive(),
    /** Every sample of this wave in the vector, as published: the raw sample, or null. */
    samples: z.array(z.number().int().nullable()),
  })
  .strict();

const expectedAlarmSchema = z
  .object({
    alarmCode: z.string(),
    state: z.enum(["active", "cleared"]),
  })
  .strict();

/** Bytes in, measurements out: run by the test suite and by `iomt-gateway profiles check`. */
export const testVectorSchema = z
  .object({
    name: z.string().min(1),
    /** Either text (escapes such as \r are YAML's own) or hex bytes separated by spaces. */
    text: z.string().optional(),
    hex: z
      .string()
      .regex(/^([0-9a-fA-F]{2}\s*)*$/, "must be pairs of hex digits, spaces allowed")
      .optional(),
    expect: z
      .object({
        observations: z.array(expectedObservationSchema).default([]),
        alarms: z.array(expectedAlarmSchema).default([]),
        waves: z.array(expectedWaveSchema).default([]),
        identity: z
          .object({
            model: z.string().optional(),
            serialNumber: z.string().optional(),
            firmware: z.string().optional(),
          })
          .strict()
          .optional(),
        frames: z.number().int().min(0).optional(),
        checksumErrors: z.number().int().min(0).default(0),
        decodeErrors: z.number().int().min(0).default(0),
        discardedBytes: z.number().int().min(0).optional(),
        unmappedCodes: z.array(z.string()).optional(),
      })
      .strict(),
  })
  .strict()
  .refine((vector) => (vector.text === undefined) !== (vector.hex === undefined), {
    message: "a test vector needs exactly one of text or hex",
  });

export type TestVector = z.infer<typeof testVectorSchema>;

export const commonProfileFields = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, "must be lower-case letters, digits and dashes"),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, "must be a semantic version such as 1.0.0"),
  name: z.string().min(1),
  manufacturer: z.string().min(1),
  model: z.string().min(1),
  /** The firmware range the profile was checked against, as the manufacturer writes it. */
  firmware: z.string().min(1),
  serial: serialSettingsSchema,
  /** No frame for this long makes the device stale. */
  quietTimeMs: z.number().int().min(500).max(600_000),
  /** A frame longer than this is discarded as oversize; bounds the receive buffer. */
  maxFrameBytes: z.number().int().min(16).max(65_536),
  /**
   * The handling of a mapped code that a snapshot record does not contain. "absent" publishes
   * it with no value, "ignore" publishes nothing for it.
   */
  missingValues: z.enum(["absent", "ignore"]).default("ignore"),
  /** Value texts that mean "no value", as regular expressions, such as ^-+$. */
  absentPatterns: z.array(z.string()).default([]),
  measurements: z.record(z.string(), measurementSchema),
  waves: z.record(z.string(), waveMappingSchema).default({}),
  /**
   * Signal time one published wave segment spans. Samples are batched as the device sends
   * them until a segment spans this long, so a wave is never one message per sample or frame.
   */
  waveSegmentMs: z.number().int().min(50).max(10_000).default(500),
  testVectors: z.array(testVectorSchema).min(1),
};
