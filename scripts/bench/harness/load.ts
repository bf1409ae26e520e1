/**
 * One measured run: N virtual serial ports with a simulated device on each, a real mosquitto
 * with mutual TLS on loopback, a subscriber, and one target program (the agent or the
 * pass-through baseline) between them. After every device's first record arrives and a
 * warm-up, the harness measures for `measureMs`, stops the devices and waits for the last
 * records, then checks that every frame written after a device's first delivered frame arrived.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { messageOf } from "../../../src/errors.js";
import { createDevPki } from "../../../src/pki/dev-ca.js";
import { createPtyPair, type PtyPair } from "../../../src/simulate/pty-pair.js";
import { startMosquitto } from "../../../test/helpers/mosquitto.js";
import { builtInProfileDirs, loadProfiles } from "../../../src/profiles/load.js";
import { Cleanups, runFolders } from "./cleanups.js";
import { DeviceFeed } from "./feed.js";
import { MonitorFeed } from "./monitor-feed.js";
import { quantile, sampleProcess, type ProcessSample } from "./proc.js";
import { Receiver, type Arrival, type FeedKind, type RecordKind } from "./receiver.js";
import { startTarget, type Target, type TargetName } from "./targets.js";

/** The IntelliVue profile the monitor feed simulates: numerics, alarms and three waves. */
export const monitorProfileId = "philips-intellivue-mp70";

/**
 * Samples per second of each of the monitor's three waves when a load names no rate. The MP70
 * profile has ECG at 500 and pleth and ABP at 125. The benchmark's ward sends three waves at
 * 250, so the harness runs both the simulator and the agent on a copy of the profile with that
 * rate.
 */
export const monitorWaveRate = 250;

export interface LoadOptions {
  target: TargetName;
  /** Masimo lines written by the harness, or a simulated monitor with waves. */
  feed: FeedKind;
  ports: number;
  /** Bytes per second per port of Masimo lines; 0 is one line a second. */
  bytesPerSecond: number;
  /** Samples per second of each monitor wave (125, 250 or 500); monitorWaveRate when left out. */
  waveRate?: number;
  warmupMs: number;
  measureMs: number;
  /** Maximum wait for the first record of every device, and for the last records. */
  settleTimeoutMs: number;
}

export interface LatencyFigures {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface LoadResult {
  target: TargetName;
  ports: number;
  bytesPerSecondPerPort: number;
  measureSeconds: number;
  framesWritten: number;
  /** Frames written after each device's first delivered frame. */
  framesExpected: number;
  framesDelivered: number;
  framesLost: number;
  duplicates: number;
  /** Missing sequence numbers between each device's first and last record (agent only). */
  seqGaps: number;
  /** Messages on the record topics that the harness could not match to a frame it wrote. */
  unknownMessages: number;
  /** Wave samples written by the monitors and delivered in the agent's segments. */
  samplesWritten: number;
  samplesDelivered: number;
  latency: Partial<Record<RecordKind, LatencyFigures>>;
  recordsPerSecond: number;
  cpuShareOfOneCore: number;
  cpuSecondsPerThousandRecords: number;
  cpuMsPerKiB: number;
  /**
   * Share of a core used during the warm-up, from every device's first record to the
   * measurement, compiles of hot code included. Null without a warm-up.
   */
  warmupCpuShareOfOneCore: number | null;
  peakRssMb: number;
  steadyRssMb: number | null;
  diskBytesPerRecord: number;
  eventLoopDelayP99Ms: number | null;
  eventLoopDelayMaxMs: number | null;
  /** The longest outbox commit over 100 ms the agent logged, if any. */
  slowCommitMaxMs: number | null;
  /** Frames written but not yet delivered, at the start and the end of the measurement. */
  backlogAtStart: number;
  backlogAtEnd: number;
  /** Spawn to the first record the subscriber received. */
  spawnToFirstRecordMs: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const cleanups = new Cleanups();
  try {
    const { dir, brokerDir } = runFolders(cleanups);
    const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
    // mosquitto drops QoS 1 messages for a subscriber with more than 1000 queued (its default
    // max_queued_messages), which a burst at line rate exceeds; the harness must see them all.
    const broker = await startMosquitto({
      pki,
      dir: brokerDir,
      extraSettings: ["max_queued_messages 0"],
    });
    cleanups.push(() => broker.stop());
    const receiver = await Receiver.connect(broker.url, pki, options.feed);
    cleanups.push(() => receiver.close());
    const ids = Array.from({ length: options.ports }, (_, index) => `bed${index + 1}`);
    const pairs: PtyPair[] = [];
    for (const id of ids) {
      const pair = await createPtyPair(dir, { deviceName: `${id}-device`, hostName: `${id}-host` });
      cleanups.push(() => pair.stop());
      pairs.push(pair);
    }
    const profilesDir = join(dir, "profiles");
    mkdirSync(profilesDir);
    if (options.feed === "monitor") {
      writeMonitorProfile(profilesDir, options.waveRate ?? monitorWaveRate);
    }
    const feeds: Feed[] = [];
    for (const pair of pairs) {
      const feed = await openFeed(options, pair.devicePath, profilesDir);
      cleanups.push(() => feed.close());
      feeds.push(feed);
    }
    const ports = ids.map((id, index) => ({ id, path: pairs[index]?.hostPath ?? "" }));
    const profile = options.feed === "monitor" ? monitorProfileId : "masimo-radical7-ascii1";
    const target = startTarget(options.target, {
      dir,
      brokerUrl: broker.url,
      pki,
      ports,
      profile,
      profilesDir,
    });
    cleanups.push(() => target.stop());
    const selfHosted = options.target === "pass-through";
    if (selfHosted && options.feed === "monitor") {
      await waitUntil(
        () => target.readyAtMs !== undefined,
        options.settleTimeoutMs,
        () => `the pass-through did not open its ports; its output:\n${target.output()}`,
      );
    }
    for (const feed of feeds) {
      if (feed instanceof MonitorFeed) feed.start(selfHosted);
      else feed.start();
    }
    return await measure(options, { target, receiver, feeds, ids });
  } finally {
    await cleanups.run();
  }
}

type Feed = DeviceFeed | MonitorFeed;

async function openFeed(options: LoadOptions, path: string, profilesDir: string): Promise<Feed> {
  if (options.feed === "lines") {
    return DeviceFeed.open(path, { bytesPerSecond: options.bytesPerSecond });
  }
  const loaded = loadProfiles([profilesDir]).profiles.get(monitorProfileId);
  if (loaded === undefined) throw new Error(`profile ${monitorProfileId} not found`);
  return MonitorFeed.open(path, loaded.profile);
}

/**
 * Writes the monitor's profile with every wave at `waveRate` into `profilesDir`, which the
 * agent searches before its built-in profiles.
 */
function writeMonitorProfile(profilesDir: string, waveRate: number): void {
  const builtIn = builtInProfileDirs().find((dir) => existsSync(dir));
  if (builtIn === undefined) throw new Error("built-in profile folder not found");
  const text = readFileSync(join(builtIn, `${monitorProfileId}.yaml`), "utf8");
  const samplePeriodMs = 1000 / waveRate;
  if (!(waveRate > 0) || !Number.isInteger(samplePeriodMs)) {
    throw new Error(
      `invalid wave rate ${waveRate}/s: the sample period must be a whole number of ms, as at 125, 250 or 500`,
    );
  }
  const waves = text.match(/samplePeriodMs: \d+/g) ?? [];
  if (waves.length !== 3)
    throw new Error(`${monitorProfileId} maps ${waves.length} waves; expected 3`);
  writeFileSync(
    join(profilesDir, `${monitorProfileId}.yaml`),
    text.replace(/samplePeriodMs: \d+/g, `samplePeriodMs: ${samplePeriodMs}`),
  );
}

/** Returns when the frame that completed `arrival` was written, if known. */
function writtenAtOf(feed: Feed | undefined, arrival: Arrival): number | undefined {
  if (feed instanceof DeviceFeed) return feed.writtenAt[arrival.frame];
  if (feed === undefined) return undefined;
  if (arrival.kind === "wave") return feed.sampleWrittenAt(arrival.code ?? "", arrival.frame);
  if (arrival.kind === "numerics") return feed.numericsWrittenAt(arrival.frame);
  if (arrival.kind === "line") return feed.frameWrittenAt(arrival.frame);
  return undefined;
}

interface Rig {
  target: Target;
  receiver: Receiver;
  feeds: Feed[];
  ids: string[];
}

/** Returns the end of the measured program's output, for an error message. */
const outputTail = (target: Target) => target.output().slice(-2000);

/** Throws, with the end of its output, when the measured program has exited. */
function checkAlive(options: LoadOptions, target: Target): void {
  const { exitCode, signalCode } = target.child;
  if (exitCode === null && signalCode === null) return;
  throw new Error(
    `the ${options.target} exited (${signalCode ?? `code ${exitCode}`}) during the run; ` +
      `the end of its output:\n${outputTail(target)}`,
  );
}

/** Reads the measured program's figures from /proc, or throws saying that it has exited. */
function sampleTarget(options: LoadOptions, target: Target): ProcessSample {
  checkAlive(options, target);
  const pid = target.child.pid ?? 0;
  try {
    return sampleProcess(pid);
  } catch (error) {
    throw new Error(
      `the ${options.target} (pid ${pid}) could not be measured, most likely because it ` +
        `exited: ${messageOf(error)}; the end of its output:\n${outputTail(target)}`,
    );
  }
}

async function measure(options: LoadOptions, rig: Rig): Promise<LoadResult> {
  const { target, receiver, feeds, ids } = rig;
  const sample = () => sampleTarget(options, target);
  await waitUntil(
    () => {
      checkAlive(options, target);
      return ids.every((id) => receiver.count(id) > 0);
    },
    options.settleTimeoutMs,
    () => `not every device delivered a record; target output:\n${target.output()}`,
  );
  const warmupSample = sample();
  const warmupAtMs = performance.now();
  await delay(options.warmupMs);

  const startSample = sample();
  const startAtMs = performance.now();
  const startRecords = frameRecords(receiver);
  const bytesWritten = () => feeds.reduce((sum, feed) => sum + feed.bytesWritten, 0);
  const startBytes = bytesWritten();
  const backlogAtStart = backlog(rig);
  const rssSamples: number[] = [];
  while (performance.now() - startAtMs < options.measureMs) {
    await delay(250);
    rssSamples.push(sample().rssMb);
  }
  const endSample = sample();
  const endAtMs = performance.now();
  const records = frameRecords(receiver) - startRecords;
  const bytes = bytesWritten() - startBytes;
  const backlogAtEnd = backlog(rig);

  for (const feed of feeds) feed.stop();
  const stoppedAtMs = performance.now();
  // The agent sends a wave's last, partial segment once its samples stopped for the gap bound
  // of 1 s, so the harness waits for that too.
  const settled = () => {
    const { samplesWritten, samplesDelivered } = checkDelivery(rig);
    return backlog(rig) === 0 && samplesDelivered === samplesWritten;
  };
  await waitUntil(settled, options.settleTimeoutMs, () => "");
  const finalSample = sample();

  const seconds = (endAtMs - startAtMs) / 1000;
  const framesWritten = feeds.reduce((sum, feed) => sum + feed.framesWritten, 0);
  const delivery = checkDelivery(rig);
  const eventLoop = target.eventLoop.filter((s) => s.atMs >= startAtMs && s.atMs <= endAtMs);
  return {
    target: options.target,
    ports: options.ports,
    bytesPerSecondPerPort: options.bytesPerSecond,
    measureSeconds: round(seconds, 1),
    framesWritten,
    ...delivery,
    // A wave's last, partial segment waits 1 s after its last samples: not a latency. It can
    // arrive before stoppedAtMs + 1000, so wave segments count only until the stop.
    latency: latencies(rig, startAtMs, { untilMs: stoppedAtMs + 1000, wavesUntilMs: stoppedAtMs }),
    recordsPerSecond: round(records / seconds, 1),
    ...cpuFigures(startSample, endSample, records, seconds, bytes),
    warmupCpuShareOfOneCore:
      options.warmupMs === 0
        ? null
        : round(
            (startSample.cpuSeconds - warmupSample.cpuSeconds) / ((startAtMs - warmupAtMs) / 1000),
            4,
          ),
    peakRssMb: round(finalSample.peakRssMb, 1),
    steadyRssMb: roundOrNull(quantile(rssSamples, 0.5), 1),
    diskBytesPerRecord: Math.round((endSample.writeBytes - startSample.writeBytes) / records),
    eventLoopDelayP99Ms: roundOrNull(
      quantile(
        eventLoop.map((s) => s.p99Ms),
        0.5,
      ),
      2,
    ),
    eventLoopDelayMaxMs: roundOrNull(Math.max(...eventLoop.map((s) => s.maxMs), 0), 2),
    slowCommitMaxMs: target.slowCommitMaxMs,
    backlogAtStart,
    backlogAtEnd,
    spawnToFirstRecordMs: Math.round((receiver.firstRecordAtMs ?? NaN) - rig.target.spawnedAtMs),
  };
}

function cpuFigures(
  start: ProcessSample,
  end: ProcessSample,
  records: number,
  seconds: number,
  bytes: number,
) {
  const cpuSeconds = end.cpuSeconds - start.cpuSeconds;
  return {
    cpuShareOfOneCore: round(cpuSeconds / seconds, 4),
    cpuSecondsPerThousandRecords: round((cpuSeconds * 1000) / records, 3),
    cpuMsPerKiB: round((cpuSeconds * 1000) / (bytes / 1024), 3),
  };
}

/**
 * Records that carry a device's data: the agent's observations and wave messages, the
 * baseline's frames. Alarms are left out.
 */
function frameRecords(receiver: Receiver): number {
  let count = 0;
  for (const list of receiver.arrivals.values()) {
    for (const arrival of list)
      if (arrival.kind !== "alarm" && arrival.sameRecord !== true) count++;
  }
  return count;
}

/** Frames (a monitor's numerics records) written and not yet delivered. */
function backlog(rig: Rig): number {
  let waiting = 0;
  for (const device of perDevice(rig)) waiting += device.expected - device.delivered;
  return waiting;
}

/**
 * Per device, the frames that should have arrived and those that did. For Masimo lines these
 * are the frames after the first delivered one, because the agent skips the line it opens
 * into; a monitor sends nothing before the host associates, so every record counts.
 */
function perDevice({ receiver, feeds, ids }: Rig) {
  return ids.map((id, index) => {
    const feed = feeds[index];
    const list = receiver.arrivals.get(id) ?? [];
    const frames = list.filter((a) => a.kind === "numerics" || a.kind === "line");
    const unique = new Set(frames.map((a) => a.frame));
    let expected = 0;
    if (feed instanceof DeviceFeed) {
      const first = Math.min(...unique);
      expected = unique.size === 0 ? 0 : feed.framesWritten - first + 1;
    } else if (feed !== undefined) {
      const agent = frames.some((a) => a.kind === "numerics");
      expected = agent ? feed.numericsRecordsWritten : feed.framesWritten;
    }
    const seqs = new Set(list.map((a) => a.seq).filter((seq) => seq !== null));
    const seqGaps = seqs.size === 0 ? 0 : Math.max(...seqs) - Math.min(...seqs) + 1 - seqs.size;
    let samplesWritten = 0;
    let samplesDelivered = 0;
    if (feed instanceof MonitorFeed && list.some((a) => a.kind === "wave")) {
      for (const [code, count] of feed.samplesWritten()) {
        samplesWritten += count;
        const last = list.filter((a) => a.kind === "wave" && a.code === code).at(-1);
        samplesDelivered += last?.frame ?? 0;
      }
    }
    return {
      expected,
      delivered: unique.size,
      duplicates: frames.length - unique.size,
      seqGaps,
      samplesWritten,
      samplesDelivered,
    };
  });
}

function checkDelivery(rig: Rig) {
  const devices = perDevice(rig);
  const sum = (pick: (d: (typeof devices)[number]) => number) =>
    devices.reduce((total, device) => total + pick(device), 0);
  const framesExpected = sum((d) => d.expected);
  const framesDelivered = sum((d) => d.delivered);
  return {
    framesExpected,
    framesDelivered,
    framesLost: framesExpected - framesDelivered,
    duplicates: sum((d) => d.duplicates),
    seqGaps: sum((d) => d.seqGaps),
    unknownMessages: rig.receiver.unknownMessages,
    samplesWritten: sum((d) => d.samplesWritten),
    samplesDelivered: sum((d) => d.samplesDelivered),
  };
}

/**
 * Latency from the write of the chunk that completed a record (a frame's last byte, or a wave
 * segment's last sample) to the record's arrival, per kind of record.
 */
function latencies(
  { receiver, feeds, ids }: Rig,
  fromMs: number,
  { untilMs, wavesUntilMs }: { untilMs: number; wavesUntilMs: number },
) {
  const byKind = new Map<RecordKind, number[]>();
  ids.forEach((id, index) => {
    for (const arrival of receiver.arrivals.get(id) ?? []) {
      const written = writtenAtOf(feeds[index], arrival);
      if (written === undefined || Number.isNaN(written) || written < fromMs) continue;
      if (arrival.atMs > (arrival.kind === "wave" ? wavesUntilMs : untilMs)) continue;
      let list = byKind.get(arrival.kind);
      if (list === undefined) byKind.set(arrival.kind, (list = []));
      list.push(arrival.atMs - written);
    }
  });
  const result: Partial<Record<RecordKind, LatencyFigures>> = {};
  for (const [kind, values] of byKind) {
    result[kind] = {
      count: values.length,
      p50Ms: roundOrNull(quantile(values, 0.5), 2),
      p99Ms: roundOrNull(quantile(values, 0.99), 2),
      maxMs: roundOrNull(Math.max(...values), 2),
    };
  }
  return result;
}

async function waitUntil(condition: () => boolean, timeoutMs: number, why: () => string) {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      const reason = why();
      if (reason === "") return;
      throw new Error(`timed out after ${timeoutMs} ms: ${reason}`);
    }
    await delay(50);
  }
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const roundOrNull = (value: number | null, digits: number) =>
  value === null || !Number.isFinite(value) ? null : round(value, digits);
