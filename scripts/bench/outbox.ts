/**
 * Benchmark: the outbox. Appends one hour of 16 devices at one record a second (57,600
 * observation records of the size the Dräger profile produces) as fast as the outbox takes
 * them, then, in a fresh process, drains the backlog to a real mosquitto with mutual TLS
 * through the MQTT uplink. Reports records per second in and out, bytes written to disk per
 * record (write_bytes of /proc/self/io, which counts what reached the block layer) and the
 * draining process's peak resident memory. --commits-per-second models the flush window: 1 for a 1 s window, 4 for 250 ms.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../src/log.js";
import { readTlsMaterial } from "../../src/mqtt/tls.js";
import { brokerOnlyGuard } from "../../src/egress/destinations.js";
import { MqttUplink } from "../../src/mqtt/uplink.js";
import { Outbox } from "../../src/outbox/outbox.js";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { startMosquitto } from "../../test/helpers/mosquitto.js";
import { parseBenchArgs, wholeNumberOption } from "./harness/args.js";
import { Cleanups, cleanUpOnSignals, runFolders } from "./harness/cleanups.js";

const writeBytes = () =>
  Number(/write_bytes: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? 0);
const rssMb = () => process.memoryUsage().rss / 1_048_576;

/** Returns an observations payload like the Evita 4 profile's, with seven measurements. */
function payload(deviceId: string, seq: number): string {
  const observation = (mdcCode: number, value: number, unit: string) => ({
    mdcCode,
    mdcRefId: "MDC_PULS_OXIM_SAT_O2",
    deviceCode: "EB",
    value,
    unit,
  });
  return JSON.stringify({
    messageId: randomUUID(),
    deviceId,
    seq,
    receivedAt: new Date().toISOString(),
    profile: "draeger-medibus-evita4@1.0.0",
    observations: [1, 2, 3, 4, 5, 6, 7].map((index) => observation(150000 + index, 97, "%")),
  });
}

const outboxOptions = (file: string) => ({
  file,
  maxBytes: 1024 ** 3,
  maxAgeMs: 86_400_000,
  whenFull: "drop-oldest" as const,
  flushIntervalMs: 100,
});

/** Fills an outbox as `devices` devices would in `seconds` seconds; returns append figures. */
function fill(file: string, devices: number, seconds: number, commitsPerSecond: number) {
  const outbox = new Outbox(outboxOptions(file), silentLogger);
  const total = devices * seconds;
  const writtenBefore = writeBytes();
  const started = performance.now();
  for (let second = 0; second < seconds; second++) {
    for (let device = 0; device < devices; device++) {
      if (device > 0 && device % Math.ceil(devices / commitsPerSecond) === 0) outbox.flush();
      const deviceId = `bed${device}`;
      const seq = outbox.takeSeq(deviceId);
      const body = payload(deviceId, seq);
      const topic = `iomt/v1/bench/gw/devices/${deviceId}/obs`;
      outbox.append({ deviceId, seq, topic, body, createdMs: Date.now(), offline: true });
    }
    // The flush window commits `commitsPerSecond` times a second at this rate (1 s window: 1).
    outbox.flush();
  }
  const appendSeconds = (performance.now() - started) / 1000;
  const stats = outbox.stats();
  outbox.close();
  return {
    records: total,
    recordBytes: Math.round(stats.bytes / total),
    appendRecordsPerSecond: Math.round(total / appendSeconds),
    diskBytesPerRecordAppended: Math.round((writeBytes() - writtenBefore) / total),
  };
}

/** Drains a filled outbox to a fresh mosquitto; run in its own process for a clean memory figure. */
async function drain(file: string) {
  const cleanups = new Cleanups();
  const { dir, brokerDir } = runFolders(cleanups);
  const outbox = new Outbox(outboxOptions(file), silentLogger);
  cleanups.push(() => outbox.close());
  const records = outbox.stats().records;
  try {
    const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway"] });
    const broker = await startMosquitto({ pki, dir: brokerDir });
    const brokerConfig = {
      url: broker.url,
      caFile: pki.ca.cert,
      certFile: pki.clients.gateway?.cert ?? "",
      keyFile: pki.clients.gateway?.key ?? "",
      tlsReloadCheckMs: 30_000,
      keepAliveSeconds: 20,
      connectTimeoutMs: 10_000,
      reconnectPeriodMs: 1000,
      mqttVersion: "5" as const,
    };
    const tls = readTlsMaterial(brokerConfig, "bench");
    if (!tls.ok) throw new Error(JSON.stringify(tls.problems));
    const uplink = new MqttUplink({
      broker: brokerConfig,
      tls: tls.tls,
      clientId: "bench",
      will: { topic: "iomt/v1/bench/gw/state", payload: "{}" },
      inFlightWindow: 64,
      outbox,
      guard: await brokerOnlyGuard(brokerConfig),
      log: silentLogger,
    });
    const rssAtStart = rssMb();
    let peakRss = rssAtStart;
    let peakHeap = 0;
    const writtenBefore = writeBytes();
    const started = performance.now();
    uplink.start();
    while (outbox.stats().records > 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      peakRss = Math.max(peakRss, rssMb());
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed / 1_048_576);
    }
    const drainSeconds = (performance.now() - started) / 1000;
    const diskBytes = writeBytes() - writtenBefore;
    await uplink.stop([]);
    await broker.stop();
    return {
      drainSeconds: Number(drainSeconds.toFixed(1)),
      drainRecordsPerSecond: Math.round(records / drainSeconds),
      diskBytesPerRecordDrained: Math.round(diskBytes / records),
      rssMbBeforeDraining: Number(rssAtStart.toFixed(1)),
      peakRssMbWhileDraining: Number(peakRss.toFixed(1)),
      peakHeapUsedMbWhileDraining: Number(peakHeap.toFixed(1)),
    };
  } finally {
    await cleanups.run();
  }
}

async function main(): Promise<void> {
  const usage =
    "Usage: npm run bench:outbox -- [--devices N] [--seconds S] [--commits-per-second C]";
  const { values } = parseBenchArgs(
    {
      devices: { type: "string" },
      seconds: { type: "string" },
      "commits-per-second": { type: "string" },
      drain: { type: "string" },
    },
    usage,
  );
  cleanUpOnSignals();
  if (values.drain !== undefined) {
    process.stdout.write(JSON.stringify(await drain(values.drain)));
    return;
  }
  const devices = wholeNumberOption(values.devices, "devices", 16, { usage });
  const seconds = wholeNumberOption(values.seconds, "seconds", 3600, { usage });
  const commitsPerSecond = wholeNumberOption(
    values["commits-per-second"],
    "commits-per-second",
    1,
    { usage },
  );
  const cleanups = new Cleanups();
  try {
    const { dir } = runFolders(cleanups);
    const file = join(dir, "outbox.sqlite");
    const filled = fill(file, devices, seconds, commitsPerSecond);
    const drained = JSON.parse(
      execFileSync(process.execPath, [...process.execArgv, __filename, "--drain", file], {
        encoding: "utf8",
      }),
    ) as Record<string, number>;
    console.log(
      JSON.stringify({ scenario: "outbox", commitsPerSecond, ...filled, ...drained }, null, 2),
    );
  } finally {
    await cleanups.run();
  }
}

void main();
