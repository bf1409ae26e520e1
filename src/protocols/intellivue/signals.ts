/**
 * The simulated patient of the IntelliVue simulator: numerics that drift, three waves (ECG II,
 * pleth, arterial pressure) and a technical alarm. Every 20 s, from 10 s to 15 s, the
 * temperature probe is "unplugged": temperature turns INVALID with a NaN value and the
 * monitor raises a technical alarm, so the state bits and the alarm path run in every test.
 * The alarm code and text are synthetic; physio ids and unit codes are the monitor's.
 */
import { encodeFloat, encodeFloatSpecial, FloatSpecial } from "./codec.js";
import {
  Attribute,
  compoundNumericObservation,
  deviceAlarmList,
  numericObservation,
  sampleArrayObservation,
  type ObservationPoll,
} from "./messages.js";
import { MeasurementState } from "./measurement-state.js";

interface Numeric {
  handle: number;
  physioId: number;
  unitCode: number;
  value: number;
  min: number;
  max: number;
  step: number;
  decimals: number;
}

const UNIT = { percent: 0x0220, bpm: 0x0aa0, rpm: 0x0ae0, mmHg: 0x0f20, celsius: 0x17a0 };

function createNumerics(): Numeric[] {
  const numeric = (
    handle: number,
    physioId: number,
    unitCode: number,
    [value, min, max, step]: number[],
    decimals = 0,
  ): Numeric => ({
    handle,
    physioId,
    unitCode,
    value: value ?? 0,
    min: min ?? 0,
    max: max ?? 0,
    step: step ?? 0,
    decimals,
  });
  return [
    numeric(0x10, 0x4182, UNIT.bpm, [72, 55, 110, 2]),
    numeric(0x11, 0x4bb8, UNIT.percent, [97, 90, 100, 1]),
    numeric(0x12, 0x4822, UNIT.bpm, [72, 55, 110, 2]),
    numeric(0x13, 0x4bb0, UNIT.percent, [2.1, 0.5, 5, 0.2], 1),
    numeric(TEMP_HANDLE, TEMP_PHYSIO_ID, UNIT.celsius, [36.8, 36, 38, 0.1], 1),
    numeric(0x15, 0x50b0, UNIT.mmHg, [38, 30, 45, 1]),
    numeric(0x16, 0x500a, UNIT.rpm, [15, 10, 24, 1]),
  ];
}

const TEMP_HANDLE = 0x14;
const TEMP_PHYSIO_ID = 0x4b48;
const NBP_HANDLE = 0x20;
/** NBP systolic, diastolic and mean physio ids. */
const NBP_IDS = [0x4a05, 0x4a06, 0x4a07] as const;
const FAULT_CYCLE_MS = 20_000;
const FAULT_START_MS = 10_000;
const FAULT_END_MS = 15_000;
/** Synthetic technical alarm: medium priority (MED_PRI_T_AL) on the temperature source. */
const TEMP_ALARM = { source: TEMP_PHYSIO_ID, code: 0x0d01, type: 0x0002, state: 0 };
const TEMP_ALARM_TEXT = "TEMP UNPLUGGED";
const ALARM_HANDLE = 0x30;

export interface WaveChannel {
  handle: number;
  physioId: number;
  /** Default rate for a wave the profile does not map, in samples per second. */
  defaultRate: number;
  /** Raw sample at a time in seconds, for a heart rate in beats per minute. */
  sample(seconds: number, heartRate: number): number;
}

/** Sums Gaussian bumps at phases of the heartbeat: P, Q, R, S and T waves. */
function ecgSample(seconds: number, heartRate: number): number {
  const phase = ((seconds * heartRate) / 60) % 1;
  const bump = (center: number, width: number, height: number) =>
    height * Math.exp(-(((phase - center) / width) ** 2));
  const millivolts =
    bump(0.2, 0.03, 0.15) +
    bump(0.33, 0.01, -0.1) +
    bump(0.36, 0.012, 1.6) +
    bump(0.39, 0.012, -0.3) +
    bump(0.6, 0.05, 0.3);
  // 1 µV per count around a baseline of 8192 counts: the scale of the built-in profile.
  return Math.round(8192 + millivolts * 1000);
}

function plethSample(seconds: number, heartRate: number): number {
  const phase = ((seconds * heartRate) / 60) % 1;
  const pulse =
    Math.exp(-(((phase - 0.3) / 0.12) ** 2)) + 0.3 * Math.exp(-(((phase - 0.6) / 0.1) ** 2));
  return Math.round(800 + 2400 * pulse);
}

function arterialSample(seconds: number, heartRate: number): number {
  const phase = ((seconds * heartRate) / 60) % 1;
  const mmHg =
    80 +
    40 * Math.exp(-(((phase - 0.25) / 0.1) ** 2)) +
    8 * Math.exp(-(((phase - 0.5) / 0.06) ** 2));
  // 0.02 mmHg per count from -40 mmHg: the scale of the built-in profile.
  return Math.round((mmHg + 40) / 0.02);
}

export const waveChannels: WaveChannel[] = [
  { handle: 0x40, physioId: 0x0102, defaultRate: 500, sample: ecgSample },
  { handle: 0x41, physioId: 0x4bb4, defaultRate: 125, sample: plethSample },
  { handle: 0x42, physioId: 0x4a14, defaultRate: 125, sample: arterialSample },
];

/** Most samples of one wave in one reply, so a stalled clock cannot make a huge frame. */
const MAX_SAMPLES_PER_REPLY = 512;

export interface SignalProfile {
  waves: Record<string, { samplePeriodMs: number }>;
}

export class SimulatedSignals {
  private readonly numericList = createNumerics();
  private readonly nbp = [120, 80, 93];
  private readonly rates: number[];
  private readonly sent: number[];

  constructor(
    private readonly random: () => number,
    profile: SignalProfile,
    waveRate: number | undefined,
  ) {
    this.rates = waveChannels.map((channel) => {
      const mapping = profile.waves[channel.physioId.toString(16).toUpperCase().padStart(4, "0")];
      return (
        waveRate ?? (mapping === undefined ? channel.defaultRate : 1000 / mapping.samplePeriodMs)
      );
    });
    this.sent = waveChannels.map(() => 0);
  }

  private faultActive(elapsedMs: number): boolean {
    const phase = elapsedMs % FAULT_CYCLE_MS;
    return phase >= FAULT_START_MS && phase < FAULT_END_MS;
  }

  numerics(elapsedMs: number): ObservationPoll[] {
    const fault = this.faultActive(elapsedMs);
    const observations: ObservationPoll[] = this.numericList.map((numeric) => {
      const drift = (this.random() * 2 - 1) * numeric.step;
      numeric.value = Math.min(numeric.max, Math.max(numeric.min, numeric.value + drift));
      const unplugged = fault && numeric.handle === TEMP_HANDLE;
      const value = unplugged
        ? encodeFloatSpecial(FloatSpecial.nan)
        : encodeFloat(numeric.value, numeric.decimals);
      const state = unplugged ? MeasurementState.invalid : 0;
      const bytes = numericObservation(numeric.physioId, state, numeric.unitCode, value);
      return {
        handle: numeric.handle,
        attributes: [{ id: Attribute.numericObserved, value: bytes }],
      };
    });
    const nbp = NBP_IDS.map((physioId, index) =>
      numericObservation(physioId, 0, UNIT.mmHg, encodeFloat(this.nbp[index] ?? 0, 0)),
    );
    observations.push({
      handle: NBP_HANDLE,
      attributes: [{ id: Attribute.numericCompound, value: compoundNumericObservation(nbp) }],
    });
    return observations;
  }

  /** Starts the waves at `elapsedMs`, so a new wave poll gets no backlog of older samples. */
  startWaves(elapsedMs: number): void {
    waveChannels.forEach((channel, index) => {
      this.sent[index] = Math.floor(
        (elapsedMs * (this.rates[index] ?? channel.defaultRate)) / 1000,
      );
    });
  }

  /** Returns the samples of each wave that came due since the last call. */
  waves(elapsedMs: number): ObservationPoll[] {
    const heartRate = this.numericList[0]?.value ?? 72;
    const observations: ObservationPoll[] = [];
    waveChannels.forEach((channel, index) => {
      const rate = this.rates[index] ?? channel.defaultRate;
      const due = Math.floor((elapsedMs * rate) / 1000);
      const first = Math.max(this.sent[index] ?? 0, due - MAX_SAMPLES_PER_REPLY);
      this.sent[index] = due;
      if (due <= first) return;
      const samples: number[] = [];
      for (let sample = first; sample < due; sample++) {
        samples.push(channel.sample(sample / rate, heartRate) & 0xffff);
      }
      const value = sampleArrayObservation(channel.physioId, 0, samples);
      observations.push({
        handle: channel.handle,
        attributes: [{ id: Attribute.sampleArrayObserved, value }],
      });
    });
    return observations;
  }

  alarms(elapsedMs: number): ObservationPoll[] {
    const active = this.faultActive(elapsedMs) ? [{ ...TEMP_ALARM, text: TEMP_ALARM_TEXT }] : [];
    return [
      {
        handle: ALARM_HANDLE,
        attributes: [
          { id: Attribute.patientAlarmList, value: deviceAlarmList([]) },
          { id: Attribute.technicalAlarmList, value: deviceAlarmList(active) },
        ],
      },
    ];
  }
}
