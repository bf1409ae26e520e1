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

  u8(field: string): number {
    return this.take(1, field).readUInt8(0);
  }

  u16(field: string): number {
    return this.take(2, field).readUInt16BE(0);
  }

  u32(field: string): number {
    return this.take(4, field).readUInt32BE(0);
  }

  take(length: number, field: string): Buffer {
    if (length > this.remaining) {
      throw new InvalidPayload(
        `IntelliVue ${this.what} field ${field} needs ${length} bytes at offset ` +
          `${this.offset}, but only ${this.remaining} remain; check the frame capture for ` +
          `a length field that does not match the data`,
      );
    }
    const part = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return part;
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
