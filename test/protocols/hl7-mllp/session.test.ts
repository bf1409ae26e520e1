import test from "ava";
import { encodeMllp, mllpContent } from "../../../src/protocols/hl7-mllp/codec.js";
import { parseHl7Message } from "../../../src/protocols/hl7-mllp/message.js";
import { Hl7AckSession } from "../../../src/protocols/hl7-mllp/session.js";
import type { Hl7Header, Outgoing } from "../../../src/protocols/types.js";

const host = { name: "IOMTGW", revision: "0.1.0" };
const wallClock = () => Date.UTC(2026, 11, 4, 18, 30, 5);
const header: Hl7Header = {
  fieldSeparator: "|",
  encodingCharacters: "^~\\&",
  sendingApplication: "MON",
  sendingFacility: "ICU",
  receivingApplication: "GW",
  receivingFacility: "HOSP",
  messageType: "ORU^R01^ORU_R01",
  controlId: "MSG0001",
  processingId: "P",
  version: "2.6",
};

/** Returns the segments of the one message the session sent. */
function segmentsOf(outgoing: Outgoing[]): string[] {
  if (outgoing.length !== 1) throw new Error(`expected one message, got ${outgoing.length}`);
  const bytes = outgoing[0]?.bytes ?? Buffer.alloc(0);
  return mllpContent(bytes)
    .toString("latin1")
    .split("\r")
    .filter((s) => s !== "");
}

test("session acknowledges a taken message with AA and its control id", (t) => {
  const session = new Hl7AckSession(host, wallClock);
  const outgoing = session.onEvent({ type: "hl7-message", header });
  const [msh, msa] = segmentsOf(outgoing);
  t.is(msh, "MSH|^~\\&|GW|HOSP|MON|ICU|20261204183005+0000||ACK^R01^ACK|ACK00000001|P|2.6");
  t.is(msa, "MSA|AA|MSG0001");
  t.is(outgoing[0]?.bytes[0], 0x0b);
  t.deepEqual([...(outgoing[0]?.bytes.subarray(-2) ?? [])], [0x1c, 0x0d]);
  t.is(session.stats.accepted, 1);
});

test("session names itself when the message names no receiver", (t) => {
  const session = new Hl7AckSession(host, wallClock);
  const [msh] = segmentsOf(
    session.onEvent({ type: "hl7-message", header: { ...header, receivingApplication: "" } }),
  );
  t.regex(msh ?? "", /^MSH\|\^~\\&\|IOMTGW\|/);
});

test("session rejects an unsupported message type with AR", (t) => {
  const session = new Hl7AckSession(host, wallClock);
  const frame = encodeMllp("MSH|^~\\&|MON|ICU|||20240101||ADT^A01|X9|P|2.6\r");
  const [, msa] = segmentsOf(session.onInvalidFrame(0, frame));
  t.regex(msa ?? "", /^MSA\|AR\|X9\|HL7 message type "ADT A01" is not ORU R01/);
  t.is(session.stats.rejected, 1);
});

test("session answers an unreadable ORU with AE", (t) => {
  const session = new Hl7AckSession(host, wallClock);
  const frame = encodeMllp("MSH|^~\\&|MON|ICU|||20240101||ORU^R01|X10|P|2.6\rbad|segment\r");
  const [, msa] = segmentsOf(session.onInvalidFrame(0, frame));
  t.is(msa, "MSA|AE|X10|HL7 message could not be read");
  t.is(session.stats.errors, 1);
});

test("session sends nothing for a frame without MSH", (t) => {
  const session = new Hl7AckSession(host, wallClock);
  t.deepEqual(session.onInvalidFrame(0, encodeMllp("PID|||1\r")), []);
  t.is(session.stats.unanswered, 1);
});

test("session acknowledgement parses as HL7", (t) => {
  const session = new Hl7AckSession(host, wallClock);
  const [message] = session.onEvent({
    type: "hl7-message",
    header: { ...header, version: "2.5.1" },
  });
  const parsed = parseHl7Message(mllpContent(message?.bytes ?? Buffer.alloc(0)).toString("latin1"));
  if (!parsed.ok) return t.fail(parsed.problem);
  t.is(parsed.message.header.messageType, "ACK^R01^ACK");
  t.is(parsed.message.header.version, "2.5.1");
  t.is(parsed.message.segments[1]?.fields[2], "MSG0001");
});

test("session acknowledges a repeated control id without using it again", (t) => {
  const session = new Hl7AckSession(host, wallClock);
  const event = { type: "hl7-message" as const, header };
  t.true(session.expects(event));
  session.onEvent(event);
  t.false(session.expects(event));
  const [, msa] = segmentsOf(session.onEvent(event));
  t.is(msa, "MSA|AA|MSG0001");
  t.is(session.stats.duplicates, 1);
  for (let id = 0; id < 16; id++)
    session.onEvent({ type: "hl7-message", header: { ...header, controlId: `N${id}` } });
  t.true(session.expects(event), "an old control id is forgotten");
});
