import test from "ava";
import { join } from "node:path";
import type { DeviceConfig } from "../../src/config/schema.js";
import { DevicePipeline, type NumericsBatch } from "../../src/device/pipeline.js";
import { DeviceSupervisor, systemClock, type DeviceSink } from "../../src/device/supervisor.js";
import type { WaveSegment } from "../../src/device/waves.js";
import type { Connector, LinkConnection } from "../../src/link/types.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import { loadProfileFile, type LoadedProfile } from "../../src/profiles/load.js";
import { vectorBytes } from "../../src/profiles/vectors.js";
import { encodeResponse } from "../../src/protocols/medibus/codec.js";
import { withoutFirstLineSkip } from "../../src/protocols/ascii-line/schema.js";
import { codecFor, type ProfileCodec } from "../../src/protocols/registry.js";

const host = { name: "IOMTGW", revision: "1.0.0" };
const line = "01/01/24 12:00:00 SN=0000012345 SPO2=097% BPM=072 PI=02.10% EXC=000000\r\n";

function masimo(): LoadedProfile {
  const loaded = loadProfileFile(
    join(__dirname, "..", "..", "firmware-profiles", "masimo-radical7-ascii1.yaml"),
  );
  if (!loaded.ok || loaded.loaded.profile.family !== "ascii-line") throw new Error("no profile");
  return { ...loaded.loaded, profile: withoutFirstLineSkip(loaded.loaded.profile) };
}

/** Returns a connector whose connections the test feeds by hand. */
function memoryConnector() {
  const opened: { data?: (chunk: Buffer) => void; closed: boolean }[] = [];
  const written: Buffer[] = [];
  const connector: Connector = {
    description: "memory",
    connect: () => {
      const state: { data?: (chunk: Buffer) => void; closed: boolean } = { closed: false };
      let onClose: ((reason: string) => void) | undefined;
      opened.push(state);
      const connection: LinkConnection = {
        write: (bytes) => written.push(bytes),
        close: (reason) => {
          if (state.closed) return;
          state.closed = true;
          onClose?.(reason ?? "closed");
        },
        onData: (listener) => (state.data = listener),
        onClose: (listener) => (onClose = listener),
      };
      return Promise.resolve(connection);
    },
  };
  return { connector, opened, written };
}

function recordingSink(stored = true) {
  const batches: NumericsBatch[] = [];
  const alarms: string[] = [];
  const states: string[] = [];
  const segments: { segment: WaveSegment; emittedAtMs: number }[] = [];
  const sink: DeviceSink = {
    observations: (batch) => batches.push(batch),
    waveSegments: (sent, emittedAtMs) => {
      for (const segment of sent) segments.push({ segment, emittedAtMs });
    },
    alarm: (change) => alarms.push(`${change.alarmCode} ${change.state}`),
    identity: () => undefined,
    state: (status) => states.push(status.state),
    persist: () => stored,
  };
  return { sink, batches, alarms, states, segments };
}

function supervisor(
  id: string,
  loaded: LoadedProfile,
  codec: ProfileCodec,
  stored = true,
  quietTimeMs = 500,
  log: Logger = silentLogger,
) {
  const { connector, opened, written } = memoryConnector();
  const { sink, batches, alarms, states, segments } = recordingSink(stored);
  const pipeline = new DevicePipeline(codec, loaded.profile, host);
  const device = { id, profile: loaded.profile.id, quietTimeMs } as DeviceConfig;
  const reconnect = { initialDelayMs: 10, maxDelayMs: 10, watchMs: 1000 };
  const supervised = new DeviceSupervisor(
    device,
    loaded,
    pipeline,
    connector,
    reconnect,
    sink,
    log,
    systemClock,
  );
  return { supervised, pipeline, opened, batches, written, alarms, states, segments };
}

async function untilOpened(opened: readonly unknown[], count: number) {
  for (let wait = 0; opened.length < count && wait < 1000; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test("throwing decoder spares other devices", async (t) => {
  const loaded = masimo();
  const throwing: ProfileCodec = {
    ...codecFor(loaded.profile),
    createDecoder: () => () => {
      throw new RangeError("index out of range");
    },
  };
  const broken = supervisor("broken", loaded, throwing);
  const good = supervisor("good", loaded, codecFor(loaded.profile));
  broken.supervised.start();
  good.supervised.start();
  t.teardown(() => {
    broken.supervised.stop();
    good.supervised.stop();
  });
  await untilOpened(broken.opened, 1);
  await untilOpened(good.opened, 1);

  broken.opened[0]?.data?.(Buffer.from(line));
  good.opened[0]?.data?.(Buffer.from(line));

  t.is(broken.pipeline.counters.decodeErrors, 1);
  t.is(broken.batches.length, 0);
  t.is(good.batches.length, 1);
  t.is(good.batches[0]?.measurements[0]?.value, 97);
});

test("throwing session reopens its link", async (t) => {
  const loaded = masimo();
  const codec = codecFor(loaded.profile);
  const failing: ProfileCodec = {
    ...codec,
    createSession: (identity) => ({
      ...codec.createSession(identity),
      onTick: () => {
        throw new Error("session bug");
      },
    }),
  };
  const device = supervisor("failing", loaded, failing);
  device.supervised.start();
  t.teardown(() => device.supervised.stop());
  await untilOpened(device.opened, 2);

  t.true(device.opened[0]?.closed, "the first connection was closed");
  t.true(device.opened.length >= 2, "the link was opened again");
  t.true(device.pipeline.counters.decodeErrors >= 1);
});

function hl7(): LoadedProfile {
  const loaded = loadProfileFile(
    join(__dirname, "..", "..", "firmware-profiles", "hl7-pcd01-oru.yaml"),
  );
  if (!loaded.ok) throw new Error("no profile");
  return loaded.loaded;
}

const oru =
  "\x0bMSH|^~\\&|MON|ICU|||20261204120000||ORU^R01|M1|P|2.6\r" +
  "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|262688^MDC_DIM_PERCENT^MDC|||||F\r\x1c\r";

for (const stored of [true, false]) {
  test(`acknowledgement ${stored ? "follows stored" : "withheld for unstored"} records`, async (t) => {
    const loaded = hl7();
    const device = supervisor("mon1", loaded, codecFor(loaded.profile), stored);
    device.supervised.start();
    t.teardown(() => device.supervised.stop());
    await untilOpened(device.opened, 1);

    device.opened[0]?.data?.(Buffer.from(oru, "latin1"));

    t.is(device.batches.length, 1, "the record reached the sink");
    const acks = device.written.filter((bytes) => bytes.toString("latin1").includes("MSA|AA|M1"));
    t.is(acks.length, stored ? 1 : 0);
  });
}

test("silent device stays stale across reopens", async (t) => {
  const loaded = masimo();
  const device = supervisor("mute", loaded, codecFor(loaded.profile));
  device.supervised.start();
  t.teardown(() => device.supervised.stop());
  // Quiet time 500 ms: stale after it, the link reopened after three of them.
  await untilOpened(device.opened, 2);
  await new Promise((resolve) => setTimeout(resolve, 100));

  t.true(device.opened[0]?.closed, "the silent link was reopened");
  t.deepEqual(device.alarms, ["data-stale active"]);
  t.is(device.states.at(-1), "stale");
  t.false(device.states.includes("lost"));
  t.regex(device.supervised.status().reason ?? "", /no valid frame ever for \d+ ms.*reopened/);
});

/** Loads the Nonin format 2 profile and the bytes of its first test vector: 25 pleth samples. */
function noninPacket() {
  const loaded = loadProfileFile(
    join(__dirname, "..", "..", "firmware-profiles", "nonin-oem3-df2.yaml"),
  );
  if (!loaded.ok) throw new Error("nonin-oem3-df2.yaml failed to load");
  const vector = loaded.loaded.profile.testVectors[0];
  if (vector === undefined) throw new Error("nonin-oem3-df2 has no test vector");
  return { loaded: loaded.loaded, bytes: vectorBytes(vector) };
}

test("stop sends the partial wave segment", async (t) => {
  const { loaded, bytes } = noninPacket();
  const device = supervisor("pleth", loaded, codecFor(loaded.profile), true, 5000);
  device.supervised.start();
  await untilOpened(device.opened, 1);
  // 25 samples span 333 ms, less than the 500 ms segment, so nothing is sent yet.
  device.opened[0]?.data?.(bytes);
  t.is(device.segments.length, 0);

  device.supervised.stop();
  t.deepEqual(
    device.segments.map(({ segment }) => segment.samples.length),
    [25],
  );
});

test("wave that stops sends its partial segment", async (t) => {
  const { loaded, bytes } = noninPacket();
  const device = supervisor("pleth", loaded, codecFor(loaded.profile), true, 5000);
  device.supervised.start();
  t.teardown(() => device.supervised.stop());
  await untilOpened(device.opened, 1);
  device.opened[0]?.data?.(bytes);
  const arrivedAtMs = Date.now();

  // The gap bound is 1 s; the device's quiet time, 5 s, has not passed.
  for (let wait = 0; device.segments.length === 0 && wait < 100; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const [sent] = device.segments;
  t.is(sent?.segment.samples.length, 25);
  t.true((sent?.segment.lastSampleAgeMs ?? 0) >= 1000);
  // The publisher subtracts lastSampleAgeMs for receivedAt: the arrival, not the emission.
  const receivedAtMs = (sent?.emittedAtMs ?? 0) - (sent?.segment.lastSampleAgeMs ?? 0);
  t.true(Math.abs(receivedAtMs - arrivedAtMs) < 500, `${receivedAtMs - arrivedAtMs} ms`);
  t.deepEqual(device.alarms, []);
});

test("unrequested frames are logged", async (t) => {
  const loaded = loadProfileFile(
    join(__dirname, "..", "..", "firmware-profiles", "draeger-medibus-evita4.yaml"),
  );
  if (!loaded.ok) throw new Error("draeger-medibus-evita4.yaml failed to load");
  const lines: string[] = [];
  const log = createLogger({
    level: "warn",
    format: "json",
    sink: { write: (line) => lines.push(line) },
  });
  const profile = loaded.loaded;
  const device = supervisor("vent", profile, codecFor(profile.profile), true, 5000, log);
  device.supervised.start();
  t.teardown(() => device.supervised.stop());
  await untilOpened(device.opened, 1);
  // Measured data while the session still waits for its ICC response.
  device.opened[0]?.data?.(encodeResponse(0x24, "EB 55 E1 55 "));

  t.is(device.batches.length, 0);
  const warning = lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((record) => record.msg === "frames that matched no request were dropped");
  t.like(warning, { level: "warn", dropped: 1, unexpectedFrames: 1 });
});
