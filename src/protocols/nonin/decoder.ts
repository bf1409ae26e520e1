/**
 * Decoder of the Nonin family: one packet from the framer becomes a numerics snapshot, a
 * snapshot of the status alarms the profile names and, in formats 2 and 7, the firmware
 * revision and the packet's 25 pleth samples (wave "PLETH"). A value equal to the profile's
 * missing-value marker is marked absent, with its number kept as text. The markers are
 * compared per kind of value, so a heart rate of 127 is a number and only a saturation of 127
 * is absent.
 */
import { GatewayError } from "../../errors.js";
import type { DecodeResult, Decoder, DeviceRecord, RawAlarm, RawValue } from "../types.js";
import {
  checksumMatches,
  FIRMWARE_FRAME,
  formatLayouts,
  frameChecksum,
  hasFrameShape,
  hexOf,
  joinHeartRate,
  packetBytes,
  packetValues,
  STAT2_FRAME,
  startsPacket,
  statusOf,
  type NoninFormat,
} from "./codec.js";
import type { NoninProfile } from "./schema.js";

type BitMeaning = NoninProfile["fields"]["statusBits"][string];

interface Context {
  format: NoninFormat;
  frameBytes: number;
  missing: { heartRate: number; spo2: number };
  statusBits: [number, BitMeaning][];
  status2Bits: [number, BitMeaning][];
}

export function createNoninDecoder(profile: NoninProfile): Decoder {
  const toBits = (bits: Record<string, BitMeaning>) =>
    Object.entries(bits).map(([mask, meaning]) => [Number(mask), meaning] as [number, BitMeaning]);
  const context: Context = {
    format: profile.framing.format,
    frameBytes: formatLayouts[profile.framing.format].frameBytes,
    missing: { heartRate: profile.framing.missingHeartRate, spo2: profile.framing.missingSpo2 },
    statusBits: toBits(profile.fields.statusBits),
    status2Bits: toBits(profile.fields.status2Bits),
  };
  return (packet) => decodePacket(packet, context);
}

function decodePacket(packet: Buffer, context: Context): DecodeResult {
  const problem = shapeProblem(packet, context);
  if (problem !== undefined) return failure("DECODE_INVALID", problem);
  const frames = splitFrames(packet, context.frameBytes);
  const corrupt = frames.findIndex((frame) => !checksumMatches(context.format, frame));
  if (corrupt >= 0) {
    const frame = frames[corrupt] as Buffer;
    const expected = frameChecksum(frame).toString(16).padStart(2, "0");
    return failure(
      "FRAME_CHECKSUM",
      `frame ${corrupt + 1} of the packet has checksum 0x${(frame[4] ?? 0).toString(16).padStart(2, "0")}, ` +
        `but its first four bytes sum to 0x${expected} (frame ${hexOf(frame)}); ` +
        "the packet is skipped. Repeated errors point to noise on the cable or a wrong baud rate",
    );
  }
  return context.format === 8 ? decodeRecord(packet, context) : decodeFramePacket(frames, context);
}

/** Checks what the framer guarantees, so the decoder is safe on bytes from anywhere. */
function shapeProblem(packet: Buffer, context: Context): string | undefined {
  const size = packetBytes(context.format);
  if (packet.length !== size) {
    return `a format ${context.format} packet has ${size} bytes, but this one has ${packet.length}`;
  }
  const frames = splitFrames(packet, context.frameBytes);
  const bad = frames.findIndex(
    (frame, index) =>
      !hasFrameShape(context.format, frame) ||
      startsPacket(context.format, frame) !== (index === 0),
  );
  if (bad < 0) return undefined;
  return (
    `frame ${bad + 1} of the packet lacks the fixed bits of format ${context.format} ` +
    `(got ${hexOf(frames[bad] as Buffer)}); check that the device sends the profile's format`
  );
}

function splitFrames(packet: Buffer, frameBytes: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < packet.length; at += frameBytes) {
    frames.push(packet.subarray(at, at + frameBytes));
  }
  return frames;
}

function decodeFramePacket(frames: Buffer[], context: Context): DecodeResult {
  const data = (frameNumber: number) => frames[frameNumber - 1]?.[3] ?? 0;
  const values: RawValue[] = packetValues.map(({ deviceCode, kind, frames: numbers }) => {
    const raw =
      kind === "heartRate"
        ? joinHeartRate(data(numbers[0] ?? 0), data(numbers[1] ?? 0))
        : data(numbers[0] ?? 0);
    return rawValue(deviceCode, raw, kind, context);
  });
  let status = 0;
  for (const frame of frames) status |= statusOf(context.format, frame);
  const status2 = context.format === 7 ? data(STAT2_FRAME) : 0;
  const records: DeviceRecord[] = [
    { kind: "numerics", values, snapshot: true },
    { kind: "wave", deviceCode: "PLETH", samples: frames.map((f) => plethOf(context.format, f)) },
    { kind: "identity", firmware: String(data(FIRMWARE_FRAME)) },
  ];
  return { ok: true, records: withAlarms(records, status, status2, context) };
}

/** Decodes a format 8 record: STATUS, HR low bits, SpO2, STATUS2. */
function decodeRecord(record: Buffer, context: Context): DecodeResult {
  const status = record[0] ?? 0;
  const values: RawValue[] = [
    rawValue("HR", joinHeartRate(status, record[1] ?? 0), "heartRate", context),
    rawValue("SPO2", record[2] ?? 0, "spo2", context),
  ];
  const records: DeviceRecord[] = [{ kind: "numerics", values, snapshot: true }];
  return { ok: true, records: withAlarms(records, status, record[3] ?? 0, context) };
}

function rawValue(
  deviceCode: string,
  raw: number,
  kind: "heartRate" | "spo2",
  context: Context,
): RawValue {
  const value: RawValue = { deviceCode, text: String(raw) };
  if (raw === context.missing[kind]) value.absentReason = "absent";
  return value;
}

/** Returns the pleth sample of a frame: one byte in format 2, two (high byte first) in format 7. */
function plethOf(format: NoninFormat, frame: Buffer): number {
  return format === 2 ? (frame[2] ?? 0) : ((frame[1] ?? 0) << 8) | (frame[2] ?? 0);
}

/** Adds the alarm snapshot when the profile names status bits, so a cleared bit clears. */
function withAlarms(
  records: DeviceRecord[],
  status: number,
  status2: number,
  context: Context,
): DeviceRecord[] {
  if (context.statusBits.length === 0 && context.status2Bits.length === 0) return records;
  const alarms: RawAlarm[] = [
    ...setBits(status, context.statusBits),
    ...setBits(status2, context.status2Bits),
  ];
  return [...records, { kind: "alarms", alarms, snapshot: true }];
}

function setBits(byte: number, bits: [number, BitMeaning][]): RawAlarm[] {
  return bits
    .filter(([mask]) => (byte & mask) !== 0)
    .map(([, meaning]) => {
      const alarm: RawAlarm = { deviceCode: meaning.code, text: meaning.text };
      if (meaning.priority !== undefined) alarm.priority = meaning.priority;
      return alarm;
    });
}

function failure(code: "FRAME_CHECKSUM" | "DECODE_INVALID", message: string): DecodeResult {
  return { ok: false, error: new GatewayError(code, message) };
}
