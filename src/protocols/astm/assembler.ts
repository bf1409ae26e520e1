/**
 * Message assembly of the ASTM receiver: parsed frames in, record texts out. It follows the
 * transfer state of ASTM E1381-95 / CLSI LIS01-A2 so that records are assembled only from the
 * frames the session acknowledges:
 *
 * - ENQ starts a transfer and the first frame number is 1; numbers count 1..7, 0, 1.. .
 * - A frame with the expected number is accepted. A frame with the number of the frame
 *   accepted last is a repeat (the sender missed our ACK) and its text is not used again. Any
 *   other frame, or a frame outside a transfer, is rejected.
 * - Frame text is a stream of records, each ending with CR: a frame may hold several records
 *   and a record may continue in the next frame (after ETB). ETX ends the message, so a
 *   record the sender did not end with CR ends there.
 * - EOT ends the transfer and drops an unfinished record.
 *
 * One record is held at most `maxRecordBytes`; a longer one is dropped and reported, and the
 * bytes up to its CR are skipped.
 */
import { GatewayError } from "../../errors.js";
import type { AstmLinkEvent } from "../types.js";
import { CR, nextFrameNumber } from "./codec.js";
import type { AstmFrame } from "./frame.js";

export interface Assembly {
  event: AstmLinkEvent;
  /** Records completed by this frame, without their CR, as latin1 text. */
  records: string[];
  /** Records dropped by this frame: too long, or unfinished when the transfer ended. */
  dropped: GatewayError[];
}

export class AstmMessageAssembler {
  private inTransfer = false;
  private expectedFrameNumber = 1;
  /** Number of the frame accepted last in this transfer, which the sender may repeat. */
  private lastAccepted: number | undefined;
  private readonly record: Uint8Array;
  private recordLength = 0;
  /** True while skipping the rest of a record that outgrew the buffer. */
  private skipping = false;

  constructor(readonly maxRecordBytes: number) {
    this.record = new Uint8Array(maxRecordBytes);
  }

  /** Bytes of the unfinished record held between frames. */
  get bufferedBytes(): number {
    return this.recordLength;
  }

  accept(frame: AstmFrame): Assembly {
    switch (frame.kind) {
      case "enquiry":
        return this.restart("enquiry", true);
      case "end":
        return this.restart("end", false);
      case "data":
        return this.acceptData(frame.frameNumber, frame.last, frame.text);
    }
  }

  private restart(event: AstmLinkEvent, inTransfer: boolean): Assembly {
    const dropped: GatewayError[] = [];
    if (this.recordLength > 0 && this.inTransfer) {
      dropped.push(
        recordError(
          `ASTM record of ${this.recordLength} bytes was unfinished when the transfer ended; ` +
            `the device stopped sending within a record`,
        ),
      );
    }
    this.inTransfer = inTransfer;
    this.expectedFrameNumber = 1;
    this.lastAccepted = undefined;
    this.recordLength = 0;
    this.skipping = false;
    return { event, records: [], dropped };
  }

  private acceptData(frameNumber: number, last: boolean, text: Buffer): Assembly {
    if (!this.inTransfer) return { event: "rejected", records: [], dropped: [] };
    if (frameNumber !== this.expectedFrameNumber) {
      // NOTE: answering a frame out of sequence with NAK is inferred from open implementations;
      // a real analyzer may expect the receiver to end the transfer instead.
      const event = frameNumber === this.lastAccepted ? "repeated" : "rejected";
      return { event, records: [], dropped: [] };
    }
    this.lastAccepted = frameNumber;
    this.expectedFrameNumber = nextFrameNumber(frameNumber);
    const assembly: Assembly = { event: "accepted", records: [], dropped: [] };
    for (const byte of text) this.appendByte(byte, assembly);
    if (last && (this.recordLength > 0 || this.skipping)) this.completeRecord(assembly);
    return assembly;
  }

  private appendByte(byte: number, assembly: Assembly): void {
    if (byte === CR) {
      this.completeRecord(assembly);
      return;
    }
    if (this.skipping) return;
    if (this.recordLength === this.record.length) {
      this.skipping = true;
      return;
    }
    this.record[this.recordLength++] = byte;
  }

  private completeRecord(assembly: Assembly): void {
    if (this.skipping) {
      assembly.dropped.push(
        recordError(
          `ASTM record is longer than records.maxRecordBytes (${this.maxRecordBytes}) and was ` +
            `skipped; raise records.maxRecordBytes in the profile if the device sends such records`,
        ),
      );
    } else if (this.recordLength > 0) {
      assembly.records.push(
        Buffer.from(this.record.subarray(0, this.recordLength)).toString("latin1"),
      );
    }
    this.recordLength = 0;
    this.skipping = false;
  }
}

function recordError(message: string): GatewayError {
  return new GatewayError("DECODE_INVALID", message);
}
