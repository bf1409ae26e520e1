/**
 * Record layout, byte stuffing and checksum of the GE/Datex-Ohmeda S/5 Computer Interface
 * ("Datex Record Interface"), as open-source host implementations of the Datex-Ohmeda "S/5
 * Computer Interface Specification" read it. The specification itself was not available.
 *
 * A frame is `0x7E`, the stuffed bytes of one record and its checksum, then `0x7E`. Stuffing
 * sends 0x7E and 0x7D as 0x7D followed by the byte XOR 0x20. The checksum is the 8-bit sum of
 * the unstuffed record bytes, and it is stuffed like any other byte, because a checksum of 0x7E
 * sent plain would read as the closing flag. Multi-byte fields are little-endian.
 */

/** Opens and closes every frame. */
export const FLAG = 0x7e;
/** Precedes a stuffed byte. */
export const ESCAPE = 0x7d;
/** A stuffed byte is the original XOR this mask. */
export const ESCAPE_MASK = 0x20;

/** Bytes of the record header that starts every record. */
export const HEADER_BYTES = 40;
/** Subrecord descriptors in the header, 3 bytes each: int16 offset and uint8 type. */
export const MAX_SUBRECORDS = 8;
/** Subrecord type that ends the descriptor list. */
export const END_OF_SUBRECORDS = 0xff;
/** Largest record host implementations buffer: the header and 1450 bytes of subrecords. */
export const MAX_RECORD_BYTES = HEADER_BYTES + 1450;

/** Values of the header's r_maintype. */
export const MainType = {
  /** Physiological database: displayed values and trends. */
  physiological: 0,
  wave: 1,
  alarm: 4,
} as const;

/** Interface levels by the header's r_dri_level value: 9 is the 2005 software level. */
export const DriLevel = { level2005: 9, level2003: 8, level2001: 7 } as const;

/** A subrecord descriptor; `offset` counts from the end of the header. */
export interface SubrecordDescriptor {
  offset: number;
  type: number;
}

export interface RecordHeader {
  /** r_len: the record's length in bytes, header included. */
  length: number;
  /** r_nbr: a record number the monitor counts up. */
  recordNumber: number;
  driLevel: number;
  plugId: number;
  /** r_time: the monitor clock in seconds since 1970. */
  time: number;
  mainType: number;
  /** The descriptors before the END_OF_SUBRECORDS terminator. */
  subrecords: SubrecordDescriptor[];
}

/** Sums `bytes` modulo 256. */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) & 0xff;
  return sum;
}

/** Frames one record: appends its checksum, stuffs record and checksum, and adds both flags. */
export function encodeFrame(record: Uint8Array): Buffer {
  return stuffFrame(Buffer.concat([record, Buffer.of(checksum(record))]));
}

/** Stuffs `body` (a record and a checksum byte) and adds both flags. */
export function stuffFrame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(body.length * 2 + 2);
  let length = 0;
  out[length++] = FLAG;
  for (const byte of body) {
    if (byte === FLAG || byte === ESCAPE) {
      out[length++] = ESCAPE;
      out[length++] = byte ^ ESCAPE_MASK;
    } else {
      out[length++] = byte;
    }
  }
  out[length++] = FLAG;
  return out.subarray(0, length);
}

/**
 * Removes the stuffing from the bytes between the flags. Returns an error text for an escape
 * byte at the end, because the byte it stood for is lost.
 */
export function unstuff(stuffed: Uint8Array): Buffer | string {
  const out = Buffer.alloc(stuffed.length);
  let length = 0;
  for (let index = 0; index < stuffed.length; index++) {
    const byte = stuffed[index] ?? 0;
    if (byte !== ESCAPE) {
      out[length++] = byte;
      continue;
    }
    const next = stuffed[index + 1];
    if (next === undefined) return "the escape byte 0x7D is the last byte before the flag";
    out[length++] = next ^ ESCAPE_MASK;
    index++;
  }
  return out.subarray(0, length);
}

/** Writes the 40-byte header. Unused descriptors after the terminator stay zero. */
export function encodeHeader(header: RecordHeader): Buffer {
  if (header.subrecords.length >= MAX_SUBRECORDS) {
    throw new RangeError(
      `a record has room for ${MAX_SUBRECORDS - 1} subrecords and a terminator, ` +
        `not ${header.subrecords.length}`,
    );
  }
  const bytes = Buffer.alloc(HEADER_BYTES);
  bytes.writeUInt16LE(header.length, 0);
  bytes.writeUInt8(header.recordNumber & 0xff, 2);
  bytes.writeUInt8(header.driLevel, 3);
  bytes.writeUInt16LE(header.plugId, 4);
  bytes.writeUInt32LE(header.time >>> 0, 6);
  bytes.writeInt16LE(header.mainType, 14);
  header.subrecords.forEach((descriptor, index) => {
    bytes.writeInt16LE(descriptor.offset, 16 + index * 3);
    bytes.writeUInt8(descriptor.type, 18 + index * 3);
  });
  bytes.writeUInt8(END_OF_SUBRECORDS, 18 + header.subrecords.length * 3);
  return bytes;
}

/** Reads the header of a record of at least HEADER_BYTES bytes. */
export function decodeHeader(record: Buffer): RecordHeader {
  const subrecords: SubrecordDescriptor[] = [];
  for (let index = 0; index < MAX_SUBRECORDS; index++) {
    const type = record.readUInt8(18 + index * 3);
    if (type === END_OF_SUBRECORDS) break;
    subrecords.push({ offset: record.readInt16LE(16 + index * 3), type });
  }
  return {
    length: record.readUInt16LE(0),
    recordNumber: record.readUInt8(2),
    driLevel: record.readUInt8(3),
    plugId: record.readUInt16LE(4),
    time: record.readUInt32LE(6),
    mainType: record.readInt16LE(14),
    subrecords,
  };
}

/** Builds a record from its main type and subrecord bodies, laid out back to back. */
export function buildRecord(
  fields: Omit<RecordHeader, "length" | "subrecords">,
  bodies: { type: number; bytes: Uint8Array }[],
): Buffer {
  const subrecords: SubrecordDescriptor[] = [];
  let offset = 0;
  for (const body of bodies) {
    subrecords.push({ offset, type: body.type });
    offset += body.bytes.length;
  }
  const length = HEADER_BYTES + offset;
  const header = encodeHeader({ ...fields, length, subrecords });
  return Buffer.concat([header, ...bodies.map((body) => body.bytes)]);
}
