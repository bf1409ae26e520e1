/**
 * Decoder of the ascii-line family: one line of KEY=VALUE tokens becomes device records.
 *
 * Values are found by key, never by position, because firmware versions add keys: the Masimo
 * ASCII 1 lines quoted in remkolems/masimo-datacapture (BSD-2-Clause) come with and without
 * SPHB, SPOC, RESVD and EXC1. Whether a value is a number or absent is decided later, by the
 * profile's measurement mapping.
 */
import { GatewayError } from "../../errors.js";
import type { DecodeResult, Decoder, DeviceRecord, RawAlarm, RawValue } from "../types.js";
import { deviceTimeProblem } from "./device-time.js";
import {
  deviceTimeFormats,
  lineTerminators,
  parseBitMask,
  type AsciiLineProfile,
} from "./schema.js";

/** Maximum number of bytes an error message quotes, so a log line stays short. */
const maxShownBytes = 48;

interface Token {
  key: string;
  value: string;
}

type Step<T> = { ok: true; value: T } | { ok: false; error: GatewayError };

type BitField = AsciiLineProfile["fields"]["bitFields"][string];
type BitMeaning = BitField["bits"][string];

/** Lookups derived from the profile once, rather than for every line. */
interface Context {
  profile: AsciiLineProfile;
  terminator: Buffer;
  allowedBytes: Set<number>;
  absentPatterns: RegExp[];
  /** Known bits of each bit-field key, by mask. */
  knownBits: Map<string, Map<bigint, BitMeaning>>;
}

export function createAsciiLineDecoder(profile: AsciiLineProfile): Decoder {
  const context = createContext(profile);
  return (frame) => {
    const line = stripTerminator(frame, context.terminator);
    const badByte = line.findIndex((byte) => !context.allowedBytes.has(byte));
    if (badByte >= 0) return failure(nonPrintableMessage(line, badByte));

    const tokens = line.toString("latin1").split(profile.framing.tokenSeparator);
    const words = tokens.filter((token) => token !== "");
    const time = takeDeviceTime(words, profile);
    if (!time.ok) return time;
    const pairs = parsePairs(time.value.rest, profile, line);
    if (!pairs.ok) return pairs;
    return buildRecords(pairs.value, time.value.deviceTime, context);
  };
}

function createContext(profile: AsciiLineProfile): Context {
  const knownBits = new Map<string, Map<bigint, BitMeaning>>();
  for (const [key, field] of Object.entries(profile.fields.bitFields)) {
    const bits = Object.entries(field.bits).map(([mask, meaning]) => {
      return [parseBitMask(mask), meaning] as const;
    });
    knownBits.set(key, new Map(bits));
  }
  return {
    profile,
    terminator: Buffer.from(lineTerminators[profile.framing.terminator], "latin1"),
    allowedBytes: allowedByteSet(profile),
    absentPatterns: profile.absentPatterns.map((pattern) => new RegExp(pattern)),
    knownBits,
  };
}

/** Printable ASCII, plus the separators in case a profile uses a tab. */
function allowedByteSet(profile: AsciiLineProfile): Set<number> {
  const allowed = new Set<number>();
  for (let byte = 0x20; byte <= 0x7e; byte++) allowed.add(byte);
  const separators = profile.framing.tokenSeparator + profile.framing.keyValueSeparator;
  for (const byte of Buffer.from(separators, "latin1")) allowed.add(byte);
  return allowed;
}

function stripTerminator(frame: Buffer, terminator: Buffer): Buffer {
  const hasTerminator =
    frame.length >= terminator.length && frame.subarray(-terminator.length).equals(terminator);
  return hasTerminator ? frame.subarray(0, frame.length - terminator.length) : frame;
}

function takeDeviceTime(
  words: string[],
  profile: AsciiLineProfile,
): Step<{ deviceTime?: string; rest: string[] }> {
  const format = profile.fields.deviceTime?.format;
  if (format === undefined) return { ok: true, value: { rest: words } };
  const count = format.split(" ").length;
  const candidate = words.slice(0, count).join(" ");
  const required = profile.fields.deviceTime?.required === true;
  if (deviceTimeFormats[format].test(candidate)) {
    const problem = deviceTimeProblem(format, candidate);
    const rest = words.slice(count);
    if (problem === undefined) return { ok: true, value: { deviceTime: candidate, rest } };
    // The tokens are the time stamp's, so they are consumed even when the time is dropped.
    if (!required) return { ok: true, value: { rest } };
    return failure(
      `the device time stamp ${quote(candidate)} is not a valid ${format} date and time ` +
        `(${problem}); check the device clock or fields.deviceTime.format`,
    );
  }
  if (!required) return { ok: true, value: { rest: words } };
  return failure(
    `the device time stamp at the start of the line must have the form ${format} ` +
      `(got ${quote(candidate)}); a line cut short by lost bytes starts like this, ` +
      "otherwise check fields.deviceTime.format against the device manual",
  );
}

/** Parses KEY=VALUE tokens and skips a token without a key, such as a stray word. */
function parsePairs(words: string[], profile: AsciiLineProfile, line: Buffer): Step<Token[]> {
  const separator = profile.framing.keyValueSeparator;
  const pairs: Token[] = [];
  const seen = new Set<string>();
  for (const word of words) {
    const at = word.indexOf(separator);
    if (at <= 0) continue;
    const key = word.slice(0, at);
    if (seen.has(key)) {
      return failure(
        `key ${quote(key)} occurs twice in one line (got ${escapeBytes(line)}); ` +
          "the profile expects each key once per line, so check the serial settings and the cable",
      );
    }
    seen.add(key);
    pairs.push({ key, value: word.slice(at + separator.length) });
  }
  if (pairs.length > 0) return { ok: true, value: pairs };
  return failure(
    `the line must contain at least one KEY${separator}VALUE token (got ${escapeBytes(line)}); ` +
      "check that the device is set to the output format this profile describes",
  );
}

function buildRecords(
  pairs: Token[],
  deviceTime: string | undefined,
  context: Context,
): DecodeResult {
  const { serialNumberKey, bitFields, stripSuffixes } = context.profile.fields;
  const values: RawValue[] = [];
  const alarms: RawAlarm[] = [];
  let serialNumber: string | undefined;
  let hasBitField = false;
  const isAbsent = (value: string) => context.absentPatterns.some((pattern) => pattern.test(value));
  for (const { key, value } of pairs) {
    const bitField = bitFields[key];
    if (key === serialNumberKey) {
      if (!isAbsent(value)) serialNumber = value;
    } else if (bitField !== undefined) {
      // An absent bit field carries no information, so it neither raises nor clears alarms.
      if (isAbsent(value)) continue;
      const decoded = decodeBitField(key, value, bitField, context.knownBits.get(key));
      if (!decoded.ok) return decoded;
      alarms.push(...decoded.value);
      hasBitField = true;
    } else {
      values.push({ deviceCode: key, text: stripSuffix(value, stripSuffixes) });
    }
  }
  const records: DeviceRecord[] = [{ kind: "numerics", values, deviceTime, snapshot: true }];
  if (serialNumber !== undefined) records.push({ kind: "identity", serialNumber });
  if (hasBitField) records.push({ kind: "alarms", alarms, snapshot: true });
  return { ok: true, records };
}

function stripSuffix(value: string, suffixes: readonly string[]): string {
  const suffix = suffixes.find((candidate) => value.endsWith(candidate));
  return suffix === undefined ? value : value.slice(0, value.length - suffix.length);
}

/** Returns one alarm per set bit, lowest bit first, including bits the profile does not list. */
function decodeBitField(
  key: string,
  value: string,
  field: BitField,
  known: Map<bigint, BitMeaning> = new Map(),
): Step<RawAlarm[]> {
  if (!/^[0-9a-fA-F]{1,16}$/.test(value)) {
    return failure(
      `bit field ${key} must be 1 to 16 hex digits (got ${quote(value)}); ` +
        `check that ${key} is a hex bit field in the device manual, or remove it from ` +
        "fields.bitFields",
    );
  }
  const alarms: RawAlarm[] = [];
  const bits = BigInt(`0x${value}`);
  for (let bit = 1n; bit <= bits; bit <<= 1n) {
    if ((bits & bit) === 0n) continue;
    const meaning = known.get(bit);
    if (meaning === undefined) {
      alarms.push({ deviceCode: `${key}:0x${bit.toString(16)}`, text: field.unknownBitText });
    } else {
      const alarm: RawAlarm = { deviceCode: meaning.code, text: meaning.text };
      if (meaning.priority !== undefined) alarm.priority = meaning.priority;
      alarms.push(alarm);
    }
  }
  return { ok: true, value: alarms };
}

function nonPrintableMessage(line: Buffer, offset: number): string {
  const byte = (line[offset] ?? 0).toString(16).padStart(2, "0");
  return (
    `the line must be printable ASCII, but byte 0x${byte} at offset ${offset} is not ` +
    `(got ${escapeBytes(line)}); check the baud rate, parity and cable`
  );
}

function failure(message: string): { ok: false; error: GatewayError } {
  return { ok: false, error: new GatewayError("DECODE_INVALID", message) };
}

function quote(text: string): string {
  return escapeBytes(Buffer.from(text, "latin1"));
}

/**
 * Quotes bytes for a log line: printable ASCII as is, others as \xNN, at most maxShownBytes
 * of them, followed by how many were left out.
 */
export function escapeBytes(bytes: Buffer): string {
  let escaped = "";
  for (const byte of bytes.subarray(0, maxShownBytes)) {
    const char = String.fromCharCode(byte);
    if (char === '"' || char === "\\") escaped += `\\${char}`;
    else if (byte >= 0x20 && byte <= 0x7e) escaped += char;
    else escaped += `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  const omitted = bytes.length - maxShownBytes;
  return omitted > 0 ? `"${escaped}" and ${omitted} more bytes` : `"${escaped}"`;
}
