/**
 * A simulated blood gas analyzer that sends results as an ASTM E1381-95 / CLSI LIS01-A2
 * sender, byte for byte:
 *
 * - every resultPeriodMs it sends ENQ and waits for the receiver's ACK; on NAK (busy) it
 *   waits 10 s and sends ENQ again;
 * - it sends its message (H, P, O, R…, L records, each ending with CR) as frames of at most
 *   framing.maxTextBytes text bytes: several records share a frame and a record that does not
 *   fit continues in the next frame (ETB, then ETX on the last frame);
 * - it waits 15 s for the reply to ENQ or to a frame; on NAK (or any reply to a frame other
 *   than ACK and EOT, such as a garbled ACK) it sends the frame again, and
 *   after 6 NAKs of one frame, or on a time-out, it ends the transfer with EOT and sends
 *   the message again at the next period;
 * - after the last frame's ACK it sends EOT.
 *
 * The P record carries a synthetic patient name and identifier, so tests can check that the
 * gateway publishes neither.
 */
import { seededRandom } from "../../random.js";
import { driftValue, type DriftingValue } from "../drifting-value.js";
import type { DeviceSimulator, SimulatorOptions } from "../family.js";
import { ACK, ENQ, EOT, NAK, encodeMessage } from "./codec.js";

export interface AstmSimulatorOptions extends SimulatorOptions {
  /** Time from the end of one transfer to the next ENQ, in ms. Default 2000. */
  resultPeriodMs?: number;
}

export const SIMULATOR_TICK_MS = 50;
/** Time of the first simulated result: 2024-01-01 12:00:00 UTC; each message is 1 s later. */
const simulatedEpochMs = Date.UTC(2024, 0, 1, 12, 0, 0);

/** Formats a time as ASTM E1394 YYYYMMDDHHMMSS, in UTC. */
function astmTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace(/[-T:]/g, "");
}

/** Sender timer of LIS01-A2: the wait for a reply to ENQ or to a frame. */
export const SENDER_TIMEOUT_MS = 15_000;
/** Wait after a NAK to ENQ (receiver busy) before the next ENQ. */
export const BUSY_RETRY_MS = 10_000;
/** NAKs of one frame after which the sender gives up (LIS01-A2: six). */
export const MAX_FRAME_NAKS = 6;
/** Synthetic patient fields, which must never reach the broker. */
export const SIMULATED_PATIENT_NAME = "DOE^JANE";
export const SIMULATED_PATIENT_ID = "PAT-4711";
const GARBAGE = Buffer.from([0x00, 0x3f, 0x7e]);

interface Parameter extends DriftingValue {
  code: string;
  unit: string;
}

function createParameters(): Parameter[] {
  return [
    { code: "pH", unit: "", value: 7.4, min: 7.3, max: 7.5, step: 0.01, decimals: 2 },
    { code: "pCO2", unit: "mm[Hg]", value: 40, min: 32, max: 48, step: 0.5, decimals: 1 },
    { code: "pO2", unit: "mm[Hg]", value: 95, min: 80, max: 105, step: 1, decimals: 0 },
    { code: "Temp", unit: "Cel", value: 37, min: 36.5, max: 37.5, step: 0.1, decimals: 1 },
    { code: "FIO2", unit: "%", value: 21, min: 21, max: 21, step: 0, decimals: 0 },
  ];
}

type Phase =
  | { kind: "idle"; nextAtMs: number }
  | { kind: "enquiring"; sentAtMs: number }
  | { kind: "sending"; index: number; naks: number; sentAtMs: number };

export class AstmAnalyzerSimulator implements DeviceSimulator {
  readonly tickMs = SIMULATOR_TICK_MS;
  readonly stats = {
    transfers: 0,
    completedTransfers: 0,
    abortedTransfers: 0,
    framesSent: 0,
    retransmissions: 0,
    naksReceived: 0,
    busyReplies: 0,
    timeouts: 0,
    corruptFramesSent: 0,
    garbageBursts: 0,
  };

  private readonly random: () => number;
  private readonly parameters = createParameters();
  private readonly resultPeriodMs: number;
  private phase: Phase = { kind: "idle", nextAtMs: 0 };
  private frames: Buffer[] = [];
  private sequence = 0;

  constructor(
    private readonly maxTextBytes: number,
    private readonly options: AstmSimulatorOptions,
  ) {
    this.random = seededRandom(options.seed);
    this.resultPeriodMs = options.resultPeriodMs ?? 2000;
  }

  start(nowMs: number): Buffer[] {
    this.phase = { kind: "idle", nextAtMs: nowMs + Math.min(this.resultPeriodMs, 500) };
    return [];
  }

  receive(chunk: Buffer, nowMs: number): Buffer[] {
    const output: Buffer[] = [];
    for (const byte of chunk) {
      if (byte === ACK) output.push(...this.onAck(nowMs));
      // A reply other than ACK or EOT to a frame counts as NAK.
      // NOTE: inferred from open implementations; the LIS01-A2 text itself was not at hand.
      else if (byte === NAK || (byte !== EOT && this.phase.kind === "sending")) {
        output.push(...this.onNak(nowMs));
      }
    }
    return output;
  }

  tick(nowMs: number): Buffer[] {
    const phase = this.phase;
    if (phase.kind === "idle") {
      if (nowMs < phase.nextAtMs) return [];
      if (this.frames.length === 0) this.frames = encodeMessage(this.message(), this.maxTextBytes);
      this.stats.transfers++;
      this.phase = { kind: "enquiring", sentAtMs: nowMs };
      return [this.withGarbage(Buffer.from([ENQ]))];
    }
    if (nowMs - phase.sentAtMs < SENDER_TIMEOUT_MS) return [];
    this.stats.timeouts++;
    return this.abort(nowMs);
  }

  private onAck(nowMs: number): Buffer[] {
    const phase = this.phase;
    if (phase.kind === "idle") return [];
    const next = phase.kind === "enquiring" ? 0 : phase.index + 1;
    if (next < this.frames.length) return [this.sendFrame(next, 0, nowMs)];
    this.stats.completedTransfers++;
    this.frames = [];
    this.phase = { kind: "idle", nextAtMs: nowMs + this.resultPeriodMs };
    return [Buffer.from([EOT])];
  }

  private onNak(nowMs: number): Buffer[] {
    const phase = this.phase;
    if (phase.kind === "idle") return [];
    this.stats.naksReceived++;
    if (phase.kind === "enquiring") {
      this.stats.busyReplies++;
      this.phase = { kind: "idle", nextAtMs: nowMs + BUSY_RETRY_MS };
      return [];
    }
    const naks = phase.naks + 1;
    if (naks >= MAX_FRAME_NAKS) return this.abort(nowMs);
    this.stats.retransmissions++;
    return [this.sendFrame(phase.index, naks, nowMs)];
  }

  /** Ends the transfer with EOT; the message is sent again at the next period. */
  private abort(nowMs: number): Buffer[] {
    this.stats.abortedTransfers++;
    this.phase = { kind: "idle", nextAtMs: nowMs + this.resultPeriodMs };
    return [Buffer.from([EOT])];
  }

  private sendFrame(index: number, naks: number, nowMs: number): Buffer {
    this.phase = { kind: "sending", index, naks, sentAtMs: nowMs };
    this.stats.framesSent++;
    let frame = this.frames[index] ?? Buffer.alloc(0);
    if (everyNth(this.options.corruptEvery, this.stats.framesSent)) frame = this.corrupt(frame);
    return this.withGarbage(frame);
  }

  private withGarbage(bytes: Buffer): Buffer {
    const count = this.stats.framesSent + this.stats.transfers;
    if (!everyNth(this.options.garbageEvery, count)) return bytes;
    this.stats.garbageBursts++;
    return Buffer.concat([GARBAGE, bytes]);
  }

  /** Changes the second checksum character to another hex digit. */
  private corrupt(frame: Buffer): Buffer {
    this.stats.corruptFramesSent++;
    const bytes = Buffer.from(frame);
    const index = bytes.length - 3;
    bytes[index] = bytes[index] === 0x30 ? 0x31 : 0x30;
    return bytes;
  }

  /** Builds one result message; its time stamps are synthetic and count up from 2024-01-01. */
  private message(): Buffer {
    this.sequence++;
    const time = astmTime(simulatedEpochMs + this.sequence * 1000);
    const records = [
      `H|\\^&|||SimBGA^1.0^${this.options.serialNumber}|||||||P|LIS2-A2|${time}`,
      `P|1||${SIMULATED_PATIENT_ID}||${SIMULATED_PATIENT_NAME}||19700101|F`,
      `O|1|SAMPLE${String(this.sequence).padStart(4, "0")}||^^^BG|R||||||||||ARTERIAL`,
    ];
    this.parameters.forEach((parameter, index) => {
      const value = driftValue(parameter, this.random);
      records.push(
        `R|${index + 1}|^^^${parameter.code}|${value}|${parameter.unit}||N||F||||${time}`,
      );
    });
    records.push(`C|1|I|Simulated results for gateway tests; not a real sample|G`);
    records.push("L|1|N");
    return Buffer.from(records.map((record) => `${record}\r`).join(""), "latin1");
  }
}

function everyNth(period: number, count: number): boolean {
  return period > 0 && count % period === 0;
}

export function createAstmSimulator(
  maxTextBytes: number,
  options: AstmSimulatorOptions,
): DeviceSimulator {
  return new AstmAnalyzerSimulator(maxTextBytes, options);
}
