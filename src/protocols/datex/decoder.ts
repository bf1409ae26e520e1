/**
 * Pure decoder of the S/5 Computer Interface: one framed record in, device records out.
 *
 * - Physiological records: every displayed-values subrecord of the basic class becomes one
 *   numerics snapshot. A group whose "exists" bit is clear sends no values; a group that exists
 *   but is not active sends its values as absent. A value at or below -32001 is the monitor's
 *   marker for a value it cannot give and is passed on with absentReason, never as a number.
 *   Trend subrecords and the EXT1 to EXT3 classes are skipped.
 * - Wave records: every subrecord becomes one wave record of raw int16 samples.
 * - Every valid record also becomes a session event `response` with the record's main type
 *   as its command, so the session can tell that the monitor still transmits.
 */
import { GatewayError } from "../../errors.js";
import type { DecodeResult, DeviceRecord, RawValue } from "../types.js";
import {
  checksum,
  decodeHeader,
  FLAG,
  HEADER_BYTES,
  MainType,
  type RecordHeader,
  unstuff,
} from "./codec.js";
import {
  BASIC_CLASS,
  basicGroups,
  CLASS_BLOCK_OFFSET,
  CLASS_WORD_OFFSET,
  classOf,
  DATA_INVALID_LIMIT,
  ETCO2_PRESSURE_CODE,
  GroupStatus,
  invalidMarkers,
  PHYSIOLOGICAL_SUBRECORD_BYTES,
  WAVE_HEADER_BYTES,
  waveCode,
} from "./layout.js";
import { PhysiologicalType } from "./requests.js";

/** Thrown inside the decoder and returned as a DECODE_INVALID result. */
class InvalidRecord extends Error {}

/**
 * Removes flags and stuffing and checks the checksum and the header's length. Returns the
 * record without its checksum, or the error. The simulated monitor reads requests with it too.
 */
export function openFrame(
  frame: Buffer,
): { ok: true; record: Buffer } | { ok: false; error: GatewayError } {
  if (frame.length < 3 || frame[0] !== FLAG || frame[frame.length - 1] !== FLAG) {
    return invalid(
      `S/5 frame must start and end with the flag 0x7E and hold at least one byte ` +
        `(got ${frame.length} bytes); check the framer feeding this decoder`,
    );
  }
  const unstuffed = unstuff(frame.subarray(1, frame.length - 1));
  if (typeof unstuffed === "string") {
    return invalid(`S/5 frame stuffing is broken: ${unstuffed}; check the cable and the parity`);
  }
  if (unstuffed.length < HEADER_BYTES + 1) {
    return invalid(
      `S/5 record is ${unstuffed.length - 1} bytes, shorter than its ${HEADER_BYTES}-byte ` +
        `header; check the cable and the parity`,
    );
  }
  const record = unstuffed.subarray(0, unstuffed.length - 1);
  const expected = checksum(record);
  const received = unstuffed[unstuffed.length - 1] ?? 0;
  if (expected !== received) {
    return {
      ok: false,
      error: new GatewayError(
        "FRAME_CHECKSUM",
        `S/5 checksum of a ${record.length}-byte record is invalid: expected 0x${hex(expected)}, ` +
          `received 0x${hex(received)}; check the cable, the baud rate and the parity`,
      ),
    };
  }
  const length = record.readUInt16LE(0);
  if (length !== record.length) {
    return invalid(
      `S/5 record header gives a length of ${length} bytes, but the frame holds ` +
        `${record.length}; check the cable and the flow control (RTS/CTS)`,
    );
  }
  return { ok: true, record };
}

export function decodeDatexFrame(frame: Buffer): DecodeResult {
  const opened = openFrame(frame);
  if (!opened.ok) return opened;
  const header = decodeHeader(opened.record);
  try {
    const records = decodeRecord(opened.record, header);
    records.push({
      kind: "session",
      event: { type: "response", command: header.mainType, driLevel: header.driLevel },
    });
    return { ok: true, records };
  } catch (error) {
    if (error instanceof InvalidRecord) return invalid(error.message);
    throw error;
  }
}

function decodeRecord(record: Buffer, header: RecordHeader): DeviceRecord[] {
  switch (header.mainType) {
    case MainType.physiological:
      return header.subrecords.flatMap((descriptor) => {
        if (descriptor.type !== PhysiologicalType.displayed) return [];
        const subrecord = subrecordAt(record, descriptor.offset, PHYSIOLOGICAL_SUBRECORD_BYTES);
        return decodeDisplayed(subrecord);
      });
    case MainType.wave:
      return header.subrecords.map((descriptor) => decodeWave(record, descriptor, header.time));
    default:
      // Alarm, network and other records carry nothing the gateway publishes yet.
      return [];
  }
}

function subrecordAt(record: Buffer, offset: number, length: number): Buffer {
  const start = HEADER_BYTES + offset;
  if (offset < 0 || start + length > record.length) {
    throw new InvalidRecord(
      `S/5 subrecord at offset ${offset} needs ${length} bytes, but the ${record.length}-byte ` +
        `record ends before that; check the monitor's interface level`,
    );
  }
  return record.subarray(start, start + length);
}

function decodeDisplayed(subrecord: Buffer): DeviceRecord[] {
  if (classOf(subrecord.readUInt16LE(CLASS_WORD_OFFSET)) !== BASIC_CLASS) return [];
  const block = subrecord.subarray(CLASS_BLOCK_OFFSET);
  const values: RawValue[] = [];
  for (const group of basicGroups) {
    const status = group.hasHeader
      ? block.readUInt32LE(group.offset)
      : GroupStatus.exists | GroupStatus.active;
    if ((status & GroupStatus.exists) === 0) continue;
    const active = (status & GroupStatus.active) !== 0;
    for (const [field, offset] of group.fields) {
      const raw = block.readInt16LE(group.offset + offset);
      values.push(rawValue(`${group.name}.${field}`, raw, active));
    }
  }
  const etco2 = etco2Pressure(values);
  if (etco2 !== undefined) values.push(etco2);
  const time = subrecord.readUInt32LE(0);
  return [{ kind: "numerics", values, deviceTime: deviceTimeText(time), snapshot: true }];
}

function rawValue(deviceCode: string, raw: number, active: boolean): RawValue {
  if (!active) return { deviceCode, text: "", absentReason: "absent" };
  if (raw <= DATA_INVALID_LIMIT) {
    // Markers the specification does not name are still markers, and not numbers.
    const reason = invalidMarkers.get(raw)?.reason ?? "invalid";
    return { deviceCode, text: String(raw), absentReason: reason };
  }
  return { deviceCode, text: String(raw) };
}

/** Derives EtCO2 as a partial pressure from co2.et and co2.amb_press (see layout.ts). */
function etco2Pressure(values: readonly RawValue[]): RawValue | undefined {
  const et = values.find((value) => value.deviceCode === "co2.et");
  const ambient = values.find((value) => value.deviceCode === "co2.amb_press");
  if (et === undefined || ambient === undefined) return undefined;
  const marked = et.absentReason === undefined ? ambient : et;
  if (marked.absentReason !== undefined) {
    return { deviceCode: ETCO2_PRESSURE_CODE, text: "", absentReason: marked.absentReason };
  }
  return { deviceCode: ETCO2_PRESSURE_CODE, text: String(Number(et.text) * Number(ambient.text)) };
}

function decodeWave(
  record: Buffer,
  descriptor: { offset: number; type: number },
  time: number,
): DeviceRecord {
  const head = subrecordAt(record, descriptor.offset, WAVE_HEADER_BYTES);
  const count = head.readInt16LE(0);
  if (count < 0) {
    throw new InvalidRecord(
      `S/5 wave subrecord of type ${descriptor.type} gives ${count} samples; ` +
        `check the cable and the parity`,
    );
  }
  const body = subrecordAt(record, descriptor.offset, WAVE_HEADER_BYTES + count * 2);
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    samples.push(body.readInt16LE(WAVE_HEADER_BYTES + index * 2));
  }
  return {
    kind: "wave",
    deviceCode: waveCode(descriptor.type),
    samples,
    deviceTime: deviceTimeText(time),
  };
}

/**
 * Formats the monitor's clock as ISO 8601 without a zone. NOTE: public sources do not say
 * whether the monitor's seconds count local time or UTC, so no zone is claimed.
 */
function deviceTimeText(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19);
}

function invalid(message: string): { ok: false; error: GatewayError } {
  return { ok: false, error: new GatewayError("DECODE_INVALID", message) };
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, "0");
}
