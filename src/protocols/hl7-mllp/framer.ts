/**
 * Incremental MLLP framer: bytes in, `VT … FS CR` frames out, VT through CR. Built for what
 * device servers and TCP do to a stream: the start and end blocks arrive in separate reads,
 * several messages arrive in one read, and stray bytes come before VT.
 *
 * - Bytes outside a frame are `garbage`.
 * - A VT inside an unfinished frame drops that frame as `garbage` and starts a new one,
 *   because the sender started over.
 * - FS ends a frame. The frame includes the CR after it; when another byte follows FS
 *   instead, the frame ends at FS and that byte is handled as the start of what follows.
 * - A frame that grows past `maxFrameBytes` is dropped as one `oversize` event as soon as it
 *   does, so a sender that never sends FS is reported too. The rest of that frame, up to the
 *   next VT, is `garbage`, so each oversized frame is one event and its bytes count once.
 */
import { ByteFramer } from "../byte-framer.js";
import type { FramerEventList } from "../framer-events.js";
import type { Framer } from "../types.js";
import { CR, FS, VT } from "./codec.js";

export interface MllpFramerOptions {
  /** Largest frame in bytes, VT through CR; it bounds the receive buffer. */
  maxFrameBytes: number;
}

export class MllpFramer extends ByteFramer {
  /** True after FS, while the CR that ends the frame is still expected. */
  private afterEndBlock = false;

  constructor(options: MllpFramerOptions) {
    super(options.maxFrameBytes);
  }

  protected override clearState(): void {
    this.afterEndBlock = false;
  }

  protected pushByte(byte: number, events: FramerEventList): void {
    if (this.afterEndBlock) {
      this.afterEndBlock = false;
      if (byte === CR) {
        this.buffer[this.length++] = byte;
        this.emit(events);
        return;
      }
      this.emit(events);
    }
    if (byte === VT) {
      events.discard(this.length, "garbage");
      this.length = 0;
      this.buffer[this.length++] = byte;
    } else if (this.length === 0) {
      events.discard(1, "garbage");
    } else {
      this.append(byte, events);
    }
  }

  private append(byte: number, events: FramerEventList): void {
    // One byte stays free for the CR after FS, so a frame never exceeds maxFrameBytes.
    const limit = byte === FS ? this.buffer.length - 1 : this.buffer.length;
    if (this.length >= limit) {
      events.discard(this.length + 1, "oversize");
      this.length = 0;
      return;
    }
    this.buffer[this.length++] = byte;
    if (byte === FS) this.afterEndBlock = true;
  }

  private emit(events: FramerEventList): void {
    events.frame(Buffer.from(this.buffer.subarray(0, this.length)));
    this.length = 0;
  }
}

export function createMllpFramer(options: MllpFramerOptions): Framer {
  return new MllpFramer(options);
}
