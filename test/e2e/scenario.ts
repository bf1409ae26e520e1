/**
 * The main job end to end, shared by the source and bundle tests. A Masimo line device and a
 * MEDIBUS simulator sit on socat virtual serial ports. The agent publishes to a mosquitto with
 * mutual TLS, and a subscriber with its own client certificate checks what arrives.
 */
import type { ExecutionContext } from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SerialPort } from "serialport";
import type { z } from "zod";
import { createLogger } from "../../src/log.js";
import {
  alarmPayload,
  auditPayload,
  deviceInfoPayload,
  deviceStatePayload,
  gatewayStatePayload,
  healthPayload,
  observationsPayload,
} from "../../src/mqtt/payloads.js";
import type {
  AlarmPayload,
  DeviceInfoPayload,
  DeviceStatePayload,
  GatewayStatePayload,
  HealthPayload,
  ObservationsPayload,
} from "../../src/mqtt/payloads.js";
import { createDevPki, type DevPki } from "../../src/pki/dev-ca.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import type { Profile } from "../../src/profiles/schema.js";
import { defaultSimulatorOptions } from "../../src/protocols/family.js";
import { runSerialSimulator } from "../../src/simulate/runner.js";
import { startCli, type AgentProcess, type StartOptions } from "../helpers/agent-process.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { createPtyPair, type PtyPair } from "../../src/simulate/pty-pair.js";
import { connectSubscriber, type ReceivedMessage, type Subscriber } from "../helpers/subscriber.js";
import { tempDir } from "../helpers/tmp.js";

export const prefix = "iomt/v1/icu3/gw-test";
export const masimoLine = (spo2: string, bpm: string) =>
  `01/01/24 12:00:00 SN=0000012345 SPO2=${spo2}% BPM=${bpm} PI=02.10% SPCO=--.-% SPMET=01.2% DESAT=-- PIDELTA=+-- PVI=014 ALARM=0000 EXC=000000\r\n`;

export interface World {
  dir: string;
  pki: DevPki;
  broker: Mosquitto;
  subscriber: Subscriber;
  masimoPty: PtyPair;
  masimoDevice: SerialPort;
  medibusPty: PtyPair;
  configFile: string;
  profiles: Map<string, Profile>;
}

export interface WorldOptions {
  /** Keep broker sessions across restarts, with a subscriber whose session outlives them. */
  persistence?: boolean;
  /** Rewrites the broker URL the agent uses, such as to a proxy in front of the broker. */
  agentBrokerUrl?: (brokerUrl: string) => string;
  /** Extra YAML settings appended under broker:, such as "  keepAliveSeconds: 5". */
  brokerSettings?: string;
  /** Extra top-level YAML settings, such as an outbox section. */
  settings?: string;
}

export async function buildWorld(t: ExecutionContext, options: WorldOptions = {}): Promise<World> {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
  const broker = await startMosquitto({
    pki,
    dir: tempDir(t),
    persistence: options.persistence === true,
  });
  t.teardown(() => broker.stop());
  const subscriber = await connectSubscriber(
    broker.url,
    pki,
    "dashboard",
    options.persistence === true ? { reconnectPeriodMs: 200, sessionExpiryIntervalS: 3600 } : {},
  );
  t.teardown(() => subscriber.close());
  await subscriber.subscribe(`${prefix}/#`, 1);

  const profiles = new Map(
    [...loadProfiles(builtInProfileDirs()).profiles].map(([id, l]) => [id, l.profile]),
  );
  const masimoPty = await createPtyPair(dir, {
    deviceName: "masimo-device",
    hostName: "masimo-host",
  });
  t.teardown(() => masimoPty.stop());
  const masimoDevice = await openDeviceEnd(masimoPty.devicePath);
  t.teardown(() => closePort(masimoDevice));

  const medibusPty = await createPtyPair(dir, {
    deviceName: "medibus-device",
    hostName: "medibus-host",
  });
  t.teardown(() => medibusPty.stop());
  const medibus = profiles.get("draeger-medibus-evita4") as Profile;
  const simulator = await runSerialSimulator(
    medibus,
    medibusPty.devicePath,
    { ...defaultSimulatorOptions, serialNumber: "ARUM-0042" },
    createLogger({ level: "error", format: "text" }),
  );
  t.teardown(() => simulator.stop());

  const configFile = join(dir, "config.yaml");
  const client = pki.clients.gateway;
  writeFileSync(
    configFile,
    `site: icu3
gateway: gw-test
dataDir: ${join(dir, "data")}
log: { level: debug, format: json }
broker:
  url: ${options.agentBrokerUrl?.(broker.url) ?? broker.url}
  caFile: ${pki.ca.cert}
  certFile: ${client?.cert}
  keyFile: ${client?.key}
  reconnectPeriodMs: 200
${options.brokerSettings ?? ""}
health: { intervalMs: 1000 }
${options.settings ?? ""}
reconnect: { initialDelayMs: 100, maxDelayMs: 500 }
linkWatchMs: 200
devices:
  - id: bed12-spo2
    profile: masimo-radical7-ascii1
    link: { kind: serial, path: ${masimoPty.hostPath} }
  - id: bed12-vent
    profile: draeger-medibus-evita4
    link: { kind: serial, path: ${medibusPty.hostPath} }
`,
  );
  return {
    dir,
    pki,
    broker,
    subscriber,
    masimoPty,
    masimoDevice,
    medibusPty,
    configFile,
    profiles,
  };
}

export function startAgentIn(
  t: ExecutionContext,
  world: World,
  command: string[],
  options: StartOptions = {},
): AgentProcess {
  const agent = startCli(command, ["run", "--config", world.configFile], world.dir, options);
  t.teardown(async () => {
    await agent.stop();
    if (!t.passed) t.log(agent.output().slice(-4000));
  });
  return agent;
}

export async function openDeviceEnd(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) => (error ? reject(error) : resolve())),
  );
  // Closing a pty whose other end is gone reports "Canceled"; the test does not care.
  port.on("error", () => undefined);
  return port;
}

export function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

/** Writes a line every intervalMs until stopped, as the device does once a second. */
export function keepWriting(port: SerialPort, line: () => string, intervalMs = 200): () => void {
  const timer = setInterval(() => port.write(line()), intervalMs);
  return () => clearInterval(timer);
}

export const observationsOf = (deviceId: string) => (message: ReceivedMessage) =>
  message.topic === `${prefix}/devices/${deviceId}/obs`;

export const payloadOf = <T>(message: ReceivedMessage | undefined) => message?.payload as T;

/** Sequence numbers of the Masimo device's observations, first arrival of each, in order. */
export function masimoSeqs(messages: readonly ReceivedMessage[]): number[] {
  const seen = new Set<number>();
  const seqs: number[] = [];
  for (const message of messages.filter(observationsOf("bed12-spo2"))) {
    const seq = payloadOf<ObservationsPayload>(message).seq;
    if (seen.has(seq)) continue;
    seen.add(seq);
    seqs.push(seq);
  }
  return seqs;
}

export function expectNoGap(t: ExecutionContext, seqs: readonly number[]): void {
  const first = seqs[0] ?? 0;
  t.deepEqual(
    seqs,
    seqs.map((_, index) => first + index),
    "in order, with no gap",
  );
}

export type { AlarmPayload, DeviceStatePayload, GatewayStatePayload, ObservationsPayload };

/** What the subscriber must see from a running agent: measurements from both devices and state. */
export async function expectMainJob(t: ExecutionContext, world: World): Promise<void> {
  const { subscriber } = world;
  const stopWriting = keepWriting(world.masimoDevice, () => masimoLine("097", "072"));
  t.teardown(stopWriting);

  const [masimo] = await subscriber.waitFor(observationsOf("bed12-spo2"), 20_000);
  const obs = payloadOf<ObservationsPayload>(masimo);
  t.is(obs.deviceId, "bed12-spo2");
  t.is(obs.profile, "masimo-radical7-ascii1@1.0.0");
  t.is(obs.deviceTime, "01/01/24 12:00:00");
  t.false(obs.replayed);
  t.regex(obs.messageId, /^[0-9a-f-]{36}$/);
  t.deepEqual(
    obs.observations.map((o) => [o.mdcCode, o.mdcRefId, o.value, o.unit]),
    [
      [150456, "MDC_PULS_OXIM_SAT_O2", 97, "%"],
      [149530, "MDC_PULS_OXIM_PULS_RATE", 72, "/min"],
      [150488, "MDC_BLD_PERF_INDEX", 2.1, "%"],
    ],
  );

  const medibusMessages = await subscriber.waitFor(observationsOf("bed12-vent"), 20_000, 2);
  const vent = payloadOf<ObservationsPayload>(medibusMessages[0]);
  const spo2 = vent.observations.find((o) => o.mdcCode === 150456);
  t.is(spo2?.unit, "%");
  t.true(
    typeof spo2?.value === "number" && spo2.value >= 80 && spo2.value <= 100,
    JSON.stringify(spo2),
  );
  const peep = vent.observations.find((o) => o.mdcRefId === "MDC_PRESS_AWAY_END_EXP_POS");
  t.is(peep?.unit, "mbar");
  const seqs = medibusMessages.map((m) => payloadOf<ObservationsPayload>(m).seq);
  t.true((seqs[1] ?? 0) > (seqs[0] ?? 0), `sequence numbers grow: ${seqs.join(", ")}`);

  const [info] = await subscriber.waitFor(
    (m) => m.topic === `${prefix}/devices/bed12-vent/info`,
    10_000,
  );
  const devInfo = info?.payload as DeviceInfoPayload;
  t.is(devInfo.manufacturer, "Drägerwerk AG");
  t.is(devInfo.profile.id, "draeger-medibus-evita4");
  t.regex(devInfo.firmware ?? "", /^\d\d\.\d\d:\d\d\.\d\d$/);

  const [state] = await subscriber.waitFor(
    (m) => m.topic === `${prefix}/state` && payloadOf<GatewayStatePayload>(m).state === "online",
    10_000,
  );
  t.regex(payloadOf<GatewayStatePayload>(state).sessionId, /^[0-9a-f-]{36}$/);
  const [deviceState] = await subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/devices/bed12-spo2/state` &&
      payloadOf<DeviceStatePayload>(m).state === "connected",
    10_000,
  );
  t.true((payloadOf<DeviceStatePayload>(deviceState).counters.frames ?? 0) > 0);
  const [health] = await subscriber.waitFor((m) => m.topic === `${prefix}/health`, 10_000);
  const report = health?.payload as HealthPayload;
  t.is(report.devices.length, 2);
  t.true(report.certificates.clientCertDaysLeft >= 364, "dev PKI certificates last 365 days");
  t.true(report.process.rssMb > 0);
  t.is(report.disk.path, join(world.dir, "data"));
  await expectRetained(t, world);
  expectValidPayloads(t, subscriber.messages);
}

const payloadSchemas: [RegExp, z.ZodObject][] = [
  [/\/state$/, gatewayStatePayload],
  [/\/health$/, healthPayload],
  [/\/devices\/[^/]+\/state$/, deviceStatePayload],
  [/\/devices\/[^/]+\/info$/, deviceInfoPayload],
  [/\/devices\/[^/]+\/obs$/, observationsPayload],
  [/\/devices\/[^/]+\/alarm$/, alarmPayload],
  [/\/audit$/, auditPayload],
];

/** Checks that every payload matches its documented schema, with no extra fields. */
function expectValidPayloads(t: ExecutionContext, messages: readonly ReceivedMessage[]): void {
  for (const message of messages) {
    const match = payloadSchemas.filter(([pattern]) => pattern.test(message.topic)).at(-1);
    if (match === undefined) return t.fail(`undocumented topic ${message.topic}`);
    const result = match[1].strict().safeParse(message.payload);
    t.true(result.success, `${message.topic}: ${result.error?.message ?? ""}`);
  }
}

/** Checks that a dashboard connecting later still gets gateway and device state and info. */
async function expectRetained(t: ExecutionContext, world: World): Promise<void> {
  const late = await connectSubscriber(world.broker.url, world.pki, "dashboard");
  t.teardown(() => late.close());
  await late.subscribe(`${prefix}/#`, 1);
  const retained = await late.waitFor((m) => m.retain, 10_000, 6);
  const topics = new Set(retained.map((m) => m.topic));
  for (const topic of [
    "state",
    "health",
    "devices/bed12-spo2/state",
    "devices/bed12-vent/state",
    "devices/bed12-vent/info",
  ]) {
    t.true(topics.has(`${prefix}/${topic}`), `retained ${topic}`);
  }
  t.false(topics.has(`${prefix}/devices/bed12-spo2/obs`), "observations are not retained");
}
