/**
 * The seams between a link's bytes and the device supervisor. A framer cuts frames from a byte
 * stream, a decoder turns one frame into device records, and a session decides which bytes the
 * host writes back. All three are free of I/O and of clocks: time comes in as an argument.
 */
import type { GatewayError } from "../errors.js";

/** The reason bytes left the framer without becoming a frame. */
export type DiscardReason =
  /** Bytes outside any frame: noise, a partial first line, bytes before a start byte. */
  | "garbage"
  /** A frame that grew past the profile's maximum frame size. */
  | "oversize"
  /** A half frame dropped because the link closed or the framer was reset. */
  | "truncated"
  /** MEDIBUS realtime bytes (bit 7 set) that the host never asked for. */
  | "realtime"
  /** A half frame the device cancelled with an abort sequence (IntelliVue `7D C1`). */
  | "aborted";

export type FramerEvent =
  { kind: "frame"; bytes: Buffer } | { kind: "discard"; byteCount: number; reason: DiscardReason };

/**
 * An incremental framer with one bounded receive buffer. Invariant, checked by the fuzz
 * tests: the bytes pushed equal the bytes framed plus the bytes discarded plus `bufferedBytes`.
 */
export interface Framer {
  push(chunk: Uint8Array): FramerEvent[];
  /** Drops a half frame, for example after the link reopened. */
  reset(): FramerEvent[];
  readonly bufferedBytes: number;
}

/** A value as the device sent it, before the profile maps it to a measurement. */
export interface RawValue {
  /** The device's own code or label for the value, such as "SPO2" or "EB". */
  deviceCode: string;
  /** The value text with framing and unit suffixes removed, such as "097" or "---". */
  text: string;
  /**
   * Reason set by binary decoders that recognise the device's own marker for a missing or
   * invalid value, such as a reserved integer. The mapper then publishes no number.
   */
  absentReason?: "absent" | "invalid";
  /**
   * The unit the device sent with the value, for protocols that carry one (ASTM R.5, HL7
   * OBX-6). The mapper checks it against the profile's `deviceUnits`.
   */
  unit?: string;
}

export interface RawAlarm {
  deviceCode: string;
  /** Device priority, higher is more urgent, when the device sends one. */
  priority?: number;
  text: string;
}

/**
 * A free-running 32-bit counter in the device, such as IntelliVue's RelativeTime. Only the
 * difference between two readings means anything, and it wraps at 2^32 ticks.
 */
export interface DeviceClock {
  ticks: number;
  ticksPerMs: number;
}

export type DeviceRecord =
  | {
      kind: "numerics";
      values: RawValue[];
      /** The device's own time stamp text, when the frame carries one. */
      deviceTime?: string;
      /** True when the record lists every value the device currently has. */
      snapshot: boolean;
    }
  | { kind: "alarms"; alarms: RawAlarm[]; snapshot: boolean }
  | {
      kind: "wave";
      /** The device's own code for the wave, such as a channel number or label. */
      deviceCode: string;
      /** Samples as the device sent them (before scaling), oldest first. */
      samples: number[];
      deviceTime?: string;
      /** The device's sample clock when it sent these samples, for devices that send one. */
      deviceClock?: DeviceClock;
    }
  | { kind: "identity"; model?: string; serialNumber?: string; firmware?: string }
  | { kind: "session"; event: SessionEvent };

/** Protocol-level traffic the session must see: responses and commands from the device. */
export type SessionEvent =
  | {
      type: "response";
      command: number;
      /** The S/5 interface level the record was sent at, for a session that keeps one level. */
      driLevel?: number;
    }
  | { type: "command"; command: number; payload: Buffer }
  /** The device reported that it could not read our last command. */
  | { type: "rejected"; command: number }
  /** ASTM E1381 link events of a device that sends to the gateway, with the frame verdict. */
  | { type: "astm"; event: AstmLinkEvent }
  /** An HL7 v2 message the decoder took, which the session acknowledges with MSA AA. */
  | { type: "hl7-message"; header: Hl7Header };

/**
 * What the receiver of an ASTM E1381 transfer saw: ENQ (the device requests the line), a
 * frame with the next frame number ("accepted"), a frame sent again because our ACK was lost
 * ("repeated"), a frame out of sequence or outside a transfer ("rejected"), or EOT.
 */
export type AstmLinkEvent = "enquiry" | "accepted" | "repeated" | "rejected" | "end";

/** The MSH fields an HL7 v2 acknowledgement needs. */
export interface Hl7Header {
  fieldSeparator: string;
  encodingCharacters: string;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-9, such as ORU^R01^ORU_R01. */
  messageType: string;
  /** MSH-10: echoed in MSA-2 so the sender can match the acknowledgement. */
  controlId: string;
  processingId: string;
  version: string;
}

export type DecodeResult =
  | {
      ok: true;
      records: DeviceRecord[];
      /**
       * Parts of the frame that were skipped while the rest was used, such as one malformed
       * record in an ASTM frame the session still acknowledges. Counted as decode errors.
       */
      skipped?: GatewayError[];
    }
  /** Code is FRAME_CHECKSUM or DECODE_INVALID. */
  | { ok: false; error: GatewayError };

export type Decoder = (frame: Buffer) => DecodeResult;

/** Bytes the session wants written to the device, with a label for logs ("ICC", "NOP"). */
export interface Outgoing {
  bytes: Buffer;
  label: string;
  /**
   * True for bytes that tell the device its data arrived, such as an HL7 AA or an ASTM ACK.
   * A device discards what was acknowledged, so these leave only once the records decoded
   * before them are on disk, and not at all when the outbox cannot store them.
   */
  confirmsReceipt?: boolean;
}

export interface Session {
  /** Called when the link opens; returns the init sequence. */
  onOpen(nowMs: number): Outgoing[];
  /** Called for every session event decoded from the device. */
  onEvent(event: SessionEvent, nowMs: number): Outgoing[];
  /** Called with a frame that failed its checksum, because some protocols reply to that. */
  onCorruptFrame(nowMs: number, frame: Buffer): Outgoing[];
  /**
   * Called with a frame the decoder rejected as DECODE_INVALID, for protocols that answer
   * every frame (ASTM NAK, HL7 MSA AE or AR). Sessions that do not answer leave it unset.
   * The pipeline also calls it with an empty buffer when the framer drops a frame as oversize.
   */
  onInvalidFrame?(nowMs: number, frame: Buffer): Outgoing[];
  /**
   * Returns false for an event the session did not request, such as a response to no request.
   * The pipeline then publishes none of that frame's values. Called before onEvent.
   */
  expects(event: SessionEvent): boolean;
  /** Called on a fixed tick (see tickMs); drives polls, keep-alives and request time-outs. */
  onTick(nowMs: number): Outgoing[];
  /** True once the handshake is done and data is expected. */
  readonly established: boolean;
  /** Tick period in milliseconds the supervisor should call onTick with. */
  readonly tickMs: number;
}

/** Creates the session of devices that send without a request, such as Masimo ASCII 1. */
export function createListenOnlySession(): Session {
  return {
    onOpen: () => [],
    onEvent: () => [],
    onCorruptFrame: () => [],
    expects: () => true,
    onTick: () => [],
    established: true,
    tickMs: 1000,
  };
}
