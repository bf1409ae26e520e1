import test, { type ExecutionContext } from "ava";
import { join } from "node:path";
import { silentLogger } from "../../src/log.js";
import { Outbox } from "../../src/outbox/outbox.js";
import { DevicePublisher } from "../../src/mqtt/device-publisher.js";
import { waveSegmentsPayload, type ObservationsPayload } from "../../src/mqtt/payloads.js";
import { topics } from "../../src/mqtt/topics.js";
import type { WaveSegment } from "../../src/device/waves.js";
import type { MqttUplink } from "../../src/mqtt/uplink.js";
import { loadProfileFile } from "../../src/profiles/load.js";
import { tempDir } from "../helpers/tmp.js";

function publisherWith(t: Parameters<typeof tempDir>[0], connected: boolean) {
  const loaded = loadProfileFile(
    join(__dirname, "..", "..", "firmware-profiles", "masimo-radical7-ascii1.yaml"),
  );
  if (!loaded.ok) throw new Error("profile did not load");
  const uplink = { connected, away: !connected } as unknown as MqttUplink;
  const outbox = new Outbox(
    {
      file: join(tempDir(t), "outbox.sqlite"),
      maxBytes: 1 << 20,
      maxAgeMs: 3_600_000,
      whenFull: "drop-oldest",
      flushIntervalMs: 10,
    },
    silentLogger,
  );
  t.teardown(() => outbox.close());
  const root = topics({ prefix: "iomt/v1", site: "s", gateway: "g" });
  const publisher = new DevicePublisher("bed1", loaded.loaded.profile, outbox, root, uplink);
  return { publisher, outbox };
}

const batch = {
  measurements: [
    { deviceCode: "SPO2", mdcCode: 150456, mdcRefId: "MDC_PULS_OXIM_SAT_O2", value: 97, unit: "%" },
  ],
};

test("records made while the broker is away are stored as offline", (t) => {
  const { publisher, outbox } = publisherWith(t, false);
  publisher.observations(batch, Date.parse("2026-12-04T16:00:00Z"));
  outbox.flush();
  const [record] = outbox.readAfter(0, 10);
  t.true(record?.offline);
  t.is(record?.topic, "iomt/v1/s/g/devices/bed1/obs");
  const payload = JSON.parse(record?.body ?? "{}") as ObservationsPayload;
  t.is(payload.receivedAt, "2026-12-04T16:00:00.000Z");
  t.false("replayed" in payload, "replayed is set when the record is sent");
});

test("records made while connected get consecutive sequence numbers", (t) => {
  const { publisher, outbox } = publisherWith(t, true);
  publisher.observations(batch, Date.now());
  publisher.alarm(
    { alarmCode: "link-lost", state: "active", text: "link lost" },
    "technical",
    Date.now(),
  );
  outbox.flush();
  const records = outbox.readAfter(0, 10);
  t.deepEqual(
    records.map((r) => [r.seq, r.offline]),
    [
      [1, false],
      [2, false],
    ],
  );
});

const ecgSegment = {
  deviceCode: "ECG1",
  mdcCode: 131328,
  mdcRefId: "MDC_ECG_ELEC_POTL",
  unit: "mV",
  scale: 0.005,
  offset: 0,
  samplePeriodMs: 4,
  samples: [1, null, 3],
};

/** Publishes the segments emitted together at 16:00:01 and returns the one record's payload. */
function publishedSegments(t: ExecutionContext, segments: WaveSegment[]) {
  const { publisher, outbox } = publisherWith(t, true);
  publisher.waveSegments(segments, Date.parse("2026-12-04T16:00:01Z"));
  outbox.flush();
  const records = outbox.readAfter(0, 10);
  t.is(records.length, 1);
  t.is(records[0]?.topic, "iomt/v1/s/g/devices/bed1/wave");
  return waveSegmentsPayload.parse({
    ...(JSON.parse(records[0]?.body ?? "{}") as object),
    replayed: false,
  });
}

/** Publishes one three-sample ECG segment and returns it as published. */
function publishedSegment(t: ExecutionContext, ages: { first: number; last: number }) {
  const payload = publishedSegments(t, [
    { ...ecgSegment, firstSampleAgeMs: ages.first, lastSampleAgeMs: ages.last },
  ]);
  const [segment, ...rest] = payload.segments;
  if (segment === undefined || rest.length > 0)
    throw new Error(`expected one segment, got ${payload.segments.length}`);
  return segment;
}

test("a wave segment is stored on the wave topic with its start time", (t) => {
  const payload = publishedSegment(t, { first: 500, last: 0 });
  t.is(payload.startTime, "2026-12-04T16:00:00.500Z");
  t.is(payload.receivedAt, "2026-12-04T16:00:01.000Z");
  t.deepEqual(payload.samples, [1, null, 3]);
});

test("segments emitted together share a record", (t) => {
  const payload = publishedSegments(t, [
    { ...ecgSegment, firstSampleAgeMs: 500, lastSampleAgeMs: 0 },
    {
      ...ecgSegment,
      deviceCode: "PLETH",
      mdcCode: 150452,
      mdcRefId: "MDC_PULS_OXIM_PLETH",
      unit: "%",
      samplePeriodMs: 8,
      samples: [40, 41],
      firstSampleAgeMs: 1500,
      lastSampleAgeMs: 1200,
    },
  ]);
  t.is(payload.seq, 1);
  t.deepEqual(
    payload.segments.map((s) => [s.deviceCode, s.startTime, s.receivedAt, s.samples]),
    [
      ["ECG1", "2026-12-04T16:00:00.500Z", "2026-12-04T16:00:01.000Z", [1, null, 3]],
      ["PLETH", "2026-12-04T15:59:59.500Z", "2026-12-04T15:59:59.800Z", [40, 41]],
    ],
  );
});

test("a partial segment sent late keeps its receive time", (t) => {
  const payload = publishedSegment(t, { first: 1500, last: 1200 });
  t.is(payload.startTime, "2026-12-04T15:59:59.500Z");
  t.is(payload.receivedAt, "2026-12-04T15:59:59.800Z");
});

test("a wave record is made at its stalest segment", (t) => {
  const { publisher, outbox } = publisherWith(t, true);
  const emittedAtMs = Date.now();
  // A held segment whose samples end 12 s before emission, by the device's clock, and a fresh
  // one that came in the same read.
  const threeSamples = { ...ecgSegment, samples: [1, 2, 3], samplePeriodMs: 4 };
  publisher.waveSegments(
    [
      { ...threeSamples, firstSampleAgeMs: 12_008, lastSampleAgeMs: 0 },
      { ...threeSamples, firstSampleAgeMs: 8, lastSampleAgeMs: 0 },
    ],
    emittedAtMs,
  );
  outbox.flush();
  const [record] = outbox.readAfter(0, 10);
  t.is(record?.createdMs, emittedAtMs - 12_000);
});
