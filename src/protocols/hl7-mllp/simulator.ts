/**
 * A simulated patient monitor that sends HL7 v2 ORU^R01 messages over MLLP, as a device
 * gateway behind a serial device server does. It follows MLLP release 1 original-mode
 * acknowledgement: one message at a time, the next only after the ACK for the last one, and
 * the same message again when no ACK comes within ackTimeoutMs.
 *
 * Each message has a PID segment with a synthetic patient, so tests can check that the
 * gateway publishes no patient identity, and an OBX coded in LOINC, which the gateway
 * counts as unmapped. The start block is sent in a write of its own, so the receiver sees
 * VT and the rest of the message in separate reads.
 */
import { seededRandom } from "../../random.js";
import { driftValue, type DriftingValue } from "../drifting-value.js";
import type { DeviceSimulator, SimulatorOptions } from "../family.js";
import { encodeMllp, hl7Time, mllpContent } from "./codec.js";
import { MllpFramer } from "./framer.js";
import { parseHl7Message } from "./message.js";

export interface Hl7SimulatorOptions extends SimulatorOptions {
  /** Time from an acknowledgement to the next message, in ms. Default 1000. */
  messagePeriodMs?: number;
  /** Time to wait for an acknowledgement before the message is sent again, in ms. Default 5000. */
  ackTimeoutMs?: number;
}

export const SIMULATOR_TICK_MS = 50;
export const SIMULATED_PATIENT_NAME = "DOE^JANE";
export const SIMULATED_PATIENT_ID = "PAT-4711";
/** Bytes before a start block: what a device server sends when its serial line had noise. */
const STRAY_BYTES = Buffer.from("\r\n?", "latin1");

interface Parameter extends DriftingValue {
  code: string;
  unit: string;
}

/** Observation codes and units in OBX-3 and OBX-6 form. */
function createParameters(): Parameter[] {
  const percent = "262688^MDC_DIM_PERCENT^MDC";
  const perMinute = "264864^MDC_DIM_BEAT_PER_MIN^MDC";
  const mmHg = "266016^MDC_DIM_MMHG^MDC";
  return [
    {
      code: "150456^MDC_PULS_OXIM_SAT_O2^MDC",
      unit: percent,
      value: 97,
      min: 90,
      max: 100,
      step: 1,
      decimals: 0,
    },
    {
      code: "147842^MDC_ECG_HEART_RATE^MDC",
      unit: perMinute,
      value: 72,
      min: 55,
      max: 110,
      step: 2,
      decimals: 0,
    },
    {
      code: "150021^MDC_PRESS_BLD_NONINV_SYS^MDC",
      unit: mmHg,
      value: 120,
      min: 100,
      max: 140,
      step: 2,
      decimals: 0,
    },
    {
      code: "150022^MDC_PRESS_BLD_NONINV_DIA^MDC",
      unit: mmHg,
      value: 80,
      min: 60,
      max: 90,
      step: 2,
      decimals: 0,
    },
    {
      code: "150364^MDC_TEMP_BODY^MDC",
      unit: "Cel^Cel^UCUM",
      value: 37,
      min: 36.5,
      max: 37.8,
      step: 0.1,
      decimals: 1,
    },
    {
      code: "151562^MDC_RESP_RATE^MDC",
      unit: "264928^MDC_DIM_RESP_PER_MIN^MDC",
      value: 16,
      min: 10,
      max: 24,
      step: 1,
      decimals: 0,
    },
    {
      code: "8867-4^Heart rate^LN",
      unit: "/min^/min^UCUM",
      value: 72,
      min: 55,
      max: 110,
      step: 2,
      decimals: 0,
    },
  ];
}

export class Hl7MonitorSimulator implements DeviceSimulator {
  readonly tickMs = SIMULATOR_TICK_MS;
  readonly stats = {
    messagesSent: 0,
    resends: 0,
    acceptedAcks: 0,
    errorAcks: 0,
    rejectAcks: 0,
    unsupportedSent: 0,
    garbageBursts: 0,
  };

  private readonly framer: MllpFramer;
  private readonly random: () => number;
  private readonly parameters = createParameters();
  private readonly messagePeriodMs: number;
  private readonly ackTimeoutMs: number;
  private nextAtMs = 0;
  private pending: { controlId: string; bytes: Buffer; sentAtMs: number } | undefined;
  private sequence = 0;

  constructor(
    maxFrameBytes: number,
    private readonly options: Hl7SimulatorOptions,
  ) {
    this.framer = new MllpFramer({ maxFrameBytes });
    this.random = seededRandom(options.seed);
    this.messagePeriodMs = options.messagePeriodMs ?? 1000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  }

  start(nowMs: number): Buffer[] {
    this.nextAtMs = nowMs + Math.min(this.messagePeriodMs, 200);
    return [];
  }

  receive(chunk: Buffer, nowMs: number): Buffer[] {
    for (const event of this.framer.push(chunk)) {
      if (event.kind === "frame") this.acceptAck(event.bytes, nowMs);
    }
    return [];
  }

  tick(nowMs: number): Buffer[] {
    const pending = this.pending;
    if (pending !== undefined) {
      if (nowMs - pending.sentAtMs < this.ackTimeoutMs) return [];
      this.stats.resends++;
      pending.sentAtMs = nowMs;
      return this.split(pending.bytes);
    }
    if (nowMs < this.nextAtMs) return [];
    this.sequence++;
    const controlId = `SIM${String(this.sequence).padStart(6, "0")}`;
    const unsupported = everyNth(this.options.corruptEvery, this.sequence);
    const text = unsupported
      ? this.unsupportedMessage(controlId, nowMs)
      : this.message(controlId, nowMs);
    const bytes = encodeMllp(text);
    this.pending = { controlId, bytes, sentAtMs: nowMs };
    this.stats.messagesSent++;
    const chunks = this.split(bytes);
    if (!everyNth(this.options.garbageEvery, this.sequence)) return chunks;
    this.stats.garbageBursts++;
    return [STRAY_BYTES, ...chunks];
  }

  private acceptAck(frame: Buffer, nowMs: number): void {
    const parsed = parseHl7Message(mllpContent(frame).toString("latin1"));
    if (!parsed.ok) return;
    const msa = parsed.message.segments.find((segment) => segment.id === "MSA");
    if (msa === undefined || msa.fields[2] !== this.pending?.controlId) return;
    const code = msa.fields[1];
    if (code === "AA") this.stats.acceptedAcks++;
    else if (code === "AE") this.stats.errorAcks++;
    else if (code === "AR") this.stats.rejectAcks++;
    this.pending = undefined;
    this.nextAtMs = nowMs + this.messagePeriodMs;
  }

  /** Sends the start block alone, then the rest of the frame. */
  private split(bytes: Buffer): Buffer[] {
    return [bytes.subarray(0, 1), bytes.subarray(1)];
  }

  private message(controlId: string, nowMs: number): string {
    const time = hl7Time(nowMs);
    const segments = [
      `MSH|^~\\&|SIMMON|ICU|IOMTGW|HOSP|${time}||ORU^R01^ORU_R01|${controlId}|P|2.6`,
      `PID|||${SIMULATED_PATIENT_ID}^^^SIM^MR||${SIMULATED_PATIENT_NAME}||19700101|F`,
      `PV1||I|ICU^BED12`,
      `OBR|1|||182777000^monitoring of patient^SCT|||${time}`,
    ];
    this.parameters.forEach((parameter, index) => {
      const value = driftValue(parameter, this.random);
      const path = `1.1.${index + 1}.1`;
      segments.push(
        `OBX|${index + 1}|NM|${parameter.code}|${path}|${value}|${parameter.unit}|||||R|||${time}`,
      );
    });
    return segments.map((segment) => `${segment}\r`).join("");
  }

  /** A query message, which the gateway must reject with AR. */
  private unsupportedMessage(controlId: string, nowMs: number): string {
    this.stats.unsupportedSent++;
    return `MSH|^~\\&|SIMMON|ICU|IOMTGW|HOSP|${hl7Time(nowMs)}||QRY^R02^QRY_R02|${controlId}|P|2.6\r`;
  }
}

function everyNth(period: number, count: number): boolean {
  return period > 0 && count % period === 0;
}

export function createHl7Simulator(
  maxFrameBytes: number,
  options: Hl7SimulatorOptions,
): DeviceSimulator {
  return new Hl7MonitorSimulator(maxFrameBytes, options);
}
