/** Builders of Nonin packets for the family's tests, from the codec's own encoders. */
import {
  encodeFrame,
  FIRMWARE_FRAME,
  packetValues,
  splitHeartRate,
  STAT2_FRAME,
  STATUS_MARK,
  STATUS_SYNC,
} from "../../../src/protocols/nonin/codec.js";
import { noninProfileSchema, type NoninProfile } from "../../../src/protocols/nonin/schema.js";

export interface PacketOptions {
  heartRate?: number;
  spo2?: number;
  /** STATUS flag bits set in every frame. */
  status?: number;
  /** STATUS flag bits set in one frame only: [frame number, bits]. */
  statusInFrame?: [number, number];
  stat2?: number;
  firmware?: number;
}

/** Returns the 25 frames of a format 2 or 7 packet, one Buffer each. */
export function packetFrames(format: 2 | 7, options: PacketOptions = {}): Buffer[] {
  const data = new Array<number>(25).fill(0);
  const [high, low] = splitHeartRate(options.heartRate ?? 72);
  for (const value of packetValues) {
    const [first = 1, second = 1] = value.frames;
    if (value.kind === "heartRate") {
      data[first - 1] = high;
      data[second - 1] = low;
    } else {
      data[first - 1] = options.spo2 ?? 97;
    }
  }
  data[FIRMWARE_FRAME - 1] = options.firmware ?? 42;
  if (format === 7) data[STAT2_FRAME - 1] = options.stat2 ?? 0;
  return data.map((byte, index) => {
    const [frameNumber, bits] = options.statusInFrame ?? [0, 0];
    const extra = frameNumber === index + 1 ? bits : 0;
    const status = STATUS_MARK | (index === 0 ? STATUS_SYNC : 0) | (options.status ?? 0) | extra;
    return encodeFrame(format, status, 0x4000 + index * 0x100, byte);
  });
}

export function packet(format: 2 | 7, options: PacketOptions = {}): Buffer {
  return Buffer.concat(packetFrames(format, options));
}

/** Returns a format 8 record. */
export function record(heartRate: number, spo2: number, status = 0, status2 = 0): Buffer {
  const [high, low] = splitHeartRate(heartRate);
  return Buffer.from([STATUS_MARK | status | high, low, spo2, status2]);
}

/** Returns a minimal valid profile of a format, with HR and SPO2 mapped. */
export function noninProfile(
  format: 2 | 7 | 8,
  extra: { fields?: unknown; framing?: unknown; session?: unknown } = {},
): NoninProfile {
  return noninProfileSchema.parse({
    id: `test-nonin-df${format}`,
    version: "1.0.0",
    name: "test",
    manufacturer: "test",
    model: "test",
    firmware: "any",
    family: "nonin",
    serial: { baudRate: 9600 },
    quietTimeMs: 5000,
    maxFrameBytes: 128,
    framing: { format, ...(extra.framing as object) },
    fields: extra.fields ?? {},
    session: extra.session ?? {},
    measurements: {
      HR: { mdcCode: 149530, mdcRefId: "MDC_PULS_OXIM_PULS_RATE", unit: "/min" },
      SPO2: { mdcCode: 150456, mdcRefId: "MDC_PULS_OXIM_SAT_O2", unit: "%" },
    },
    testVectors: [{ name: "unused", hex: "00", expect: {} }],
  });
}
