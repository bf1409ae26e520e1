/**
 * Incremental IntelliVue MIB/RS-232 framer. A frame is `C0 … C1` as on the wire, escapes
 * included, so that framed bytes count as received; the decoder removes the escapes. Rules:
 *
 * - Bytes outside a frame are `garbage`.
 * - A C0 inside a frame aborts it and starts a new one: the half frame is `garbage`.
 * - `7D C1` is the sender's abort sequence: the half frame and both bytes are `aborted`.
 * - A frame that grows past maxFrameBytes, counted with its escapes, C0 and C1, is one
 *   `oversize` event as soon as it does. The rest of it, up to the next C0, is `garbage`, so
 *   the pipeline counts one oversize frame however many reads its tail takes.
 *
 * Source: Philips "Data Export Interface Programming Guide", as read by mdpnp devices/philips.
 */
import type { DiscardReason, Framer, FramerEvent } from "../types.js";
import { BOF, EOF, ESCAPE } from "./codec.js";

export interface IntellivueFramerOptions {
  /** Receive buffer size in bytes; it bounds one frame as sent, escapes included. */
  maxFrameBytes: number;
}

export class IntellivueFramer implements Framer {
  private readonly buffer: Uint8Array;
  private length = 0;
  private inFrame = false;
  /** True after a 7D whose escaped byte has not arrived yet. */
  private escapePending = false;
  private events: FramerEvent[] = [];

  constructor(options: IntellivueFramerOptions) {
    this.buffer = new Uint8Array(options.maxFrameBytes);
  }

  get bufferedBytes(): number {
    return this.length;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    this.events = [];
    for (const byte of chunk) this.pushByte(byte);
    return this.events;
  }

  reset(): FramerEvent[] {
    this.events = [];
    this.drop("truncated");
    return this.events;
  }

  private pushByte(byte: number): void {
    if (byte === BOF) {
      this.drop("garbage");
      this.inFrame = true;
      this.buffer[this.length++] = byte;
    } else if (!this.inFrame) {
      this.discard(1, "garbage");
    } else if (byte === EOF && this.escapePending) {
      this.drop("aborted");
      this.discard(1, "aborted");
    } else if (this.length === this.buffer.length) {
      this.drop("oversize");
      this.discard(1, "oversize");
    } else {
      this.buffer[this.length++] = byte;
      this.escapePending = byte === ESCAPE && !this.escapePending;
      if (byte === EOF) this.emitFrame();
    }
  }

  private emitFrame(): void {
    this.events.push({ kind: "frame", bytes: Buffer.from(this.buffer.subarray(0, this.length)) });
    this.length = 0;
    this.inFrame = false;
  }

  /** Discards the half frame in the buffer, if any. */
  private drop(reason: DiscardReason): void {
    const count = this.length;
    this.length = 0;
    this.inFrame = false;
    this.escapePending = false;
    if (count > 0) this.discard(count, reason);
  }

  /** Adds a discard, merged with the previous event when it has the same reason. */
  private discard(byteCount: number, reason: DiscardReason): void {
    const last = this.events.at(-1);
    if (last?.kind === "discard" && last.reason === reason) {
      last.byteCount += byteCount;
      return;
    }
    this.events.push({ kind: "discard", byteCount, reason });
  }
}

export function createIntellivueFramer(options: IntellivueFramerOptions): Framer {
  return new IntellivueFramer(options);
}
