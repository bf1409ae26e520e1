/**
 * The gateway's side of HL7 v2 over MLLP as the receiving application: every message gets an
 * original-mode acknowledgement, `MSH …|ACK^R01^ACK|…` and `MSA|code|<MSH-10 of the message>`,
 * framed in MLLP. AA: the message was taken. A message with the MSH-10 of one taken shortly
 * before was sent again because our ACK was lost, so it gets AA while its values are not used
 * twice. AR: its type or version is one the gateway does not take. AE: its MSH was read but
 * the rest could not be. A frame without a readable MSH gets no reply, because an
 * acknowledgement without the control id would match no message at the sender. The pipeline
 * still counts it as a decode error and the supervisor logs it.
 */
import type { HostIdentity } from "../family.js";
import type { Hl7Header, Outgoing, Session, SessionEvent } from "../types.js";
import { encodeMllp, hl7Time, mllpContent } from "./codec.js";
import { rejectionOf } from "./decoder.js";
import { parseHl7Header } from "./message.js";

export const SESSION_TICK_MS = 1000;

/**
 * Control ids remembered to spot a message sent again because our ACK was lost. A sender waits
 * for each ACK before its next message, so the last few ids are enough.
 */
export const REMEMBERED_CONTROL_IDS = 16;

export interface Hl7SessionStats {
  accepted: number;
  errors: number;
  rejected: number;
  /** Frames without a readable MSH, which got no acknowledgement. */
  unanswered: number;
  /** Messages with a control id taken shortly before: acknowledged, values not used again. */
  duplicates: number;
}

export type AckCode = "AA" | "AE" | "AR";

export class Hl7AckSession implements Session {
  readonly tickMs = SESSION_TICK_MS;
  readonly established = true;
  readonly stats: Hl7SessionStats = {
    accepted: 0,
    errors: 0,
    rejected: 0,
    unanswered: 0,
    duplicates: 0,
  };
  private acksSent = 0;
  private readonly recentControlIds: string[] = [];

  /** `wallClockMs` gives MSH-7 of the acknowledgement; the session's own timing uses nowMs. */
  constructor(
    private readonly host: HostIdentity,
    private readonly wallClockMs: () => number = Date.now,
  ) {}

  onOpen(): Outgoing[] {
    return [];
  }

  onEvent(event: SessionEvent): Outgoing[] {
    if (event.type !== "hl7-message") return [];
    const controlId = event.header.controlId;
    if (this.recentControlIds.includes(controlId)) {
      this.stats.duplicates++;
    } else {
      this.stats.accepted++;
      this.recentControlIds.push(controlId);
      if (this.recentControlIds.length > REMEMBERED_CONTROL_IDS) this.recentControlIds.shift();
    }
    return [this.acknowledge(event.header, "AA")];
  }

  onCorruptFrame(): Outgoing[] {
    return [];
  }

  onInvalidFrame(_nowMs: number, frame: Buffer): Outgoing[] {
    const parsed = parseHl7Header(mllpContent(frame).toString("latin1"));
    if (!parsed.ok) {
      this.stats.unanswered++;
      return [];
    }
    const rejection = rejectionOf(parsed.header) ?? {
      code: "AE" as const,
      reason: "HL7 message could not be read",
    };
    if (rejection.code === "AR") this.stats.rejected++;
    else this.stats.errors++;
    return [this.acknowledge(parsed.header, rejection.code, rejection.reason)];
  }

  /** False for a message sent again after a lost ACK, so its values are not published twice. */
  expects(event: SessionEvent): boolean {
    return event.type !== "hl7-message" || !this.recentControlIds.includes(event.header.controlId);
  }

  onTick(): Outgoing[] {
    return [];
  }

  private acknowledge(header: Hl7Header, code: AckCode, reason?: string): Outgoing {
    this.acksSent++;
    const separator = header.fieldSeparator;
    const component = header.encodingCharacters.charAt(0);
    const version = header.version === "" ? "2.6" : header.version;
    const msh = [
      "MSH",
      header.encodingCharacters,
      header.receivingApplication === "" ? hl7Text(this.host.name) : header.receivingApplication,
      header.receivingFacility,
      header.sendingApplication,
      header.sendingFacility,
      hl7Time(this.wallClockMs()),
      "",
      ["ACK", "R01", "ACK"].join(component),
      `ACK${String(this.acksSent).padStart(8, "0")}`,
      header.processingId === "" ? "P" : header.processingId,
      version,
    ].join(separator);
    const msaFields = ["MSA", code, header.controlId];
    if (reason !== undefined) msaFields.push(hl7Text(reason).slice(0, 80));
    const msa = msaFields.join(separator);
    return {
      bytes: encodeMllp(`${msh}\r${msa}\r`),
      label: `HL7 ACK ${code}`,
      ...(code === "AA" ? { confirmsReceipt: true } : {}),
    };
  }
}

/** Keeps text safe in an HL7 field: separators and bytes outside printable ASCII become spaces. */
function hl7Text(text: string): string {
  return [...text]
    .map((char) => {
      const code = char.charCodeAt(0);
      return code < 0x20 || code > 0x7e || "|^~\\&".includes(char) ? " " : char;
    })
    .join("");
}

export function createHl7Session(host: HostIdentity): Session {
  return new Hl7AckSession(host);
}
