/**
 * ASTM E1381 (CLSI LIS01-A2) low-level layer: control characters, the frame layout and its
 * checksum. A frame is `STX FN text ETB|ETX C1 C2 CR LF`: FN is one digit that counts
 * 1..7, 0, 1..; ETB ends an intermediate frame and ETX the last frame of a message; C1 C2 are
 * the sum of the bytes from FN through ETB or ETX, modulo 256, as two upper-case hex digits.
 */

import { sum8 as checksum, sum8Text as checksumText } from "../checksum.js";

export const STX = 0x02;
export const ETX = 0x03;
export const EOT = 0x04;
export const ENQ = 0x05;
export const ACK = 0x06;
export const NAK = 0x15;
export const ETB = 0x17;
export const LF = 0x0a;
export const CR = 0x0d;

/** Checksum characters, CR and LF after ETB or ETX. */
export const TRAILER_BYTES = 4;
/** STX, FN, ETB or ETX and the trailer: the size of a frame without text. */
export const FRAME_OVERHEAD_BYTES = 3 + TRAILER_BYTES;
/** Text limit of one frame in E1381-95 and LIS01-A2 (247 bytes with the overhead). */
export const STANDARD_MAX_TEXT_BYTES = 240;

/**
 * Bytes LIS01-A2 forbids in frame text: the control characters of the low-level layer, LF
 * and DC1 to DC4. CR is allowed, because it ends every record.
 */
export const restrictedBytes: ReadonlySet<number> = new Set([
  0x01,
  STX,
  ETX,
  EOT,
  ENQ,
  ACK,
  0x10,
  NAK,
  0x16,
  ETB,
  LF,
  0x11,
  0x12,
  0x13,
  0x14,
]);

/** Returns the frame number that follows `frameNumber` (7 is followed by 0). */
export function nextFrameNumber(frameNumber: number): number {
  return (frameNumber + 1) % 8;
}

/** The E1381 checksum (FN through ETB or ETX) and its text C1 C2. */
export { checksum, checksumText };

/**
 * Encodes one frame. Throws RangeError for a frame number outside 0..7 or text with a
 * restricted byte, which would end the frame early at the receiver.
 */
export function encodeFrame(frameNumber: number, text: Uint8Array, last: boolean): Buffer {
  if (!Number.isInteger(frameNumber) || frameNumber < 0 || frameNumber > 7) {
    throw new RangeError(`ASTM frame number ${frameNumber} is not a digit from 0 to 7`);
  }
  const bad = text.findIndex((byte) => restrictedBytes.has(byte));
  if (bad >= 0) {
    throw new RangeError(`ASTM frame text byte ${bad} is 0x${text[bad]?.toString(16)}, restricted`);
  }
  const covered = Buffer.concat([
    Buffer.from([0x30 + frameNumber]),
    text,
    Buffer.from([last ? ETX : ETB]),
  ]);
  return Buffer.concat([
    Buffer.from([STX]),
    covered,
    Buffer.from(`${checksumText(checksum(covered))}\r\n`, "latin1"),
  ]);
}

/**
 * Splits a message (records, each ending with CR) into frame texts of at most `maxTextBytes`:
 * several records share a frame, and a longer record continues in the next frame.
 */
export function splitMessage(message: Uint8Array, maxTextBytes: number): Buffer[] {
  const texts: Buffer[] = [];
  for (let offset = 0; offset < message.length; offset += maxTextBytes) {
    texts.push(Buffer.from(message.subarray(offset, offset + maxTextBytes)));
  }
  return texts;
}

/** Encodes a message as its frames, numbered from `firstFrameNumber`. */
export function encodeMessage(
  message: Uint8Array,
  maxTextBytes: number,
  firstFrameNumber = 1,
): Buffer[] {
  const texts = splitMessage(message, maxTextBytes);
  return texts.map((text, index) =>
    encodeFrame((firstFrameNumber + index) % 8, text, index === texts.length - 1),
  );
}
