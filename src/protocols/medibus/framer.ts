/**
 * Incremental MEDIBUS framer. Frames are `ESC … CR` (commands) and `SOH … CR` (responses),
 * CR included. Bytes are handled one at a time, in this order:
 *
 * 1. Bytes with bit 7 set are realtime data, which may appear anywhere, even inside a slow
 *    message. The gateway never enables realtime transmission, so they are discarded as
 *    `realtime` before framing.
 * 2. DC1 and DC3 (XON, XOFF) are the protocol's software handshake, not message content, so they
 *    are discarded as `garbage` wherever they appear.
 * 3. A command from the device may arrive nested inside a response we are still receiving. The
 *    framer stacks it: the ESC opens an inner message above the open SOH message in the same
 *    buffer, the next CR closes the inner command, and the response then continues.
 *
 * Source: Dräger "RS 232 MEDIBUS Protocol Definition", Rev. 6.00.
 */
import type { DiscardReason, Framer, FramerEvent } from "../types.js";
import { CR, DC1, DC3, ESC, REALTIME_BIT, SOH } from "./codec.js";

export interface MedibusFramerOptions {
  /** Receive buffer size in bytes; it bounds a frame and a nested command together. */
  maxFrameBytes: number;
}

/** One message that has started and not yet ended; `offset` is its start in the buffer. */
interface OpenMessage {
  startByte: number;
  offset: number;
}

/** Collects events, merging adjacent discards with the same reason into one event. */
class EventList {
  readonly events: FramerEvent[] = [];

  discard(byteCount: number, reason: DiscardReason): void {
    if (byteCount === 0) return;
    const last = this.events.at(-1);
    if (last?.kind === "discard" && last.reason === reason) {
      last.byteCount += byteCount;
      return;
    }
    this.events.push({ kind: "discard", byteCount, reason });
  }

  frame(bytes: Buffer): void {
    this.events.push({ kind: "frame", bytes });
  }
}

export class MedibusFramer implements Framer {
  private readonly buffer: Uint8Array;
  private length = 0;
  /** At most two: an SOH response and a command nested inside it. */
  private readonly open: OpenMessage[] = [];

  constructor(options: MedibusFramerOptions) {
    this.buffer = new Uint8Array(options.maxFrameBytes);
  }

  get bufferedBytes(): number {
    return this.length;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    const events = new EventList();
    for (const byte of chunk) this.pushByte(byte, events);
    return events.events;
  }

  reset(): FramerEvent[] {
    const events = new EventList();
    events.discard(this.length, "truncated");
    this.length = 0;
    this.open.length = 0;
    return events.events;
  }

  private pushByte(byte: number, events: EventList): void {
    if (byte & REALTIME_BIT) {
      events.discard(1, "realtime");
    } else if (byte === DC1 || byte === DC3) {
      events.discard(1, "garbage");
    } else if (byte === SOH) {
      this.startResponse(events);
    } else if (byte === ESC) {
      this.startCommand(events);
    } else if (this.open.length === 0) {
      events.discard(1, "garbage");
    } else {
      this.append(byte, events);
    }
  }

  /** Starts a response and drops any open message unfinished, because responses never nest. */
  private startResponse(events: EventList): void {
    events.discard(this.length, "garbage");
    this.length = 0;
    this.open.length = 0;
    this.openMessage(SOH);
  }

  /** Starts a command, nested inside an open response or replacing an unfinished command. */
  private startCommand(events: EventList): void {
    const top = this.open.at(-1);
    if (top?.startByte === ESC) {
      events.discard(this.length - top.offset, "garbage");
      this.length = top.offset;
      this.open.pop();
    }
    if (this.open.length > 0 && this.length === this.buffer.length) {
      // No room to nest, so the response could not be completed anyway: skip its tail.
      events.discard(this.length, "oversize");
      this.length = 0;
      this.open.length = 0;
    }
    this.openMessage(ESC);
  }

  private openMessage(startByte: number): void {
    this.open.push({ startByte, offset: this.length });
    this.buffer[this.length++] = startByte;
  }

  private append(byte: number, events: EventList): void {
    if (this.length === this.buffer.length && !this.makeRoom(events)) return;
    this.buffer[this.length++] = byte;
    if (byte === CR) this.closeTop(events);
  }

  /**
   * Frees buffer space when it is full. With a nested command the outer response is dropped as
   * `oversize` and its tail is skipped after the command ends. Otherwise the message, this byte
   * included, is dropped as `oversize` and bytes up to the next start byte are skipped. The
   * skipped tail is `garbage`, so an oversize message is one event however many reads it takes.
   * Returns whether the byte still fits.
   */
  private makeRoom(events: EventList): boolean {
    const inner = this.open[1];
    if (inner !== undefined) {
      events.discard(inner.offset, "oversize");
      this.buffer.copyWithin(0, inner.offset, this.length);
      this.length -= inner.offset;
      this.open.splice(0, 2, { startByte: inner.startByte, offset: 0 });
      return true;
    }
    events.discard(this.length + 1, "oversize");
    this.length = 0;
    this.open.length = 0;
    return false;
  }

  private closeTop(events: EventList): void {
    const top = this.open.pop();
    if (top === undefined) return;
    events.frame(Buffer.from(this.buffer.subarray(top.offset, this.length)));
    this.length = top.offset;
  }
}

export function createMedibusFramer(options: MedibusFramerOptions): Framer {
  return new MedibusFramer(options);
}
