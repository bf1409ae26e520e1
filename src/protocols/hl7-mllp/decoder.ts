/**
 * Decoder of the HL7/MLLP family: one MLLP frame holding an HL7 v2 ORU^R01 message becomes
 * device records. It follows the IHE PCD-01 conventions for device observations:
 *
 * - OBX-2 value type NM: a numeric observation. OBX segments of other types (the containment
 *   tree MDS, VMD and channel entries, text, codes) carry no measurement and are skipped.
 * - OBX-3 `code^MDC_REFID^MDC`: the MDC code is the device code the profile maps. A code of
 *   another coding system becomes the device code `code^SYSTEM`, so it is counted as unmapped.
 * - OBX-5 the value, OBX-6 the unit, whose identifier (`262688` of MDC_DIM_PERCENT, or `%` of
 *   UCUM) is checked against the mapping's deviceUnits, OBX-11 the result status (X or D: no
 *   value) and OBX-14 the observation time, else OBR-7, else MSH-7.
 *
 * Two NM OBX with the same code and observation time would put two values of one measurement
 * in one record. So the later OBX is used, and the earlier one is reported as skipped: a
 * decode error in a message the session still acknowledges with AA.
 *
 * PID, PV1 and every other segment are not read, so patient identity never reaches a record.
 * A message the gateway cannot take (not ORU^R01, no MSH-10, not version 2.x) is
 * DECODE_INVALID, and the session replies to it with AR or AE.
 */
import { GatewayError } from "../../errors.js";
import type { DecodeResult, Decoder, DeviceRecord, Hl7Header, RawValue } from "../types.js";
import { mllpContent } from "./codec.js";
import {
  componentsOf,
  messageTypeOf,
  parseHl7Message,
  unescapeHl7,
  type Hl7Message,
  type Hl7Segment,
} from "./message.js";

/** OBX-11 statuses with no value: X (cannot be obtained) and D (deleted). */
const noValueStatuses = new Set(["X", "D"]);
const maxQuotedChars = 60;

/** Returns why the gateway cannot take the message, or undefined when it can. */
export function rejectionOf(header: Hl7Header): { code: "AR" | "AE"; reason: string } | undefined {
  const [type, trigger] = messageTypeOf(header);
  if (type !== "ORU" || trigger !== "R01") {
    const shown = JSON.stringify(header.messageType);
    return { code: "AR", reason: `HL7 message type ${shown} is not ORU^R01, the only type taken` };
  }
  const version = header.version.split(header.encodingCharacters.charAt(0))[0] ?? "";
  if (!/^2\.\d/.test(version)) {
    return { code: "AR", reason: `HL7 version ${JSON.stringify(version)} in MSH-12 is not 2.x` };
  }
  if (header.controlId === "") {
    return { code: "AE", reason: "HL7 MSH-10 (message control id) is empty" };
  }
  return undefined;
}

export function createHl7Decoder(): Decoder {
  return (frame): DecodeResult => {
    const text = mllpContent(frame).toString("latin1");
    const parsed = parseHl7Message(text);
    if (!parsed.ok) return invalid(parsed.problem, text);
    const message = parsed.message;
    const rejection = rejectionOf(message.header);
    if (rejection !== undefined) return invalid(rejection.reason, text);

    const fallbackTime = messageTime(message);
    // Per observation time, the OBX of each code: a later OBX with the same code replaces it.
    const byTime = new Map<string, Map<string, { value: RawValue; setId: string }>>();
    const skipped: GatewayError[] = [];
    for (const segment of message.segments) {
      if (segment.id !== "OBX") continue;
      const observation = readObservation(message, segment);
      if (observation === undefined) continue;
      if ("problem" in observation) {
        skipped.push(new GatewayError("DECODE_INVALID", `${observation.problem}; OBX skipped`));
        continue;
      }
      const time = observation.time ?? fallbackTime ?? "";
      const values = byTime.get(time) ?? new Map<string, { value: RawValue; setId: string }>();
      byTime.set(time, values);
      const { deviceCode } = observation.value;
      const setId = segment.fields[1] ?? "?";
      const earlier = values.get(deviceCode);
      if (earlier !== undefined) skipped.push(repeatedCode(deviceCode, earlier.setId, setId));
      // Deleting first moves the code to the end, so values keep the order of the OBX used.
      values.delete(deviceCode);
      values.set(deviceCode, { value: observation.value, setId });
    }
    const records: DeviceRecord[] = [...byTime].map(([time, byCode]) => {
      const values = [...byCode.values()].map((entry) => entry.value);
      const record: DeviceRecord = { kind: "numerics", values, snapshot: false };
      if (time !== "") record.deviceTime = time;
      return record;
    });
    records.push({ kind: "session", event: { type: "hl7-message", header: message.header } });
    return skipped.length > 0 ? { ok: true, records, skipped } : { ok: true, records };
  };
}

type Observation = { value: RawValue; time?: string } | { problem: string };

function readObservation(message: Hl7Message, segment: Hl7Segment): Observation | undefined {
  const fields = segment.fields;
  if ((fields[2] ?? "") !== "NM") return undefined;
  const [code = "", , system = ""] = componentsOf(message, fields[3]).map((part) =>
    unescapeHl7(message, part).trim(),
  );
  if (code === "") return { problem: `HL7 OBX-${fields[1] ?? "?"} of type NM has no OBX-3 code` };
  const deviceCode = system.toUpperCase() === "MDC" ? code : `${code}^${system}`;
  const status = (fields[11] ?? "").trim().toUpperCase();
  const text = noValueStatuses.has(status) ? "" : unescapeHl7(message, fields[5] ?? "");
  const unit = unescapeHl7(message, componentsOf(message, fields[6])[0] ?? "").trim();
  const time = firstComponent(message, fields[14]);
  const value: RawValue = { deviceCode, text, unit };
  return time === undefined ? { value } : { value, time };
}

/** OBR-7 (observation time) of the first OBR, else MSH-7. */
function messageTime(message: Hl7Message): string | undefined {
  const obr = message.segments.find((segment) => segment.id === "OBR");
  const msh = message.segments[0];
  return firstComponent(message, obr?.fields[7]) ?? firstComponent(message, msh?.fields[7]);
}

function firstComponent(message: Hl7Message, field: string | undefined): string | undefined {
  const text = componentsOf(message, field)[0]?.trim() ?? "";
  return text === "" ? undefined : text;
}

function repeatedCode(deviceCode: string, earlierSetId: string, setId: string): GatewayError {
  const message =
    `HL7 OBX-${setId} repeats code ${JSON.stringify(deviceCode)} of OBX-${earlierSetId} with ` +
    `the same observation time; OBX-${setId} is used and OBX-${earlierSetId} skipped`;
  return new GatewayError("DECODE_INVALID", message);
}

function invalid(problem: string, text: string): DecodeResult {
  const shown = text.length > maxQuotedChars ? `${text.slice(0, maxQuotedChars)}…` : text;
  const message = `${problem} (got ${JSON.stringify(shown)}); the message was not taken`;
  return { ok: false, error: new GatewayError("DECODE_INVALID", message) };
}
