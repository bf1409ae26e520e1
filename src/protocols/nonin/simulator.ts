/**
 * A simulated Nonin pulse oximeter that sends data format 2, 7 or 8 byte for byte (layouts in
 * codec.ts). Formats 2 and 7 send a packet of 25 frames every third of a second, and format 8
 * a 4-byte record every second. The simulator replies to the select-format command with ACK
 * (0x06) and switches format, or with NAK (0x15) when the command's checksum or format is wrong.
 * The formats carry no serial number, so `SimulatorOptions.serialNumber` is not used.
 */
import type { DeviceSimulator, SimulatorOptions } from "../family.js";
import { seededRandom } from "../../random.js";
import { driftValue, type DriftingValue } from "../drifting-value.js";
import { everyNth } from "../simulator-support.js";
import {
  ACK,
  ETX,
  FIRMWARE_FRAME,
  encodeFrame,
  MISSING_HEART_RATE,
  MISSING_SPO2,
  NAK,
  packetValues,
  SELECT_FORMAT_OPCODE,
  splitHeartRate,
  STAT2_FRAME,
  STATUS_MARK,
  STATUS_SYNC,
  STX,
  type NoninFormat,
} from "./codec.js";
import type { NoninProfile } from "./schema.js";

/** Faults and values specific to this device, beside the family-wide SimulatorOptions. */
export interface NoninScenario {
  /** Format sent before any select-format command. Default: the profile's format. */
  powerOnFormat?: NoninFormat;
  /** Heart rates sent in turn, one per packet, instead of a drifting value. */
  heartRates?: readonly number[];
  /** Every Nth packet reports a disconnected sensor: missing values and a status flag. */
  sensorOffEvery?: number;
}

/** Packets a second in formats 2 and 7; format 8 sends on every third tick. */
const PACKETS_PER_SECOND = 3;
const FIRMWARE_REVISION = 42;
/** Sensor disconnect: STATUS bit 6 in formats 2 and 8; format 7 has no such bit, so bit 3. */
const SENSOR_OFF_FLAG: Record<NoninFormat, number> = { 2: 0x40, 7: 0x08, 8: 0x40 };
/** Bytes sent as noise: a format 2 start byte and status without a valid frame after them. */
const GARBAGE = Buffer.from([0x01, 0x81, 0x55]);
const SELECT_COMMAND_BYTES = 8;

export class NoninSimulator implements DeviceSimulator {
  readonly tickMs = Math.round(1000 / PACKETS_PER_SECOND);
  readonly stats = {
    packetsSent: 0,
    bytesSent: 0,
    corruptPackets: 0,
    garbageBursts: 0,
    sensorOffPackets: 0,
    formatCommands: 0,
    formatRejections: 0,
    hostBytesIgnored: 0,
  };

  private format: NoninFormat;
  private readonly random: () => number;
  private readonly heartRate: DriftingValue = {
    value: 72,
    min: 50,
    max: 120,
    step: 1,
    decimals: 0,
  };
  private readonly spo2: DriftingValue = { value: 97, min: 90, max: 100, step: 0.5, decimals: 0 };
  private ticks = 0;
  private plethPhase = 0;
  private received = Buffer.alloc(0);

  constructor(
    profile: NoninProfile,
    private readonly options: SimulatorOptions,
    private readonly scenario: NoninScenario = {},
  ) {
    this.format = scenario.powerOnFormat ?? profile.framing.format;
    this.random = seededRandom(options.seed);
  }

  /** Returns the tail of a packet, because the port opens while the device is sending. */
  start(): Buffer[] {
    const packet = this.packet(false);
    return [this.count(packet.subarray(Math.floor(packet.length / 2)))];
  }

  receive(chunk: Buffer): Buffer[] {
    this.received = Buffer.concat([this.received, chunk]);
    const replies: Buffer[] = [];
    for (;;) {
      const start = this.received.indexOf(STX);
      this.stats.hostBytesIgnored += start < 0 ? this.received.length : start;
      if (start < 0) {
        this.received = Buffer.alloc(0);
        break;
      }
      this.received = this.received.subarray(start);
      if (this.received.length < SELECT_COMMAND_BYTES) break;
      replies.push(this.answer(this.received.subarray(0, SELECT_COMMAND_BYTES)));
      this.received = this.received.subarray(SELECT_COMMAND_BYTES);
    }
    return replies;
  }

  tick(): Buffer[] {
    this.ticks++;
    if (this.format === 8 && this.ticks % PACKETS_PER_SECOND !== 0) return [];
    const number = this.stats.packetsSent + 1;
    const output: Buffer[] = [];
    if (everyNth(this.options.garbageEvery, number)) {
      this.stats.garbageBursts++;
      output.push(this.count(GARBAGE));
    }
    const sensorOff = everyNth(this.scenario.sensorOffEvery ?? 0, number);
    if (sensorOff) this.stats.sensorOffPackets++;
    let packet = this.packet(sensorOff);
    if (everyNth(this.options.corruptEvery, number)) packet = this.corrupt(packet);
    this.stats.packetsSent++;
    output.push(this.count(packet));
    return output;
  }

  /** Replies to one select-format command: `02 70 04 02 <format> <options> <chk> 03`. */
  private answer(command: Buffer): Buffer {
    this.stats.formatCommands++;
    const format = command[4];
    const sum =
      (command[1] ?? 0) + (command[2] ?? 0) + (command[3] ?? 0) + (format ?? 0) + (command[5] ?? 0);
    const valid =
      command[1] === SELECT_FORMAT_OPCODE &&
      command[2] === 0x04 &&
      command[3] === 0x02 &&
      (sum & 0xff) === command[6] &&
      command[7] === ETX &&
      (format === 2 || format === 7 || format === 8);
    if (!valid) {
      this.stats.formatRejections++;
      return this.count(Buffer.from([NAK]));
    }
    this.format = format;
    return this.count(Buffer.from([ACK]));
  }

  private count(bytes: Buffer): Buffer {
    this.stats.bytesSent += bytes.length;
    return bytes;
  }

  private packet(sensorOff: boolean): Buffer {
    this.drift();
    const heartRate = sensorOff ? MISSING_HEART_RATE : this.nextHeartRate();
    const spo2 = sensorOff ? MISSING_SPO2 : Math.round(this.spo2.value);
    const flags = sensorOff ? SENSOR_OFF_FLAG[this.format] : 0;
    if (this.format === 8) {
      const [high, low] = splitHeartRate(heartRate);
      return Buffer.from([STATUS_MARK | flags | high, low, spo2, 0]);
    }
    const data = packetData(heartRate, spo2, this.stats.packetsSent);
    const frames = data.map((byte, index) => this.frame(index === 0, flags, byte));
    return Buffer.concat(frames);
  }

  private frame(first: boolean, flags: number, data: number): Buffer {
    const status = STATUS_MARK | flags | (first ? STATUS_SYNC : 0);
    return encodeFrame(this.format === 2 ? 2 : 7, status, this.pleth(), data);
  }

  /** Returns a 16-bit pulse-like wave sample; format 2 sends its high byte. */
  private pleth(): number {
    this.plethPhase =
      (this.plethPhase + (2 * Math.PI * this.heartRate.value) / 60 / 75) % (2 * Math.PI);
    return Math.round(32_768 + 20_000 * Math.sin(this.plethPhase));
  }

  private nextHeartRate(): number {
    const rates = this.scenario.heartRates;
    if (rates === undefined || rates.length === 0) return Math.round(this.heartRate.value);
    return rates[this.stats.packetsSent % rates.length] ?? 0;
  }

  private drift(): void {
    driftValue(this.heartRate, this.random);
    driftValue(this.spo2, this.random);
  }

  /** Breaks frame 5's checksum, or in format 8 sets bit 7 of the SpO2 byte. */
  private corrupt(packet: Buffer): Buffer {
    this.stats.corruptPackets++;
    const corrupted = Buffer.from(packet);
    const index = this.format === 8 ? 2 : 4 * 5 + 4;
    corrupted[index] = (corrupted[index] ?? 0) ^ (this.format === 8 ? STATUS_MARK : 0x01);
    return corrupted;
  }
}

/** DATA bytes of the 25 frames of a format 2 or 7 packet. */
function packetData(heartRate: number, spo2: number, packetNumber: number): number[] {
  const data = new Array<number>(25).fill(0);
  const [high, low] = splitHeartRate(heartRate);
  for (const value of packetValues) {
    const [first, second] = value.frames;
    if (value.kind === "heartRate") {
      data[(first ?? 1) - 1] = high;
      data[(second ?? 1) - 1] = low;
    } else {
      data[(first ?? 1) - 1] = spo2;
    }
  }
  data[FIRMWARE_FRAME - 1] = FIRMWARE_REVISION;
  // Frames 6 and 7 carry a timer in format 7; format 2 leaves them reserved (zero here).
  data[5] = (packetNumber >> 7) & 0x7f;
  data[6] = packetNumber & 0x7f;
  data[STAT2_FRAME - 1] = 0;
  return data;
}

export function createNoninSimulator(
  profile: NoninProfile,
  options: SimulatorOptions,
  scenario?: NoninScenario,
): DeviceSimulator {
  return new NoninSimulator(profile, options, scenario);
}
