import test from "ava";
import { defaultSimulatorOptions } from "../../../src/protocols/family.js";
import { Command, encodeCommand, encodeResponse } from "../../../src/protocols/medibus/codec.js";
import { decodeMedibusFrame } from "../../../src/protocols/medibus/decoder.js";
import { MedibusFramer } from "../../../src/protocols/medibus/framer.js";
import { medibusSessionSchema } from "../../../src/protocols/medibus/schema.js";
import { MedibusSession } from "../../../src/protocols/medibus/session.js";
import {
  formatValue,
  MedibusSimulator,
  type MedibusSimulatorOptions,
} from "../../../src/protocols/medibus/simulator.js";
import { builtInProfileDirs, loadProfiles } from "../../../src/profiles/load.js";
import { codecFor } from "../../../src/protocols/registry.js";
import type { DiscardReason, Outgoing, RawAlarm, RawValue } from "../../../src/protocols/types.js";

const MAX_FRAME_BYTES = 512;
const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");

function createSimulator(options: Partial<MedibusSimulatorOptions> = {}): MedibusSimulator {
  return new MedibusSimulator(MAX_FRAME_BYTES, { ...defaultSimulatorOptions, ...options });
}

/** Runs the simulator's clock in 10 ms steps and collects everything it sends. */
function advance(simulator: MedibusSimulator, fromMs: number, toMs: number): Buffer[] {
  const output: Buffer[] = [];
  for (let now = fromMs; now <= toMs; now += simulator.tickMs) output.push(...simulator.tick(now));
  return output;
}

/** Initializes the simulator the way a host does: ICC, then responses to its own commands. */
function initialize(simulator: MedibusSimulator): void {
  simulator.start(0);
  simulator.receive(encodeCommand(Command.icc), 0);
  simulator.receive(encodeResponse(Command.icc), 0);
  simulator.receive(encodeResponse(Command.deviceId, "0161'host'00.01:06.00"), 0);
  advance(simulator, 10, 100);
}

test("simulator sends its own ICC at start", (t) => {
  const simulator = createSimulator();
  t.deepEqual(simulator.start(0).map(hex), ["1B 51 36 43 0D"]);
});

test("simulator requests our device ID after its ICC is answered", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  t.deepEqual(simulator.receive(encodeResponse(Command.icc), 5).map(hex), ["1B 52 36 44 0D"]);
});

test("simulator sends its command again when unanswered", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  t.deepEqual(advance(simulator, 10, 1990), []);
  t.deepEqual(simulator.tick(2000).map(hex), ["1B 51 36 43 0D"]);
  t.is(simulator.stats.commandRetries, 1);
});

test("simulator answers ICC after its response delay", (t) => {
  const simulator = createSimulator({ responseDelayMs: 30 });
  simulator.start(0);
  simulator.receive(encodeCommand(Command.icc), 0);
  t.deepEqual(advance(simulator, 10, 20), []);
  t.deepEqual(simulator.tick(30).map(hex), ["01 51 35 32 0D"]);
});

test("simulator ignores requests before ICC", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  simulator.receive(encodeCommand(Command.measuredDataCp1), 0);
  t.deepEqual(advance(simulator, 10, 200), []);
  t.is(simulator.stats.ignoredRequests, 1);
});

test("simulator withholds data until identified", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  simulator.receive(encodeCommand(Command.icc), 0);
  advance(simulator, 10, 100);
  simulator.receive(encodeCommand(Command.measuredDataCp1), 110);
  t.deepEqual(advance(simulator, 120, 300), []);
  t.is(simulator.stats.ignoredRequests, 1);
});

test("simulator answers measured data with codepage-1 groups", (t) => {
  const simulator = createSimulator();
  initialize(simulator);
  simulator.receive(encodeCommand(Command.measuredDataCp1), 200);
  const [frame] = advance(simulator, 210, 300);
  const result = decodeMedibusFrame(frame ?? Buffer.alloc(0));
  const codes =
    result.ok && result.records[0]?.kind === "numerics"
      ? result.records[0].values.map((value) => value.deviceCode)
      : [];
  t.deepEqual(codes, ["EB", "E1", "78", "7D", "88", "B9", "D6", "F0", "E6"]);
});

test("simulator sends the codes a profile maps", (t) => {
  const cases: [string, string, string[]][] = [
    ["draeger-medibus-evita4", "Evita4", ["EB", "E1", "78", "7D", "88", "B9", "D6", "F0", "E6"]],
    ["draeger-medibus-fabius-gs", "FabiusGS", ["78", "7D", "88", "B9", "F0", "D5", "E3"]],
  ];
  const profiles = loadProfiles(builtInProfileDirs()).profiles;
  for (const [id, name, expected] of cases) {
    const profile = profiles.get(id)?.profile;
    if (profile === undefined) return t.fail(`${id} missing`);
    const simulator = codecFor(profile).createSimulator(defaultSimulatorOptions);
    simulator.start(0);
    simulator.receive(encodeCommand(Command.icc), 0);
    simulator.receive(encodeResponse(Command.icc), 0);
    simulator.receive(encodeResponse(Command.deviceId, "0161'host'00.01:06.00"), 0);
    for (let now = 10; now <= 100; now += simulator.tickMs) simulator.tick(now);
    const frames: Buffer[] = [];
    simulator.receive(encodeCommand(Command.deviceId), 110);
    for (let now = 120; now <= 190; now += simulator.tickMs) frames.push(...simulator.tick(now));
    simulator.receive(encodeCommand(Command.measuredDataCp1), 200);
    for (let now = 210; now <= 300; now += simulator.tickMs) frames.push(...simulator.tick(now));
    const records = frames.flatMap((frame) => {
      const result = decodeMedibusFrame(frame);
      return result.ok ? result.records : [];
    });
    const numerics = records.find((record) => record.kind === "numerics");
    const codes = numerics?.kind === "numerics" ? numerics.values.map((v) => v.deviceCode) : [];
    t.deepEqual(codes, expected, id);
    const identity = records.find((record) => record.kind === "identity");
    t.is(identity?.kind === "identity" ? identity.model : undefined, name, id);
  }
});

test("simulator drops a request while busy", (t) => {
  const simulator = createSimulator({ responseDelayMs: 50 });
  initialize(simulator);
  simulator.receive(encodeCommand(Command.measuredDataCp1), 200);
  simulator.receive(encodeCommand(Command.alarmsCp1), 220);
  const output = advance(simulator, 230, 400);
  t.is(output.length, 1);
  t.is(output[0]?.[1], Command.measuredDataCp1);
  t.is(simulator.stats.droppedRequests, 1);
});

test("simulator answers a corrupt command with 0x15", (t) => {
  const simulator = createSimulator();
  initialize(simulator);
  const corrupt = Buffer.from("1B2430300D", "hex");
  t.deepEqual(simulator.receive(corrupt, 200).map(hex), ["01 15 31 36 0D"]);
  t.is(simulator.stats.corruptCommands, 1);
});

test("simulator drops the session after a 3 s pause", (t) => {
  const simulator = createSimulator();
  initialize(simulator);
  advance(simulator, 110, 3100);
  t.is(simulator.stats.pauseTimeouts, 1);
  simulator.receive(encodeCommand(Command.measuredDataCp1), 3200);
  t.deepEqual(advance(simulator, 3210, 3400), [], "measured data is ignored");
  t.is(simulator.stats.ignoredRequests, 1);
  simulator.receive(encodeCommand(Command.icc), 3400);
  t.deepEqual(advance(simulator, 3410, 3500).map(hex), ["01 51 35 32 0D"]);
});

test("simulator keeps the session while bytes arrive", (t) => {
  const simulator = createSimulator();
  initialize(simulator);
  for (let now = 2000; now <= 20_000; now += 2000) {
    advance(simulator, now - 1990, now);
    simulator.receive(encodeCommand(Command.nop), now);
  }
  t.is(simulator.stats.pauseTimeouts, 0);
});

test("value format follows the 4-character field", (t) => {
  t.is(formatValue(98, 0), " 98 ");
  t.is(formatValue(480, 0), "480 ");
  t.is(formatValue(5, 1), " 5.0");
  t.is(formatValue(7.25, 1), " 7.3");
});

test("same seed gives the same bytes", (t) => {
  const run = () => {
    const simulator = createSimulator({ seed: 42 });
    initialize(simulator);
    simulator.receive(encodeCommand(Command.measuredDataCp1), 200);
    return advance(simulator, 210, 300).map(hex);
  };
  t.deepEqual(run(), run());
});

interface LoopLog {
  numericsAtMs: number[];
  values: RawValue[][];
  alarms: Array<{ atMs: number; alarms: RawAlarm[] }>;
  hostSentAtMs: number[];
  checksumErrors: number;
  decodeErrors: number;
  discarded: Partial<Record<DiscardReason, number>>;
  identities: number;
}

/**
 * Wires a session and a simulator together in memory, each behind its own framer, and runs a
 * fake clock: the simulator ticks every 10 ms and the session every 100 ms.
 */
function runLoop(options: Partial<MedibusSimulatorOptions>, durationMs: number) {
  const simulator = createSimulator(options);
  const session = new MedibusSession(medibusSessionSchema.parse({}), {
    name: "iomt-gateway",
    revision: "0.1.0",
  });
  const framer = new MedibusFramer({ maxFrameBytes: MAX_FRAME_BYTES });
  const log: LoopLog = {
    numericsAtMs: [],
    values: [],
    alarms: [],
    hostSentAtMs: [],
    checksumErrors: 0,
    decodeErrors: 0,
    discarded: {},
    identities: 0,
  };

  const toDevice = (outgoing: Outgoing[], now: number): void => {
    for (const message of outgoing) {
      log.hostSentAtMs.push(now);
      fromDevice(simulator.receive(message.bytes, now), now);
    }
  };
  const fromDevice = (chunks: Buffer[], now: number): void => {
    for (const chunk of chunks) {
      for (const event of framer.push(chunk)) {
        if (event.kind === "discard") {
          log.discarded[event.reason] = (log.discarded[event.reason] ?? 0) + event.byteCount;
        } else {
          toDevice(handleFrame(event.bytes, now), now);
        }
      }
    }
  };
  const handleFrame = (frame: Buffer, now: number): Outgoing[] => {
    const result = decodeMedibusFrame(frame);
    if (!result.ok) {
      if (result.error.code !== "FRAME_CHECKSUM") {
        log.decodeErrors++;
        return [];
      }
      log.checksumErrors++;
      return session.onCorruptFrame(now, frame);
    }
    const outgoing: Outgoing[] = [];
    for (const record of result.records) {
      if (record.kind === "numerics") {
        log.numericsAtMs.push(now);
        log.values.push(record.values);
      } else if (record.kind === "alarms") {
        log.alarms.push({ atMs: now, alarms: record.alarms });
      } else if (record.kind === "identity") {
        log.identities++;
      } else if (record.kind === "session") {
        outgoing.push(...session.onEvent(record.event, now));
      }
    }
    return outgoing;
  };

  const first = simulator.start(0);
  toDevice(session.onOpen(0), 0);
  fromDevice(first, 0);
  for (let now = simulator.tickMs; now <= durationMs; now += simulator.tickMs) {
    fromDevice(simulator.tick(now), now);
    if (now % session.tickMs === 0) toDevice(session.onTick(now), now);
  }
  return { simulator, session, log };
}

const largestGap = (times: number[]) =>
  Math.max(...times.slice(1).map((time, index) => time - (times[index] ?? 0)));

test("loop runs 30 s without a device time-out", (t) => {
  const { simulator, session, log } = runLoop({}, 30_000);
  t.is(simulator.stats.pauseTimeouts, 0, "pause time-outs");
  t.is(simulator.stats.droppedRequests, 0, "dropped requests");
  t.is(simulator.stats.ignoredRequests, 0, "ignored requests");
  t.is(session.stats.timeouts, 0, "request time-outs");
  t.is(session.stats.reinitializations, 0, "re-initializations");
  t.true(session.established);
  t.is(log.identities, 1, "device identification received");
  t.is(log.checksumErrors + log.decodeErrors, 0, "frame errors");
});

test("loop gets measured data every poll", (t) => {
  const { log } = runLoop({}, 30_000);
  t.true(log.numericsAtMs.length >= 30, `${log.numericsAtMs.length} measured-data responses`);
  t.true(largestGap(log.numericsAtMs) <= 1000, `largest gap ${largestGap(log.numericsAtMs)} ms`);
});

test("loop host never silent past keep-alive", (t) => {
  const { log } = runLoop({}, 30_000);
  t.true(largestGap(log.hostSentAtMs) <= 2000, `largest gap ${largestGap(log.hostSentAtMs)} ms`);
});

test("loop values drift", (t) => {
  const { log } = runLoop({}, 30_000);
  const pulses = new Set(
    log.values.map((values) => values.find((v) => v.deviceCode === "E1")?.text),
  );
  t.true(pulses.size > 3, `pulse values ${[...pulses].join(", ")}`);
});

test("loop alarm comes and goes", (t) => {
  const { log } = runLoop({}, 30_000);
  const activeAt = (atMs: number) =>
    log.alarms.find((entry) => entry.atMs >= atMs)?.alarms.map((alarm) => alarm.deviceCode);
  t.deepEqual(activeAt(5000), []);
  t.deepEqual(activeAt(12_000), ["0A"]);
  t.deepEqual(activeAt(16_000), []);
  const duringAlarm = log.values[log.numericsAtMs.findIndex((time) => time >= 12_000)] ?? [];
  t.false(
    duringAlarm.some((value) => value.deviceCode === "E6"),
    "EtCO2 absent during the fault",
  );
});

test("loop survives injected faults", (t) => {
  const { simulator, session, log } = runLoop(
    { corruptEvery: 7, garbageEvery: 5, realtimeEvery: 3, nestedCommandEvery: 4 },
    30_000,
  );
  t.is(simulator.stats.pauseTimeouts, 0, "pause time-outs");
  t.is(simulator.stats.droppedRequests, 0, "dropped requests");
  t.true(log.checksumErrors > 0, "corrupt frames reached the host");
  t.is(log.checksumErrors, simulator.stats.corruptFramesSent, "every corrupt frame was counted");
  t.is(log.discarded.realtime, simulator.stats.realtimeBytesSent, "realtime bytes dropped");
  t.is(log.discarded.garbage, simulator.stats.garbageBursts * 3, "garbage dropped");
  t.true(simulator.stats.nestedCommands > 0, "nested commands sent");
  // The simulator corrupts responses only; the host answers corrupt commands, not responses.
  t.is(simulator.stats.hostRejections, 0, "corrupt responses are not answered");
  t.true(session.stats.retries > 0, "lost responses retried");
  t.true(log.numericsAtMs.length >= 20, `${log.numericsAtMs.length} measured-data responses`);
  t.true(largestGap(log.numericsAtMs) < 3000, `largest gap ${largestGap(log.numericsAtMs)} ms`);
  t.true(largestGap(log.hostSentAtMs) <= 2000, `host gap ${largestGap(log.hostSentAtMs)} ms`);
  t.is(log.decodeErrors, 0, "decode errors");
});
