/**
 * Wire facts of the Nonin serial data formats, shared by the framer, the decoder and the
 * simulator. Sources, by format:
 * - format 2: the Nonin OEM III driver of pez-globo/pufferfish-software (Apache-2.0);
 * - format 7 and the select-format command: mdpnp/mdpnp `devices/nonin`, Packet.java
 *   (BSD-2-Clause);
 * - format 8: drphrozen/javautilityclasses, Format8.java.
 *
 * - Format 2: 5-byte frames `01 STATUS PLETH DATA CHK`, 25 frames a packet, 3 packets a second.
 * - Format 7: 5-byte frames `STATUS PLETH_MSB PLETH_LSB DATA CHK`, 25 frames a packet.
 * - Format 8: 4-byte records `STATUS HR_LSB SPO2 STATUS2`, one a second, with no checksum.
 *
 * In formats 2 and 7, STATUS bit 7 is always 1 and bit 0 (SYNC) is 1 only in frame 1 of a
 * packet, and CHK is the sum of the first four bytes modulo 256. The DATA byte of each frame
 * carries one part of the packet's values, chosen by the frame's position in the packet.
 */
import { sum8 } from "../checksum.js";

export type NoninFormat = 2 | 7 | 8;

export interface FormatLayout {
  /** Bytes of one frame on the wire. */
  frameBytes: number;
  /** Frames of one packet; values that span frames are complete only in a whole packet. */
  framesPerPacket: number;
  /** Whether the last byte of each frame is a sum of the others. */
  checksum: boolean;
}

export const formatLayouts: Record<NoninFormat, FormatLayout> = {
  2: { frameBytes: 5, framesPerPacket: 25, checksum: true },
  7: { frameBytes: 5, framesPerPacket: 25, checksum: true },
  8: { frameBytes: 4, framesPerPacket: 1, checksum: false },
};

export function packetBytes(format: NoninFormat): number {
  const layout = formatLayouts[format];
  return layout.frameBytes * layout.framesPerPacket;
}

/** Formats bytes as hex pairs separated by spaces, such as "01 81 40 00 c2", for messages. */
export function hexOf(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
}

/** Format 2 frames start with this byte. */
export const FRAME_START = 0x01;
/** STATUS bit 7: always 1 in formats 2 and 7, and in format 8 the only byte with bit 7 set. */
export const STATUS_MARK = 0x80;
/** STATUS bit 0 in formats 2 and 7: the frame is frame 1 of a packet. */
export const STATUS_SYNC = 0x01;

/** Sum of the first four bytes modulo 256, the CHK byte of formats 2 and 7. */
export function frameChecksum(frame: Uint8Array): number {
  return sum8(frame.subarray(0, 4));
}

/** Returns the STATUS byte of a frame. */
export function statusOf(format: NoninFormat, frame: Uint8Array): number {
  return (format === 2 ? frame[1] : frame[0]) ?? 0;
}

/**
 * Returns whether a frame has the fixed bits of its format, not checking its checksum. Format
 * 2 needs a 0x01 start byte and STATUS bit 7, format 7 STATUS bit 7. Format 8 needs bit 7 set
 * in STATUS and clear in the other three bytes.
 */
export function hasFrameShape(format: NoninFormat, frame: Uint8Array): boolean {
  switch (format) {
    case 2:
      return frame[0] === FRAME_START && ((frame[1] ?? 0) & STATUS_MARK) !== 0;
    case 7:
      return ((frame[0] ?? 0) & STATUS_MARK) !== 0;
    case 8:
      return (
        ((frame[0] ?? 0) & STATUS_MARK) !== 0 &&
        ((frame[1] ?? 0) | (frame[2] ?? 0) | (frame[3] ?? 0)) < STATUS_MARK
      );
  }
}

/** Returns whether a frame starts a packet: SYNC is set, or the frame is a format 8 record. */
export function startsPacket(format: NoninFormat, frame: Uint8Array): boolean {
  return format === 8 || (statusOf(format, frame) & STATUS_SYNC) !== 0;
}

/** Returns whether a frame's CHK byte matches. Format 8 has none, so its records always match. */
export function checksumMatches(format: NoninFormat, frame: Uint8Array): boolean {
  if (!formatLayouts[format].checksum) return true;
  return frameChecksum(frame) === frame[4];
}

/**
 * Encodes one format 2 or 7 frame with its checksum. `pleth` is the 16-bit pleth sample;
 * format 2 sends its high byte only.
 */
export function encodeFrame(format: 2 | 7, status: number, pleth: number, data: number): Buffer {
  const head =
    format === 2
      ? [FRAME_START, status, (pleth >> 8) & 0xff, data]
      : [status, (pleth >> 8) & 0xff, pleth & 0xff, data];
  return Buffer.from([...head, frameChecksum(Uint8Array.from(head))]);
}

/** The heart rate missing-value marker: 511, all nine bits set. */
export const MISSING_HEART_RATE = 511;
/** The SpO2 missing-value marker: 127, all seven bits set. */
export const MISSING_SPO2 = 127;

/** Joins a 9-bit heart rate: bits 8..7 in bits 1..0 of one byte, bits 6..0 in another. */
export function joinHeartRate(highByte: number, lowByte: number): number {
  return ((highByte & 0x03) << 7) | (lowByte & 0x7f);
}

/** Splits a 9-bit heart rate into its high byte (bits 8..7) and low byte (bits 6..0). */
export function splitHeartRate(rate: number): [high: number, low: number] {
  return [(rate >> 7) & 0x03, rate & 0x7f];
}

/**
 * A value that the DATA bytes of a format 2 or 7 packet carry. Frame numbers count from 1.
 * A heart rate spans two frames (high bits, then low bits); a saturation fits one.
 */
export interface PacketValue {
  deviceCode: string;
  kind: "heartRate" | "spo2";
  frames: readonly number[];
}

export const packetValues: readonly PacketValue[] = [
  { deviceCode: "HR", kind: "heartRate", frames: [1, 2] },
  { deviceCode: "SPO2", kind: "spo2", frames: [3] },
  { deviceCode: "SPO2-D", kind: "spo2", frames: [9] },
  { deviceCode: "SPO2-FAST", kind: "spo2", frames: [10] },
  { deviceCode: "SPO2-BB", kind: "spo2", frames: [11] },
  { deviceCode: "E-HR", kind: "heartRate", frames: [14, 15] },
  { deviceCode: "E-SPO2", kind: "spo2", frames: [16] },
  { deviceCode: "E-SPO2-D", kind: "spo2", frames: [17] },
  { deviceCode: "HR-D", kind: "heartRate", frames: [20, 21] },
  { deviceCode: "E-HR-D", kind: "heartRate", frames: [22, 23] },
];

/** Frame whose DATA byte is the firmware revision, in formats 2 and 7. */
export const FIRMWARE_FRAME = 4;
/** Frame whose DATA byte is STAT2 in format 7. */
export const STAT2_FRAME = 8;

/** Device codes each format's decoder emits, for checking a profile's measurement keys. */
export function deviceCodesOf(format: NoninFormat): string[] {
  if (format === 8) return ["HR", "SPO2"];
  return packetValues.map((value) => value.deviceCode);
}

/** Wave codes each format's decoder emits: one pleth sample per frame in formats 2 and 7. */
export function waveCodesOf(format: NoninFormat): string[] {
  return format === 8 ? [] : ["PLETH"];
}

/** STATUS bits free for status flags, so a profile may name them as alarms. */
export function statusFlagBits(format: NoninFormat): number {
  // Formats 2 and 7 reserve bit 7 and SYNC; format 8 reserves bit 7 and the heart rate bits.
  return format === 8 ? 0x7c : 0x7e;
}

/** STAT2 bits free for status flags (bit 7 is clear in format 8, and reserved in format 7). */
export const STATUS2_FLAG_BITS = 0x7f;

/** Bytes of the host command that selects a data format, and of the device's one-byte replies. */
export const STX = 0x02;
export const ETX = 0x03;
export const ACK = 0x06;
export const NAK = 0x15;
export const SELECT_FORMAT_OPCODE = 0x70;

/**
 * Encodes the host command that selects a data format: `02 70 04 02 <format> <options> <chk>
 * 03`, with chk the sum of the bytes from 0x70 to the options byte, modulo 256. Format 7 with
 * options 0x01 gives `02 70 04 02 07 01 7E 03`, as mdpnp sends it.
 */
export function encodeSelectFormat(format: NoninFormat, options: number): Buffer {
  const body = [SELECT_FORMAT_OPCODE, 0x04, 0x02, format, options & 0xff];
  const sum = body.reduce((total, byte) => total + byte, 0) & 0xff;
  return Buffer.from([STX, ...body, sum, ETX]);
}
