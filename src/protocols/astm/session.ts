/**
 * The gateway's side of ASTM E1381-95 / CLSI LIS01-A2 as the receiver. A pure state machine:
 * time comes in as nowMs.
 *
 * - ENQ from the device: ACK, and the line is in transfer. The gateway is always ready, so it
 *   never answers NAK (busy) to ENQ, and it never sends ENQ itself, so there is no contention.
 * - A frame with the expected frame number, or a repeat of the last one: ACK.
 * - A frame with a bad checksum, a bad layout or a frame number out of sequence: NAK. The
 *   sender sends the same frame again and gives up with EOT after 6 NAKs of it.
 * - A frame longer than maxFrameBytes: NAK as soon as the framer drops it.
 *   NOTE: that NAK can reach the sender before it has sent the frame's last byte. A sender
 *   that clears its input before waiting for the reply then times out (15 s) instead.
 * - EOT: the line is neutral again.
 * - No frame or EOT for receiverTimeoutMs (30 s) during a transfer: the line is neutral,
 *   and frames that still arrive are ignored, with their values, until the next ENQ.
 */
import type { Outgoing, Session, SessionEvent } from "../types.js";
import { ACK, NAK } from "./codec.js";

/** Tick period in ms: the receiver timer is 30 s, so a second of lateness does not matter. */
export const SESSION_TICK_MS = 1000;

export interface AstmSessionSettings {
  receiverTimeoutMs: number;
}

export interface AstmSessionStats {
  transfers: number;
  acks: number;
  naks: number;
  repeatedFrames: number;
  /** Transfers that ended by the receiver timer rather than by EOT. */
  receiverTimeouts: number;
  /** Frames that arrived while the line was neutral; they get no reply. */
  ignoredFrames: number;
}

const ackBytes = Buffer.from([ACK]);
const nakBytes = Buffer.from([NAK]);

export class AstmReceiverSession implements Session {
  readonly tickMs = SESSION_TICK_MS;
  /** The device starts every transfer, so there is no handshake to wait for. */
  readonly established = true;
  readonly stats: AstmSessionStats = {
    transfers: 0,
    acks: 0,
    naks: 0,
    repeatedFrames: 0,
    receiverTimeouts: 0,
    ignoredFrames: 0,
  };

  private inTransfer = false;
  private lastFrameAtMs = 0;

  constructor(private readonly settings: AstmSessionSettings) {}

  /** True while a transfer is open, between ENQ and EOT or the receiver time-out. */
  get receiving(): boolean {
    return this.inTransfer;
  }

  onOpen(): Outgoing[] {
    this.inTransfer = false;
    return [];
  }

  onEvent(event: SessionEvent, nowMs: number): Outgoing[] {
    if (event.type !== "astm") return [];
    switch (event.event) {
      case "enquiry":
        this.inTransfer = true;
        this.lastFrameAtMs = nowMs;
        this.stats.transfers++;
        return [this.ack("ACK enquiry")];
      case "end":
        this.inTransfer = false;
        return [];
      case "accepted":
      case "repeated":
        if (!this.inTransfer) return this.ignore();
        this.lastFrameAtMs = nowMs;
        if (event.event === "repeated") this.stats.repeatedFrames++;
        return [this.ack(`ACK ${event.event} frame`)];
      case "rejected":
        return this.nak(nowMs, "NAK frame out of sequence");
    }
  }

  onCorruptFrame(nowMs: number): Outgoing[] {
    return this.nak(nowMs, "NAK frame with bad checksum");
  }

  onInvalidFrame(nowMs: number): Outgoing[] {
    return this.nak(nowMs, "NAK invalid frame");
  }

  /** Values of a frame count only inside a transfer the gateway acknowledged. */
  expects(event: SessionEvent): boolean {
    if (event.type !== "astm") return true;
    return this.inTransfer || event.event === "enquiry" || event.event === "end";
  }

  onTick(nowMs: number): Outgoing[] {
    if (this.inTransfer && nowMs - this.lastFrameAtMs > this.settings.receiverTimeoutMs) {
      this.inTransfer = false;
      this.stats.receiverTimeouts++;
    }
    return [];
  }

  private ack(label: string): Outgoing {
    this.stats.acks++;
    return { bytes: ackBytes, label, confirmsReceipt: true };
  }

  private nak(nowMs: number, label: string): Outgoing[] {
    if (!this.inTransfer) return this.ignore();
    this.lastFrameAtMs = nowMs;
    this.stats.naks++;
    return [{ bytes: nakBytes, label }];
  }

  private ignore(): Outgoing[] {
    this.stats.ignoredFrames++;
    return [];
  }
}

export function createAstmSession(settings: AstmSessionSettings): Session {
  return new AstmReceiverSession(settings);
}
