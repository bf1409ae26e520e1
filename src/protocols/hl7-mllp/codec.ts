/**
 * MLLP (HL7 v2 Minimal Lower Layer Protocol, release 1) framing: a message is sent as
 * `VT message FS CR`, with no checksum because TCP carries it. Inside, HL7 v2 segments end
 * with CR.
 */

/** Start block. */
export const VT = 0x0b;
/** End block, followed by CR. */
export const FS = 0x1c;
export const CR = 0x0d;
export const LF = 0x0a;

/** Frames a message: VT, the message (segments ending with CR), FS and CR. */
export function encodeMllp(message: string): Buffer {
  return Buffer.concat([Buffer.from([VT]), Buffer.from(message, "latin1"), Buffer.from([FS, CR])]);
}

/**
 * Returns the message text of an MLLP frame: without VT, FS and CR. A frame that ends with FS
 * alone (a sender that leaves out the CR) has its FS removed too.
 */
export function mllpContent(frame: Buffer): Buffer {
  let end = frame.length;
  if (frame[end - 1] === CR && frame[end - 2] === FS) end -= 2;
  else if (frame[end - 1] === FS) end -= 1;
  const start = frame[0] === VT ? 1 : 0;
  return frame.subarray(start, Math.max(start, end));
}

/** Formats a time as HL7 DTM, YYYYMMDDHHMMSS, in UTC with +0000 so no zone is guessed. */
export function hl7Time(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 19).replace(/[-T:]/g, "")}+0000`;
}
