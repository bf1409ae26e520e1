/** Wires the configured devices to the MQTT uplink and runs until stopped. */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { auditConnectError, auditStart, auditTlsLoaded, auditTlsRejected } from "./audit/events.js";
import { AuditFile } from "./audit/file.js";
import { AuditTrail } from "./audit/trail.js";
import { DevicePipeline } from "./device/pipeline.js";
import { fanOut } from "./device/fan-out.js";
import { DeviceSupervisor, systemClock, type DeviceSink } from "./device/supervisor.js";
import { EgressController } from "./egress/controller.js";
import type { EgressGuard } from "./egress/guard.js";
import { HealthReporter } from "./health/reporter.js";
import { createSerialConnector } from "./link/serial.js";
import { createTcpConnector } from "./link/tcp.js";
import type { Connector } from "./link/types.js";
import type { Logger } from "./log.js";
import { DevicePublisher, deviceStatePayloadOf } from "./mqtt/device-publisher.js";
import type { GatewayStatePayload } from "./mqtt/payloads.js";
import { topics as topicsOf } from "./mqtt/topics.js";
import { TlsWatcher } from "./mqtt/tls-reload.js";
import { MqttUplink } from "./mqtt/uplink.js";
import { Outbox } from "./outbox/outbox.js";
import { outboxFileName } from "./outbox/store.js";
import type { Prepared } from "./preflight.js";
import type { LoadedProfile } from "./profiles/load.js";
import type { HostIdentity } from "./protocols/family.js";
import { codecFor } from "./protocols/registry.js";
import { SharedIntervals } from "./shared-intervals.js";
import type { DeviceConfig } from "./config/schema.js";
import type { OpcuaServerHandle } from "./opcua/handle.js";
import { agentVersion } from "./version.js";

const inFlightWindow = 64;

export interface RunningAgent {
  sessionId: string;
  uplink: MqttUplink;
  supervisors: DeviceSupervisor[];
  egress: EgressController;
  /** Resolves once the allowlist is resolved and the uplink and devices are started. */
  started: Promise<void>;
  stop(): Promise<void>;
}

export interface AgentExtras {
  /** The OPC UA server, already listening, when opcua.enabled: it gets every record MQTT gets. */
  opcua?: OpcuaServerHandle;
}

export function startAgent(
  prepared: Prepared,
  log: Logger,
  extras: AgentExtras = {},
): RunningAgent {
  const { config } = prepared;
  const sessionId = randomUUID();
  const topics = topicsOf({
    prefix: config.topicPrefix,
    site: config.site,
    gateway: config.gateway,
  });
  const gatewayState = (state: "online" | "offline"): GatewayStatePayload => ({
    state,
    sessionId,
    since: new Date().toISOString(),
    site: config.site,
    gateway: config.gateway,
    agentVersion,
  });

  const outbox = new Outbox(
    { file: join(config.dataDir, outboxFileName), ...config.outbox },
    log.child("outbox"),
  );
  outbox.reserveSeqs(config.devices.map((device) => device.id));
  // Until the uplink exists the broker is not away yet, as for the uplink before its first
  // connection: the events of the start are live.
  let uplinkAway = () => false;
  const audit = new AuditTrail({
    file: new AuditFile({ dir: config.dataDir, ...config.audit }),
    outbox,
    topic: topics.audit,
    sessionId,
    away: () => uplinkAway(),
    log: log.child("audit"),
  });
  audit.batch(() => auditStart(audit, prepared));
  const egress = new EgressController({
    config,
    configFile: prepared.configFile,
    audit,
    log: log.child("egress"),
  });
  const uplink = new MqttUplink({
    broker: config.broker,
    tls: prepared.tls,
    clientId: config.broker.clientId ?? `iomt-${config.site}-${config.gateway}`,
    will: { topic: topics.state, payload: JSON.stringify(gatewayState("offline")) },
    outbox,
    inFlightWindow,
    guard: egress.guard,
    onConnectError: (error) => auditConnectError(audit, error, config.broker.url),
    log: log.child("mqtt"),
  });
  uplinkAway = () => uplink.away;
  uplink.setRetained(topics.state, gatewayState("online"));

  const host: HostIdentity = { name: "IOMTGW", revision: agentVersion };
  const intervals = new SharedIntervals();
  const supervisors = config.devices.map((device) => {
    const loaded = prepared.profiles.get(device.profile) as LoadedProfile;
    const deviceLog = log.child("device", { device: device.id });
    const publisher = new DevicePublisher(device.id, loaded.profile, outbox, topics, uplink);
    const sinks: DeviceSink[] = [publisher];
    if (extras.opcua !== undefined) sinks.push(extras.opcua.sinkFor(device.id));
    const sink = fanOut(sinks);
    const shared = { host, guard: egress.guard, intervals };
    return createSupervisor(device, loaded, prepared, sink, shared, deviceLog);
  });

  watchDrops(outbox, supervisors);

  const health = new HealthReporter({
    intervalMs: config.health.intervalMs,
    dataDir: config.dataDir,
    sessionId,
    topics,
    uplink,
    supervisors,
    clientCertNotAfter: prepared.tls.clientCertNotAfter,
    ...(prepared.opcua === undefined ? {} : { opcuaCertNotAfter: prepared.opcua.notAfter }),
    outbox,
    egress: () => egress.health(),
    log: log.child("health"),
  });

  const tlsWatcher = new TlsWatcher({
    broker: config.broker,
    configFile: prepared.configFile,
    current: prepared.tls,
    uid: process.getuid?.(),
    onLoaded: (tls) => {
      auditTlsLoaded(audit, config.broker, tls, "reloaded");
      health.setClientCertNotAfter(tls.clientCertNotAfter);
      void uplink.replaceTls(tls);
    },
    onRejected: (problems) => auditTlsRejected(audit, problems),
    log: log.child("tls"),
  });

  log.info("agent starting", {
    version: agentVersion,
    sessionId,
    host: hostname(),
    devices: config.devices.length,
    configSha256: prepared.configSha256,
  });
  let stopped = false;
  let stopping: Promise<void> | undefined;
  // Connections wait for the allowlist's names to resolve and a managed firewall to be applied,
  // so the first attempts are neither denied by the agent nor cut off by the new table.
  // Rejects when a managed firewall cannot be applied, and then nothing is connected.
  const started = egress.start(() => {
    if (stopped) return;
    uplink.start();
    for (const supervisor of supervisors) supervisor.start();
    health.start();
    tlsWatcher.start();
  });

  return {
    sessionId,
    uplink,
    supervisors,
    egress,
    started,
    // A second call, such as SIGINT after SIGTERM, waits for the first: stopping twice would
    // commit to the closed outbox.
    stop: () => (stopping ??= stopAgent()),
  };

  async function stopAgent(): Promise<void> {
    stopped = true;
    await started.catch(() => undefined);
    egress.stop();
    tlsWatcher.stop();
    health.stop();
    for (const supervisor of supervisors) supervisor.stop();
    // Retained device states would otherwise keep saying "connected" after the agent is gone.
    const finalStates = supervisors.map((supervisor) => ({
      topic: topics.deviceState(supervisor.id),
      payload: deviceStatePayloadOf({
        ...supervisor.status(),
        state: "lost",
        reason: "the agent stopped",
        sinceMs: Date.now(),
      }),
    }));
    audit.record("agent-stopped", "info", "agent stopping", {});
    // Commit what the devices sent last, so it can still go out before the disconnect.
    outbox.flush();
    await uplink.stop([...finalStates, { topic: topics.state, payload: gatewayState("offline") }]);
    // Records not yet acknowledged stay in the outbox for the next run.
    outbox.close();
    await extras.opcua?.stop();
    audit.close();
    log.info("agent stopped", { sessionId });
  }
}

/** A records-dropped alarm clears after this long without a further drop for its device. */
const dropAlarmClearMs = 60_000;

/** Raises a technical alarm on the device whose records the outbox dropped. */
function watchDrops(outbox: Outbox, supervisors: readonly DeviceSupervisor[]): void {
  const byId = new Map(supervisors.map((supervisor) => [supervisor.id, supervisor]));
  const timers = new Map<string, NodeJS.Timeout>();
  outbox.onDrop(({ deviceId, count, reason }) => {
    const supervisor = byId.get(deviceId);
    if (supervisor === undefined) return;
    supervisor.raiseTechnical(
      "records-dropped",
      `records dropped by the outbox (${reason}); ${count} in the last batch`,
    );
    clearTimeout(timers.get(deviceId));
    const timer = setTimeout(
      () => supervisor.clearTechnical("records-dropped", "no records dropped for a minute"),
      dropAlarmClearMs,
    );
    timer.unref();
    timers.set(deviceId, timer);
  });
}

function createSupervisor(
  device: DeviceConfig,
  loaded: LoadedProfile,
  prepared: Prepared,
  sink: DeviceSink,
  shared: { host: HostIdentity; guard: EgressGuard; intervals: SharedIntervals },
  log: Logger,
): DeviceSupervisor {
  const { host, guard, intervals } = shared;
  const { config } = prepared;
  const codec = codecFor(loaded.profile);
  const pipeline = new DevicePipeline(codec, loaded.profile, host);
  const connector: Connector =
    device.link.kind === "serial"
      ? createSerialConnector(device.link.path, {
          ...loaded.profile.serial,
          baudRate: device.link.baudRate ?? loaded.profile.serial.baudRate,
        })
      : createTcpConnector(device.link.host, device.link.port, guard);
  const reconnect = {
    initialDelayMs: config.reconnect.initialDelayMs,
    maxDelayMs: config.reconnect.maxDelayMs,
    watchMs: config.linkWatchMs,
  };
  return new DeviceSupervisor(
    device,
    loaded,
    pipeline,
    connector,
    reconnect,
    sink,
    log,
    systemClock,
    intervals,
  );
}
