/**
 * Profile schema of the GE/Datex-Ohmeda S/5 Computer Interface family. The monitor sends
 * displayed values every transmission interval and waveforms continuously once requested, and
 * sends nothing unasked, so the session's settings are what to request and when to ask again.
 */
import { z } from "zod";
import { commonProfileFields } from "../../profiles/common.js";
import { basicDeviceCodes, MAX_WAVE_SAMPLES_PER_SECOND, waveTypes } from "./layout.js";
import { MAX_REQUESTED_WAVES } from "./requests.js";

/** Waves the session can request: those whose sample rate the specification fixes. */
const requestableWaves = waveTypes.filter((wave) => wave.samplesPerSecond !== undefined);
const requestableWaveCodes = requestableWaves.map((wave) => wave.code) as [string, ...string[]];

export function samplesPerSecondOf(code: string): number | undefined {
  return waveTypes.find((wave) => wave.code === code)?.samplesPerSecond;
}

const unique = (list: readonly unknown[]) => new Set(list).size === list.length;

export const datexSessionSchema = z
  .object({
    /**
     * Interface levels (r_dri_level) each request is sent at, in order. Default [9, 8, 7], the
     * 2005, 2003 and 2001 levels. NOTE: some monitors are reported to respond only to the
     * level of their own software, so the request goes out once per level.
     */
    driLevels: z
      .array(z.number().int().min(0).max(255))
      .min(1, "must name at least one interface level, such as 9")
      .max(4)
      .refine(unique, "must not name a level twice")
      .default([9, 8, 7]),
    /**
     * Seconds between two displayed-values records the monitor sends. Range 1 to 600,
     * default 5. NOTE: public host code keeps this at 5 s or more; whether a monitor accepts
     * less is not confirmed.
     */
    displayedIntervalS: z.number().int().min(1).max(600).default(5),
    /**
     * No displayed values for this long makes the session send the request again, in ms.
     * Range 2000 to 600000, default 15000; at least twice the interval.
     */
    requestAgainAfterMs: z.number().int().min(2000).max(600_000).default(15_000),
    /**
     * Waves requested at open, at most 8. Only waves with a fixed sample rate are accepted,
     * and their rates may add up to 600 samples/s, the most a monitor is reported to sustain.
     */
    waves: z
      .array(z.enum(requestableWaveCodes))
      .max(MAX_REQUESTED_WAVES)
      .refine(unique, "must not name a wave twice")
      .default([]),
    /** No wave record for this long makes the session request the waves again, in ms. */
    waveRequestAgainAfterMs: z.number().int().min(500).max(60_000).default(3000),
  })
  .strict()
  .superRefine((session, context) => {
    if (session.requestAgainAfterMs < 2 * session.displayedIntervalS * 1000) {
      context.addIssue({
        code: "custom",
        path: ["requestAgainAfterMs"],
        message:
          `must be at least twice displayedIntervalS (${2 * session.displayedIntervalS * 1000} ms), ` +
          `so that one late record does not cause a new request`,
      });
    }
    const rate = session.waves.reduce((sum, code) => sum + (samplesPerSecondOf(code) ?? 0), 0);
    if (rate > MAX_WAVE_SAMPLES_PER_SECOND) {
      context.addIssue({
        code: "custom",
        path: ["waves"],
        message:
          `requests ${rate} samples/s, more than the ${MAX_WAVE_SAMPLES_PER_SECOND} a monitor ` +
          `is reported to sustain; request fewer waves`,
      });
    }
  });

export type DatexSessionSettings = z.infer<typeof datexSessionSchema>;

const knownWaveCodes = new Set(waveTypes.map((wave) => wave.code));
const knownValueCodes = new Set(basicDeviceCodes);

export const datexProfileSchema = z
  .object({
    ...commonProfileFields,
    family: z.literal("datex-s5"),
    /** Session settings; every field has a default, so the block may be omitted. */
    session: datexSessionSchema.prefault({}),
  })
  .strict()
  .superRefine((profile, context) => {
    for (const code of Object.keys(profile.measurements)) {
      if (knownValueCodes.has(code)) continue;
      context.addIssue({
        code: "custom",
        path: ["measurements", code],
        message:
          `key "${code}" must be a basic-class field as group.field, such as nibp.sys or ` +
          `spo2.spo2 (see docs/devices.md), because the decoder names values that way`,
      });
    }
    for (const [code, mapping] of Object.entries(profile.waves)) {
      if (!knownWaveCodes.has(code)) {
        context.addIssue({
          code: "custom",
          path: ["waves", code],
          message: `key "${code}" must be an S/5 wave name, such as ecg1, invp1 or pleth`,
        });
        continue;
      }
      const rate = samplesPerSecondOf(code);
      if (rate === undefined) continue;
      const periodMs = 1000 / rate;
      if (Math.abs(mapping.samplePeriodMs - periodMs) > periodMs * 0.01) {
        context.addIssue({
          code: "custom",
          path: ["waves", code, "samplePeriodMs"],
          message: `must be ${Number(periodMs.toFixed(4))} ms, because ${code} is sampled at ${rate}/s`,
        });
      }
    }
  });

export type DatexProfile = z.infer<typeof datexProfileSchema>;
