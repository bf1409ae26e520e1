/**
 * One measured run: N virtual serial ports with a simulated device on each, a real mosquitto
 * with mutual TLS on loopback, a subscriber, and one target program (the agent or the
 * pass-through baseline) between them. After every device's first record arrives and a
 * warm-up, the harness measures for `measureMs`, stops the devices and waits for the last
 * records, then checks that every frame written after a device's first delivered frame arrived.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { createDevPki } from "../../../src/pki/dev-ca.js";
import { createPtyPair, type PtyPair } from "../../../src/simulate/pty-pair.js";
import { startMosquitto } from "../../../test/helpers/mosquitto.js";
import { DeviceFeed } from "./feed.js";
import { quantile, sampleProcess, type ProcessSample } from "./proc.js";
import { Receiver, type RecordKind } from "./receiver.js";
import { startTarget, type Target, type TargetName } from "./targets.js";

export interface LoadOptions {
  target: TargetName;
  ports: number;
  /** Bytes per second per port; 0 is one line a second. */
  bytesPerSecond: number;
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
  latency: Partial<Record<RecordKind, LatencyFigures>>;
  recordsPerSecond: number;
  cpuShareOfOneCore: number;
  cpuSecondsPerThousandRecords: number;
  cpuMsPerKiB: number;
  peakRssMb: number;
  steadyRssMb: number | null;
  diskBytesPerRecord: number;
  eventLoopDelayP99Ms: number | null;
  eventLoopDelayMaxMs: number | null;
  /** Frames written but not yet delivered, at the start and the end of the measurement. */
  backlogAtStart: number;
  backlogAtEnd: number;
  /** Spawn to the first record the subscriber received. */
  spawnToFirstRecordMs: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "iomt-bench-"));
  // The broker's folder stays apart: mkdtemp's mode 0700 would keep the mosquitto user out.
  const brokerDir = mkdtempSync(join(tmpdir(), "iomt-bench-broker-"));
  const cleanups: (() => Promise<void> | void)[] = [
    () => rmSync(dir, { recursive: true, force: true }),
    () => rmSync(brokerDir, { recursive: true, force: true }),
  ];
  try {
    const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
    // mosquitto drops QoS 1 messages for a subscriber with more than 1000 queued (its default
    // max_queued_messages), which a burst at line rate exceeds; the harness must see them all.
    const broker = await startMosquitto({
      pki,
      dir: brokerDir,
      extraSettings: ["max_queued_messages 0"],
    });
    cleanups.push(() => broker.stop());
    const receiver = await Receiver.connect(broker.url, pki);
    cleanups.push(() => receiver.close());
    const ids = Array.from({ length: options.ports }, (_, index) => `bed${index + 1}`);
    const pairs: PtyPair[] = [];
    for (const id of ids) {
      const pair = await createPtyPair(dir, { deviceName: `${id}-device`, hostName: `${id}-host` });
      cleanups.push(() => pair.stop());
      pairs.push(pair);
    }
    const feeds: DeviceFeed[] = [];
    for (const pair of pairs) {
      const feed = await DeviceFeed.open(pair.devicePath, {
        bytesPerSecond: options.bytesPerSecond,
      });
      cleanups.push(() => feed.close());
      feeds.push(feed);
    }
    const ports = ids.map((id, index) => ({ id, path: pairs[index]?.hostPath ?? "" }));
    const spawnedAtMs = performance.now();
    const target = startTarget(options.target, { dir, brokerUrl: broker.url, pki, ports });
    cleanups.push(() => target.stop());
    for (const feed of feeds) feed.start();
    return await measure(options, { target, receiver, feeds, ids, spawnedAtMs });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

interface Rig {
  target: Target;
  receiver: Receiver;
  feeds: DeviceFeed[];
  ids: string[];
  spawnedAtMs: number;
}

async function measure(options: LoadOptions, rig: Rig): Promise<LoadResult> {
  const { target, receiver, feeds, ids } = rig;
  const pid = target.child.pid ?? 0;
  await waitUntil(
    () => ids.every((id) => receiver.count(id) > 0),
    options.settleTimeoutMs,
    () => `not every device delivered a record; target output:\n${target.output()}`,
  );
  await delay(options.warmupMs);

  const startSample = sampleProcess(pid);
  const startAtMs = performance.now();
  const startRecords = frameRecords(receiver);
  const backlogAtStart = backlog(rig);
  const rssSamples: number[] = [];
  while (performance.now() - startAtMs < options.measureMs) {
    await delay(250);
    rssSamples.push(sampleProcess(pid).rssMb);
  }
  const endSample = sampleProcess(pid);
  const endAtMs = performance.now();
  const records = frameRecords(receiver) - startRecords;
  const backlogAtEnd = backlog(rig);

  for (const feed of feeds) feed.stop();
  await waitUntil(
    () => backlog(rig) === 0,
    options.settleTimeoutMs,
    () => "",
  );
  const finalSample = sampleProcess(pid);

  const seconds = (endAtMs - startAtMs) / 1000;
  const bytes = feeds.reduce((sum, feed) => sum + feed.bytesWritten, 0);
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
    latency: latencies(rig, startAtMs),
    recordsPerSecond: round(records / seconds, 1),
    ...cpuFigures(startSample, endSample, records, seconds, (bytes / framesWritten) * records),
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
    backlogAtStart,
    backlogAtEnd,
    spawnToFirstRecordMs: Math.round((receiver.firstRecordAtMs ?? NaN) - rig.spawnedAtMs),
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
    cpuShareOfOneCore: round(cpuSeconds / seconds, 3),
    cpuSecondsPerThousandRecords: round((cpuSeconds * 1000) / records, 3),
    cpuMsPerKiB: round((cpuSeconds * 1000) / (bytes / 1024), 3),
  };
}

/** Records that carry a frame's numerics: observations from the agent, lines from the baseline. */
function frameRecords(receiver: Receiver): number {
  let count = 0;
  for (const list of receiver.arrivals.values()) {
    for (const arrival of list) if (arrival.kind !== "alarm") count++;
  }
  return count;
}

/** Frames written after each device's first delivered frame and not yet delivered. */
function backlog({ receiver, feeds, ids }: Rig): number {
  let waiting = 0;
  ids.forEach((id, index) => {
    const list = receiver.arrivals.get(id) ?? [];
    const first = list.find((a) => a.kind !== "alarm")?.frame;
    if (first === undefined) return;
    const delivered = new Set(list.filter((a) => a.kind !== "alarm").map((a) => a.frame)).size;
    waiting += (feeds[index]?.framesWritten ?? 0) - first + 1 - delivered;
  });
  return waiting;
}

function checkDelivery({ receiver, feeds, ids }: Rig) {
  let framesExpected = 0;
  let framesDelivered = 0;
  let duplicates = 0;
  let seqGaps = 0;
  ids.forEach((id, index) => {
    const list = receiver.arrivals.get(id) ?? [];
    const frames = list.filter((a) => a.kind !== "alarm").map((a) => a.frame);
    const first = Math.min(...frames);
    const unique = new Set(frames);
    framesExpected += (feeds[index]?.framesWritten ?? 0) - first + 1;
    framesDelivered += unique.size;
    duplicates += frames.length - unique.size;
    const seqs = new Set(list.map((a) => a.seq).filter((seq) => seq !== null));
    if (seqs.size > 0) seqGaps += Math.max(...seqs) - Math.min(...seqs) + 1 - seqs.size;
  });
  return {
    framesExpected,
    framesDelivered,
    framesLost: framesExpected - framesDelivered,
    duplicates,
    seqGaps,
  };
}

/** Latency from the write of a frame's last byte to its record's arrival, per kind of record. */
function latencies({ receiver, feeds, ids }: Rig, fromMs: number) {
  const byKind = new Map<RecordKind, number[]>();
  ids.forEach((id, index) => {
    const writtenAt = feeds[index]?.writtenAt ?? [];
    for (const arrival of receiver.arrivals.get(id) ?? []) {
      const written = writtenAt[arrival.frame];
      if (written === undefined || written < fromMs) continue;
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
