/**
 * Host session of the S/5 Computer Interface: a pure state machine driven by the supervisor's
 * clock. The monitor sends no reply to a request. It starts transmitting displayed values
 * every interval, and waveforms continuously, and it sends nothing unless asked. So the session
 * sends both requests when the link opens, and again whenever the records stop arriving, as
 * after the monitor restarted or its interface board was reset.
 */
import type { Outgoing, Session, SessionEvent } from "../types.js";
import { encodeFrame, MainType } from "./codec.js";
import { waveTypes } from "./layout.js";
import { encodeDisplayedRequest, encodeWaveRequest, WaveCommand } from "./requests.js";
import type { DatexSessionSettings } from "./schema.js";

/** Tick period in ms; a repeated request is at most this late. */
export const SESSION_TICK_MS = 500;

export interface DatexSessionStats {
  displayedRequests: number;
  waveRequests: number;
  /** Requests sent again because their records stopped. */
  repeatedRequests: number;
  displayedRecords: number;
  waveRecords: number;
}

interface Stream {
  label: string;
  /** Frames of the request, one per interface level. */
  frames: Buffer[];
  againAfterMs: number;
  /** The later of the last request and the last record. */
  lastActivityMs: number;
}

export class DatexSession implements Session {
  readonly tickMs = SESSION_TICK_MS;
  readonly stats: DatexSessionStats = {
    displayedRequests: 0,
    waveRequests: 0,
    repeatedRequests: 0,
    displayedRecords: 0,
    waveRecords: 0,
  };

  private open = false;
  private receiving = false;
  /**
   * The interface level of the first record on this link. The session requests at several
   * levels because monitors answer only their own; one that answered more than one would
   * send every value once per level, so records at any other level are not published.
   */
  private level: number | undefined;
  private readonly displayed: Stream;
  private readonly waves: Stream | undefined;

  constructor(settings: DatexSessionSettings) {
    this.displayed = {
      label: `displayed-values request (${settings.displayedIntervalS} s)`,
      frames: settings.driLevels.map((driLevel) =>
        encodeFrame(
          encodeDisplayedRequest({
            driLevel,
            intervalS: settings.displayedIntervalS,
            classBits: 0,
          }),
        ),
      ),
      againAfterMs: settings.requestAgainAfterMs,
      lastActivityMs: 0,
    };
    const types = settings.waves.map(
      (code) => waveTypes.find((wave) => wave.code === code)?.type ?? 0,
    );
    if (types.length > 0) {
      this.waves = {
        label: `waveform request (${settings.waves.join(", ")})`,
        frames: settings.driLevels.map((driLevel) =>
          encodeFrame(
            encodeWaveRequest({ driLevel, command: WaveCommand.start, waveTypes: types }),
          ),
        ),
        againAfterMs: settings.waveRequestAgainAfterMs,
        lastActivityMs: 0,
      };
    }
  }

  /** True once the monitor sent a displayed-values or wave record on this link. */
  get established(): boolean {
    return this.receiving;
  }

  onOpen(nowMs: number): Outgoing[] {
    this.open = true;
    this.receiving = false;
    this.level = undefined;
    const outgoing = this.request(this.displayed, nowMs);
    if (this.waves !== undefined) outgoing.push(...this.request(this.waves, nowMs));
    return outgoing;
  }

  onEvent(event: SessionEvent, nowMs: number): Outgoing[] {
    if (!this.open || event.type !== "response") return [];
    this.level ??= event.driLevel;
    if (event.command === MainType.physiological) {
      this.receiving = true;
      this.stats.displayedRecords++;
      this.displayed.lastActivityMs = nowMs;
    } else if (event.command === MainType.wave && this.waves !== undefined) {
      this.receiving = true;
      this.stats.waveRecords++;
      this.waves.lastActivityMs = nowMs;
    }
    return [];
  }

  /** Returns nothing: the monitor has no negative acknowledgement, so a lost record is just lost. */
  onCorruptFrame(): Outgoing[] {
    return [];
  }

  /**
   * Returns false for a record at another interface level than the first one. Records arrive
   * unasked between requests, and each one is current when it arrives.
   */
  expects(event: SessionEvent): boolean {
    if (event.type !== "response" || event.driLevel === undefined) return true;
    return this.level === undefined || event.driLevel === this.level;
  }

  onTick(nowMs: number): Outgoing[] {
    if (!this.open) return [];
    const outgoing: Outgoing[] = [];
    for (const stream of [this.displayed, this.waves]) {
      if (stream === undefined || nowMs - stream.lastActivityMs < stream.againAfterMs) continue;
      this.stats.repeatedRequests++;
      outgoing.push(...this.request(stream, nowMs));
    }
    return outgoing;
  }

  private request(stream: Stream, nowMs: number): Outgoing[] {
    stream.lastActivityMs = nowMs;
    if (stream === this.displayed) this.stats.displayedRequests += stream.frames.length;
    else this.stats.waveRequests += stream.frames.length;
    return stream.frames.map((bytes) => ({ bytes, label: stream.label }));
  }
}

export function createDatexSession(settings: DatexSessionSettings): Session {
  return new DatexSession(settings);
}
