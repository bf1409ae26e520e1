import test from "ava";
import { pollReplyCode, remoteErrorCode } from "../../../src/protocols/intellivue/decoder.js";
import {
  MDS_CREATE_EVENT,
  parsePollRequest,
  Spdu,
} from "../../../src/protocols/intellivue/messages.js";
import { intellivueSessionSchema } from "../../../src/protocols/intellivue/schema.js";
import { IntellivueSession } from "../../../src/protocols/intellivue/session.js";
import type { Outgoing, SessionEvent } from "../../../src/protocols/types.js";

const labels = (outgoing: Outgoing[]) => outgoing.map((message) => message.label);
/** The first byte of a frame's user data, after C0 and the 4-byte header. */
const spduOf = (message: Outgoing | undefined) => message?.bytes[5];

const accepted: SessionEvent = { type: "response", command: Spdu.associationAccepted };
const mdsCreate = (invokeId = 1): SessionEvent => ({
  type: "command",
  command: MDS_CREATE_EVENT,
  payload: Buffer.from([invokeId >> 8, invokeId & 0xff]),
});
const reply = (objectClass: number, last = false): SessionEvent => ({
  type: "response",
  command: pollReplyCode(objectClass, last),
});
const command = (code: number): SessionEvent => ({
  type: "command",
  command: code,
  payload: Buffer.alloc(0),
});

function createSession(overrides: Record<string, unknown> = {}): IntellivueSession {
  return new IntellivueSession(intellivueSessionSchema.parse(overrides));
}

/**
 * Opens a session at -1 s and completes the dialog at 0, so the association request is out of
 * the flow-limit window. Returns what the session sent last.
 */
function establish(session: IntellivueSession): Outgoing[] {
  session.onOpen(-1000);
  session.onEvent(accepted, -1000);
  return session.onEvent(mdsCreate(), 0);
}

/** Tick step of these tests: finer than the agent's ticks, so an early or late action shows. */
const stepMs = 50;

/** Ticks from fromMs to toMs, feeding a numerics reply every second; returns what was sent. */
function run(session: IntellivueSession, fromMs: number, toMs: number, replies = true) {
  const sent: { atMs: number; message: Outgoing }[] = [];
  for (let now = fromMs; now <= toMs; now += stepMs) {
    if (replies && now % 1000 === 0) session.onEvent(reply(6), now);
    for (const message of session.onTick(now)) sent.push({ atMs: now, message });
  }
  return sent;
}

test("session sends the association request first", (t) => {
  const session = createSession();
  const outgoing = session.onOpen(0);
  t.deepEqual(labels(outgoing), ["association request"]);
  t.is(spduOf(outgoing[0]), Spdu.associationRequest);
  t.false(session.established);
});

test("session waits for the MDS Create Event", (t) => {
  const session = createSession();
  session.onOpen(0);
  t.deepEqual(session.onEvent(accepted, 10), []);
  t.false(session.established);
});

test("session answers MDS Create and polls", (t) => {
  const session = createSession();
  const outgoing = establish(session);
  t.deepEqual(labels(outgoing), [
    "MDS Create Event Result",
    "extended poll 0x6",
    "extended poll 0x9",
    "extended poll 0x36",
  ]);
  t.true(session.established);
  const poll = parsePollRequest(outgoing[1]?.bytes.subarray(5, -3) ?? Buffer.alloc(0));
  t.is(poll.periodMs, 30_000);
  t.true(poll.extended);
});

test("session echoes the MDS Create invoke id", (t) => {
  const session = createSession();
  session.onOpen(0);
  session.onEvent(accepted, 0);
  const [result] = session.onEvent(mdsCreate(0x0abc), 0);
  // SPpdu (4), ROapdu (4), then the invoke id.
  t.is(result?.bytes.readUInt16BE(5 + 8), 0x0abc);
});

test("session re-issues polls before the period ends", (t) => {
  const session = createSession({ pollPeriodMs: 10_000, reissueBeforeMs: 2000 });
  establish(session);
  const sent = run(session, stepMs, 20_000).filter((s) => s.message.label === "extended poll 0x6");
  t.deepEqual(
    sent.map((s) => s.atMs),
    [8000, 16_000],
  );
  t.true(session.established);
});

test("session re-issues a poll after its last reply", (t) => {
  const session = createSession();
  establish(session);
  t.deepEqual(labels(session.onEvent(reply(9, true), 3000)), ["extended poll 0x9"]);
  t.deepEqual(session.onTick(3000), []);
});

test("session sends a held poll with the next frame", (t) => {
  const session = createSession();
  session.onOpen(0);
  session.onEvent(accepted, 20);
  // The association request at 0 and these three fill the window of 4 frames per 128 ms.
  t.deepEqual(labels(session.onEvent(mdsCreate(), 40)), [
    "MDS Create Event Result",
    "extended poll 0x6",
    "extended poll 0x9",
  ]);
  t.deepEqual(labels(session.onEvent(reply(6), 140)), ["extended poll 0x36"]);
});

test("session expects replies only to its polls", (t) => {
  const session = createSession({ poll: ["numerics"] });
  t.false(session.expects(reply(6)));
  establish(session);
  t.true(session.expects(reply(6)));
  t.false(session.expects(reply(9)));
  t.true(session.expects(accepted));
});

test("session sends the association request again on time-out", (t) => {
  const session = createSession({ associationTimeoutMs: 1000 });
  session.onOpen(0);
  const sent = run(session, stepMs, 2500, false);
  t.deepEqual(
    sent.map((s) => [s.atMs, s.message.label]),
    [
      [1000, "association request"],
      [2000, "association request"],
    ],
  );
  t.is(session.stats.associationTimeouts, 2);
});

test("session aborts when MDS Create never comes", (t) => {
  const session = createSession({ associationTimeoutMs: 1000, retryDelayMs: 500 });
  session.onOpen(0);
  session.onEvent(accepted, 0);
  const sent = run(session, stepMs, 1500, false);
  t.deepEqual(
    sent.map((s) => [s.atMs, s.message.label]),
    [
      [1000, "abort"],
      [1500, "association request"],
    ],
  );
});

test("session re-associates after a monitor abort", (t) => {
  const session = createSession({ retryDelayMs: 2000 });
  establish(session);
  t.deepEqual(session.onEvent(command(Spdu.abort), 5000), []);
  t.false(session.established);
  t.false(session.expects(reply(6)));
  const sent = run(session, 5050, 7500, false);
  t.deepEqual(
    sent.map((s) => [s.atMs, s.message.label]),
    [[7000, "association request"]],
  );
  session.onEvent(accepted, 7100);
  session.onEvent(mdsCreate(2), 7100);
  t.true(session.established);
  t.is(session.stats.associations, 2);
});

test("session answers a release request and re-associates", (t) => {
  const session = createSession({ retryDelayMs: 1000 });
  establish(session);
  const outgoing = session.onEvent(command(Spdu.releaseRequest), 4000);
  t.deepEqual(labels(outgoing), ["release response"]);
  t.is(spduOf(outgoing[0]), Spdu.releaseResponse);
  const sent = run(session, 4050, 5000, false);
  t.deepEqual(labels(sent.map((s) => s.message)), ["association request"]);
});

test("session aborts and re-associates after silence", (t) => {
  const session = createSession({ silenceTimeoutMs: 3000, retryDelayMs: 1000 });
  establish(session);
  const sent = run(session, stepMs, 4500, false);
  t.deepEqual(
    sent.map((s) => [s.atMs, s.message.label]),
    [
      [3000, "abort"],
      [4000, "association request"],
    ],
  );
  t.is(session.stats.silences, 1);
});

test("session retries after a refused association", (t) => {
  const session = createSession({ retryDelayMs: 1000 });
  session.onOpen(0);
  session.onEvent({ type: "rejected", command: Spdu.associationRequest }, 100);
  const sent = run(session, 150, 1200, false);
  t.deepEqual(
    sent.map((s) => [s.atMs, s.message.label]),
    [[1100, "association request"]],
  );
  t.is(session.stats.refusals, 1);
});

test("session sends a rejected poll again after the retry delay", (t) => {
  const session = createSession({ poll: ["numerics"], retryDelayMs: 1000 });
  const [, poll] = establish(session);
  const invokeId = poll?.bytes.readUInt16BE(5 + 8) ?? 0;
  session.onEvent({ type: "rejected", command: remoteErrorCode(invokeId) }, 200);
  const sent = run(session, 250, 1500);
  t.deepEqual(
    sent.map((s) => [s.atMs, s.message.label]),
    [[1200, "extended poll 0x6"]],
  );
  t.is(session.stats.pollErrors, 1);
});

test("session keeps to 4 frames per 128 ms", (t) => {
  const session = createSession();
  establish(session);
  t.deepEqual(session.onEvent(command(Spdu.releaseRequest), 50), []);
  t.deepEqual(session.onTick(100), []);
  t.deepEqual(labels(session.onTick(150)), ["release response"]);
  t.true(session.stats.framesDelayed > 0);
});

test("session schema rejects a re-issue longer than the period", (t) => {
  const result = intellivueSessionSchema.safeParse({ pollPeriodMs: 5000, reissueBeforeMs: 5000 });
  t.false(result.success);
});
