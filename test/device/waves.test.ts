import test from "ava";
import { WaveBatcher, type WaveSegment } from "../../src/device/waves.js";
import type { WaveMapping } from "../../src/profiles/common.js";

const ecg: WaveMapping = {
  mdcCode: 131328,
  mdcRefId: "MDC_ECG_ELEC_POTL",
  unit: "mV",
  scale: 0.005,
  offset: 0,
  samplePeriodMs: 4,
  validRange: { min: -32000, max: 32000 },
};

function batcher(waveSegmentMs = 100) {
  return new WaveBatcher({ waves: { ECG1: ecg }, waveSegmentMs });
}

/** Eight samples every 32 ms, as a monitor sending 250 samples a second in small frames. */
function feed(waves: WaveBatcher, frames: number, startMs = 0) {
  const segments = [];
  for (let frame = 0; frame < frames; frame++) {
    const samples = Array.from({ length: 8 }, (_, index) => frame * 8 + index);
    segments.push(...waves.add("ECG1", samples, startMs + frame * 32));
  }
  return segments;
}

test("full segment spans the segment time", (t) => {
  const segments = feed(batcher(100), 4);
  // 4 frames of 8 samples at 4 ms = 128 ms of signal: the 100 ms segment fills at frame 4.
  t.is(segments.length, 1);
  t.deepEqual(
    segments[0]?.samples,
    Array.from({ length: 32 }, (_, index) => index),
  );
  t.is(segments[0]?.samplePeriodMs, 4);
  t.is(segments[0]?.unit, "mV");
  t.is(segments[0]?.lastSampleAgeMs, 0);
});

test("segments batch many frames", (t) => {
  // 500 ms at 4 ms a sample is 125 samples: 16 frames of 8, so 160 frames make 10 segments.
  const segments = feed(batcher(500), 160);
  t.deepEqual(
    segments.map((segment) => segment.samples.length),
    Array(10).fill(128),
  );
  t.deepEqual(
    segments.flatMap((segment) => segment.samples),
    Array.from({ length: 1280 }, (_, index) => index),
  );
});

test("first sample age covers earlier samples", (t) => {
  const waves = batcher(100);
  const [segment] = feed(waves, 4, 1000);
  // The first frame arrived at 1000 ms with 8 samples, so its first sample is from 972 ms.
  // The segment left with the fourth frame, at 1096 ms.
  t.is(segment?.firstSampleAgeMs, 1096 - 972);
});

test("out-of-range samples become null", (t) => {
  const waves = batcher(50);
  const [segment] = waves.add("ECG1", [1, -32768, 2, 32767, ...Array(12).fill(3)], 0);
  t.deepEqual(segment?.samples.slice(0, 4), [1, null, 2, null]);
});

test("signal gap closes the segment", (t) => {
  const waves = batcher(500);
  t.deepEqual(waves.add("ECG1", [1, 2, 3], 0), []);
  const segments = waves.add("ECG1", [4, 5, 6], 5000);
  t.is(segments.length, 1);
  t.deepEqual(segments[0]?.samples, [1, 2, 3]);
  t.deepEqual(
    waves.flush(5000).map((segment) => segment.samples),
    [[4, 5, 6]],
  );
});

test("flush empties partial segments", (t) => {
  const waves = batcher(500);
  waves.add("ECG1", [7, 8], 0);
  t.deepEqual(
    waves.flush(10).map((segment) => segment.samples),
    [[7, 8]],
  );
  t.deepEqual(waves.flush(20), []);
});

test("unmapped wave yields nothing", (t) => {
  const waves = batcher();
  t.false(waves.mapped("PLETH"));
  t.deepEqual(waves.add("PLETH", [1, 2, 3], 0), []);
});

interface ClockedFeed {
  /** Records that never arrive. */
  lost?: number[];
  startTicks?: number;
  /** Moves each clock reading by up to that much. */
  jitterMs?: (record: number) => number;
  /** How far the clock moves per record: 32 ms, unless the device samples at another period. */
  clockMsPerRecord?: number;
  /** The record before which a bad frame arrives. */
  badFrameBefore?: number;
}

/**
 * Feeds records of 8 samples every 32 ms with the device's clock at 8 ticks a millisecond, as
 * IntelliVue's RelativeTime, and returns the segments that filled.
 */
function feedClocked(waves: WaveBatcher, records: number, options: ClockedFeed = {}) {
  const { lost = [], startTicks = 0, jitterMs = () => 0, clockMsPerRecord = 32 } = options;
  const segments = [];
  for (let record = 0; record < records; record++) {
    if (record === options.badFrameBefore) waves.noteLoss();
    if (lost.includes(record)) continue;
    const samples = Array.from({ length: 8 }, (_, index) => record * 8 + index);
    const ticks = (startTicks + (record * clockMsPerRecord + jitterMs(record)) * 8) >>> 0;
    const deviceClock = { ticks, ticksPerMs: 8 };
    segments.push(...waves.add("ECG1", samples, record * 32, { deviceClock }));
  }
  return segments;
}

test("a record lost between two others ends the segment at the loss", (t) => {
  // 16 records of 8 samples make one 500 ms segment; record 5 never arrives.
  const waves = batcher(500);
  const segments = [...feedClocked(waves, 20, { lost: [5] }), ...waves.flush(20 * 32)];
  t.deepEqual(
    segments.map((segment) => segment.samples[0]),
    [0, 48],
    "the second segment starts after the lost record",
  );
  t.deepEqual(
    segments[0]?.samples,
    Array.from({ length: 40 }, (_, index) => index),
  );
  // No segment contains samples from both sides of the loss.
  for (const segment of segments) {
    const values = segment.samples as number[];
    t.is(values.at(-1)! - values[0]!, values.length - 1);
  }
  t.deepEqual(waves.periodMismatches, [], "one lost record is no other sample period");
});

test("clock jitter under half a record keeps one segment", (t) => {
  // Consecutive readings differ by up to 14 ms from the 32 ms the samples span; half is 16.
  const jitter = [0, 5, -6, 7, -7, 3, 6, -4, 0, 7, -6, 2, 4, -1, 5, 0];
  const waves = batcher(500);
  const segments = feedClocked(waves, 16, { jitterMs: (record) => jitter[record] ?? 0 });
  t.is(segments.length, 1);
  t.is(segments[0]?.samples.length, 128);
  t.deepEqual(waves.periodMismatches, []);
});

test("a clock that wraps past 32 bits is no loss", (t) => {
  // The 32-bit counter wraps after the fourth record.
  const segments = feedClocked(batcher(500), 16, { startTicks: 2 ** 32 - 4 * 32 * 8 + 1 });
  t.is(segments.length, 1);
  t.is(segments[0]?.samples.length, 128);
});

test("a clock that restarts ends the segment", (t) => {
  const waves = batcher(500);
  feedClocked(waves, 4, { startTicks: 800_000 });
  const segments = waves.add("ECG1", [100, 101], 4 * 32, {
    deviceClock: { ticks: 0, ticksPerMs: 8 },
  });
  t.deepEqual(
    segments.map((segment) => segment.samples.length),
    [32],
  );
  // The old clock's offset no longer holds: the new samples are timed by their arrival.
  const [restarted] = waves.flush(4 * 32);
  t.is(4 * 32 - (restarted?.firstSampleAgeMs ?? 0), 4 * 32 - 4);
});

test("forgotten clock is read afresh", (t) => {
  // After the link closed, the device's clock moved 30 s while 100 s passed: another device,
  // or one that restarted. Its samples are timed by arrival, not by the old offset.
  const waves = batcher(500);
  feedClocked(waves, 4);
  waves.flush(4 * 32);
  waves.forgetClocks();
  const atMs = 100_000;
  waves.add("ECG1", [1, 2], atMs, { deviceClock: { ticks: 30_000 * 8, ticksPerMs: 8 } });
  const [segment] = waves.flush(atMs);
  t.is(atMs - (segment?.firstSampleAgeMs ?? 0), atMs - 4);
});

test("bad frame ends a segment once the clock is ignored", (t) => {
  // The clock gives 8 ms a sample against the profile's 4, so after three records it is
  // ignored, and a bad frame then ends the segment as for a device without a clock.
  const waves = batcher(500);
  const segments = feedClocked(waves, 6, { clockMsPerRecord: 64, badFrameBefore: 5 });
  t.is(waves.periodMismatches.length, 1);
  // Records 1 and 2 each end a segment, as losses, until the mismatch is found at record 3.
  // The bad frame then ends the segment of records 2 to 4.
  t.deepEqual(
    segments.map((segment) => segment.samples.length),
    [8, 8, 24],
  );
});

test("wave quiet past the gap bound expires", (t) => {
  const waves = batcher(500);
  waves.add("ECG1", [1, 2, 3], 0);
  t.deepEqual(waves.expire(1000), [], "within the gap bound of 1 s");

  const [segment] = waves.expire(1001);
  t.deepEqual(segment?.samples, [1, 2, 3]);
  t.is(segment?.lastSampleAgeMs, 1001);
  t.deepEqual(waves.flush(1001), []);
});

test("clock at another sample period is reported once", (t) => {
  // The device sends 8 samples every 64 ms, a sample each 8 ms, where the profile has 4 ms.
  const waves = batcher(500);
  const segments = [];
  for (let record = 0; record < 40; record++) {
    const samples = Array.from({ length: 8 }, (_, index) => record * 8 + index);
    const deviceClock = { ticks: record * 64 * 8, ticksPerMs: 8 };
    segments.push(...waves.add("ECG1", samples, record * 64, { deviceClock }));
  }
  t.deepEqual(waves.periodMismatches, [
    { deviceCode: "ECG1", deviceSamplePeriodMs: 8, profileSamplePeriodMs: 4 },
  ]);
  // Records 1 and 2 each ended a segment; once reported, the clock ends none.
  t.deepEqual(
    segments.map((segment) => segment.samples.length),
    [8, 8, 128, 128],
  );
});

/** Returns each segment's first sample time: its emission less firstSampleAgeMs. */
function startsOf(emitted: { segment: WaveSegment; atMs: number }[]) {
  return emitted.map(({ segment, atMs }) => atMs - segment.firstSampleAgeMs);
}

/** Feeds 48 records of 8 samples, 32 ms apart by the device's clock, arriving `jitter` late. */
function feedJittered(waves: WaveBatcher, withClock: boolean) {
  const jitter = [0, 3, 7, 1, 9, 2, 5];
  const emitted: { segment: WaveSegment; atMs: number }[] = [];
  for (let record = 0; record < 48; record++) {
    const samples = Array.from({ length: 8 }, (_, index) => record * 8 + index);
    const atMs = 1000 + record * 32 + (jitter[record % jitter.length] ?? 0);
    const stamp = withClock ? { deviceClock: { ticks: record * 32 * 8, ticksPerMs: 8 } } : {};
    for (const segment of waves.add("ECG1", samples, atMs, stamp)) emitted.push({ segment, atMs });
  }
  return startsOf(emitted);
}

test("clocked segments start where the last one ended", (t) => {
  const starts = feedJittered(batcher(500), true);
  t.is(starts.length, 3);
  // 128 samples at 4 ms: each segment starts 512 ms after the one before, to the millisecond.
  t.is(starts[1]! - starts[0]!, 512);
  t.is(starts[2]! - starts[1]!, 512);
});

test("segments without a clock start by arrival", (t) => {
  const starts = feedJittered(batcher(500), false);
  t.is(starts.length, 3);
  t.not(starts[1]! - starts[0]!, 512, "arrival jitter moves the start");
});

test("every other record lost is no period mismatch", (t) => {
  // Records of 8 samples at 4 ms, every other one lost to a bad frame: the clock moves 64 ms
  // per record received, as it would for a device at 8 ms a sample.
  const waves = batcher(500);
  const segments = [];
  for (let record = 0; record < 20; record += 2) {
    waves.noteLoss();
    const samples = Array.from({ length: 8 }, (_, index) => record * 8 + index);
    const deviceClock = { ticks: record * 32 * 8, ticksPerMs: 8 };
    segments.push(...waves.add("ECG1", samples, record * 32, { deviceClock }));
  }
  t.deepEqual(waves.periodMismatches, []);
  // Every loss ends the segment before it.
  t.deepEqual(
    segments.map((segment) => segment.samples[0]),
    [0, 16, 32, 48, 64, 80, 96, 112, 128],
  );
});

/**
 * Feeds records of 8 samples, 32 ms apart by the device's clock, each arriving at
 * `arrivalMs(record)`. Returns each segment's start and the arrival of its first record.
 */
function feedArrivals(waves: WaveBatcher, records: number, arrivalMs: (record: number) => number) {
  const segments: { startMs: number; firstArrivalMs: number }[] = [];
  let firstArrivalMs = arrivalMs(0);
  for (let record = 0; record < records; record++) {
    const samples = Array.from({ length: 8 }, (_, index) => record * 8 + index);
    const atMs = arrivalMs(record);
    const stamp = { deviceClock: { ticks: record * 32 * 8, ticksPerMs: 8 } };
    for (const segment of waves.add("ECG1", samples, atMs, stamp)) {
      segments.push({ startMs: atMs - segment.firstSampleAgeMs, firstArrivalMs });
      firstArrivalMs = arrivalMs(record + 1);
    }
  }
  return segments;
}

test("held records keep clocked starts", (t) => {
  // Records 20 to 47 are held and arrive together with record 47, 864 ms late at most, as
  // from a device server that buffers.
  const arrival = (record: number) => 1000 + (record >= 20 && record < 47 ? 47 : record) * 32;
  const starts = feedArrivals(batcher(500), 64, arrival).map((segment) => segment.startMs);
  t.is(starts.length, 4);
  t.deepEqual(
    starts.slice(1).map((start, index) => start - starts[index]!),
    [512, 512, 512],
  );
});

test("slow device clock moves starts later", (t) => {
  // The device's 32 ms of samples take 32.032 ms of the gateway's time (0.1 % slow), so each
  // 512 ms segment arrives 0.512 ms later than the one before by the device's clock, for 205 s.
  const segments = feedArrivals(batcher(500), 16 * 400, (record) => 1000 + record * 32.032);
  t.is(segments.length, 400);
  const starts = segments.map((segment) => segment.startMs);
  const steps = starts.slice(1).map((start, index) => start - starts[index]!);
  // Ages are whole milliseconds, so a step may read 1 ms short of 512.
  t.true(
    steps.every((step) => step >= 511),
    "no segment overlaps the one before",
  );
  t.true(
    steps.some((step) => step > 513),
    "the chain moved later",
  );
  // The estimate by arrival: the first record's arrival less its other 7 samples. The clock's
  // minimum offset of the last 60 s lags it by up to 60 ms, and the chain by 50 ms more.
  const lags = segments.map((segment) => segment.firstArrivalMs - 28 - segment.startMs);
  const maxLagMs = Math.max(...lags);
  t.true(maxLagMs <= 60 + 50 + 1, `starts up to ${maxLagMs} ms before arrival`);
});

test("long hold keeps clock times", (t) => {
  // Records arrive 1000 ms after the device's clock reads their time, except 20 to 119: held
  // and released together with record 119, up to 3.2 s late. The gateway's ticks send the
  // partial segment at the gap bound meanwhile.
  const waves = batcher(500);
  const emitted: { segment: WaveSegment; atMs: number }[] = [];
  for (let record = 0; record < 160; record++) {
    const samples = Array.from({ length: 8 }, (_, index) => record * 8 + index);
    const atMs = 1000 + (record >= 20 && record < 119 ? 119 : record) * 32;
    // A tick 1.1 s after record 19 arrived, during the hold.
    const tickMs = 1000 + 19 * 32 + 1100;
    if (record === 20) {
      for (const segment of waves.expire(tickMs)) emitted.push({ segment, atMs: tickMs });
    }
    const stamp = { deviceClock: { ticks: record * 32 * 8, ticksPerMs: 8 } };
    for (const segment of waves.add("ECG1", samples, atMs, stamp)) emitted.push({ segment, atMs });
  }
  const starts = startsOf(emitted);
  // Each segment starts at its first sample's time: 1000 ms plus 4 ms a sample, less the
  // 28 ms between a record's first and last sample.
  t.deepEqual(
    emitted.map(
      ({ segment }, index) => starts[index]! - (1000 - 28 + 4 * (segment.samples[0] as number)),
    ),
    emitted.map(() => 0),
  );
  t.true(
    emitted.some(({ segment }) => segment.samples[0] === 160),
    "the hold ended a segment",
  );
});

test("bad frame ends a segment without clock", (t) => {
  // Frames of 8 samples every 32 ms with no clock; the frame after sample 40 fails its check.
  const waves = batcher(500);
  const segments = feed(waves, 5);
  waves.noteLoss();
  segments.push(...feed(waves, 20, 6 * 32), ...waves.flush(26 * 32));
  t.deepEqual(
    segments.map((segment) => segment.samples.length),
    [40, 128, 32],
  );
});

test("bad frame leaves a clocked segment whole", (t) => {
  // Records 0 to 9 all arrive, with a bad frame between records 4 and 5. The clock shows that
  // no record was lost, so the bad frame carried none of this wave.
  const waves = batcher(500);
  const segments = [...feedClocked(waves, 10, { badFrameBefore: 5 }), ...waves.flush(10 * 32)];
  t.deepEqual(
    segments.map((segment) => segment.samples.length),
    [80],
  );
});
