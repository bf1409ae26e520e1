/**
 * The host's requests to an S/5 monitor: the displayed-values request (periodic transmission of
 * the physiological database) and the waveform request. Each is one record with one subrecord
 * of type 0, the transmission request, framed like every other record.
 */
import { buildRecord, decodeHeader, HEADER_BYTES, MainType } from "./codec.js";

/** Subrecord type of a request (DRI_PH_XMT_REQ, and DRI_WF_CMD for waves). */
export const REQUEST_SUBRECORD_TYPE = 0;

/** Physiological subrecord types (phdb_rcrd_type). Only displayed values are decoded. */
export const PhysiologicalType = { displayed: 1, trend10s: 2, trend60s: 3, aux: 4 } as const;

/**
 * Class bits of the displayed-values request. A clear bit 0 requests the basic class, which is
 * the only class the decoder reads, so the session sends 0.
 */
export const PhysiologicalClassBits = { denyBasic: 0x1, ext1: 0x2, ext2: 0x4, ext3: 0x8 } as const;

/** Body of the displayed-values request: type, int16 interval, uint32 class bits, int16 zero. */
const DISPLAYED_REQUEST_BODY_BYTES = 9;

/** Waveform request commands (req_type). */
export const WaveCommand = { start: 0, stop: 1 } as const;

/**
 * Body of the waveform request: int16 command, int16 zero, 8 wave-type bytes (0xFF after the
 * last type) and 10 reserved int16. NOTE: the byte layout after the command is inferred from a
 * public host header, not from the specification itself.
 */
const WAVE_REQUEST_BODY_BYTES = 32;
export const MAX_REQUESTED_WAVES = 8;

export interface DisplayedRequest {
  kind: "displayed";
  driLevel: number;
  /** Transmission interval in seconds; 0 stops the transmission. */
  intervalS: number;
  classBits: number;
}

export interface WaveRequest {
  kind: "wave";
  driLevel: number;
  command: number;
  /** Wave type numbers, such as 1 for ECG1. */
  waveTypes: number[];
}

export type HostRequest = DisplayedRequest | WaveRequest;

const requestHeader = (driLevel: number, mainType: number) => ({
  recordNumber: 0,
  driLevel,
  plugId: 0,
  time: 0,
  mainType,
});

/** Encodes the displayed-values request record (unframed). */
export function encodeDisplayedRequest(request: Omit<DisplayedRequest, "kind">): Buffer {
  const body = Buffer.alloc(DISPLAYED_REQUEST_BODY_BYTES);
  body.writeUInt8(PhysiologicalType.displayed, 0);
  body.writeInt16LE(request.intervalS, 1);
  body.writeUInt32LE(request.classBits, 3);
  return buildRecord(requestHeader(request.driLevel, MainType.physiological), [
    { type: REQUEST_SUBRECORD_TYPE, bytes: body },
  ]);
}

/** Encodes the waveform request record (unframed). */
export function encodeWaveRequest(request: Omit<WaveRequest, "kind">): Buffer {
  if (request.waveTypes.length > MAX_REQUESTED_WAVES) {
    throw new RangeError(
      `a waveform request names at most ${MAX_REQUESTED_WAVES} waves, not ${request.waveTypes.length}`,
    );
  }
  const body = Buffer.alloc(WAVE_REQUEST_BODY_BYTES);
  body.writeInt16LE(request.command, 0);
  body.fill(0xff, 4, 4 + MAX_REQUESTED_WAVES);
  request.waveTypes.forEach((type, index) => body.writeUInt8(type, 4 + index));
  return buildRecord(requestHeader(request.driLevel, MainType.wave), [
    { type: REQUEST_SUBRECORD_TYPE, bytes: body },
  ]);
}

/**
 * Parses a request record, as the simulated monitor receives it. Returns undefined for a record
 * that is not one of the two requests, or too short for its body.
 */
export function parseRequest(record: Buffer): HostRequest | undefined {
  if (record.length < HEADER_BYTES) return undefined;
  const header = decodeHeader(record);
  const first = header.subrecords[0];
  if (first?.type !== REQUEST_SUBRECORD_TYPE) return undefined;
  const body = record.subarray(HEADER_BYTES + first.offset);
  if (header.mainType === MainType.physiological) {
    if (body.length < DISPLAYED_REQUEST_BODY_BYTES) return undefined;
    if (body.readUInt8(0) !== PhysiologicalType.displayed) return undefined;
    return {
      kind: "displayed",
      driLevel: header.driLevel,
      intervalS: body.readInt16LE(1),
      classBits: body.readUInt32LE(3),
    };
  }
  if (header.mainType === MainType.wave) {
    if (body.length < WAVE_REQUEST_BODY_BYTES) return undefined;
    const waveTypes: number[] = [];
    for (let index = 0; index < MAX_REQUESTED_WAVES; index++) {
      const type = body.readUInt8(4 + index);
      if (type === 0xff) break;
      waveTypes.push(type);
    }
    return { kind: "wave", driLevel: header.driLevel, command: body.readInt16LE(0), waveTypes };
  }
  return undefined;
}
