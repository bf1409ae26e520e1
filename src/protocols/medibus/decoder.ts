/**
 * Pure MEDIBUS frame decoder: one `ESC … CR` or `SOH … CR` frame in, device records out.
 * Payload layouts follow the Dräger "RS 232 MEDIBUS Protocol Definition", Rev. 6.00:
 *
 * - measured data: 6-character groups of a 2-digit hex data code and a 4-character value;
 * - alarms: 15-character groups of a priority digit, a 2-digit hex alarm code and a
 *   12-character alarm phrase;
 * - device identification: a 4-character id number, the device name in apostrophes and a
 *   revision such as `01.03:06.00`, whose part after the colon is the MEDIBUS version.
 *
 * Only codepage 1 data and alarms become numerics and alarms records (see pollRequests in
 * schema.ts). Every other response becomes a session event only.
 */
import { GatewayError } from "../../errors.js";
import type { DecodeResult, DeviceRecord, RawAlarm, RawValue } from "../types.js";
import { checksum, checksumText, Command, CR, ESC, MIN_MESSAGE_BYTES, SOH } from "./codec.js";

const MEASURED_GROUP_CHARS = 6;
const ALARM_GROUP_CHARS = 15;
const MAX_NAME_CHARS = 32;
const MAX_REVISION_CHARS = 16;
/** Maximum length of a bad value quoted in an error message. */
const MAX_QUOTED_CHARS = 40;

const hexCodePattern = /^[0-9A-F]{2}$/;
const printablePattern = /^[\x20-\x7e]*$/;

/** Thrown inside the decoder and returned as a DECODE_INVALID result. */
class InvalidPayload extends Error {}

export function decodeMedibusFrame(frame: Buffer): DecodeResult {
  const framingError = checkFraming(frame);
  if (framingError !== undefined) return invalid(framingError);

  const checksumError = checkChecksum(frame);
  if (checksumError !== undefined) return { ok: false, error: checksumError };

  const code = frame[1] ?? 0;
  const body = frame.subarray(2, frame.length - 3);
  if (frame[0] === ESC) {
    const payload = Buffer.from(body);
    return ok([{ kind: "session", event: { type: "command", command: code, payload } }]);
  }
  if (code === Command.corrupt) {
    return ok([{ kind: "session", event: { type: "rejected", command: code } }]);
  }
  try {
    const records = decodeResponseData(code, body.toString("latin1"));
    records.push({ kind: "session", event: { type: "response", command: code } });
    return ok(records);
  } catch (error) {
    if (error instanceof InvalidPayload) return invalid(error.message);
    throw error;
  }
}

function checkFraming(frame: Buffer): string | undefined {
  const start = frame[0];
  if (frame.length < MIN_MESSAGE_BYTES) {
    return (
      `MEDIBUS frame is ${frame.length} bytes, shorter than the ${MIN_MESSAGE_BYTES} bytes of a ` +
      `message without data (got ${quote(frame)}); check the framer feeding this decoder`
    );
  }
  if ((start !== ESC && start !== SOH) || frame[frame.length - 1] !== CR) {
    return (
      `MEDIBUS frame must start with ESC or SOH and end with CR (got ${quote(frame)}); ` +
      `check the framer feeding this decoder`
    );
  }
  return undefined;
}

function checkChecksum(frame: Buffer): GatewayError | undefined {
  const expected = checksumText(checksum(frame.subarray(0, frame.length - 3)));
  const received = frame.subarray(frame.length - 3, frame.length - 1).toString("latin1");
  if (received === expected) return undefined;
  return new GatewayError(
    "FRAME_CHECKSUM",
    `MEDIBUS checksum of a ${describeFrame(frame)} is invalid: expected "${expected}", ` +
      `received ${quote(received)}; check the cable, the baud rate and the parity`,
  );
}

function decodeResponseData(code: number, data: string): DeviceRecord[] {
  switch (code) {
    case Command.measuredDataCp1:
      return [{ kind: "numerics", values: parseMeasuredData(data), snapshot: true }];
    case Command.alarmsCp1:
      return [{ kind: "alarms", alarms: parseAlarms(data), snapshot: true }];
    case Command.deviceId:
      return [parseDeviceId(data)];
    default:
      return [];
  }
}

function parseMeasuredData(data: string): RawValue[] {
  checkGroups("measured data", data, MEASURED_GROUP_CHARS);
  const values: RawValue[] = [];
  for (let offset = 0; offset < data.length; offset += MEASURED_GROUP_CHARS) {
    const group = data.slice(offset, offset + MEASURED_GROUP_CHARS);
    const field = `measured data group ${offset / MEASURED_GROUP_CHARS + 1}`;
    const deviceCode = checkHexCode(field, group.slice(0, 2));
    const text = checkPrintable(`${field} value`, group.slice(2));
    values.push({ deviceCode, text: text.trim() });
  }
  return values;
}

function parseAlarms(data: string): RawAlarm[] {
  checkGroups("alarms", data, ALARM_GROUP_CHARS);
  const alarms: RawAlarm[] = [];
  for (let offset = 0; offset < data.length; offset += ALARM_GROUP_CHARS) {
    const group = data.slice(offset, offset + ALARM_GROUP_CHARS);
    const field = `alarm group ${offset / ALARM_GROUP_CHARS + 1}`;
    const priority = group.slice(0, 1);
    if (!/^[0-9]$/.test(priority)) {
      throw new InvalidPayload(
        `MEDIBUS ${field} priority must be one decimal digit (got ${quote(priority)}); ` +
          `check that the response is an alarms response of codepage 1`,
      );
    }
    const deviceCode = checkHexCode(field, group.slice(1, 3));
    const text = checkPrintable(`${field} phrase`, group.slice(3)).trim();
    alarms.push({ deviceCode, priority: Number(priority), text });
  }
  return alarms;
}

function parseDeviceId(data: string): DeviceRecord {
  const match = /^(.{4})'([^']*)'(.*)$/s.exec(data);
  if (match === null) {
    throw new InvalidPayload(
      `MEDIBUS device identification must be a 4-character id number, the device name in ` +
        `apostrophes and a revision (got ${quote(data)}); check the device's MEDIBUS version`,
    );
  }
  const name = checkPrintable("device name", match[2] ?? "");
  const revision = checkPrintable("device revision", match[3] ?? "");
  checkLength("device name", name, MAX_NAME_CHARS);
  checkLength("device revision", revision, MAX_REVISION_CHARS);
  // NOTE: the 4-character id number is not published as serialNumber, because public sources
  // do not say whether it identifies the unit or only the device type.
  return { kind: "identity", model: name.trim(), firmware: revision.trim() };
}

function checkGroups(field: string, data: string, groupChars: number): void {
  if (data.length % groupChars === 0) return;
  throw new InvalidPayload(
    `MEDIBUS ${field} must be groups of ${groupChars} characters, but ${data.length} ` +
      `characters leave ${data.length % groupChars} over (got ${quote(data)}); ` +
      `check the frame capture for bytes lost or added inside the response`,
  );
}

function checkHexCode(field: string, code: string): string {
  if (hexCodePattern.test(code)) return code;
  throw new InvalidPayload(
    `MEDIBUS ${field} code must be two upper-case hex digits (got ${quote(code)}); ` +
      `check the frame capture for bytes lost inside the response`,
  );
}

function checkPrintable(field: string, text: string): string {
  if (printablePattern.test(text)) return text;
  throw new InvalidPayload(
    `MEDIBUS ${field} must be printable ASCII (got ${quote(text)}); ` +
      `check the frame capture for bytes lost inside the response`,
  );
}

function checkLength(field: string, text: string, maxChars: number): void {
  if (text.length > 0 && text.length <= maxChars) return;
  throw new InvalidPayload(
    `MEDIBUS ${field} must be 1 to ${maxChars} characters (got ${quote(text)}); ` +
      `check the device's MEDIBUS version`,
  );
}

function ok(records: DeviceRecord[]): DecodeResult {
  return { ok: true, records };
}

function invalid(message: string): DecodeResult {
  return { ok: false, error: new GatewayError("DECODE_INVALID", message) };
}

/** Names a frame for messages, such as "response 0x24" or "command 0x51". */
function describeFrame(frame: Buffer): string {
  const kind = frame[0] === ESC ? "command" : "response";
  return `${kind} 0x${(frame[1] ?? 0).toString(16).padStart(2, "0")}`;
}

/**
 * Quotes bytes or text for an error message: printable ASCII as is, other bytes as \xNN,
 * cut after MAX_QUOTED_CHARS characters so a flood of noise cannot make a huge log line.
 */
export function quote(value: string | Uint8Array): string {
  const text = typeof value === "string" ? value : Buffer.from(value).toString("latin1");
  let escaped = "";
  for (const char of text.slice(0, MAX_QUOTED_CHARS)) {
    const unit = char.charCodeAt(0);
    const plain = unit >= 0x20 && unit <= 0x7e && char !== '"' && char !== "\\";
    escaped += plain ? char : `\\x${unit.toString(16).padStart(2, "0")}`;
  }
  const more = text.length > MAX_QUOTED_CHARS ? `… (${text.length} characters)` : "";
  return `"${escaped}"${more}`;
}
