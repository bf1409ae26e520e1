/**
 * The part that framers taking one byte at a time share: one receive buffer bounded by
 * maxFrameBytes, the loop over a chunk, and a reset that drops the half frame as `truncated`.
 * Each subclass decides what one byte does.
 */
import { FramerEventList } from "./framer-events.js";
import type { Framer, FramerEvent } from "./types.js";

export abstract class ByteFramer implements Framer {
  protected readonly buffer: Uint8Array;
  /** Bytes of the unfinished frame in `buffer`. */
  protected length = 0;

  constructor(maxFrameBytes: number) {
    this.buffer = new Uint8Array(maxFrameBytes);
  }

  get bufferedBytes(): number {
    return this.length;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    const events = new FramerEventList();
    for (const byte of chunk) this.pushByte(byte, events);
    return events.list;
  }

  reset(): FramerEvent[] {
    const events = new FramerEventList();
    events.discard(this.length, "truncated");
    this.length = 0;
    this.clearState();
    return events.list;
  }

  protected abstract pushByte(byte: number, events: FramerEventList): void;

  /** Clears a subclass's own state after a reset, once the buffer is empty. */
  protected clearState(): void {}
}
