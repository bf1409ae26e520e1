/**
 * MeasurementState bits of a NuObsValue or SaObsValue, and the gateway's rule for each. A value
 * whose state says it should not be trusted is published as null with a reason rather than
 * dropped, so a dashboard sees that the monitor has the measurement but no valid value.
 */
import type { AbsentReason } from "../../device/measurements.js";

export const MeasurementState = {
  invalid: 0x8000,
  questionable: 0x4000,
  unavailable: 0x2000,
  calibrationOngoing: 0x1000,
  testData: 0x0800,
  demoData: 0x0400,
  validated: 0x0080,
  earlyIndication: 0x0040,
  measurementOngoing: 0x0020,
  inAlarm: 0x0002,
  alarmInhibited: 0x0001,
} as const;

/**
 * What to do with values the monitor marks DEMO_DATA. A monitor in demo mode exports plausible
 * numbers that belong to no patient, so "invalid" (the default) publishes them as null.
 */
export const demoDataPolicies = ["invalid", "publish"] as const;
export type DemoDataPolicy = (typeof demoDataPolicies)[number];

/**
 * Returns why a value with `state` must not be published as a number, or undefined when it may.
 *
 * - UNAVAILABLE: "absent", the monitor has no value.
 * - INVALID, QUESTIONABLE, CALIBRATION_ONGOING, TEST_DATA: "invalid", as LNhealth treats every
 *   state with a bit of 0xF800 set.
 * - DEMO_DATA: "invalid" unless the profile's demoData policy is "publish".
 * - VALIDATED, EARLY_INDICATION, MSMT_ONGOING and the alarm bits: published.
 */
export function classifyState(state: number, demoData: DemoDataPolicy): AbsentReason | undefined {
  if (state & MeasurementState.unavailable) return "absent";
  const untrusted =
    MeasurementState.invalid |
    MeasurementState.questionable |
    MeasurementState.calibrationOngoing |
    MeasurementState.testData;
  if (state & untrusted) return "invalid";
  if (state & MeasurementState.demoData && demoData === "invalid") return "invalid";
  return undefined;
}
