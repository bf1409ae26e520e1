/**
 * A simulated Dräger Evita-class ventilator with pulse oximetry, speaking MEDIBUS byte for byte.
 * It follows the Dräger "RS 232 MEDIBUS Protocol Definition", Rev. 6.00, in the points a host
 * must get right:
 *
 * - it sends its own ICC and Request Device ID at start, one at a time, and sends measured
 *   data and alarms only after the host has responded to its Request Device ID;
 * - it drops the session after a pause over 3 s in the bytes it receives, and then ignores every
 *   request other than ICC until the host initializes again;
 * - it answers after a short processing delay and drops a request that arrives while it is
 *   still processing one;
 * - it answers a command whose checksum failed with `SOH 0x15 chk CR`.
 *
 * Data codes follow codepage 1. The alarm code and phrase are synthetic, because the codepage-1
 * alarm table is not public.
 */
import type { DeviceSimulator, SimulatorOptions } from "../family.js";
import { everyNth, findSessionEvent } from "../simulator-support.js";
import { Command, encodeCommand, encodeResponse, ESC } from "./codec.js";
import { decodeMedibusFrame } from "./decoder.js";
import { MedibusFramer } from "./framer.js";
import { DEVICE_PAUSE_TIMEOUT_MS } from "./schema.js";
import { seededRandom } from "../../random.js";

export interface MedibusSimulatorOptions extends SimulatorOptions {
  /** Every Nth response has a realtime byte (0xD0, bit 7 set) in its middle (0 = never). */
  realtimeEvery?: number;
  /** Every Nth response has a device NOP command nested in its middle (0 = never). */
  nestedCommandEvery?: number;
  /** Time from a request to its response, in ms. Default 30. */
  responseDelayMs?: number;
  /**
   * Codepage-1 codes sent in measured data, from the simulator's parameter list. Default: the
   * Evita set (SpO2, pulse, PEEP, peak pressure, VT, MV, RR, FiO2, EtCO2 in mmHg).
   */
  dataCodes?: readonly string[];
  /** Device name in the device identification. Default "Evita4". */
  deviceName?: string;
}

export const SIMULATOR_TICK_MS = 10;
/** The simulated device sends its own command again after this long without a response. */
const COMMAND_RETRY_MS = 2000;
/** Synthetic device identification, around the device name: id number, then revision. */
const identification = (name: string) => `0001'${name}'04.20:06.00`;
/** Bytes sent as line noise: 7-bit, and neither a start byte nor CR. */
const GARBAGE = Buffer.from([0x3f, 0x00, 0x7e]);
const REALTIME_SYNC_BYTE = 0xd0;
/** The simulated alarm is active for 5 s in every 20 s, from 10 s after start. */
const ALARM_CYCLE_MS = 20_000;
const ALARM_START_MS = 10_000;
const ALARM_END_MS = 15_000;
/** Synthetic CO2 fault alarm: priority digit, code and 12-character phrase. */
const ALARM_GROUP = "20ASIM CO2 FAIL";
/** EtCO2 in mmHg, kPa and %, absent from measured data while the CO2 fault alarm is active. */
const ETCO2_CODES = new Set(["E6", "E3", "DB"]);
/** Codes sent for every profile, mapped or not, so that unmapped codes are exercised. */
const ALWAYS_SENT_CODES = ["7D", "B9"];

interface Parameter {
  code: string;
  value: number;
  min: number;
  max: number;
  /** Largest change per measured-data response. */
  step: number;
  decimals: number;
}

/**
 * Codepage-1 parameters in the order they are sent: SpO2, pulse, PEEP, peak pressure, VT, MV,
 * RR, FiO2, EtCO2 (mmHg), RR from CO2, EtCO2 (kPa). Returns those among `codes`.
 */
function createParameters(codes: readonly string[]): Parameter[] {
  const all: Parameter[] = [
    { code: "EB", value: 97, min: 90, max: 100, step: 1, decimals: 0 },
    { code: "E1", value: 72, min: 55, max: 110, step: 2, decimals: 0 },
    { code: "78", value: 5, min: 4, max: 8, step: 0.2, decimals: 1 },
    { code: "7D", value: 18, min: 12, max: 30, step: 1, decimals: 0 },
    { code: "88", value: 480, min: 380, max: 600, step: 10, decimals: 0 },
    { code: "B9", value: 7.2, min: 5, max: 9.9, step: 0.2, decimals: 1 },
    { code: "D6", value: 15, min: 10, max: 24, step: 1, decimals: 0 },
    { code: "F0", value: 40, min: 30, max: 60, step: 1, decimals: 0 },
    { code: "E6", value: 38, min: 30, max: 50, step: 1, decimals: 0 },
    { code: "D5", value: 14, min: 10, max: 24, step: 1, decimals: 0 },
    { code: "E3", value: 5.1, min: 4, max: 6.7, step: 0.1, decimals: 1 },
  ];
  return all.filter((parameter) => codes.includes(parameter.code));
}

const evitaCodes = ["EB", "E1", "78", "7D", "88", "B9", "D6", "F0", "E6"];

/** Returns the simulated codes for a profile's mapped codes, plus the always-sent ones. */
export function simulatedDataCodes(mappedCodes: readonly string[]): string[] {
  return [...new Set([...mappedCodes, ...ALWAYS_SENT_CODES])];
}

/**
 * Formats a value in the 4-character field: integers as in the protocol definition's example
 * (" 98 "), decimals right-aligned (" 5.0").
 */
export function formatValue(value: number, decimals: number): string {
  if (decimals > 0) return value.toFixed(decimals).padStart(4).slice(0, 4);
  const digits = String(Math.round(value));
  return digits.length >= 4 ? digits.slice(0, 4) : `${digits.padStart(3)} `;
}

export class MedibusSimulator implements DeviceSimulator {
  readonly tickMs = SIMULATOR_TICK_MS;
  readonly stats = {
    requests: 0,
    responses: 0,
    /** Requests that arrived while another was still being processed. */
    droppedRequests: 0,
    /** Requests ignored because the session was not initialized or the host not identified. */
    ignoredRequests: 0,
    pauseTimeouts: 0,
    corruptCommands: 0,
    /** SOH 0x15 responses from the host: it could not read one of our frames. */
    hostRejections: 0,
    commandsSent: 0,
    commandRetries: 0,
    corruptFramesSent: 0,
    garbageBursts: 0,
    realtimeBytesSent: 0,
    nestedCommands: 0,
    measuredDataResponses: 0,
  };

  private readonly framer: MedibusFramer;
  private readonly random: () => number;
  private readonly parameters: Parameter[];
  private readonly responseDelayMs: number;
  private startMs = 0;
  private lastReceivedAtMs = 0;
  private initialized = false;
  private hostIdentified = false;
  private processing: { code: number; dueAtMs: number } | undefined;
  private ownCommand: { code: number; sentAtMs: number } | undefined;
  private ownQueue: number[] = [];
  private framesSent = 0;
  private responsesSent = 0;

  constructor(
    maxFrameBytes: number,
    private readonly options: MedibusSimulatorOptions,
  ) {
    this.framer = new MedibusFramer({ maxFrameBytes });
    this.random = seededRandom(options.seed);
    this.parameters = createParameters(options.dataCodes ?? evitaCodes);
    this.responseDelayMs = options.responseDelayMs ?? 30;
  }

  start(nowMs: number): Buffer[] {
    this.startMs = nowMs;
    this.lastReceivedAtMs = nowMs;
    this.ownQueue = [Command.icc, Command.deviceId];
    return this.sendOwnCommand(nowMs);
  }

  receive(chunk: Buffer, nowMs: number): Buffer[] {
    this.checkPause(nowMs);
    this.lastReceivedAtMs = nowMs;
    const output: Buffer[] = [];
    for (const event of this.framer.push(chunk)) {
      if (event.kind === "frame") output.push(...this.handleFrame(event.bytes, nowMs));
    }
    return output;
  }

  tick(nowMs: number): Buffer[] {
    this.checkPause(nowMs);
    const output: Buffer[] = [];
    const processing = this.processing;
    if (processing !== undefined && nowMs >= processing.dueAtMs) {
      this.processing = undefined;
      output.push(this.sendResponse(processing.code, nowMs));
    }
    const own = this.ownCommand;
    if (own !== undefined && nowMs - own.sentAtMs >= COMMAND_RETRY_MS) {
      this.stats.commandRetries++;
      this.ownQueue.unshift(own.code);
      this.ownCommand = undefined;
    }
    output.push(...this.sendOwnCommand(nowMs));
    return output;
  }

  /** Drops the session after a pause over 3 s, as the protocol definition requires. */
  private checkPause(nowMs: number): void {
    if (!this.initialized || nowMs - this.lastReceivedAtMs <= DEVICE_PAUSE_TIMEOUT_MS) return;
    this.initialized = false;
    this.processing = undefined;
    this.stats.pauseTimeouts++;
  }

  private handleFrame(frame: Buffer, nowMs: number): Buffer[] {
    const result = decodeMedibusFrame(frame);
    if (!result.ok) {
      if (result.error.code !== "FRAME_CHECKSUM" || frame[0] !== ESC) return [];
      this.stats.corruptCommands++;
      return [this.emit(encodeResponse(Command.corrupt), nowMs, false)];
    }
    const event = findSessionEvent(result.records);
    if (event === undefined) return [];
    switch (event.type) {
      case "command":
        this.acceptRequest(event.command, nowMs);
        return [];
      case "response":
        return this.acceptAnswer(event.command, nowMs);
      case "rejected":
        return this.acceptRejection(nowMs);
      case "astm":
      case "hl7-message":
        return [];
    }
  }

  private acceptRequest(code: number, nowMs: number): void {
    this.stats.requests++;
    if (this.processing !== undefined) {
      this.stats.droppedRequests++;
      return;
    }
    const isData = code === Command.measuredDataCp1 || code === Command.alarmsCp1;
    if ((!this.initialized && code !== Command.icc) || (isData && !this.hostIdentified)) {
      this.stats.ignoredRequests++;
      return;
    }
    if (code === Command.icc) this.initialized = true;
    this.processing = { code, dueAtMs: nowMs + this.responseDelayMs };
  }

  /** Clears our command once the host responded to it, and sends the next one. */
  private acceptAnswer(code: number, nowMs: number): Buffer[] {
    if (this.ownCommand?.code !== code) return [];
    this.ownCommand = undefined;
    if (code === Command.deviceId) this.hostIdentified = true;
    return this.sendOwnCommand(nowMs);
  }

  private acceptRejection(nowMs: number): Buffer[] {
    this.stats.hostRejections++;
    const own = this.ownCommand;
    if (own === undefined) return [];
    this.ownCommand = undefined;
    this.ownQueue.unshift(own.code);
    return this.sendOwnCommand(nowMs);
  }

  private sendOwnCommand(nowMs: number): Buffer[] {
    if (this.ownCommand !== undefined) return [];
    const code = this.ownQueue.shift();
    if (code === undefined) return [];
    this.ownCommand = { code, sentAtMs: nowMs };
    this.stats.commandsSent++;
    return [this.emit(encodeCommand(code), nowMs, false)];
  }

  private sendResponse(code: number, nowMs: number): Buffer {
    this.stats.responses++;
    if (code === Command.stop) this.initialized = false;
    return this.emit(encodeResponse(code, this.responseData(code, nowMs)), nowMs, true);
  }

  private responseData(code: number, nowMs: number): string {
    switch (code) {
      case Command.measuredDataCp1:
        this.stats.measuredDataResponses++;
        return this.measuredData(nowMs);
      case Command.alarmsCp1:
        return this.alarmActive(nowMs) ? ALARM_GROUP : "";
      case Command.deviceId:
        return identification(this.options.deviceName ?? "Evita4");
      default:
        return "";
    }
  }

  private measuredData(nowMs: number): string {
    const co2Fault = this.alarmActive(nowMs);
    let data = "";
    for (const parameter of this.parameters) {
      const drift = (this.random() * 2 - 1) * parameter.step;
      parameter.value = Math.min(parameter.max, Math.max(parameter.min, parameter.value + drift));
      if (co2Fault && ETCO2_CODES.has(parameter.code)) continue;
      data += parameter.code + formatValue(parameter.value, parameter.decimals);
    }
    return data;
  }

  private alarmActive(nowMs: number): boolean {
    const phase = (nowMs - this.startMs) % ALARM_CYCLE_MS;
    return phase >= ALARM_START_MS && phase < ALARM_END_MS;
  }

  /** Applies the injected faults to one outgoing frame. */
  private emit(frame: Buffer, nowMs: number, isResponse: boolean): Buffer {
    this.framesSent++;
    let bytes = frame;
    if (everyNth(this.options.corruptEvery, this.framesSent)) bytes = this.corrupt(bytes);
    if (isResponse) bytes = this.interleave(bytes, nowMs);
    if (everyNth(this.options.garbageEvery, this.framesSent)) {
      this.stats.garbageBursts++;
      bytes = Buffer.concat([GARBAGE, bytes]);
    }
    return bytes;
  }

  /** Replaces the second checksum character by another hex digit. */
  private corrupt(frame: Buffer): Buffer {
    this.stats.corruptFramesSent++;
    const bytes = Buffer.from(frame);
    const index = bytes.length - 2;
    bytes[index] = bytes[index] === 0x30 ? 0x31 : 0x30;
    return bytes;
  }

  /** Inserts a realtime byte or a nested command in the middle of a response, when asked. */
  private interleave(frame: Buffer, nowMs: number): Buffer {
    this.responsesSent++;
    const middle = Math.floor(frame.length / 2);
    const inserts: Buffer[] = [];
    if (everyNth(this.options.realtimeEvery ?? 0, this.responsesSent)) {
      this.stats.realtimeBytesSent++;
      inserts.push(Buffer.from([REALTIME_SYNC_BYTE]));
    }
    const nested = everyNth(this.options.nestedCommandEvery ?? 0, this.responsesSent);
    if (nested && this.ownCommand === undefined) {
      this.stats.nestedCommands++;
      this.stats.commandsSent++;
      this.ownCommand = { code: Command.nop, sentAtMs: nowMs };
      inserts.push(encodeCommand(Command.nop));
    }
    if (inserts.length === 0) return frame;
    return Buffer.concat([frame.subarray(0, middle), ...inserts, frame.subarray(middle)]);
  }
}

export function createMedibusSimulator(
  maxFrameBytes: number,
  options: MedibusSimulatorOptions,
): DeviceSimulator {
  return new MedibusSimulator(maxFrameBytes, options);
}
