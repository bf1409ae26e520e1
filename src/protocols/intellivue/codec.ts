/**
 * Framing, frame check and number formats of the Philips IntelliVue Data Export protocol over
 * MIB/RS-232 ("Fixed Baudrate Protocol"), from the "IntelliVue X2, MP & MX Series Data Export
 * Interface Programming Guide" (4535 642 59271) as public implementations (mdpnp
 * devices/philips, VSCaptureMP) read it:
 *
 *   C0 | 11 01 LL LL | user data | FCS_lo FCS_hi | C1
 *
 * 0x11 is the Data Export protocol id, 0x01 the message type and LL LL the user-data length,
 * big-endian. Inside header, user data and FCS, the bytes C0, C1 and 7D are sent as 7D and the
 * byte XOR 0x20. `7D C1` aborts a frame.
 */

/** Beginning of frame. */
export const BOF = 0xc0;
/** End of frame. */
export const EOF = 0xc1;
/** Control escape: the next byte is sent XOR ESCAPE_MASK. */
export const ESCAPE = 0x7d;
export const ESCAPE_MASK = 0x20;

export const PROTOCOL_ID = 0x11;
export const MESSAGE_TYPE = 0x01;
/** Protocol id, message type and the 16-bit length. */
export const HEADER_BYTES = 4;
export const FCS_BYTES = 2;

/** PPP FCS-16 (CRC-16/X-25) initial value, and the residue of a frame that checks. */
const FCS_INIT = 0xffff;
export const FCS_GOOD_RESIDUE = 0xf0b8;
const FCS_POLYNOMIAL_REFLECTED = 0x8408;

const fcsTable = buildFcsTable();

function buildFcsTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let value = byte;
    for (let bit = 0; bit < 8; bit++) {
      value = value & 1 ? (value >>> 1) ^ FCS_POLYNOMIAL_REFLECTED : value >>> 1;
    }
    table[byte] = value;
  }
  return table;
}

/** Runs the FCS register over `bytes`, without the final ones complement. */
export function fcsUpdate(bytes: Uint8Array, register = FCS_INIT): number {
  let fcs = register;
  for (const byte of bytes) fcs = (fcs >>> 8) ^ (fcsTable[(fcs ^ byte) & 0xff] ?? 0);
  return fcs;
}

/** Computes the FCS a sender appends: ones complement of the register, sent low byte first. */
export function fcs16(bytes: Uint8Array): number {
  return ~fcsUpdate(bytes) & 0xffff;
}

function needsEscape(byte: number): boolean {
  return byte === BOF || byte === EOF || byte === ESCAPE;
}

/** Escapes C0, C1 and 7D as 7D followed by the byte XOR 0x20. */
export function escape(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  for (const byte of bytes) {
    if (needsEscape(byte)) out.push(ESCAPE, byte ^ ESCAPE_MASK);
    else out.push(byte);
  }
  return Buffer.from(out);
}

/**
 * Wraps already headed bytes: appends the FCS low byte first, escapes both, and adds BOF and
 * EOF. The FCS is escaped too: an implementation that skips this (VSCaptureMP's WriteBuffer)
 * breaks about one frame in 43. A non-zero fcsMask flips FCS bits, for simulated line faults.
 */
export function wrapFrame(headed: Uint8Array, fcsMask = 0): Buffer {
  const fcs = fcs16(headed) ^ fcsMask;
  const body = Buffer.concat([Buffer.from(headed), Buffer.from([fcs & 0xff, fcs >>> 8])]);
  return Buffer.concat([Buffer.from([BOF]), escape(body), Buffer.from([EOF])]);
}

/** Encodes one Data Export frame around `userData`; see wrapFrame for fcsMask. */
export function encodeFrame(userData: Uint8Array, fcsMask = 0): Buffer {
  if (userData.length > 0xffff) {
    throw new RangeError(`IntelliVue user data is ${userData.length} bytes, more than 65535`);
  }
  const header = Buffer.from([PROTOCOL_ID, MESSAGE_TYPE, userData.length >>> 8, userData.length]);
  return wrapFrame(Buffer.concat([header, Buffer.from(userData)]), fcsMask);
}

/**
 * FLOAT-Type: a signed 8-bit base-10 exponent above a signed 24-bit mantissa. These mantissas
 * are markers, not numbers.
 */
export const FloatSpecial = {
  nan: 0x7fffff,
  /** Not at this resolution: the value does not fit the representation. */
  nres: 0x800000,
  positiveInfinity: 0x7ffffe,
  negativeInfinity: 0x800002,
  /** Reserved for future use by the guide. */
  reserved: 0x800001,
} as const;

export type FloatValue =
  | { kind: "number"; mantissa: number; exponent: number }
  | { kind: "nan" | "nres" | "positive-infinity" | "negative-infinity" | "reserved" };

export function decodeFloat(raw: number): FloatValue {
  const mantissaBits = raw & 0xffffff;
  switch (mantissaBits) {
    case FloatSpecial.nan:
      return { kind: "nan" };
    case FloatSpecial.nres:
      return { kind: "nres" };
    case FloatSpecial.positiveInfinity:
      return { kind: "positive-infinity" };
    case FloatSpecial.negativeInfinity:
      return { kind: "negative-infinity" };
    case FloatSpecial.reserved:
      return { kind: "reserved" };
  }
  const mantissa = mantissaBits & 0x800000 ? mantissaBits - 0x1000000 : mantissaBits;
  const exponentBits = (raw >>> 24) & 0xff;
  const exponent = exponentBits & 0x80 ? exponentBits - 0x100 : exponentBits;
  return { kind: "number", mantissa, exponent };
}

/**
 * Formats a FLOAT-Type number as exact decimal text, such as 985 × 10^-1 as "98.5", so the
 * value reaches the mapper with no binary rounding.
 */
export function floatText(value: { mantissa: number; exponent: number }): string {
  const sign = value.mantissa < 0 ? "-" : "";
  const digits = String(Math.abs(value.mantissa));
  if (value.exponent >= 0) {
    return value.mantissa === 0 ? "0" : `${sign}${digits}${"0".repeat(value.exponent)}`;
  }
  const places = -value.exponent;
  const padded = digits.padStart(places + 1, "0");
  return `${sign}${padded.slice(0, -places)}.${padded.slice(-places)}`;
}

/** Encodes a number as FLOAT-Type with `decimals` digits after the point. */
export function encodeFloat(value: number, decimals: number): number {
  const mantissa = Math.round(value * 10 ** decimals);
  if (decimals < 0 || decimals > 127 || Math.abs(mantissa) >= 0x7ffffe) {
    throw new RangeError(`${value} with ${decimals} decimals does not fit a FLOAT-Type`);
  }
  return (((-decimals & 0xff) << 24) | (mantissa & 0xffffff)) >>> 0;
}

/** Encodes a special FLOAT-Type marker with exponent 0. */
export function encodeFloatSpecial(mantissa: number): number {
  return mantissa & 0xffffff;
}

/**
 * Formats the 8-byte BCD AbsoluteTime (century, year, month, day, hour, minute, second, 1/100 s)
 * as ISO-like local time text, such as "2024-01-01T12:00:00.00". Returns undefined for a time
 * the monitor has not set (any byte that is not two BCD digits, such as 0xFF).
 */
export function absoluteTimeText(bytes: Uint8Array): string | undefined {
  if (bytes.length !== 8) return undefined;
  let text = "";
  for (let index = 0; index < 8; index++) {
    const digits = bcdDigits[bytes[index] ?? 0xff];
    if (digits === undefined) return undefined;
    text += absoluteTimeSeparators[index] + digits;
  }
  return text;
}

/** The separator before each byte's two digits in the text of an AbsoluteTime. */
const absoluteTimeSeparators = ["", "", "-", "-", "T", ":", ":", "."];

/** The two digits of each BCD byte, from "00" to "99", or undefined for a byte that is not BCD. */
const bcdDigits: (string | undefined)[] = Array.from({ length: 256 }, (_, byte) =>
  byte >>> 4 > 9 || (byte & 0x0f) > 9 ? undefined : byte.toString(16).padStart(2, "0"),
);

/** Encodes a date as BCD AbsoluteTime, in UTC. */
export function encodeAbsoluteTime(date: Date): Buffer {
  const bcd = (value: number) => Number.parseInt(String(value).padStart(2, "0"), 16);
  const year = date.getUTCFullYear();
  return Buffer.from([
    bcd(Math.floor(year / 100)),
    bcd(year % 100),
    bcd(date.getUTCMonth() + 1),
    bcd(date.getUTCDate()),
    bcd(date.getUTCHours()),
    bcd(date.getUTCMinutes()),
    bcd(date.getUTCSeconds()),
    bcd(Math.floor(date.getUTCMilliseconds() / 10)),
  ]);
}
