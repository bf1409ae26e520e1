/** A bounds-checked big-endian reader over one frame's user data. */

/** Thrown when a field runs past its container; the decoder turns it into DECODE_INVALID. */
export class InvalidPayload extends Error {}

export class Reader {
  private offset = 0;

  constructor(
    private readonly bytes: Buffer,
    /** Names the structure in error messages, such as "poll reply". */
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  // The numbers are read in place: a wave reply carries hundreds of samples, and a subarray per
  // sample was a Buffer object each.
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

  /** Moves past `length` bytes; returns the offset they start at. */
  private advance(length: number, field: string): number {
    if (length > this.remaining) {
      throw new InvalidPayload(
        `IntelliVue ${this.what} field ${field} needs ${length} bytes at offset ` +
          `${this.offset}, but only ${this.remaining} remain; check the frame capture for ` +
          `a length field that does not match the data`,
      );
    }
    const start = this.offset;
    this.offset += length;
    return start;
  }

  /** Reads a u16 length and returns a reader over that many bytes. */
  counted(field: string, what = field): Reader {
    const length = this.u16(`${field} length`);
    return new Reader(this.take(length, field), what);
  }

  rest(): Buffer {
    return this.take(this.remaining, "rest");
  }
}
