import test from "ava";
import { DevicePipeline } from "../../../src/device/pipeline.js";
import type { PeriodMismatch, WaveSegment } from "../../../src/device/waves.js";
import { builtInProfileDirs, loadProfiles } from "../../../src/profiles/load.js";
import type { Profile } from "../../../src/profiles/schema.js";
import { defaultSimulatorOptions } from "../../../src/protocols/family.js";
import type { IntellivueProfile } from "../../../src/protocols/intellivue/schema.js";
import {
  IntellivueSimulator,
  type IntellivueSimulatorOptions,
} from "../../../src/protocols/intellivue/simulator.js";
import { codecFor } from "../../../src/protocols/registry.js";

const profile = loadProfiles(builtInProfileDirs()).profiles.get("philips-intellivue-mp70")
  ?.profile as Profile & IntellivueProfile;
const host = { name: "iomt-gateway", revision: "0.1.0" };

/**
 * Runs the simulator and the agent's pipeline against each other on a fake clock. `damage`
 * may change each frame on its way from the simulator to the pipeline.
 */
function loop(
  options: Partial<IntellivueSimulatorOptions>,
  durationMs: number,
  sessionOverrides = {},
  damage = (frame: Buffer, _nowMs: number) => frame,
) {
  const runProfile = { ...profile, session: { ...profile.session, ...sessionOverrides } };
  const simulator = new IntellivueSimulator(runProfile, { ...defaultSimulatorOptions, ...options });
  const pipeline = new DevicePipeline(codecFor(runProfile), runProfile, host);
  const observations = new Map<number, (number | null)[]>();
  const waves = new Map<number, number>();
  const segments: { segment: WaveSegment; atMs: number }[] = [];
  const periodMismatches: PeriodMismatch[] = [];
  const alarms: string[] = [];
  const deliver = (chunks: Buffer[], now: number) => {
    for (const chunk of chunks) {
      const result = pipeline.ingest(damage(chunk, now), now);
      for (const batch of result.batches) {
        for (const m of batch.measurements) {
          observations.set(m.mdcCode, [...(observations.get(m.mdcCode) ?? []), m.value]);
        }
      }
      periodMismatches.push(...result.periodMismatches);
      for (const segment of result.segments) {
        segments.push({ segment, atMs: now });
        waves.set(segment.mdcCode, (waves.get(segment.mdcCode) ?? 0) + segment.samples.length);
      }
      for (const alarm of result.alarms) alarms.push(`${alarm.alarmCode} ${alarm.state}`);
      send(
        result.outgoing.map((o) => o.bytes),
        now,
      );
    }
  };
  const send = (chunks: Buffer[], now: number) => {
    for (const chunk of chunks) deliver(simulator.receive(chunk, now), now);
  };
  deliver(simulator.start(0), 0);
  send(
    pipeline.open(0).map((o) => o.bytes),
    0,
  );
  for (let now = 1; now <= durationMs; now++) {
    if (now % simulator.tickMs === 0) deliver(simulator.tick(now), now);
    if (now % pipeline.tickMs === 0)
      send(
        pipeline.tick(now).map((o) => o.bytes),
        now,
      );
  }
  return { simulator, pipeline, observations, waves, segments, periodMismatches, alarms };
}

test("simulator and session exchange numerics, waves and alarms", (t) => {
  const { simulator, pipeline, observations, waves, alarms } = loop({}, 16_000);
  t.true(pipeline.established);
  t.is(simulator.stats.associations, 1);
  const heartRates = observations.get(147842) ?? [];
  t.true(heartRates.length >= 14, `${heartRates.length} heart rates`);
  t.true(heartRates.every((value) => typeof value === "number" && value >= 55 && value <= 110));
  t.deepEqual([...new Set(observations.get(150021))], [120]);
  t.true((observations.get(150344) ?? []).includes(null), "temperature invalid while unplugged");
  // 500/s ECG and 125/s pleth and ABP for about 16 s, less the last unsent segment.
  t.true((waves.get(131330) ?? 0) >= 7000, `${waves.get(131330)} ECG samples`);
  t.true((waves.get(150452) ?? 0) >= 1750, `${waves.get(150452)} pleth samples`);
  t.true((waves.get(150036) ?? 0) >= 1750, `${waves.get(150036)} ABP samples`);
  t.deepEqual(alarms, ["4B48/0D01 active", "4B48/0D01 cleared"]);
  t.is(pipeline.counters.checksumErrors, 0);
  t.is(pipeline.counters.decodeErrors, 0);
});

test("session re-issues polls so the stream never stops", (t) => {
  const { pipeline, observations, simulator } = loop({}, 24_000, {
    pollPeriodMs: 6000,
    reissueBeforeMs: 2000,
  });
  t.true(pipeline.established);
  t.true((observations.get(147842) ?? []).length >= 22);
  t.is(simulator.stats.associations, 1);
  t.true(simulator.stats.pollRequests >= 15, `${simulator.stats.pollRequests} polls`);
});

test("session re-associates after the monitor aborts", (t) => {
  const { simulator, pipeline, observations } = loop({ abortAssociationAfterMs: 5000 }, 11_000);
  t.true(simulator.stats.associationsAborted >= 1);
  t.true(simulator.stats.associations >= 2);
  t.true(pipeline.established);
  t.true((observations.get(147842) ?? []).length >= 7);
});

test("session re-associates after the monitor goes silent", (t) => {
  // The monitor drops the association when the host is silent for 3 s, then the host's poll
  // replies stop and its silence time-out re-associates.
  const { simulator, pipeline } = loop({ hostSilenceTimeoutMs: 3000 }, 30_000, {
    pollPeriodMs: 10_000,
    reissueBeforeMs: 1000,
    silenceTimeoutMs: 2000,
  });
  t.true(simulator.stats.hostSilences >= 1);
  t.true(simulator.stats.associations >= 2);
  t.true(pipeline.established);
});

test("faults are counted and skipped", (t) => {
  const { simulator, pipeline, observations } = loop(
    { corruptEvery: 7, garbageEvery: 5, abortFrameEvery: 3 },
    12_000,
  );
  t.true(simulator.stats.corruptFramesSent > 0);
  t.true(pipeline.counters.checksumErrors > 0);
  t.true(pipeline.counters.discardedBytes > 0);
  t.is(pipeline.counters.decodeErrors, 0);
  t.true((observations.get(150456) ?? []).length >= 5);
});

test("a wave reply lost to a bad checksum ends the segment before it", (t) => {
  const { simulator, pipeline, segments } = loop({ corruptEvery: 9 }, 20_000);
  t.true(pipeline.counters.checksumErrors > 0);
  const ecg = segments.filter(({ segment }) => segment.mdcCode === 131330);
  // A segment that filled its 500 ms left with its last sample, so its first sample is as old
  // as its length gives. One that hid a lost reply would be 256 ms older than that.
  const full = ecg.filter(({ segment }) => segment.samples.length * 2 >= 500);
  t.true(full.length > 10, `${full.length} full ECG segments`);
  for (const { segment } of full) {
    t.true(
      Math.abs(segment.firstSampleAgeMs - (segment.samples.length - 1) * 2) <= 2,
      `${segment.samples.length} samples, first ${segment.firstSampleAgeMs} ms old`,
    );
  }
  // Each lost wave reply ended a segment early: at most one reply of 128 samples in it.
  const short = ecg.filter(({ segment }) => segment.samples.length * 2 < 500);
  t.true(short.length > 0, `${simulator.stats.corruptFramesSent} corrupt frames sent`);
  for (const { segment } of short) t.true(segment.samples.length <= 128);
});

test("monitor at other wave rates than the profile is reported", (t) => {
  // The profile has ECG at 2 ms a sample, pleth and ABP at 8; the simulator sends all at 4.
  const { periodMismatches } = loop({ waveRate: 250 }, 8000);
  t.deepEqual(
    periodMismatches.map((mismatch) => [mismatch.deviceCode, mismatch.profileSamplePeriodMs]),
    [
      ["0102", 2],
      ["4BB4", 8],
      ["4A14", 8],
    ],
  );
  for (const mismatch of periodMismatches) {
    t.true(Math.abs(mismatch.deviceSamplePeriodMs - 4) < 0.1, `${mismatch.deviceSamplePeriodMs}`);
  }
});

test("monitor at the profile's wave rates has no mismatch", (t) => {
  t.deepEqual(loop({}, 8000).periodMismatches, []);
});

/** Flips one bit in the middle of every other frame sent after `fromMs`, so its FCS fails. */
function everyOtherFrameCorrupt(fromMs: number) {
  let frames = 0;
  return (frame: Buffer, nowMs: number) => {
    if (nowMs < fromMs || frames++ % 2 === 0) return frame;
    const damaged = Buffer.from(frame);
    const at = damaged.findIndex(
      (byte, index) => index >= frame.length / 2 && ![0x7d, 0x7c, 0xc0, 0xc1].includes(byte),
    );
    damaged[at] = (damaged[at] ?? 0) ^ 0x01;
    return damaged;
  };
}

test("every other frame corrupt is no wave rate mismatch", (t) => {
  // From 3 s, once the session polls, because a corrupt association would stop it.
  const { pipeline, periodMismatches, segments } = loop(
    {},
    12_000,
    {},
    everyOtherFrameCorrupt(3000),
  );
  t.true(pipeline.counters.checksumErrors > 10);
  t.deepEqual(periodMismatches, []);
  // Every loss ends the segment before it: a full segment's first sample is as old as its
  // length gives, and the losses leave short ones.
  const ecg = segments.filter(({ segment }) => segment.mdcCode === 131330);
  const full = ecg.filter(({ segment }) => segment.samples.length * 2 >= 500);
  for (const { segment } of full) {
    t.true(Math.abs(segment.firstSampleAgeMs - (segment.samples.length - 1) * 2) <= 2);
  }
  t.true(ecg.length - full.length > 5, `${ecg.length - full.length} short ECG segments`);
});

test("wave rate option sets samples per second", (t) => {
  const { waves } = loop({ waveRate: 250 }, 8000);
  for (const code of [131330, 150452, 150036]) {
    const count = waves.get(code) ?? 0;
    t.true(count >= 1500 && count <= 2000, `${code}: ${count} samples`);
  }
});
