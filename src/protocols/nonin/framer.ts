/**
 * Incremental framer of the Nonin family. It emits one whole packet as one frame (25 frames of
 * 5 bytes in formats 2 and 7, one 4-byte record in format 8), because values such as the heart
 * rate span several frames of a packet.
 *
 * - Searching: the framer slides over the input one byte at a time, each byte discarded as
 *   `garbage`, until a frame has its format's fixed bits, starts a packet (SYNC) and, in
 *   formats 2 and 7, has a matching checksum. That frame starts the packet.
 * - Locked: frame 1 of each next packet must again have the fixed bits, SYNC and a matching
 *   checksum, and frames 2 to 25 the fixed bits without SYNC. Their checksums are left to the
 *   decoder, so a corrupt frame is counted as a checksum error rather than lost as noise. A
 *   valid frame 1 where frame 2 to 25 belongs starts a new packet, and the half packet before
 *   it is discarded as `garbage`. Any other frame means the byte stream slipped: the half
 *   packet and one byte are discarded and the search restarts at the next byte.
 *
 * The receive buffer contains at most one packet, so `bufferedBytes` stays below its size.
 */
import { FramerEventList as EventList } from "../framer-events.js";
import type { Framer, FramerEvent } from "../types.js";
import {
  checksumMatches,
  formatLayouts,
  hasFrameShape,
  packetBytes,
  startsPacket,
  type NoninFormat,
} from "./codec.js";

export class NoninFramer implements Framer {
  private readonly buffer: Buffer;
  private readonly frameBytes: number;
  private length = 0;
  private locked = false;
  /** Bytes of the current packet that are whole frames, when locked. */
  private packetLength = 0;

  constructor(private readonly format: NoninFormat) {
    this.buffer = Buffer.alloc(packetBytes(format));
    this.frameBytes = formatLayouts[format].frameBytes;
  }

  get bufferedBytes(): number {
    return this.length;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    const events = new EventList();
    for (const byte of chunk) {
      this.buffer[this.length++] = byte;
      this.drain(events);
    }
    return events.list;
  }

  /** Drops a half packet as truncated; the next packet is searched for again. */
  reset(): FramerEvent[] {
    const events = new EventList();
    events.discard(this.length, "truncated");
    this.length = 0;
    this.packetLength = 0;
    this.locked = false;
    return events.list;
  }

  /** Consumes every whole frame in the buffer. */
  private drain(events: EventList): void {
    while (this.length - this.packetLength >= this.frameBytes) {
      const frame = this.buffer.subarray(this.packetLength, this.packetLength + this.frameBytes);
      if (this.locked) this.acceptLocked(frame, events);
      else this.search(frame, events);
    }
  }

  private search(frame: Buffer, events: EventList): void {
    if (this.isPacketStart(frame)) {
      this.locked = true;
      this.appendFrame(events);
      return;
    }
    this.drop(1, events);
  }

  private acceptLocked(frame: Buffer, events: EventList): void {
    if (this.packetLength === 0) {
      if (this.isPacketStart(frame)) this.appendFrame(events);
      else this.loseLock(events);
      return;
    }
    if (hasFrameShape(this.format, frame) && !startsPacket(this.format, frame)) {
      this.appendFrame(events);
      return;
    }
    if (this.isPacketStart(frame)) {
      // A packet started early: the half packet before it cannot be completed.
      this.drop(this.packetLength, events);
      this.appendFrame(events);
      return;
    }
    this.loseLock(events);
  }

  /**
   * Returns whether a frame can start a packet. Frame 1 is the anchor of the packet's alignment, so
   * its checksum must match as well: noise that looks like a start is not taken for one.
   */
  private isPacketStart(frame: Buffer): boolean {
    const format = this.format;
    return (
      hasFrameShape(format, frame) && startsPacket(format, frame) && checksumMatches(format, frame)
    );
  }

  /** Drops the half packet and one byte, and searches from the next byte. */
  private loseLock(events: EventList): void {
    this.drop(this.packetLength + 1, events);
    this.locked = false;
  }

  private appendFrame(events: EventList): void {
    this.packetLength += this.frameBytes;
    if (this.packetLength < this.buffer.length) return;
    events.frame(Buffer.from(this.buffer.subarray(0, this.packetLength)));
    this.shift(this.packetLength);
  }

  /** Discards `count` bytes from the start of the buffer as garbage. */
  private drop(count: number, events: EventList): void {
    events.discard(count, "garbage");
    this.shift(count);
  }

  private shift(count: number): void {
    this.buffer.copyWithin(0, count, this.length);
    this.length -= count;
    this.packetLength = 0;
  }
}

export function createNoninFramer(format: NoninFormat): Framer {
  return new NoninFramer(format);
}
