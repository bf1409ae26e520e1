/**
 * Incremental line framer for the ascii-line family.
 *
 * Byte accounting, checked by the fuzz test: every byte pushed ends up in exactly one of a
 * frame, a discard event or `bufferedBytes`. A frame includes its terminator, so the decoder
 * gets the bytes exactly as they arrived.
 *
 * Discards:
 * - "garbage": the first line after open or reset (when `skipFirstLine` is set), empty lines,
 *   and the rest of an oversize line up to and including its terminator.
 * - "oversize": one event per line that grows past `maxFrameBytes`, emitted as soon as it
 *   does, so a device that never sends a terminator is reported without waiting for one.
 * - "truncated": the half line that `reset()` drops.
 * Adjacent discards with the same reason within one `push()` are merged into one event.
 */
import { FramerEventList as EventList } from "../framer-events.js";
import type { Framer, FramerEvent } from "../types.js";
import { lineTerminators, type AsciiLineProfile } from "./schema.js";

const CR = 0x0d;
const LF = 0x0a;

/** State of the framer within the byte stream. */
type Mode =
  /** Collecting a line into the buffer. */
  | "line"
  /** Discarding up to the first terminator after open or reset. */
  | "skip"
  /** Discarding the rest of an oversize line up to its terminator. */
  | "resync";

export function createAsciiLineFramer(profile: AsciiLineProfile): Framer {
  return new LineFramer(profile);
}

class LineFramer implements Framer {
  private readonly buffer: Buffer;
  private readonly terminator: Buffer;
  private readonly skipFirstLine: boolean;
  private length = 0;
  private mode: Mode;
  /** Last byte seen, in any mode, so a CR LF split across chunks still ends a line. */
  private previousByte = -1;

  constructor(profile: AsciiLineProfile) {
    this.buffer = Buffer.alloc(profile.maxFrameBytes);
    this.terminator = Buffer.from(lineTerminators[profile.framing.terminator], "latin1");
    this.skipFirstLine = profile.framing.skipFirstLine;
    this.mode = this.skipFirstLine ? "skip" : "line";
  }

  get bufferedBytes(): number {
    return this.length;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    const events = new EventList();
    for (const byte of chunk) this.accept(byte, events);
    return events.list;
  }

  /** Drops a half line as truncated and, like a fresh framer, skips the next first line. */
  reset(): FramerEvent[] {
    const events = new EventList();
    events.discard(this.length, "truncated");
    this.length = 0;
    this.previousByte = -1;
    this.mode = this.skipFirstLine ? "skip" : "line";
    return events.list;
  }

  private accept(byte: number, events: EventList): void {
    const endsLine = this.endsLine(byte);
    this.previousByte = byte;
    if (this.mode !== "line") {
      events.discard(1, "garbage");
      if (endsLine) this.mode = "line";
      return;
    }
    if (this.length === this.buffer.length) {
      // The line now has maxFrameBytes + 1 bytes: drop it and wait for the next terminator.
      events.discard(this.length + 1, "oversize");
      this.length = 0;
      this.mode = endsLine ? "line" : "resync";
      return;
    }
    this.buffer[this.length++] = byte;
    if (endsLine) this.completeLine(events);
  }

  private endsLine(byte: number): boolean {
    if (this.terminator.length === 1) return byte === this.terminator[0];
    return byte === LF && this.previousByte === CR;
  }

  private completeLine(events: EventList): void {
    if (this.length === this.terminator.length) {
      events.discard(this.length, "garbage");
    } else {
      events.frame(Buffer.from(this.buffer.subarray(0, this.length)));
    }
    this.length = 0;
  }
}
