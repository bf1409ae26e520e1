import test from "ava";
import { Command, encodeResponse } from "../../../src/protocols/medibus/codec.js";
import { medibusSessionSchema } from "../../../src/protocols/medibus/schema.js";
import {
  formatIdentification,
  MedibusSession,
  SESSION_TICK_MS,
} from "../../../src/protocols/medibus/session.js";
import type { Outgoing, SessionEvent } from "../../../src/protocols/types.js";

const host = { name: "iomt-gateway", revision: "0.1.0" };
const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");

const response = (command: number): SessionEvent => ({ type: "response", command });
const command = (code: number, payload = ""): SessionEvent => ({
  type: "command",
  command: code,
  payload: Buffer.from(payload),
});
const labels = (outgoing: Outgoing[]) => outgoing.map((message) => message.label);
const codeOf = (message: Outgoing | undefined) => message?.bytes[1];

function createSession(overrides: Record<string, unknown> = {}): MedibusSession {
  return new MedibusSession(medibusSessionSchema.parse(overrides), host);
}

/** Opens a session and responds to its ICC and Request Device ID at t = 0. */
function establish(session: MedibusSession): Outgoing[] {
  session.onOpen(0);
  session.onEvent(response(Command.icc), 0);
  return session.onEvent(response(Command.deviceId), 0);
}

test("session sends ICC first", (t) => {
  const session = createSession();
  const outgoing = session.onOpen(0);
  t.deepEqual(labels(outgoing), ["ICC"]);
  t.is(hex(outgoing[0]?.bytes ?? Buffer.alloc(0)), "1B 51 36 43 0D");
  t.false(session.established);
});

test("session is established after the ICC response", (t) => {
  const session = createSession();
  session.onOpen(0);
  const outgoing = session.onEvent(response(Command.icc), 20);
  t.true(session.established);
  t.deepEqual(labels(outgoing), ["Request Device ID"]);
});

test("session skips Request Device ID when disabled", (t) => {
  const session = createSession({ requestDeviceId: false });
  session.onOpen(0);
  const outgoing = session.onEvent(response(Command.icc), 20);
  t.deepEqual(labels(outgoing), ["Request measured data CP1"]);
});

test("session does nothing before open", (t) => {
  const session = createSession();
  t.deepEqual(session.onTick(1000), []);
  t.deepEqual(session.onEvent(command(Command.icc), 1000), []);
  t.deepEqual(session.onCorruptFrame(1000, Buffer.from([0x1b, 0x30, 0x30, 0x30, 0x0d])), []);
});

test("session polls the list in order", (t) => {
  const session = createSession();
  const first = establish(session);
  t.deepEqual(labels(first), ["Request measured data CP1"]);
  const second = session.onEvent(response(Command.measuredDataCp1), 30);
  t.deepEqual(labels(second), ["Request alarms CP1"]);
  t.deepEqual(session.onEvent(response(Command.alarmsCp1), 60), []);
});

test("session keeps one request outstanding", (t) => {
  const session = createSession({ pollPeriodMs: 200 });
  establish(session);
  for (let now = SESSION_TICK_MS; now < 1500; now += SESSION_TICK_MS) {
    t.deepEqual(session.onTick(now), [], `tick at ${now} ms`);
  }
  t.is(session.stats.requestsSent, 3);
});

test("session starts the next cycle one period later", (t) => {
  const session = createSession({ pollPeriodMs: 1000 });
  establish(session);
  session.onEvent(response(Command.measuredDataCp1), 30);
  session.onEvent(response(Command.alarmsCp1), 60);
  t.deepEqual(session.onTick(900), []);
  t.deepEqual(labels(session.onTick(1000)), ["Request measured data CP1"]);
});

test("session ignores a response that matches no request", (t) => {
  const session = createSession();
  establish(session);
  t.deepEqual(session.onEvent(response(Command.alarmsCp1), 10), []);
  t.is(session.stats.unexpectedResponses, 1);
  t.deepEqual(labels(session.onEvent(response(Command.measuredDataCp1), 20)), [
    "Request alarms CP1",
  ]);
});

test("session sends NOP before keep-alive period", (t) => {
  const session = createSession({ pollPeriodMs: 60_000, keepAlivePeriodMs: 2000 });
  const sentAt: number[] = [];
  const answer = (outgoing: Outgoing[], now: number) => {
    for (const message of outgoing) {
      sentAt.push(now);
      const code = codeOf(message);
      if (code !== undefined) answer(session.onEvent(response(code), now + 10), now + 10);
    }
  };
  answer(session.onOpen(0), 0);
  for (let now = SESSION_TICK_MS; now <= 20_000; now += SESSION_TICK_MS) {
    answer(session.onTick(now), now);
  }
  const gaps = sentAt.slice(1).map((time, index) => time - (sentAt[index] ?? 0));
  t.true(Math.max(...gaps) <= 2000, `largest gap ${Math.max(...gaps)} ms`);
  t.true(sentAt.filter((time) => time > 1000).length >= 9, "NOPs sent while idle");
});

test("session answers device ICC and NOP by echoing", (t) => {
  const session = createSession();
  session.onOpen(0);
  t.deepEqual(
    session.onEvent(command(Command.icc), 5).map((m) => hex(m.bytes)),
    ["01 51 35 32 0D"],
  );
  t.deepEqual(
    session.onEvent(command(Command.nop), 6).map((m) => hex(m.bytes)),
    ["01 30 33 31 0D"],
  );
});

test("session echoes an unknown device command", (t) => {
  const session = createSession();
  session.onOpen(0);
  const outgoing = session.onEvent(command(Command.timeChanged), 5);
  t.deepEqual(
    outgoing.map((m) => hex(m.bytes)),
    [hex(encodeResponse(Command.timeChanged))],
  );
});

test("session answers Request Device ID with its identification", (t) => {
  const session = createSession();
  session.onOpen(0);
  const outgoing = session.onEvent(command(Command.deviceId), 5);
  const expected = encodeResponse(Command.deviceId, "0161'iomt-gateway'00.01:06.00");
  t.deepEqual(
    outgoing.map((m) => hex(m.bytes)),
    [hex(expected)],
  );
});

test("device command reply sends no request", (t) => {
  const session = createSession();
  establish(session);
  const outgoing = session.onEvent(command(Command.icc), 10);
  t.deepEqual(labels(outgoing), ["reply ICC"]);
  t.is(session.stats.requestsSent, 3);
});

test("session retries a request after the time-out", (t) => {
  const session = createSession({ requestTimeoutMs: 1500 });
  establish(session);
  t.deepEqual(session.onTick(1400), []);
  t.deepEqual(labels(session.onTick(1500)), ["Request measured data CP1"]);
  t.is(session.stats.timeouts, 1);
  t.is(session.stats.retries, 1);
  t.true(session.established);
});

test("session re-initializes after maxRetries failures", (t) => {
  const session = createSession({ requestTimeoutMs: 1000, maxRetries: 2 });
  establish(session);
  t.deepEqual(labels(session.onTick(1000)), ["Request measured data CP1"]);
  t.deepEqual(labels(session.onTick(2000)), ["Request measured data CP1"]);
  const outgoing = session.onTick(3000);
  t.deepEqual(labels(outgoing), ["ICC"]);
  t.false(session.established);
  t.is(session.stats.reinitializations, 1);
});

test("session keeps sending ICC until the device answers", (t) => {
  const session = createSession({ requestTimeoutMs: 1000, maxRetries: 0 });
  session.onOpen(0);
  for (const now of [1000, 2000, 3000, 4000]) {
    t.deepEqual(labels(session.onTick(now)), ["ICC"], `at ${now} ms`);
  }
  t.deepEqual(labels(session.onEvent(response(Command.icc), 4100)), ["Request Device ID"]);
});

test("session resends a rejected request next tick", (t) => {
  const session = createSession();
  establish(session);
  t.deepEqual(session.onEvent({ type: "rejected", command: Command.corrupt }, 40), []);
  t.deepEqual(labels(session.onTick(100)), ["Request measured data CP1"]);
  t.is(session.stats.rejections, 1);
  t.is(session.stats.retries, 1);
});

test("session re-initializes after repeated rejections", (t) => {
  const session = createSession({ maxRetries: 1 });
  establish(session);
  const rejected = { type: "rejected", command: Command.corrupt } as const;
  session.onEvent(rejected, 40);
  t.deepEqual(labels(session.onTick(100)), ["Request measured data CP1"]);
  t.deepEqual(labels(session.onEvent(rejected, 140)), ["ICC"]);
  t.false(session.established);
});

test("session sends a rejected ICC once per tick", (t) => {
  const session = createSession();
  session.onOpen(0);
  const rejected = { type: "rejected", command: Command.corrupt } as const;
  t.deepEqual(session.onEvent(rejected, 10), []);
  t.deepEqual(labels(session.onTick(100)), ["ICC"]);
  t.deepEqual(session.onEvent(rejected, 110), []);
  t.deepEqual(labels(session.onTick(200)), ["ICC"]);
});

test("session answers a corrupt command with 0x15", (t) => {
  const session = createSession();
  establish(session);
  // ESC 0 with a wrong checksum ("00" where "4B" is right).
  const outgoing = session.onCorruptFrame(40, Buffer.from([0x1b, 0x30, 0x30, 0x30, 0x0d]));
  t.deepEqual(
    outgoing.map((m) => hex(m.bytes)),
    ["01 15 31 36 0D"],
  );
  t.deepEqual(session.onTick(100), [], "the outstanding request waits for its time-out");
});

test("session does not answer a corrupt response", (t) => {
  const session = createSession();
  establish(session);
  // SOH $ with a wrong checksum: the device's own response, which the request time-out retries.
  t.deepEqual(session.onCorruptFrame(40, Buffer.from([0x01, 0x24, 0x30, 0x30, 0x0d])), []);
});

test("session expects only the response to its pending request", (t) => {
  const session = createSession();
  session.onOpen(0);
  t.true(session.expects({ type: "response", command: Command.icc }));
  t.false(session.expects({ type: "response", command: 0x24 }));
  t.true(session.expects({ type: "command", command: Command.nop, payload: Buffer.alloc(0) }));
});

test("session re-initializes after the device sends Stop", (t) => {
  const session = createSession();
  establish(session);
  const outgoing = session.onEvent(command(Command.stop), 40);
  t.deepEqual(
    outgoing.map((m) => hex(m.bytes)),
    ["01 55 35 36 0D", "1B 51 36 43 0D"],
  );
  t.false(session.established);
});

test("session open restarts with ICC", (t) => {
  const session = createSession();
  establish(session);
  t.deepEqual(labels(session.onOpen(5000)), ["ICC"]);
  t.false(session.established);
});

test("identification replaces apostrophes and bounds the name", (t) => {
  const text = formatIdentification({ name: `it's${"x".repeat(40)}\n`, revision: "12.345.6" });
  t.is(text, `0161'it_s${"x".repeat(28)}'12.99:06.00`);
});

test("identification falls back for a revision without numbers", (t) => {
  t.is(formatIdentification({ name: "gw", revision: "dev" }), "0161'gw'00.00:06.00");
});

test("schema rejects keep-alive near pause time-out", (t) => {
  const result = medibusSessionSchema.safeParse({ keepAlivePeriodMs: 3000 });
  t.false(result.success);
  t.regex(result.error?.issues[0]?.message ?? "", /at most 2500 ms.*3000 ms pause time-out/);
});

test("schema rejects request time-out near pause time-out", (t) => {
  const result = medibusSessionSchema.safeParse({ requestTimeoutMs: 2600 });
  t.false(result.success);
  t.deepEqual(result.error?.issues[0]?.path, ["requestTimeoutMs"]);
});

test("schema rejects a poll list that names a request twice", (t) => {
  const result = medibusSessionSchema.safeParse({ poll: ["alarmsCp1", "alarmsCp1"] });
  t.false(result.success);
});

test("schema fills every default", (t) => {
  t.deepEqual(medibusSessionSchema.parse({}), {
    poll: ["measuredDataCp1", "alarmsCp1"],
    pollPeriodMs: 1000,
    keepAlivePeriodMs: 2000,
    requestTimeoutMs: 1500,
    maxRetries: 2,
    requestDeviceId: true,
  });
});
