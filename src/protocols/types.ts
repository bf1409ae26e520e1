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
   * Set by binary decoders that recognise the device's own marker for a missing or invalid
   * value, such as a reserved integer; the mapper then publishes no number, whatever the text.
   */
  absentReason?: "absent" | "invalid";
}

export interface RawAlarm {
  deviceCode: string;
  /** Device priority, higher is more urgent, when the device sends one. */
  priority?: number;
  text: string;
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
    }
  | { kind: "identity"; model?: string; serialNumber?: string; firmware?: string }
  | { kind: "session"; event: SessionEvent };

/** Protocol-level traffic the session must see: responses and commands from the device. */
export type SessionEvent =
  | { type: "response"; command: number }
  | { type: "command"; command: number; payload: Buffer }
  /** The device reported that it could not read our last command. */
  | { type: "rejected"; command: number };

export type DecodeResult =
  | { ok: true; records: DeviceRecord[] }
  /** Code is FRAME_CHECKSUM or DECODE_INVALID. */
  | { ok: false; error: GatewayError };

export type Decoder = (frame: Buffer) => DecodeResult;

/** Bytes the session wants written to the device, with a label for logs ("ICC", "NOP"). */
export interface Outgoing {
  bytes: Buffer;
  label: string;
}

export interface Session {
  /** Called when the link opens; returns the init sequence. */
  onOpen(nowMs: number): Outgoing[];
  /** Called for every session event decoded from the device. */
  onEvent(event: SessionEvent, nowMs: number): Outgoing[];
  /** Called with a frame that failed its checksum, because some protocols reply to that. */
  onCorruptFrame(nowMs: number, frame: Buffer): Outgoing[];
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
