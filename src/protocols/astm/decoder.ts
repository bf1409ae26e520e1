/**
 * Decoder of the ASTM family, in three bounded steps kept apart: the frame parser checks one
 * frame (frame.ts), the assembler turns accepted frames into records (assembler.ts) and the
 * record decoder turns records into device records (records.ts).
 *
 * Device records are held until the frame that ends their message (ETX) is accepted. A sender
 * that gives up on a transfer (6 NAKs, or no reply for 15 s) sends the whole message again
 * later, so publishing its first records at once would publish them twice. A transfer that
 * ends (EOT, or a new ENQ) before ETX drops what it held, and the drop is reported. Results
 * of a message with the same completion time are published as one batch.
 *
 * The decoder keeps the state of one link, so each pipeline creates its own.
 */
import { GatewayError } from "../../errors.js";
import type { DecodeResult, Decoder, DeviceRecord } from "../types.js";
import { AstmMessageAssembler } from "./assembler.js";
import { parseAstmFrame } from "./frame.js";
import { AstmRecordDecoder } from "./records.js";
import type { AstmProfile } from "./schema.js";

/**
 * Device records held for one message. A blood gas panel has a few dozen results; past this
 * bound the message is dropped and reported rather than held without limit.
 */
export const MAX_HELD_RECORDS = 1024;

export function createAstmDecoder(profile: AstmProfile): Decoder {
  const assembler = new AstmMessageAssembler(profile.records.maxRecordBytes);
  const recordDecoder = new AstmRecordDecoder();
  let held: DeviceRecord[] = [];
  let overflow = false;

  return (frame): DecodeResult => {
    const parsed = parseAstmFrame(frame);
    if (!parsed.ok) return parsed;
    const assembly = assembler.accept(parsed.frame);
    const skipped: GatewayError[] = [...assembly.dropped];
    if (assembly.event === "enquiry" || assembly.event === "end") {
      if (held.length > 0 || overflow) skipped.push(unfinishedMessage(held.length));
      held = [];
      overflow = false;
      if (assembly.event === "enquiry") recordDecoder.reset();
    }
    for (const text of assembly.records) {
      const decoded = recordDecoder.decode(text);
      if (!decoded.ok) skipped.push(decoded.error);
      else if (held.length + decoded.records.length > MAX_HELD_RECORDS) overflow = true;
      else held.push(...decoded.records);
    }
    const records: DeviceRecord[] = [];
    const endsMessage =
      assembly.event === "accepted" && parsed.frame.kind === "data" && parsed.frame.last;
    if (endsMessage) {
      if (overflow) skipped.push(tooManyRecords());
      else records.push(...mergeResults(held));
      held = [];
      overflow = false;
    }
    records.push({ kind: "session", event: { type: "astm", event: assembly.event } });
    return skipped.length > 0 ? { ok: true, records, skipped } : { ok: true, records };
  };
}

/**
 * Merges adjacent results with the same completion time into one numerics record, so the
 * results of one sample are published together.
 */
function mergeResults(records: readonly DeviceRecord[]): DeviceRecord[] {
  const merged: DeviceRecord[] = [];
  for (const record of records) {
    const last = merged.at(-1);
    if (
      record.kind === "numerics" &&
      last?.kind === "numerics" &&
      last.deviceTime === record.deviceTime
    ) {
      merged[merged.length - 1] = { ...last, values: [...last.values, ...record.values] };
    } else {
      merged.push(record);
    }
  }
  return merged;
}

function unfinishedMessage(heldRecords: number): GatewayError {
  return new GatewayError(
    "DECODE_INVALID",
    `ASTM transfer ended before the last frame (ETX) of its message, so its ${heldRecords} ` +
      `held results were dropped; the device sends the message again in a new transfer`,
  );
}

function tooManyRecords(): GatewayError {
  return new GatewayError(
    "DECODE_INVALID",
    `ASTM message has more than ${MAX_HELD_RECORDS} records and was dropped; ` +
      `configure the analyzer to send fewer results per message`,
  );
}
