/** Simulated measurements that drift at random within a range, for the device simulators. */

export interface DriftingValue {
  value: number;
  min: number;
  max: number;
  /** Largest change per step. */
  step: number;
  /** Digits after the decimal point in the formatted value. */
  decimals: number;
}

/** Moves the value by at most `step` either way, within min..max, and formats it. */
export function driftValue(parameter: DriftingValue, random: () => number): string {
  const drift = (random() * 2 - 1) * parameter.step;
  parameter.value = Math.min(parameter.max, Math.max(parameter.min, parameter.value + drift));
  return parameter.value.toFixed(parameter.decimals);
}
