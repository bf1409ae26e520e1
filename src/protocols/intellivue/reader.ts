/** A bounds-checked big-endian reader over one frame's user data. */

/** Thrown when a field runs past its container; the decoder turns it into DECODE_INVALID. */
export class InvalidPayload extends Error {}

/**
 * A reader over one structure: bytes `start` to `end` of a frame. Nested structures share the
 * frame's Buffer, so a poll reply with hundreds of attributes makes no Buffer per attribute.
 * Names are formatted only into an error message, never for a structure that is whole.
 */
export class Reader {
  private offset: number;

  constructor(
    private readonly bytes: Buffer,
    /** Names the structure in error messages, such as "poll reply". */
    private readonly what: string,
    private readonly start = 0,
    private readonly end = bytes.length,
    /** The attribute id, for a reader over one attribute's value. */
    private readonly attributeId?: number,
  ) {
    this.offset = start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  u8(field: string): number {
    return this.bytes.readUInt8(this.advance(1, field));
  }

  u16(field: string): number {
    return this.bytes.readUInt16BE(this.advance(2, field));
  }

  u32(field: string): number {
    return this.bytes.readUInt32BE(this.advance(4, field));
  }

  take(length: number, field: string): Buffer {
    const start = this.advance(length, field);
    return this.bytes.subarray(start, start + length);
  }

  skip(length: number, field: string): void {
    this.advance(length, field);
  }

  /** Reads a u16 length and returns a reader over that many bytes. */
  counted(field: string, what = field): Reader {
    const length = this.u16(`${field} length`);
    const start = this.advance(length, field);
    return new Reader(this.bytes, what, start, start + length);
  }

  /** Reads a u16 length and returns a reader over the value of attribute `id`. */
  attributeValue(id: number): Reader {
    const length = this.u16("attribute length");
    if (length > this.remaining) this.fail(length, `attribute 0x${hex16(id)}`);
    const start = this.advance(length, "attribute");
    return new Reader(this.bytes, "attribute", start, start + length, id);
  }

  rest(): Buffer {
    return this.take(this.remaining, "rest");
  }

  /** Moves past `length` bytes and returns the offset they start at. */
  private advance(length: number, field: string): number {
    if (length > this.remaining) this.fail(length, field);
    const start = this.offset;
    this.offset += length;
    return start;
  }

  private fail(length: number, field: string): never {
    const what =
      this.attributeId === undefined ? this.what : `${this.what} 0x${hex16(this.attributeId)}`;
    throw new InvalidPayload(
      `IntelliVue ${what} field ${field} needs ${length} bytes at offset ` +
        `${this.offset - this.start}, but only ${this.remaining} remain; check the frame ` +
        `capture for a length field that does not match the data`,
    );
  }
}

/** Formats a 16-bit code as four uppercase hex digits, as the profiles' device codes are. */
export function hex16(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, "0");
}
