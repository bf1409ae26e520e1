/**
 * The 8-bit sum check sent as two hex characters, used by MEDIBUS and ASTM E1381: the bytes a
 * protocol covers are summed modulo 256 and sent as two upper-case hex digits.
 */

/** Sums `bytes` modulo 256; the caller passes exactly the range its protocol covers. */
export function sum8(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) & 0xff;
  return sum;
}

/**
 * Formats a sum as two upper-case hex digits with the leading zero kept, because neither
 * protocol allows lower-case digits or zero suppression on the wire.
 */
export function sum8Text(sum: number): string {
  return (sum & 0xff).toString(16).toUpperCase().padStart(2, "0");
}
