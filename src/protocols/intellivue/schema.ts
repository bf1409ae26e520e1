/**
 * Profile schema of the Philips IntelliVue MIB/RS-232 data export family. Device codes are
 * the monitor's own: a numeric is `PHYSIO/UNIT` (physio id and unit code, 4 hex digits each,
 * such as 4BB8/0220 for SpO2 in %), so a value that arrives in another unit stays unmapped and
 * counted rather than being published under the wrong unit. A wave is its physio id alone.
 */
import { z } from "zod";
import { commonProfileFields } from "../../profiles/common.js";
import { demoDataPolicies } from "./measurement-state.js";

/** Object classes the session can poll with extended polls. */
export const pollObjects = ["numerics", "waves", "alarms"] as const;
export type PollObject = (typeof pollObjects)[number];

/**
 * Longest extended-poll period accepted. The re-issued polls are the only messages the host
 * sends while associated. Users of mdpnp report that a monitor stops exporting to a client that
 * stays silent for a few minutes, so the gap between polls stays well below that.
 */
export const MAX_POLL_PERIOD_MS = 120_000;

export const intellivueSessionSchema = z
  .object({
    /** Objects polled after the association, each with its own extended poll. */
    poll: z
      .array(z.enum(pollObjects))
      .min(1, "must name at least one object class, such as numerics")
      .refine((list) => new Set(list).size === list.length, "must not name an object twice")
      .default(["numerics", "waves", "alarms"]),
    /**
     * Period sent with every extended poll (NOM_ATTR_TIME_PD_POLL), in ms. The monitor streams
     * replies for this long. Range 5000 to 120000, default 30000, as VSCaptureMP's numerics poll.
     */
    pollPeriodMs: z.number().int().min(5000).max(MAX_POLL_PERIOD_MS).default(30_000),
    /**
     * The session re-issues each poll this long before its period ends, so the stream never
     * stops. VSCaptureMP once let a 10-minute poll expire and lost minutes of data. Default 5000.
     */
    reissueBeforeMs: z.number().int().min(1000).max(60_000).default(5000),
    /** Wait for the association response, and then for the MDS Create Event, in ms. */
    associationTimeoutMs: z.number().int().min(500).max(60_000).default(5000),
    /**
     * No frame for this long while associated counts as a lost association: the session aborts
     * and associates again. Default 10000 (an estimate): numerics arrive about once a second.
     */
    silenceTimeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
    /** Wait after an abort, a release or a refusal before associating again, in ms. */
    retryDelayMs: z.number().int().min(0).max(60_000).default(2000),
    /** Shortest poll period we accept, sent in the association request, in ms. Default 500. */
    minPollPeriodMs: z.number().int().min(1).max(60_000).default(500),
    /** Largest frames we receive and send, sent in the association request. Default 1456. */
    maxMtuRx: z.number().int().min(256).max(65_535).default(1456),
    maxMtuTx: z.number().int().min(256).max(65_535).default(1456),
  })
  .strict()
  .refine((session) => session.reissueBeforeMs < session.pollPeriodMs, {
    message: "reissueBeforeMs must be shorter than pollPeriodMs, or every tick re-issues the poll",
    path: ["reissueBeforeMs"],
  });

export type IntellivueSessionSettings = z.infer<typeof intellivueSessionSchema>;

const numericCodePattern = /^[0-9A-F]{4}\/[0-9A-F]{4}$/;
const waveCodePattern = /^[0-9A-F]{4}$/;

export const intellivueProfileSchema = z
  .object({
    ...commonProfileFields,
    family: z.literal("intellivue"),
    session: intellivueSessionSchema.prefault({}),
    /** Values the monitor marks DEMO_DATA: "invalid" (default) publishes them as null. */
    demoData: z.enum(demoDataPolicies).default("invalid"),
  })
  .strict()
  .superRefine((profile, context) => {
    for (const code of Object.keys(profile.measurements)) {
      if (numericCodePattern.test(code)) continue;
      context.addIssue({
        code: "custom",
        path: ["measurements", code],
        message:
          `key "${code}" must be a physio id and a unit code, 4 upper-case hex digits each, ` +
          `such as 4BB8/0220 for SpO2 in %, because the decoder names numerics that way`,
      });
    }
    for (const code of Object.keys(profile.waves)) {
      if (waveCodePattern.test(code)) continue;
      context.addIssue({
        code: "custom",
        path: ["waves", code],
        message: `key "${code}" must be a physio id of 4 upper-case hex digits, such as 4BB4 for pleth`,
      });
    }
  });

export type IntellivueProfile = z.infer<typeof intellivueProfileSchema>;
