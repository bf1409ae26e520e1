/** Reads the wave messages a subscriber received, as a dashboard would. */
import { z } from "zod";
import { waveSegmentSchema, waveSegmentsPayload } from "../../src/mqtt/payloads.js";

/** The wave payload with no field beyond the schema, in the message or in any segment. */
export const strictWaveSegmentsPayload = waveSegmentsPayload
  .extend({ segments: z.array(waveSegmentSchema.strict()).min(1) })
  .strict();

export type WaveSegmentOut = z.infer<typeof waveSegmentSchema>;

/** Returns the segments of the given wave messages in order. Throws on a payload off its schema. */
export function segmentsOf(messages: readonly { payload: unknown }[]): WaveSegmentOut[] {
  return messages.flatMap((message) => strictWaveSegmentsPayload.parse(message.payload).segments);
}
