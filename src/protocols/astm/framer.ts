/**
 * Incremental ASTM E1381 framer: bytes in, frames out. It knows the frame layout only; frame
 * numbers, checksums and records are the decoder's concern. It emits:
 *
 * - ENQ and EOT as frames of one byte, because the session must answer or see them;
 * - `STX … ETB|ETX C1 C2 CR LF` as one frame, STX through LF, once the four bytes after ETB
 *   or ETX have arrived, whatever they are, so the decoder can reject a bad trailer and the
 *   session can answer it with NAK.
 *
 * An STX, ENQ or EOT inside an unfinished frame ends that frame as `garbage` (the sender
 * started again or gave up) and is handled as usual. Bytes outside a frame, ACK and NAK
 * included (the gateway never sends, so they answer nothing), are `garbage`. A frame that
 * grows past `maxFrameBytes` is dropped as one `oversize` event as soon as it does, and the
 * rest of it, up to the next STX, ENQ or EOT, is `garbage`, so each oversized frame is one
 * event and its bytes count once. The pipeline lets the session answer that event with NAK.
 */
import { ByteFramer } from "../byte-framer.js";
import type { FramerEventList } from "../framer-events.js";
import type { Framer } from "../types.js";
import { ENQ, EOT, ETB, ETX, STX, TRAILER_BYTES } from "./codec.js";

export interface AstmFramerOptions {
  /** Largest frame in bytes, STX through LF; it bounds the receive buffer. */
  maxFrameBytes: number;
}

export class AstmFramer extends ByteFramer {
  /** Bytes still expected after ETB or ETX, or -1 while the end character has not come. */
  private trailerLeft = -1;

  constructor(options: AstmFramerOptions) {
    super(options.maxFrameBytes);
  }

  protected override clearState(): void {
    this.trailerLeft = -1;
  }

  protected pushByte(byte: number, events: FramerEventList): void {
    if (byte === ENQ || byte === EOT) {
      this.dropUnfinished(events);
      events.frame(Buffer.from([byte]));
    } else if (byte === STX) {
      this.dropUnfinished(events);
      this.buffer[this.length++] = byte;
    } else if (this.length === 0) {
      events.discard(1, "garbage");
    } else {
      this.append(byte, events);
    }
  }

  private dropUnfinished(events: FramerEventList): void {
    events.discard(this.length, "garbage");
    this.length = 0;
    this.trailerLeft = -1;
  }

  private append(byte: number, events: FramerEventList): void {
    if (this.length === this.buffer.length) {
      events.discard(this.length + 1, "oversize");
      this.length = 0;
      this.trailerLeft = -1;
      return;
    }
    this.buffer[this.length++] = byte;
    if (this.trailerLeft < 0) {
      if (byte === ETB || byte === ETX) this.trailerLeft = TRAILER_BYTES;
      return;
    }
    this.trailerLeft--;
    if (this.trailerLeft > 0) return;
    events.frame(Buffer.from(this.buffer.subarray(0, this.length)));
    this.length = 0;
    this.trailerLeft = -1;
  }
}

export function createAstmFramer(options: AstmFramerOptions): Framer {
  return new AstmFramer(options);
}
