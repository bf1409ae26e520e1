/**
 * Simulated Masimo Radical-7 in its "ASCII 1" serial mode: 9600 8N1, one CR LF line per second,
 * laid out like the serial output line of the Radical-7 service manual (rev. A), as quoted in
 * remkolems/masimo-datacapture (BSD-2-Clause), masimo-capture.py. A line, wrapped here:
 *
 *   01/01/24 12:00:00 SN=0000012345 SPO2=097% BPM=072 PI=02.10% SPCO=01.0% SPMET=01.2%
 *   DESAT=-- PIDELTA=+-- PVI=014 ALARM=0000 EXC=000000
 *
 * Values are zero padded to a fixed width, an absent value is all dashes with "%" kept, and
 * EXC is a hex exception bit field (0x020 is "sensor off").
 */
import type { DeviceSimulator, SimulatorOptions } from "../family.js";
import { lineTerminators, type AsciiLineProfile } from "./schema.js";
import { seededRandom } from "../../random.js";

/** Faults specific to this device, beside the family-wide SimulatorOptions. */
export interface Radical7Scenario {
  /** Every Nth line reports "sensor off": every value dashes and EXC=000020 (0 = never). */
  sensorOffEvery: number;
}

const sensorOffBit = 0x020;

/** One simulated reading, which drifts a little every line. */
interface Vitals {
  spo2: number;
  bpm: number;
  pi: number;
  spco: number;
  spmet: number;
  pvi: number;
}

/** Centre, bounds and maximum step per line of each drifting value. */
const drift: Record<keyof Vitals, { centre: number; min: number; max: number; step: number }> = {
  spo2: { centre: 97, min: 90, max: 100, step: 1 },
  bpm: { centre: 72, min: 50, max: 120, step: 2 },
  pi: { centre: 2.1, min: 0.3, max: 10, step: 0.2 },
  spco: { centre: 1.0, min: 0, max: 10, step: 0.2 },
  spmet: { centre: 1.2, min: 0.1, max: 3, step: 0.1 },
  pvi: { centre: 14, min: 5, max: 40, step: 1 },
};

/**
 * Creates the simulator. The profile sets only the line terminator.
 * NOTE: every ascii-line profile gets Masimo ASCII 1 lines, because Masimo is the only
 * ascii-line device so far. Another device needs its own line formatter.
 */
export function createRadical7Simulator(
  profile: AsciiLineProfile,
  options: SimulatorOptions,
  scenario: Radical7Scenario = { sensorOffEvery: 0 },
): DeviceSimulator {
  return new Radical7Simulator(profile, options, scenario);
}

class Radical7Simulator implements DeviceSimulator {
  readonly tickMs = 1000;
  readonly stats = {
    linesSent: 0,
    bytesSent: 0,
    garbageBursts: 0,
    corruptLines: 0,
    sensorOffLines: 0,
    hostBytesIgnored: 0,
  };

  private readonly random: () => number;
  private readonly terminator: string;
  private vitals: Vitals = { spo2: 97, bpm: 72, pi: 2.1, spco: 1.0, spmet: 1.2, pvi: 14 };

  constructor(
    profile: AsciiLineProfile,
    private readonly options: SimulatorOptions,
    private readonly scenario: Radical7Scenario,
  ) {
    this.random = seededRandom(options.seed);
    this.terminator = lineTerminators[profile.framing.terminator];
  }

  /** Returns the tail of a line, because the port opens while the device is mid-line. */
  start(nowMs: number): Buffer[] {
    const line = this.formatLine(nowMs, false);
    const cut = Math.floor(this.random() * (line.length - 10));
    return [this.send(Buffer.from(line.slice(cut) + this.terminator, "latin1"))];
  }

  /** Counts the host's bytes and ignores them: ASCII 1 is output only. */
  receive(chunk: Buffer): Buffer[] {
    this.stats.hostBytesIgnored += chunk.length;
    return [];
  }

  tick(nowMs: number): Buffer[] {
    const number = this.stats.linesSent + 1;
    const output: Buffer[] = [];
    if (isNth(number, this.options.garbageEvery)) output.push(this.send(this.noise()));
    const sensorOff = isNth(number, this.scenario.sensorOffEvery);
    if (sensorOff) this.stats.sensorOffLines++;
    let line: Buffer = Buffer.from(this.formatLine(nowMs, sensorOff) + this.terminator, "latin1");
    if (isNth(number, this.options.corruptEvery)) line = this.corrupt(line);
    this.stats.linesSent++;
    output.push(this.send(line));
    return output;
  }

  private send(bytes: Buffer): Buffer {
    this.stats.bytesSent += bytes.length;
    return bytes;
  }

  private formatLine(nowMs: number, sensorOff: boolean): string {
    this.vitals = driftVitals(this.vitals, this.random);
    const time = formatDeviceTime(nowMs);
    const values = sensorOff ? sensorOffValues : formatVitals(this.vitals);
    const exceptions = sensorOff ? sensorOffBit : 0;
    const exc = exceptions.toString(16).toUpperCase().padStart(6, "0");
    return `${time} SN=${this.options.serialNumber} ${values} ALARM=0000 EXC=${exc}`;
  }

  /**
   * Returns 3 to 6 bytes with bit 7 set, such as a wrong baud rate can produce, then a terminator.
   * The terminator lets the next line through.
   */
  private noise(): Buffer {
    this.stats.garbageBursts++;
    const length = 3 + Math.floor(this.random() * 4);
    const bytes = Array.from({ length }, () => 0x80 + Math.floor(this.random() * 0x80));
    return Buffer.concat([Buffer.from(bytes), Buffer.from(this.terminator, "latin1")]);
  }

  /** Replaces one byte after the time stamp with a byte that has bit 7 set. */
  private corrupt(line: Buffer): Buffer {
    this.stats.corruptLines++;
    const body = line.length - this.terminator.length;
    const at = 18 + Math.floor(this.random() * (body - 18));
    const corrupted = Buffer.from(line);
    corrupted[at] = 0xff;
    return corrupted;
  }
}

const sensorOffValues =
  "SPO2=---% BPM=--- PI=--.--% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- PVI=---";

function formatVitals(vitals: Vitals): string {
  const spo2 = padded(vitals.spo2, 3, 0);
  const bpm = padded(vitals.bpm, 3, 0);
  const pi = padded(vitals.pi, 5, 2);
  const spco = padded(vitals.spco, 4, 1);
  const spmet = padded(vitals.spmet, 4, 1);
  const pvi = padded(vitals.pvi, 3, 0);
  return (
    `SPO2=${spo2}% BPM=${bpm} PI=${pi}% SPCO=${spco}% SPMET=${spmet}% ` +
    `DESAT=-- PIDELTA=+-- PVI=${pvi}`
  );
}

/** Formats a number zero padded to `width` characters with `decimals` digits after the point. */
function padded(value: number, width: number, decimals: number): string {
  return value.toFixed(decimals).padStart(width, "0");
}

/** Formats the time as "MM/DD/YY HH:MM:SS" in UTC, so runs do not depend on the host zone. */
function formatDeviceTime(nowMs: number): string {
  const date = new Date(nowMs);
  const two = (value: number) => String(value).padStart(2, "0");
  const month = two(date.getUTCMonth() + 1);
  const year = two(date.getUTCFullYear() % 100);
  const clock = [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()].map(two);
  return `${month}/${two(date.getUTCDate())}/${year} ${clock.join(":")}`;
}

/** Moves each value by a random step, pulled back towards its centre and kept in bounds. */
function driftVitals(vitals: Vitals, random: () => number): Vitals {
  const next = { ...vitals };
  for (const key of Object.keys(drift) as (keyof Vitals)[]) {
    const { centre, min, max, step } = drift[key];
    const moved = vitals[key] + (random() - 0.5) * 2 * step + (centre - vitals[key]) * 0.1;
    next[key] = Math.min(max, Math.max(min, moved));
  }
  return next;
}

function isNth(number: number, every: number): boolean {
  return every > 0 && number % every === 0;
}
