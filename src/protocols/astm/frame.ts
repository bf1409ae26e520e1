/**
 * Parses one frame from the ASTM framer: ENQ, EOT, or `STX FN text ETB|ETX C1 C2 CR LF` with
 * its frame number and checksum checked (ASTM E1381-95 / CLSI LIS01-A2). Pure.
 */
import { GatewayError } from "../../errors.js";
import {
  CR,
  ENQ,
  EOT,
  ETB,
  ETX,
  FRAME_OVERHEAD_BYTES,
  LF,
  STX,
  checksum,
  checksumText,
  restrictedBytes,
} from "./codec.js";

export type AstmFrame =
  | { kind: "enquiry" }
  | { kind: "end" }
  | { kind: "data"; frameNumber: number; last: boolean; text: Buffer };

export type ParsedFrame = { ok: true; frame: AstmFrame } | { ok: false; error: GatewayError };

/** Maximum bytes of a frame quoted in an error message. */
const maxQuotedBytes = 40;

export function parseAstmFrame(bytes: Buffer): ParsedFrame {
  if (bytes.length === 1 && bytes[0] === ENQ) return { ok: true, frame: { kind: "enquiry" } };
  if (bytes.length === 1 && bytes[0] === EOT) return { ok: true, frame: { kind: "end" } };
  const layoutProblem = checkLayout(bytes);
  if (layoutProblem !== undefined) return invalid(`${layoutProblem} (got ${quote(bytes)})`);

  const end = bytes.length - 5;
  const expected = checksumText(checksum(bytes.subarray(1, end + 1)));
  const received = bytes.subarray(end + 1, end + 3).toString("latin1");
  // LIS01-A2 asks for upper-case digits; lower-case ones are taken, since the sum is what counts.
  if (received.toUpperCase() !== expected) {
    const message =
      `ASTM frame checksum is invalid: expected "${expected}", received "${received}" in ` +
      `${quote(bytes)}; check the cable, the baud rate and the parity`;
    return { ok: false, error: new GatewayError("FRAME_CHECKSUM", message) };
  }
  const text = Buffer.from(bytes.subarray(2, end));
  const bad = text.findIndex((byte) => restrictedBytes.has(byte));
  if (bad >= 0) {
    return invalid(
      `ASTM frame text contains the restricted byte 0x${hexByte(text[bad] ?? 0)} at ${bad} ` +
        `(got ${quote(bytes)}); LIS01-A2 allows no control characters other than CR in text`,
    );
  }
  const frameNumber = (bytes[1] ?? 0) - 0x30;
  return { ok: true, frame: { kind: "data", frameNumber, last: bytes[end] === ETX, text } };
}

function checkLayout(bytes: Buffer): string | undefined {
  if (bytes.length < FRAME_OVERHEAD_BYTES || bytes[0] !== STX) {
    return `ASTM frame must be ENQ, EOT or STX FN text ETB|ETX C1 C2 CR LF`;
  }
  const frameNumber = bytes[1] ?? 0;
  if (frameNumber < 0x30 || frameNumber > 0x37) {
    return `ASTM frame number must be a digit from 0 to 7`;
  }
  const end = bytes[bytes.length - 5];
  if (end !== ETB && end !== ETX) return `ASTM frame must end its text with ETB or ETX`;
  const hex = bytes.subarray(bytes.length - 4, bytes.length - 2).toString("latin1");
  if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return `ASTM frame checksum must be two hex digits`;
  if (bytes[bytes.length - 2] !== CR || bytes[bytes.length - 1] !== LF) {
    return `ASTM frame must end with CR LF after its checksum`;
  }
  return undefined;
}

function invalid(message: string): ParsedFrame {
  return { ok: false, error: new GatewayError("DECODE_INVALID", message) };
}

function hexByte(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, "0");
}

/** Quotes a frame for an error message: printable bytes as text, others as <XX>. */
export function quote(bytes: Uint8Array): string {
  const shown = [...bytes.subarray(0, maxQuotedBytes)]
    .map((byte) =>
      byte >= 0x20 && byte < 0x7f && byte !== 0x3c
        ? String.fromCharCode(byte)
        : `<${hexByte(byte)}>`,
    )
    .join("");
  const more = bytes.length > maxQuotedBytes ? `… (${bytes.length} bytes)` : "";
  return `"${shown}"${more}`;
}
