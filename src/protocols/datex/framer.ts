/**
 * Incremental framer of the S/5 Computer Interface. A frame is `0x7E stuffed-bytes 0x7E`, and
 * frames are emitted as received, flags and stuffing included; the decoder removes the stuffing.
 * Stuffing guarantees that 0x7E appears only as a flag, so the framer needs no other state:
 *
 * - a flag outside a frame opens one;
 * - a flag right after the opening flag means the first one closed a frame we missed the start
 *   of (after a cable was plugged in mid-frame), so it is dropped as garbage and the second one
 *   opens the frame;
 * - any other flag closes the frame.
 *
 * A frame that would grow past maxFrameBytes, both flags included, is dropped as one `oversize`
 * event, and the rest of it up to the next flag as `garbage`.
 */
import { ByteFramer } from "../byte-framer.js";
import type { FramerEventList } from "../framer-events.js";
import type { Framer } from "../types.js";
import { FLAG } from "./codec.js";

export interface DatexFramerOptions {
  /** Largest frame in bytes, flags and stuffing included; it bounds the receive buffer. */
  maxFrameBytes: number;
}

export class DatexFramer extends ByteFramer {
  constructor(options: DatexFramerOptions) {
    super(options.maxFrameBytes);
  }

  protected pushByte(byte: number, events: FramerEventList): void {
    if (byte === FLAG) this.pushFlag(events);
    else this.pushData(byte, events);
  }

  private pushFlag(events: FramerEventList): void {
    if (this.length === 0) {
      this.buffer[this.length++] = FLAG;
    } else if (this.length === 1) {
      events.discard(1, "garbage");
    } else {
      this.buffer[this.length++] = FLAG;
      events.frame(Buffer.from(this.buffer.subarray(0, this.length)));
      this.length = 0;
    }
  }

  private pushData(byte: number, events: FramerEventList): void {
    if (this.length === 0) {
      events.discard(1, "garbage");
      return;
    }
    // One byte stays free for the closing flag.
    if (this.length + 1 >= this.buffer.length) {
      events.discard(this.length + 1, "oversize");
      this.length = 0;
      return;
    }
    this.buffer[this.length++] = byte;
  }
}

export function createDatexFramer(options: DatexFramerOptions): Framer {
  return new DatexFramer(options);
}
