/**
 * Encodes the records an S/5 monitor sends: displayed values (a physiological record with one
 * basic-class subrecord) and waveforms. The simulated monitor and the tests build their bytes
 * with these, from the layout the decoder reads.
 */
import { buildRecord, MainType } from "./codec.js";
import {
  BASIC_CLASS,
  basicGroups,
  CLASS_BLOCK_OFFSET,
  CLASS_WORD_OFFSET,
  classWord,
  PHYSIOLOGICAL_SUBRECORD_BYTES,
  WAVE_HEADER_BYTES,
} from "./layout.js";
import { PhysiologicalType } from "./requests.js";

/** The monitor's marker for "no valid data", sent for every field without a value. */
export const DATA_INVALID = -32767;

/** One parameter group: its status bits and the raw int16 fields that have values. */
export interface GroupValues {
  status: number;
  values: Record<string, number>;
}

export interface RecordFields {
  recordNumber: number;
  driLevel: number;
  /** Monitor clock in seconds since 1970. */
  time: number;
}

/**
 * Encodes one displayed-values record. Groups not named get status 0, and fields without a
 * value get DATA_INVALID, as a monitor sends for a parameter it does not measure.
 */
export function encodeDisplayedRecord(
  fields: RecordFields,
  groups: Record<string, GroupValues>,
): Buffer {
  const subrecord = Buffer.alloc(PHYSIOLOGICAL_SUBRECORD_BYTES);
  subrecord.writeUInt32LE(fields.time >>> 0, 0);
  const block = subrecord.subarray(CLASS_BLOCK_OFFSET);
  for (const layout of basicGroups) {
    const group = groups[layout.name];
    if (layout.hasHeader) block.writeUInt32LE(group?.status ?? 0, layout.offset);
    for (const [field, offset] of layout.fields) {
      block.writeInt16LE(group?.values[field] ?? DATA_INVALID, layout.offset + offset);
    }
  }
  subrecord.writeUInt16LE(classWord(BASIC_CLASS, PhysiologicalType.displayed), CLASS_WORD_OFFSET);
  return buildRecord({ ...fields, plugId: 0, mainType: MainType.physiological }, [
    { type: PhysiologicalType.displayed, bytes: subrecord },
  ]);
}

/** Encodes one waveform record with a subrecord per wave type, samples as raw int16. */
export function encodeWaveRecord(
  fields: RecordFields,
  waves: { type: number; samples: readonly number[] }[],
): Buffer {
  const bodies = waves.map((wave) => {
    const bytes = Buffer.alloc(WAVE_HEADER_BYTES + wave.samples.length * 2);
    bytes.writeInt16LE(wave.samples.length, 0);
    wave.samples.forEach((sample, index) =>
      bytes.writeInt16LE(sample, WAVE_HEADER_BYTES + index * 2),
    );
    return { type: wave.type, bytes };
  });
  return buildRecord({ ...fields, plugId: 0, mainType: MainType.wave }, bodies);
}
