/**
 * MEDIBUS message layout, checksum and command codes, from the Dräger "RS 232 MEDIBUS Protocol
 * Definition", Rev. 6.00. A command is `ESC code [arguments] chk1 chk2 CR` and a response is
 * `SOH code [data] chk1 chk2 CR`, where the response echoes the command code. Either side may
 * send commands, and each side must answer the other's.
 */

import { sum8 as checksum, sum8Text as checksumText } from "../checksum.js";

/** Starts a command. */
export const ESC = 0x1b;
/** Starts a response. */
export const SOH = 0x01;
/** Ends every command and response. */
export const CR = 0x0d;
/** XON (resume sending), from the protocol's software handshake. */
export const DC1 = 0x11;
/** XOFF (suspend sending), from the protocol's software handshake. */
export const DC3 = 0x13;
/**
 * Realtime (waveform) bytes have bit 7 set. Slow data is 7-bit ASCII, so a receiver can
 * separate the two streams byte by byte, even inside a slow message.
 */
export const REALTIME_BIT = 0x80;

/** Maximum argument or data bytes in one message. */
export const MAX_DATA_BYTES = 251;

/** Start byte, code, two checksum characters and CR: the size of a message without data. */
export const MIN_MESSAGE_BYTES = 5;

/** MEDIBUS command codes, as sent after ESC and echoed after SOH. */
export const Command = {
  /** Response code a receiver sends for a command whose checksum failed. */
  corrupt: 0x15,
  /** Current alarms, codepage 3. */
  alarmsCp3: 0x23,
  /** Current measured data, codepage 1. */
  measuredDataCp1: 0x24,
  /** Current low alarm limits, codepage 1. */
  lowAlarmLimitsCp1: 0x25,
  /** Current high alarm limits, codepage 1. */
  highAlarmLimitsCp1: 0x26,
  /** Current alarms, codepage 1. */
  alarmsCp1: 0x27,
  dateTime: 0x28,
  deviceSettings: 0x29,
  textMessages: 0x2a,
  /** Current measured data, codepage 2. */
  measuredDataCp2: 0x2b,
  lowAlarmLimitsCp2: 0x2c,
  highAlarmLimitsCp2: 0x2d,
  alarmsCp2: 0x2e,
  /** No operation: the keep-alive that resets the peer's 3 s pause time-out. */
  nop: 0x30,
  /** Sent by the device after its clock was set. */
  timeChanged: 0x49,
  configureDataResponse: 0x4a,
  /** Initialize Communication (ICC): starts or restarts a session. */
  icc: 0x51,
  /** Request device identification. */
  deviceId: 0x52,
  realtimeConfig: 0x53,
  configureRealtime: 0x54,
  /** Stop communication: the sender ends the session. */
  stop: 0x55,
  realtimeConfigChanged: 0x56,
} as const;

/**
 * The MEDIBUS checksum: the sum of every byte from ESC or SOH through the last data byte,
 * modulo 256, sent as two upper-case hex digits. The caller passes exactly that range.
 */
export { checksum, checksumText };

/** Encodes `ESC code arguments chk CR`. */
export function encodeCommand(code: number, args: string | Uint8Array = ""): Buffer {
  return encodeMessage(ESC, code, args);
}

/** Encodes `SOH code data chk CR`. */
export function encodeResponse(code: number, data: string | Uint8Array = ""): Buffer {
  return encodeMessage(SOH, code, data);
}

/**
 * Encodes one message. Throws RangeError when the code or the data could not be framed,
 * because a start byte, CR or a byte with bit 7 set inside would split or corrupt the message
 * at the receiver.
 */
function encodeMessage(start: number, code: number, data: string | Uint8Array): Buffer {
  const body = typeof data === "string" ? Buffer.from(data, "latin1") : Buffer.from(data);
  if (!Number.isInteger(code) || code < 0 || code >= REALTIME_BIT || isFramingByte(code)) {
    throw new RangeError(`MEDIBUS command code 0x${code.toString(16)} is not a 7-bit code`);
  }
  if (body.length > MAX_DATA_BYTES) {
    throw new RangeError(
      `MEDIBUS data is ${body.length} bytes, more than the ${MAX_DATA_BYTES} a message may carry`,
    );
  }
  const bad = body.findIndex((byte) => byte >= REALTIME_BIT || isFramingByte(byte));
  if (bad >= 0) {
    throw new RangeError(`MEDIBUS data byte ${bad} is 0x${body[bad]?.toString(16)}, not slow data`);
  }
  const head = Buffer.concat([Buffer.from([start, code]), body]);
  return Buffer.concat([
    head,
    Buffer.from(checksumText(checksum(head)), "ascii"),
    Buffer.from([CR]),
  ]);
}

function isFramingByte(byte: number): boolean {
  return byte === ESC || byte === SOH || byte === CR;
}
