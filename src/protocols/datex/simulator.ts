/**
 * A simulated GE/Datex-Ohmeda S/5 monitor, speaking the Computer Interface byte for byte. Like a
 * monitor, it sends nothing until asked:
 *
 * - a displayed-values request at its own interface level starts a displayed-values record
 *   every requested interval, the first one at once; interval 0 stops them. A request at another
 *   level is ignored, as some monitors are reported to do;
 * - a waveform start request starts a waveform record every 250 ms. Each carries the samples
 *   of every requested wave since the last record, at the wave's real rate (ECG 300/s,
 *   invasive pressure and pleth 100/s, respiration 25/s). A stop request ends them;
 * - a frame with a bad checksum is counted and dropped, as the interface has no reply for it.
 *
 * With `stream` it sends from the start without a request: displayed values every second and
 * ECG1, INVP1 and PLETH, 500 samples/s together, whatever the host requests. The SpO2 sensor
 * is "off" for 5 s of every 20 s, from 10 s after start, so SpO2 and pulse rate are sent as
 * -32767 (no valid data) then; T2 always reads over range (-32763).
 */
import { seededRandom } from "../../random.js";
import type { DeviceSimulator, SimulatorOptions } from "../family.js";
import { checksum, encodeFrame, stuffFrame } from "./codec.js";
import { openFrame } from "./decoder.js";
import { DatexFramer } from "./framer.js";
import { GroupStatus, waveTypes } from "./layout.js";
import { everyNth } from "../simulator-support.js";
import { encodeDisplayedRecord, encodeWaveRecord, type GroupValues } from "./records.js";
import { parseRequest, WaveCommand, type HostRequest } from "./requests.js";

export interface DatexSimulatorOptions extends SimulatorOptions {
  /** Interface level (r_dri_level) of the requests the monitor accepts. Default 9. */
  driLevel?: number;
}

export const SIMULATOR_TICK_MS = 10;
/** Time between two waveform records. NOTE: a real monitor's record period is not public. */
export const WAVE_RECORD_MS = 250;
/** Interval and waves of the stream option. */
const STREAM_INTERVAL_S = 1;
const STREAM_WAVES = ["ecg1", "invp1", "pleth"];
/** Bytes sent as line noise: neither a flag nor an escape byte. */
const GARBAGE = Buffer.from([0x55, 0x00, 0xaa]);
const SENSOR_OFF_CYCLE_MS = 20_000;
const SENSOR_OFF_START_MS = 10_000;
const SENSOR_OFF_END_MS = 15_000;
const OVER_RANGE = -32763;
const ACTIVE = GroupStatus.exists | GroupStatus.active;

interface Drifting {
  value: number;
  min: number;
  max: number;
  step: number;
}

interface WaveStream {
  type: number;
  samplesPerSecond: number;
  sent: number;
}

export class DatexSimulator implements DeviceSimulator {
  readonly tickMs = SIMULATOR_TICK_MS;
  readonly stats = {
    requests: 0,
    /** Requests at another interface level than the monitor's. */
    ignoredRequests: 0,
    /** Frames from the host that failed their checksum or were not a request. */
    badRequests: 0,
    displayedRecords: 0,
    waveRecords: 0,
    samplesSent: 0,
    corruptFramesSent: 0,
    garbageBursts: 0,
  };

  private readonly framer: DatexFramer;
  private readonly random: () => number;
  private readonly driLevel: number;
  private readonly heartRate: Drifting = { value: 72, min: 55, max: 110, step: 2 };
  private readonly spo2: Drifting = { value: 9800, min: 9000, max: 10_000, step: 30 };
  private readonly systolic: Drifting = { value: 12_000, min: 10_000, max: 14_000, step: 150 };
  private readonly temperature: Drifting = { value: 3690, min: 3600, max: 3800, step: 3 };
  private readonly etco2: Drifting = { value: 500, min: 430, max: 560, step: 8 };
  private startMs = 0;
  private displayed: { intervalMs: number; nextAtMs: number } | undefined;
  private waves: { streams: WaveStream[]; startedAtMs: number; lastSentAtMs: number } | undefined;
  private recordNumber = 0;
  private framesSent = 0;

  constructor(
    maxFrameBytes: number,
    private readonly options: DatexSimulatorOptions,
  ) {
    this.framer = new DatexFramer({ maxFrameBytes });
    this.random = seededRandom(options.seed);
    this.driLevel = options.driLevel ?? 9;
  }

  start(nowMs: number): Buffer[] {
    this.startMs = nowMs;
    if (this.options.stream !== true) return [];
    this.startDisplayed(STREAM_INTERVAL_S, nowMs);
    this.startWaves(
      STREAM_WAVES.map((code) => waveTypes.find((wave) => wave.code === code)?.type ?? 0),
      nowMs,
    );
    return this.tick(nowMs);
  }

  receive(chunk: Buffer, nowMs: number): Buffer[] {
    for (const event of this.framer.push(chunk)) {
      if (event.kind !== "frame") continue;
      const opened = openFrame(event.bytes);
      const request = opened.ok ? parseRequest(opened.record) : undefined;
      if (request === undefined) this.stats.badRequests++;
      else this.accept(request, nowMs);
    }
    return [];
  }

  tick(nowMs: number): Buffer[] {
    const output: Buffer[] = [];
    const displayed = this.displayed;
    if (displayed !== undefined && nowMs >= displayed.nextAtMs) {
      const next = displayed.nextAtMs + displayed.intervalMs;
      displayed.nextAtMs = next > nowMs ? next : nowMs + displayed.intervalMs;
      output.push(this.emit(this.displayedRecord(nowMs)));
    }
    const waves = this.waves;
    if (waves !== undefined && nowMs - waves.lastSentAtMs >= WAVE_RECORD_MS) {
      waves.lastSentAtMs = nowMs;
      output.push(this.emit(this.waveRecord(waves, nowMs)));
    }
    return output;
  }

  private accept(request: HostRequest, nowMs: number): void {
    this.stats.requests++;
    if (request.driLevel !== this.driLevel) {
      this.stats.ignoredRequests++;
      return;
    }
    // The stream option keeps its fixed load, so a benchmark's load never depends on the host.
    if (this.options.stream === true) return;
    if (request.kind === "displayed") {
      if (request.intervalS <= 0) this.displayed = undefined;
      else this.startDisplayed(request.intervalS, nowMs);
    } else if (request.command === WaveCommand.stop) {
      this.waves = undefined;
    } else {
      this.startWaves(request.waveTypes, nowMs);
    }
  }

  private startDisplayed(intervalS: number, nowMs: number): void {
    this.displayed = { intervalMs: intervalS * 1000, nextAtMs: nowMs };
  }

  /**
   * Starts the requested waves at the waveRate option, or else at their real rates. Without
   * waveRate, types whose rate is not known are left out.
   */
  private startWaves(types: readonly number[], nowMs: number): void {
    const streams: WaveStream[] = [];
    for (const type of types) {
      const samplesPerSecond =
        this.options.waveRate ?? waveTypes.find((wave) => wave.type === type)?.samplesPerSecond;
      if (samplesPerSecond !== undefined && samplesPerSecond > 0) {
        streams.push({ type, samplesPerSecond, sent: 0 });
      }
    }
    this.waves =
      streams.length === 0 ? undefined : { streams, startedAtMs: nowMs, lastSentAtMs: nowMs };
  }

  private recordFields(nowMs: number) {
    this.recordNumber = (this.recordNumber + 1) & 0xff;
    return {
      recordNumber: this.recordNumber,
      driLevel: this.driLevel,
      time: Math.floor(nowMs / 1000),
    };
  }

  private displayedRecord(nowMs: number): Buffer {
    this.stats.displayedRecords++;
    const heartRate = Math.round(this.drift(this.heartRate));
    const systolic = Math.round(this.drift(this.systolic));
    const diastolic = Math.round(systolic * 0.66);
    const mean = Math.round((systolic + 2 * diastolic) / 3);
    const pressure = { sys: systolic, dia: diastolic, mean, hr: heartRate };
    const phase = (nowMs - this.startMs) % SENSOR_OFF_CYCLE_MS;
    const sensorOff = phase >= SENSOR_OFF_START_MS && phase < SENSOR_OFF_END_MS;
    const spo2 = Math.round(this.drift(this.spo2));
    const groups: Record<string, GroupValues> = {
      ecg: { status: ACTIVE, values: { hr: heartRate, st1: 10, imp_rr: 16 } },
      p1: { status: ACTIVE, values: pressure },
      nibp: { status: ACTIVE, values: { sys: 12_000, dia: 8000, mean: 9300 } },
      t1: { status: ACTIVE, values: { temp: Math.round(this.drift(this.temperature)) } },
      t2: { status: ACTIVE, values: { temp: OVER_RANGE } },
      spo2: { status: ACTIVE, values: sensorOff ? {} : { spo2, pr: heartRate } },
      co2: {
        status: ACTIVE,
        values: { et: Math.round(this.drift(this.etco2)), fi: 0, rr: 16, amb_press: 7600 },
      },
      ecg_extra: { status: ACTIVE, values: { hr_ecg: heartRate } },
    };
    return encodeDisplayedRecord(this.recordFields(nowMs), groups);
  }

  private waveRecord(waves: { streams: WaveStream[]; startedAtMs: number }, nowMs: number): Buffer {
    this.stats.waveRecords++;
    const elapsedMs = nowMs - waves.startedAtMs;
    const subrecords = waves.streams.map((stream) => {
      const due = Math.floor((elapsedMs * stream.samplesPerSecond) / 1000) - stream.sent;
      const samples: number[] = [];
      for (let index = 0; index < due; index++) {
        const atMs = ((stream.sent + index) * 1000) / stream.samplesPerSecond;
        samples.push(this.sample(stream.type, atMs));
      }
      stream.sent += due;
      this.stats.samplesSent += due;
      return { type: stream.type, samples };
    });
    return encodeWaveRecord(this.recordFields(nowMs), subrecords);
  }

  /** Returns a synthetic sample of a wave at `atMs` of signal time, in the wave's raw units. */
  private sample(type: number, atMs: number): number {
    const beatMs = 60_000 / this.heartRate.value;
    const phase = (atMs % beatMs) / beatMs;
    if (type <= 3) {
      // ECG: a narrow R peak of 100 raw units (1 mV at 0.01 mV) on a flat baseline.
      return Math.round(100 * Math.exp(-(((phase - 0.3) / 0.02) ** 2)));
    }
    if (type === 8) {
      // Pleth: a pulse in 0 to 1000.
      return Math.round(500 + 500 * Math.sin(2 * Math.PI * phase));
    }
    if (type === 15) {
      // Respiration at 16 breaths/min.
      return Math.round(1000 * Math.sin((2 * Math.PI * atMs) / 3750));
    }
    // Invasive pressure in 0.01 mmHg, between diastolic and systolic.
    const systolic = this.systolic.value;
    const diastolic = systolic * 0.66;
    const pulse = Math.max(0, Math.sin(2 * Math.PI * phase));
    return Math.round(diastolic + (systolic - diastolic) * pulse);
  }

  private drift(parameter: Drifting): number {
    const change = (this.random() * 2 - 1) * parameter.step;
    parameter.value = Math.min(parameter.max, Math.max(parameter.min, parameter.value + change));
    return parameter.value;
  }

  /** Frames one record and applies the injected faults. */
  private emit(record: Buffer): Buffer {
    this.framesSent++;
    const corrupt = everyNth(this.options.corruptEvery, this.framesSent);
    if (corrupt) this.stats.corruptFramesSent++;
    let frame = corrupt ? corruptChecksum(record) : encodeFrame(record);
    if (everyNth(this.options.garbageEvery, this.framesSent)) {
      this.stats.garbageBursts++;
      frame = Buffer.concat([GARBAGE, frame]);
    }
    return frame;
  }
}

/** Frames a record with its checksum plus one, stuffed like a correct one. */
function corruptChecksum(record: Buffer): Buffer {
  return stuffFrame(Buffer.concat([record, Buffer.of((checksum(record) + 1) & 0xff)]));
}

export function createDatexSimulator(
  maxFrameBytes: number,
  options: DatexSimulatorOptions,
): DeviceSimulator {
  return new DatexSimulator(maxFrameBytes, options);
}
