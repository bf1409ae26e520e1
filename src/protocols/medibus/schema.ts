/**
 * Profile schema of the Dräger MEDIBUS family. The session limits follow the Dräger "RS 232
 * MEDIBUS Protocol Definition", Rev. 6.00, p. 5: "Any pause in the data flow exceeding 3 seconds
 * leads to a time-out", after which the device drops the session until it receives ICC again.
 */
import { z } from "zod";
import { commonProfileFields } from "../../profiles/common.js";

/** The device's pause time-out: after this long without bytes from us it drops the session. */
export const DEVICE_PAUSE_TIMEOUT_MS = 3000;

/**
 * Maximum silence the session may plan. The 500 ms left below the device's pause time-out
 * covers the session tick (100 ms), the transmission of a message and scheduling delay on a
 * loaded gateway.
 */
export const MAX_PLANNED_SILENCE_MS = 2500;

/**
 * Requests the session can poll. Only codepage 1 is decoded into records, because codepage 2
 * codes share the code space of codepage 1 and a device record carries no codepage.
 */
export const pollRequests = ["measuredDataCp1", "alarmsCp1"] as const;
export type PollRequest = (typeof pollRequests)[number];

const silenceMessage =
  `must be at most ${MAX_PLANNED_SILENCE_MS} ms, so that our next message reaches the device ` +
  `before its ${DEVICE_PAUSE_TIMEOUT_MS} ms pause time-out drops the session`;

export const medibusSessionSchema = z
  .object({
    /**
     * Requests sent in order, one at a time, at the start of every poll cycle.
     * Default: measured data then alarms, both codepage 1.
     */
    poll: z
      .array(z.enum(pollRequests))
      .min(1, "must name at least one request, such as measuredDataCp1")
      .refine((list) => new Set(list).size === list.length, "must not name a request twice")
      .default(["measuredDataCp1", "alarmsCp1"]),
    /**
     * Start-to-start time of poll cycles, in ms. Range 200 to 60000, default 1000 (an
     * estimate): fresh enough for trends, while two requests a second keep a 19200 baud link
     * mostly idle. A cycle that takes longer delays the next one rather than stacking requests.
     */
    pollPeriodMs: z.number().int().min(200).max(60_000).default(1000),
    /**
     * Maximum silence before the session sends a NOP, in ms. Range 200 to 2500, default 2000,
     * which keeps 1000 ms of margin below the device's pause time-out. Any message we send
     * resets the device's pause timer, so NOPs only fill gaps between polls.
     */
    keepAlivePeriodMs: z
      .number()
      .int()
      .min(200)
      .max(MAX_PLANNED_SILENCE_MS, silenceMessage)
      .default(2000),
    /**
     * Wait for a response before the request counts as failed, in ms. Range 200 to 2500,
     * default 1500. The session sends no other request while one is outstanding, because the
     * device drops requests that arrive while it is still busy. Unless the device sends a
     * command we reply to, this wait is a silence and must stay below its pause time-out.
     */
    requestTimeoutMs: z
      .number()
      .int()
      .min(200)
      .max(MAX_PLANNED_SILENCE_MS, silenceMessage)
      .default(1500),
    /**
     * Times a timed-out or rejected request is sent again before the session re-initializes
     * with ICC. Range 0 to 10, default 2 (an estimate): one lost message is common on a noisy
     * cable, but a device that misses three in a row has most likely dropped the session.
     */
    maxRetries: z.number().int().min(0).max(10).default(2),
    /**
     * Whether to request the device identification after ICC. Default true, because the
     * response carries the device name and firmware revision for the device's info topic.
     */
    requestDeviceId: z.boolean().default(true),
  })
  .strict();

export type MedibusSessionSettings = z.infer<typeof medibusSessionSchema>;

/** A MEDIBUS data or alarm code as it appears on the wire, such as "EB". */
const deviceCodePattern = /^[0-9A-F]{2}$/;

export const medibusProfileSchema = z
  .object({
    ...commonProfileFields,
    family: z.literal("medibus"),
    /** Session settings; every field has a default, so the block may be omitted. */
    session: medibusSessionSchema.prefault({}),
  })
  .strict()
  .superRefine((profile, context) => {
    for (const code of Object.keys(profile.measurements)) {
      if (deviceCodePattern.test(code)) continue;
      context.addIssue({
        code: "custom",
        path: ["measurements", code],
        message:
          `key "${code}" must be a MEDIBUS data code of two upper-case hex digits, such as EB ` +
          `for SpO2 in codepage 1, because the decoder matches codes as the device sends them`,
      });
    }
  });

export type MedibusProfile = z.infer<typeof medibusProfileSchema>;
