import test from "ava";
import { loadProfiles, builtInProfileDirs } from "../../../src/profiles/load.js";
import type { Profile } from "../../../src/profiles/schema.js";
import { ACK, ENQ, EOT, NAK } from "../../../src/protocols/astm/codec.js";
import { parseAstmFrame } from "../../../src/protocols/astm/frame.js";
import type { AstmReceiverSession } from "../../../src/protocols/astm/session.js";
import {
  AstmAnalyzerSimulator,
  MAX_FRAME_NAKS,
  SENDER_TIMEOUT_MS,
  SIMULATED_PATIENT_ID,
  SIMULATED_PATIENT_NAME,
} from "../../../src/protocols/astm/simulator.js";
import { defaultSimulatorOptions } from "../../../src/protocols/family.js";
import { runDeviceLoop } from "../../helpers/device-loop.js";

const profile = loadProfiles(builtInProfileDirs()).profiles.get("astm-e1381-blood-gas")
  ?.profile as Profile;
const ack = Buffer.of(ACK);
const nak = Buffer.of(NAK);

function createSimulator(maxTextBytes = 240): AstmAnalyzerSimulator {
  return new AstmAnalyzerSimulator(maxTextBytes, {
    ...defaultSimulatorOptions,
    resultPeriodMs: 1000,
  });
}

/** Ticks until the simulator sends something, and returns it. */
function nextOutput(simulator: AstmAnalyzerSimulator, fromMs: number, toMs: number): Buffer[] {
  for (let now = fromMs; now <= toMs; now += simulator.tickMs) {
    const output = simulator.tick(now);
    if (output.length > 0) return output;
  }
  return [];
}

test("simulator starts a transfer with ENQ", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  t.deepEqual(nextOutput(simulator, 50, 2000), [Buffer.of(ENQ)]);
});

test("simulator splits its message into ETB and ETX frames numbered from 1", (t) => {
  const simulator = createSimulator(40);
  simulator.start(0);
  nextOutput(simulator, 50, 2000);
  const frames: Buffer[] = [];
  let reply = simulator.receive(ack, 600);
  while (reply[0]?.[0] !== EOT) {
    frames.push(...reply);
    reply = simulator.receive(ack, 600);
  }
  const parsed = frames.map((frame) => parseAstmFrame(frame));
  const numbers = parsed.map((result) =>
    result.ok && result.frame.kind === "data" ? result.frame.frameNumber : -1,
  );
  t.true(frames.length > 8, "a message of several hundred bytes in 40-byte frames");
  t.deepEqual(numbers.slice(0, 9), [1, 2, 3, 4, 5, 6, 7, 0, 1]);
  const lasts = parsed.map(
    (result) => result.ok && result.frame.kind === "data" && result.frame.last,
  );
  t.deepEqual(lasts.filter(Boolean).length, 1);
  t.true(lasts.at(-1));
  t.is(simulator.stats.completedTransfers, 1);
});

test("simulator result times are valid and count up", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  const times: string[] = [];
  let now = 0;
  // 70 transfers: the old time stamp reached second 61 after 61 messages.
  for (let transfer = 0; transfer < 70; transfer++) {
    const [enquiry] = nextOutput(simulator, now + 50, now + 5000);
    t.deepEqual(enquiry, Buffer.of(ENQ));
    now += 5000;
    let text = "";
    for (let reply = simulator.receive(ack, now); reply[0]?.[0] !== EOT;) {
      for (const frame of reply) {
        const parsed = parseAstmFrame(frame);
        if (parsed.ok && parsed.frame.kind === "data") text += parsed.frame.text.toString("latin1");
      }
      reply = simulator.receive(ack, now);
    }
    const result = text.split("\r").find((record) => record.startsWith("R|1|"));
    times.push(result?.split("|")[12] ?? "");
  }
  t.is(times[0], "20240101120001");
  t.is(times[60], "20240101120101");
  for (const time of times) t.regex(time, /^20240101\d{2}[0-5]\d[0-5]\d$/);
  t.deepEqual([...times].sort(), times, "times count up");
});

test("simulator sends a frame again after NAK and gives up after 6", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  nextOutput(simulator, 50, 2000);
  const first = simulator.receive(ack, 600)[0];
  for (let naks = 1; naks < MAX_FRAME_NAKS; naks++) {
    t.deepEqual(simulator.receive(nak, 600 + naks), [first], `NAK ${naks}`);
  }
  t.deepEqual(simulator.receive(nak, 700), [Buffer.of(EOT)]);
  t.is(simulator.stats.retransmissions, MAX_FRAME_NAKS - 1);
  t.is(simulator.stats.abortedTransfers, 1);
});

test("simulator ends the transfer when no reply comes in 15 s", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  nextOutput(simulator, 50, 2000);
  t.deepEqual(nextOutput(simulator, 550, 550 + SENDER_TIMEOUT_MS - 100), []);
  t.deepEqual(nextOutput(simulator, 550 + SENDER_TIMEOUT_MS - 50, 600 + SENDER_TIMEOUT_MS), [
    Buffer.of(EOT),
  ]);
  t.is(simulator.stats.timeouts, 1);
});

test("simulator waits 10 s after a busy NAK to ENQ", (t) => {
  const simulator = createSimulator();
  simulator.start(0);
  nextOutput(simulator, 50, 2000);
  t.deepEqual(simulator.receive(nak, 600), []);
  t.deepEqual(nextOutput(simulator, 650, 10_550), []);
  t.deepEqual(nextOutput(simulator, 10_600, 10_700), [Buffer.of(ENQ)]);
});

test("loop publishes results with units and no patient data", (t) => {
  const loop = runDeviceLoop<AstmAnalyzerSimulator, AstmReceiverSession>(
    profile,
    { resultPeriodMs: 2000 },
    20_000,
  );
  t.true(loop.simulator.stats.completedTransfers >= 5);
  t.is(loop.simulator.stats.naksReceived, 0);
  const measurements = loop.batches.flatMap((batch) => batch.measurements);
  const units = new Map(measurements.map((m) => [m.mdcCode, m.unit]));
  t.deepEqual(
    [...units],
    [
      [159748, "[pH]"],
      [159752, "mm[Hg]"],
      [159756, "mm[Hg]"],
      [150364, "Cel"],
      [152196, "%"],
    ],
  );
  t.true(measurements.every((m) => m.value !== null));
  t.regex(loop.batches[0]?.deviceTime ?? "", /^2024\d{10}$/);
  t.deepEqual(loop.identities[0], { model: "SimBGA", firmware: "1.0", serialNumber: "SIM0000001" });
  const published = JSON.stringify({ batches: loop.batches, identities: loop.identities });
  t.false(published.includes(SIMULATED_PATIENT_NAME.split("^")[0] ?? "?"));
  t.false(published.includes(SIMULATED_PATIENT_ID));
  t.deepEqual(Object.fromEntries(loop.pipeline.unmappedCodes), {});
});

test("loop NAKs corrupt frames and still gets every result once", (t) => {
  const clean = runDeviceLoop(profile, { resultPeriodMs: 2000 }, 20_000);
  const faulty = runDeviceLoop<AstmAnalyzerSimulator, AstmReceiverSession>(
    profile,
    { resultPeriodMs: 2000, corruptEvery: 3, garbageEvery: 4 },
    20_000,
  );
  t.true(faulty.simulator.stats.corruptFramesSent > 0);
  t.is(faulty.pipeline.counters.checksumErrors, faulty.simulator.stats.corruptFramesSent);
  t.is(faulty.session.stats.naks, faulty.simulator.stats.corruptFramesSent);
  t.is(faulty.simulator.stats.abortedTransfers, 0);
  t.true(faulty.pipeline.counters.discardedBytes > 0);
  const values = (loop: typeof clean) =>
    loop.batches.flatMap((batch) => batch.measurements.map((m) => m.value));
  const transfers = faulty.simulator.stats.completedTransfers;
  t.true(transfers >= 3);
  t.deepEqual(values(faulty), values(clean).slice(0, values(faulty).length));
  t.is(values(faulty).length, transfers * 5);
});

test("loop drops a transfer the sender gave up on and takes it again", (t) => {
  let dropped = 0;
  const loop = runDeviceLoop<AstmAnalyzerSimulator, AstmReceiverSession>(
    profile,
    { resultPeriodMs: 2000 },
    40_000,
    {
      // Lose the ACK of the first frame of the first transfer: the sender times out.
      deliverToDevice: (message) =>
        message.label === "ACK accepted frame" && dropped++ === 0 ? null : message.bytes,
    },
  );
  t.is(loop.simulator.stats.timeouts, 1);
  t.is(loop.simulator.stats.abortedTransfers, 1);
  t.true(loop.errors.some((error) => /ended before the last frame/.test(error.message)));
  const measurements = loop.batches.flatMap((batch) => batch.measurements);
  t.is(measurements.length, loop.simulator.stats.completedTransfers * 5);
});

test("loop uses a frame repeated after a garbled ACK once", (t) => {
  let acks = 0;
  const loop = runDeviceLoop<AstmAnalyzerSimulator, AstmReceiverSession>(
    profile,
    { resultPeriodMs: 2000 },
    20_000,
    {
      // The third ACK gets bit 7 set on the way, so the sender sees neither ACK nor NAK.
      deliverToDevice: (message) =>
        message.label === "ACK accepted frame" && acks++ === 2 ? Buffer.of(0x86) : message.bytes,
    },
  );
  t.is(loop.session.stats.repeatedFrames, 1);
  t.is(loop.simulator.stats.abortedTransfers, 0);
  const measurements = loop.batches.flatMap((batch) => batch.measurements);
  t.is(measurements.length, loop.simulator.stats.completedTransfers * 5);
});
