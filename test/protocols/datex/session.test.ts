import test from "ava";
import { decodeHeader, MainType } from "../../../src/protocols/datex/codec.js";
import { openFrame } from "../../../src/protocols/datex/decoder.js";
import { parseRequest, type HostRequest } from "../../../src/protocols/datex/requests.js";
import { datexSessionSchema } from "../../../src/protocols/datex/schema.js";
import { DatexSession, SESSION_TICK_MS } from "../../../src/protocols/datex/session.js";
import type { Outgoing, Session, SessionEvent } from "../../../src/protocols/types.js";

const displayedRecord: SessionEvent = { type: "response", command: MainType.physiological };
const waveRecord: SessionEvent = { type: "response", command: MainType.wave };

function createSession(overrides: Record<string, unknown> = {}): DatexSession {
  return new DatexSession(datexSessionSchema.parse(overrides));
}

function requestsOf(outgoing: Outgoing[]): HostRequest[] {
  return outgoing.map((message) => {
    const opened = openFrame(message.bytes);
    if (!opened.ok) throw new Error(opened.error.message);
    const request = parseRequest(opened.record);
    if (request === undefined) throw new Error("not a request");
    return request;
  });
}

/** Ticks the session from `fromMs` to `toMs` and returns what it sent, with the send times. */
function advance(session: DatexSession, fromMs: number, toMs: number) {
  const sent: { atMs: number; requests: HostRequest[] }[] = [];
  for (let now = fromMs; now <= toMs; now += SESSION_TICK_MS) {
    const outgoing = session.onTick(now);
    if (outgoing.length > 0) sent.push({ atMs: now, requests: requestsOf(outgoing) });
  }
  return sent;
}

test("session requests displayed values at every level", (t) => {
  const session = createSession();
  const requests = requestsOf(session.onOpen(0));
  t.deepEqual(requests, [
    { kind: "displayed", driLevel: 9, intervalS: 5, classBits: 0 },
    { kind: "displayed", driLevel: 8, intervalS: 5, classBits: 0 },
    { kind: "displayed", driLevel: 7, intervalS: 5, classBits: 0 },
  ]);
  t.false(session.established);
});

test("session requests the profile's waves", (t) => {
  const session = createSession({ driLevels: [9], waves: ["ecg1", "invp1", "pleth"] });
  const requests = requestsOf(session.onOpen(0));
  t.deepEqual(requests, [
    { kind: "displayed", driLevel: 9, intervalS: 5, classBits: 0 },
    { kind: "wave", driLevel: 9, command: 0, waveTypes: [1, 4, 8] },
  ]);
});

test("session request records are well formed", (t) => {
  const session = createSession({ driLevels: [9], waves: ["ecg1"] });
  const [displayed, wave] = session.onOpen(0);
  const header = (message: Outgoing | undefined) => {
    const opened = message === undefined ? undefined : openFrame(message.bytes);
    return opened?.ok === true ? decodeHeader(opened.record) : undefined;
  };
  t.is(header(displayed)?.length, 49);
  t.is(header(wave)?.length, 72);
  t.is(header(wave)?.mainType, MainType.wave);
});

test("session is established by the first record", (t) => {
  const session = createSession();
  session.onOpen(0);
  t.deepEqual(session.onEvent(displayedRecord, 100), []);
  t.true(session.established);
});

test("session stays quiet while records arrive", (t) => {
  const session = createSession({ driLevels: [9], waves: ["pleth"] });
  session.onOpen(0);
  const sent: unknown[] = [];
  for (let now = SESSION_TICK_MS; now <= 60_000; now += SESSION_TICK_MS) {
    if (now % 5000 === 0) session.onEvent(displayedRecord, now);
    if (now % 1000 === 0) session.onEvent(waveRecord, now);
    sent.push(...session.onTick(now));
  }
  t.deepEqual(sent, []);
  t.is(session.stats.repeatedRequests, 0);
});

test("session asks again when displayed values stop", (t) => {
  const session = createSession({ driLevels: [9], requestAgainAfterMs: 15_000 });
  session.onOpen(0);
  session.onEvent(displayedRecord, 5000);
  const sent = advance(session, 5500, 50_000);
  t.deepEqual(
    sent.map((entry) => entry.atMs),
    [20_000, 35_000, 50_000],
  );
  t.is(sent[0]?.requests[0]?.kind, "displayed");
  t.is(session.stats.repeatedRequests, 3);
});

test("session asks again for waves alone", (t) => {
  const session = createSession({
    driLevels: [9],
    waves: ["ecg1"],
    waveRequestAgainAfterMs: 3000,
  });
  session.onOpen(0);
  const sent: [number, string[]][] = [];
  for (let now = SESSION_TICK_MS; now <= 4000; now += SESSION_TICK_MS) {
    if (now % 2000 === 0) session.onEvent(displayedRecord, now);
    const requests = requestsOf(session.onTick(now));
    if (requests.length > 0) sent.push([now, requests.map((request) => request.kind)]);
  }
  t.deepEqual(sent, [[3000, ["wave"]]]);
});

test("session does nothing before open", (t) => {
  const session = createSession();
  t.deepEqual(session.onTick(100_000), []);
  t.deepEqual(session.onEvent(displayedRecord, 100_000), []);
  t.false(session.established);
});

test("session starts over when the link reopens", (t) => {
  const session = createSession({ driLevels: [9] });
  session.onOpen(0);
  session.onEvent(displayedRecord, 1000);
  t.true(session.established);
  t.is(requestsOf(session.onOpen(2000)).length, 1);
  t.false(session.established);
  t.deepEqual(advance(session, 2500, 16_500), []);
  t.is(advance(session, 17_000, 17_000).length, 1);
});

test("session expects every record", (t) => {
  const session: Session = createSession();
  t.true(session.expects(displayedRecord));
  t.deepEqual(session.onCorruptFrame(0, Buffer.alloc(0)), []);
});

test("session schema rejects a short repeat time", (t) => {
  const result = datexSessionSchema.safeParse({
    displayedIntervalS: 10,
    requestAgainAfterMs: 15_000,
  });
  t.false(result.success);
  t.regex(result.error?.issues[0]?.message ?? "", /at least twice displayedIntervalS \(20000 ms\)/);
});

test("session schema rejects waves over 600 samples/s", (t) => {
  const result = datexSessionSchema.safeParse({ waves: ["ecg1", "ecg2", "pleth"] });
  t.false(result.success);
  t.regex(result.error?.issues[0]?.message ?? "", /requests 700 samples\/s/);
});

test("session schema rejects a wave without a known rate", (t) => {
  t.false(datexSessionSchema.safeParse({ waves: ["co2"] }).success);
});

test("session keeps the first interface level", (t) => {
  const session = createSession({ driLevels: [9, 8, 7], waves: [] });
  session.onOpen(0);
  const atLevel = (driLevel: number): SessionEvent => ({ ...displayedRecord, driLevel });

  t.true(session.expects(atLevel(8)), "the first record sets the level");
  session.onEvent(atLevel(8), 100);

  t.true(session.expects(atLevel(8)));
  t.false(session.expects(atLevel(9)), "a second level would repeat every value");
  session.onOpen(1000);
  t.true(session.expects(atLevel(9)), "a new link finds its level again");
});
