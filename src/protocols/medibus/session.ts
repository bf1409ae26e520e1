/**
 * MEDIBUS host session: a pure state machine driven by the supervisor's clock (nowMs
 * arguments, no timers). Rules from the Dräger "RS 232 MEDIBUS Protocol Definition", Rev. 6.00:
 *
 * - ICC starts a session, and the session counts as established once the device responds.
 * - The device drops the session after any pause over 3 s in the data it receives (p. 5), so
 *   a NOP goes out before keepAlivePeriodMs of silence. Any message we send resets that timer.
 * - The device handles one request at a time and, by practitioners' reports, drops requests
 *   that arrive while one is pending, so at most one of our requests is outstanding.
 * - Both sides send commands, and each must respond to the other's: ICC, NOP and unknown
 *   commands are echoed as `SOH code chk CR`, Request Device ID gets our identification and a
 *   command whose checksum failed gets `SOH 0x15 chk CR`.
 */
import type { HostIdentity } from "../family.js";
import type { Outgoing, Session, SessionEvent } from "../types.js";
import { Command, ESC, encodeCommand, encodeResponse } from "./codec.js";
import type { MedibusSessionSettings, PollRequest } from "./schema.js";

/** Tick period in ms: fine enough that a NOP or a time-out is at most 100 ms late. */
export const SESSION_TICK_MS = 100;

/**
 * Id number sent in our device identification. A device's list of accepted host ids is not
 * public, so this is the value a public host implementation (VSCaptureDrgVent 1.003) sends.
 */
export const HOST_ID_NUMBER = "0161";

/** MEDIBUS version this implementation follows, sent after the colon of our revision. */
export const MEDIBUS_VERSION = "06.00";

const MAX_HOST_NAME_CHARS = 32;

const pollCodes: Record<PollRequest, number> = {
  measuredDataCp1: Command.measuredDataCp1,
  alarmsCp1: Command.alarmsCp1,
};

const requestLabels = new Map<number, string>([
  [Command.icc, "ICC"],
  [Command.nop, "NOP"],
  [Command.deviceId, "Request Device ID"],
  [Command.measuredDataCp1, "Request measured data CP1"],
  [Command.alarmsCp1, "Request alarms CP1"],
]);

type Phase = "closed" | "initializing" | "identifying" | "polling";

interface PendingRequest {
  code: number;
  sentAtMs: number;
  /** Times this request was sent again after a time-out or a rejection. */
  retries: number;
}

/** Counters for tests and the device's health record. */
export interface MedibusSessionStats {
  requestsSent: number;
  responses: number;
  timeouts: number;
  rejections: number;
  retries: number;
  reinitializations: number;
  /** Responses that matched no outstanding request, such as a late one after a retry. */
  unexpectedResponses: number;
  /** Responses we sent to the device's own commands. */
  commandsAnswered: number;
  corruptFramesAnswered: number;
}

export class MedibusSession implements Session {
  readonly tickMs = SESSION_TICK_MS;
  readonly stats: MedibusSessionStats = {
    requestsSent: 0,
    responses: 0,
    timeouts: 0,
    rejections: 0,
    retries: 0,
    reinitializations: 0,
    unexpectedResponses: 0,
    commandsAnswered: 0,
    corruptFramesAnswered: 0,
  };

  private phase: Phase = "closed";
  private pending: PendingRequest | undefined;
  /** A rejected request, sent again on the next tick. */
  private retry: PendingRequest | undefined;
  /** Requests of the current poll cycle not yet sent. */
  private cycle: number[] = [];
  private nextCycleAtMs = 0;
  private lastSentAtMs = 0;
  private readonly identification: string;

  constructor(
    private readonly settings: MedibusSessionSettings,
    host: HostIdentity,
  ) {
    this.identification = formatIdentification(host);
  }

  get established(): boolean {
    return this.phase === "identifying" || this.phase === "polling";
  }

  onOpen(nowMs: number): Outgoing[] {
    this.phase = "initializing";
    this.pending = undefined;
    this.retry = undefined;
    this.cycle = [];
    return this.sendNext(nowMs);
  }

  onEvent(event: SessionEvent, nowMs: number): Outgoing[] {
    if (this.phase === "closed") return [];
    switch (event.type) {
      case "command":
        return this.answerCommand(event.command, nowMs);
      case "response":
        return this.acceptResponse(event.command, nowMs);
      case "rejected":
        return this.acceptRejection(nowMs);
      case "astm":
      case "hl7-message":
        // Events of other families: a MEDIBUS decoder never emits them.
        return [];
    }
  }

  /**
   * Responds to a frame whose checksum failed with `SOH 0x15 chk CR`. The frame may have been the
   * response to our request, but the session does not retry at once: if it was a device
   * command instead, our response is still to come and a second request would be dropped.
   * The request time-out retries it.
   */
  onCorruptFrame(nowMs: number, frame: Buffer): Outgoing[] {
    if (this.phase === "closed") return [];
    // Only a command is answered: a corrupt response is the device's own, and the request
    // time-out retries the request it answered.
    if (frame[0] !== ESC) return [];
    this.stats.corruptFramesAnswered++;
    return [this.send(encodeResponse(Command.corrupt), "reply corrupt command", nowMs)];
  }

  expects(event: SessionEvent): boolean {
    return event.type !== "response" || this.pending?.code === event.command;
  }

  onTick(nowMs: number): Outgoing[] {
    if (this.phase === "closed") return [];
    const pending = this.pending;
    if (pending === undefined) return this.sendNext(nowMs);
    if (nowMs - pending.sentAtMs < this.settings.requestTimeoutMs) return [];
    this.stats.timeouts++;
    this.pending = undefined;
    if (!this.mayRetry(pending)) return this.reinitialize(nowMs);
    this.stats.retries++;
    return [this.request(pending.code, nowMs, pending.retries + 1)];
  }

  private answerCommand(code: number, nowMs: number): Outgoing[] {
    this.stats.commandsAnswered++;
    const data = code === Command.deviceId ? this.identification : "";
    const label = `reply ${requestLabels.get(code) ?? `command 0x${code.toString(16)}`}`;
    const reply = this.send(encodeResponse(code, data), label, nowMs);
    if (code !== Command.stop) return [reply];

    // The device ended the session, so the response to our outstanding request will not come.
    return [reply, ...this.reinitialize(nowMs)];
  }

  private acceptResponse(code: number, nowMs: number): Outgoing[] {
    if (this.pending?.code !== code) {
      this.stats.unexpectedResponses++;
      return [];
    }
    this.pending = undefined;
    this.stats.responses++;
    if (code === Command.icc) {
      this.phase = this.settings.requestDeviceId ? "identifying" : "polling";
    } else if (code === Command.deviceId && this.phase === "identifying") {
      this.phase = "polling";
    }
    return this.sendNext(nowMs);
  }

  /**
   * Handles a 0x15 response: the device could not read our last command. The command goes
   * again on the next tick rather than at once, so a line that garbles every message costs one
   * message per tick and not a flood.
   */
  private acceptRejection(nowMs: number): Outgoing[] {
    const pending = this.pending;
    if (pending === undefined) {
      this.stats.unexpectedResponses++;
      return [];
    }
    this.stats.rejections++;
    this.pending = undefined;
    if (!this.mayRetry(pending)) return this.reinitialize(nowMs);
    this.retry = { ...pending, retries: pending.retries + 1 };
    return [];
  }

  /** ICC is sent again for as long as it fails, other requests up to maxRetries times. */
  private mayRetry(failed: PendingRequest): boolean {
    return failed.code === Command.icc || failed.retries < this.settings.maxRetries;
  }

  private reinitialize(nowMs: number): Outgoing[] {
    this.stats.reinitializations++;
    return this.onOpen(nowMs);
  }

  /** Sends the next request when none is outstanding: init, identification, poll or NOP. */
  private sendNext(nowMs: number): Outgoing[] {
    if (this.pending !== undefined) return [];
    const retry = this.retry;
    if (retry !== undefined) {
      this.retry = undefined;
      this.stats.retries++;
      return [this.request(retry.code, nowMs, retry.retries)];
    }
    switch (this.phase) {
      case "closed":
        return [];
      case "initializing":
        return [this.request(Command.icc, nowMs)];
      case "identifying":
        return [this.request(Command.deviceId, nowMs)];
      case "polling":
        return this.sendPollOrKeepAlive(nowMs);
    }
  }

  private sendPollOrKeepAlive(nowMs: number): Outgoing[] {
    if (this.cycle.length === 0 && nowMs >= this.nextCycleAtMs) this.startCycle(nowMs);
    const next = this.cycle.shift();
    if (next !== undefined) return [this.request(next, nowMs)];

    // Sent on the last tick before the silence would reach keepAlivePeriodMs.
    const silenceAtNextTickMs = nowMs + this.tickMs - this.lastSentAtMs;
    if (silenceAtNextTickMs > this.settings.keepAlivePeriodMs) {
      return [this.request(Command.nop, nowMs)];
    }
    return [];
  }

  /** Keeps the cycle phase while on time, and restarts it from now after falling behind. */
  private startCycle(nowMs: number): void {
    this.cycle = this.settings.poll.map((request) => pollCodes[request]);
    const next = this.nextCycleAtMs + this.settings.pollPeriodMs;
    this.nextCycleAtMs = next > nowMs ? next : nowMs + this.settings.pollPeriodMs;
  }

  private request(code: number, nowMs: number, retries = 0): Outgoing {
    this.pending = { code, sentAtMs: nowMs, retries };
    this.stats.requestsSent++;
    const label = requestLabels.get(code) ?? `command 0x${code.toString(16)}`;
    return this.send(encodeCommand(code), label, nowMs);
  }

  private send(bytes: Buffer, label: string, nowMs: number): Outgoing {
    this.lastSentAtMs = nowMs;
    return { bytes, label };
  }
}

/**
 * Formats our device identification: the id number, the host name in apostrophes and an
 * 11-character revision `MM.mm:06.00`. The host revision's major and minor numbers fill
 * `MM.mm` (00.00 when it does not start with them), because the field has room for 2-digit numbers.
 */
export function formatIdentification(host: HostIdentity): string {
  const name = host.name.replace(/[^\x20-\x7e]|'/g, "_").slice(0, MAX_HOST_NAME_CHARS);
  const match = /^(\d+)\.(\d+)/.exec(host.revision);
  const twoDigits = (text: string | undefined) =>
    String(Math.min(Number(text), 99)).padStart(2, "0");
  const revision = match === null ? "00.00" : `${twoDigits(match[1])}.${twoDigits(match[2])}`;
  return `${HOST_ID_NUMBER}'${name || "host"}'${revision}:${MEDIBUS_VERSION}`;
}

export function createMedibusSession(
  settings: MedibusSessionSettings,
  host: HostIdentity,
): Session {
  return new MedibusSession(settings, host);
}
