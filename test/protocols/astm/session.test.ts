import test from "ava";
import { AstmReceiverSession } from "../../../src/protocols/astm/session.js";
import type { AstmLinkEvent, Outgoing, SessionEvent } from "../../../src/protocols/types.js";

const astm = (event: AstmLinkEvent): SessionEvent => ({ type: "astm", event });
const bytes = (outgoing: Outgoing[]) => outgoing.map((message) => [...message.bytes]);
const ACK = [[0x06]];
const NAK = [[0x15]];

function open(): AstmReceiverSession {
  const session = new AstmReceiverSession({ receiverTimeoutMs: 30_000 });
  session.onOpen();
  return session;
}

test("session sends nothing on open and is established", (t) => {
  const session = new AstmReceiverSession({ receiverTimeoutMs: 30_000 });
  t.deepEqual(session.onOpen(), []);
  t.true(session.established);
  t.false(session.receiving);
});

test("session answers ENQ with ACK", (t) => {
  const session = open();
  t.deepEqual(bytes(session.onEvent(astm("enquiry"), 0)), ACK);
  t.true(session.receiving);
  t.is(session.stats.transfers, 1);
});

test("session acknowledges accepted and repeated frames", (t) => {
  const session = open();
  session.onEvent(astm("enquiry"), 0);
  t.deepEqual(bytes(session.onEvent(astm("accepted"), 10)), ACK);
  t.deepEqual(bytes(session.onEvent(astm("repeated"), 20)), ACK);
  t.is(session.stats.repeatedFrames, 1);
});

test("session NAKs bad frames during a transfer", (t) => {
  const session = open();
  session.onEvent(astm("enquiry"), 0);
  t.deepEqual(bytes(session.onCorruptFrame(10)), NAK);
  t.deepEqual(bytes(session.onInvalidFrame(20)), NAK);
  t.deepEqual(bytes(session.onEvent(astm("rejected"), 30)), NAK);
  t.is(session.stats.naks, 3);
});

test("session stays silent outside a transfer", (t) => {
  const session = open();
  t.deepEqual(session.onEvent(astm("accepted"), 0), []);
  t.deepEqual(session.onCorruptFrame(0), []);
  t.deepEqual(session.onEvent(astm("rejected"), 0), []);
  t.false(session.expects(astm("accepted")));
  t.true(session.expects(astm("enquiry")));
  t.is(session.stats.ignoredFrames, 3);
});

test("session returns to neutral on EOT", (t) => {
  const session = open();
  session.onEvent(astm("enquiry"), 0);
  t.deepEqual(session.onEvent(astm("end"), 10), []);
  t.false(session.receiving);
  t.deepEqual(session.onEvent(astm("accepted"), 20), []);
});

test("session receiver timer ends a silent transfer after 30 s", (t) => {
  const session = open();
  session.onEvent(astm("enquiry"), 0);
  session.onEvent(astm("accepted"), 5_000);
  t.deepEqual(session.onTick(35_000), []);
  t.true(session.receiving, "30 s after the last frame is not yet past the timer");
  session.onTick(35_001);
  t.false(session.receiving);
  t.is(session.stats.receiverTimeouts, 1);
  t.false(session.expects(astm("accepted")), "values of a late frame are not used");
});

test("session NAK restarts the receiver timer", (t) => {
  const session = open();
  session.onEvent(astm("enquiry"), 0);
  session.onCorruptFrame(20_000);
  session.onTick(45_000);
  t.true(session.receiving);
});

test("session ENQ during a transfer starts a new one", (t) => {
  const session = open();
  session.onEvent(astm("enquiry"), 0);
  t.deepEqual(bytes(session.onEvent(astm("enquiry"), 10)), ACK);
  t.is(session.stats.transfers, 2);
});
