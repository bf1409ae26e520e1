/**
 * HL7 v2 message structure: segments, fields and components, and the MSH header. Segments end
 * with CR; LF and CR LF are taken too, because device servers and scripts are known to send
 * them, and empty segments are skipped.
 */
import type { Hl7Header } from "../types.js";

export interface Hl7Segment {
  /** Segment id, such as MSH or OBX. */
  id: string;
  /** Fields by their HL7 number: fields[3] is OBX-3. fields[0] is the segment id. */
  fields: string[];
}

export interface Hl7Message {
  header: Hl7Header;
  segments: Hl7Segment[];
  /** Component separator from MSH-2, usually "^". */
  component: string;
  /** Repetition separator from MSH-2, usually "~". */
  repetition: string;
  /** Escape character from MSH-2, usually "\". */
  escape: string;
  /** Subcomponent separator from MSH-2, usually "&". */
  subcomponent: string;
}

export type ParsedMessage = { ok: true; message: Hl7Message } | { ok: false; problem: string };

const segmentIdPattern = /^[A-Z][A-Z0-9]{2}$/;

export type ParsedHeader = { ok: true; header: Hl7Header } | { ok: false; problem: string };

const segmentSeparator = /\r\n|\r|\n/;

/** Reads MSH alone, so a message with a bad later segment can still be acknowledged. */
export function parseHl7Header(text: string): ParsedHeader {
  const first = text.split(segmentSeparator).find((line) => line !== "") ?? "";
  if (!first.startsWith("MSH") || first.length < 8) {
    return { ok: false, problem: "HL7 message must start with an MSH segment" };
  }
  const fieldSeparator = first.charAt(3);
  const parts = first.split(fieldSeparator);
  const encodingCharacters = parts[1] ?? "";
  if (encodingCharacters.length !== 4 && encodingCharacters.length !== 5) {
    return { ok: false, problem: "HL7 MSH-2 must give four encoding characters, such as ^~\\&" };
  }
  // MSH-1 is the field separator itself, so MSH field n is at index n - 1 after the split.
  const field = (index: number) => parts[index - 1] ?? "";
  const header: Hl7Header = {
    fieldSeparator,
    encodingCharacters,
    sendingApplication: field(3),
    sendingFacility: field(4),
    receivingApplication: field(5),
    receivingFacility: field(6),
    messageType: field(9),
    controlId: field(10),
    processingId: field(11),
    version: field(12),
  };
  return { ok: true, header };
}

/** Splits the message text into segments and reads MSH. Problems are returned, never thrown. */
export function parseHl7Message(text: string): ParsedMessage {
  const parsedHeader = parseHl7Header(text);
  if (!parsedHeader.ok) return parsedHeader;
  const header = parsedHeader.header;
  const [component, repetition, escape, subcomponent] = [...header.encodingCharacters] as [
    string,
    string,
    string,
    string,
  ];
  const segments: Hl7Segment[] = [];
  for (const line of text.split(segmentSeparator)) {
    if (line === "") continue;
    const parts = line.split(header.fieldSeparator);
    const id = parts[0] ?? "";
    if (!segmentIdPattern.test(id)) {
      return {
        ok: false,
        problem: `HL7 segment id ${JSON.stringify(id.slice(0, 8))} is not valid`,
      };
    }
    segments.push({
      id,
      fields: id === "MSH" ? ["MSH", header.fieldSeparator, ...parts.slice(1)] : parts,
    });
  }
  return { ok: true, message: { header, segments, component, repetition, escape, subcomponent } };
}

/** Returns the components of a field's first repetition. */
export function componentsOf(message: Hl7Message, field: string | undefined): string[] {
  const first = (field ?? "").split(message.repetition)[0] ?? "";
  return first.split(message.component);
}

/**
 * Replaces the HL7 escape sequences \F\ \S\ \T\ \R\ \E\ (with the message's own escape
 * character) by the separators they stand for; other sequences are removed.
 */
export function unescapeHl7(message: Hl7Message, text: string): string {
  const escape = message.escape;
  if (!text.includes(escape)) return text;
  const meaning: Record<string, string> = {
    F: message.header.fieldSeparator,
    S: message.component,
    T: message.subcomponent,
    R: message.repetition,
    E: escape,
  };
  const quoted = escape.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`${quoted}([^${quoted}]*)${quoted}`, "g");
  return text.replace(pattern, (_match, body: string) => meaning[body] ?? "");
}

/** Returns the message type and trigger event of MSH-9, such as ["ORU", "R01"]. */
export function messageTypeOf(header: Hl7Header): [string, string] {
  const component = header.encodingCharacters.charAt(0);
  const [type = "", trigger = ""] = header.messageType.split(component);
  return [type, trigger];
}
