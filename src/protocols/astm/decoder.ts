/**
 * Decoder of the ASTM family, in three bounded steps kept apart: the frame parser checks one
 * frame (frame.ts), the assembler turns accepted frames into records (assembler.ts) and the
 * record decoder turns records into device records (records.ts). The decoder keeps the
 * assembly state of one link, so each pipeline creates its own.
 */
import type { GatewayError } from "../../errors.js";
import type { DecodeResult, Decoder, DeviceRecord } from "../types.js";
import { AstmMessageAssembler } from "./assembler.js";
import { parseAstmFrame } from "./frame.js";
import { AstmRecordDecoder } from "./records.js";
import type { AstmProfile } from "./schema.js";

export function createAstmDecoder(profile: AstmProfile): Decoder {
  const assembler = new AstmMessageAssembler(profile.records.maxRecordBytes);
  const recordDecoder = new AstmRecordDecoder();
  return (frame): DecodeResult => {
    const parsed = parseAstmFrame(frame);
    if (!parsed.ok) return parsed;
    const assembly = assembler.accept(parsed.frame);
    if (assembly.event === "enquiry") recordDecoder.reset();
    const records: DeviceRecord[] = [];
    const skipped: GatewayError[] = [...assembly.dropped];
    for (const text of assembly.records) {
      const decoded = recordDecoder.decode(text);
      if (decoded.ok) records.push(...decoded.records);
      else skipped.push(decoded.error);
    }
    records.push({ kind: "session", event: { type: "astm", event: assembly.event } });
    return skipped.length > 0 ? { ok: true, records, skipped } : { ok: true, records };
  };
}
