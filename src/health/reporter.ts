/** Publishes the retained health report on an interval. */
import type { DeviceSupervisor } from "../device/supervisor.js";
import { messageOf } from "../errors.js";
import type { Logger } from "../log.js";
import { deviceStatePayloadOf } from "../mqtt/device-publisher.js";
import type { EgressHealth, HealthPayload } from "../mqtt/payloads.js";
import type { Topics } from "../mqtt/topics.js";
import { daysUntil } from "../mqtt/tls.js";
import type { Outbox } from "../outbox/outbox.js";
import type { MqttUplink } from "../mqtt/uplink.js";
import { agentVersion } from "../version.js";
import { sampleSystem } from "./system.js";

export interface HealthReporterOptions {
  intervalMs: number;
  dataDir: string;
  sessionId: string;
  topics: Topics;
  uplink: MqttUplink;
  supervisors: readonly DeviceSupervisor[];
  clientCertNotAfter: string;
  /** The OPC UA server certificate's expiry, when the server runs. */
  opcuaCertNotAfter?: string;
  outbox: Outbox;
  /** The allowlist's version, the firewall's state and the denial counters. */
  egress: () => EgressHealth;
  log: Logger;
}

export class HealthReporter {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAtMs = Date.now();
  private lastRate = { atMs: Date.now(), published: 0 };
  private clientCertNotAfter: string;

  constructor(private readonly options: HealthReporterOptions) {
    this.clientCertNotAfter = options.clientCertNotAfter;
  }

  /** Reports a renewed client certificate's expiry from the next report on. */
  setClientCertNotAfter(notAfter: string): void {
    this.clientCertNotAfter = notAfter;
  }

  start(): void {
    this.timer = setInterval(() => void this.report(), this.options.intervalMs);
    void this.report();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async build(): Promise<HealthPayload> {
    const { uplink, supervisors, sessionId, dataDir } = this.options;
    const system = await sampleSystem(dataDir);
    return {
      time: new Date().toISOString(),
      sessionId,
      agentVersion,
      uptimeSeconds: Math.round((Date.now() - this.startedAtMs) / 1000),
      system: {
        load1: system.load1,
        load5: system.load5,
        load15: system.load15,
        memoryTotalMb: system.memoryTotalMb,
        memoryAvailableMb: system.memoryAvailableMb,
        cpuTemperatureC: system.cpuTemperatureC,
      },
      disk: system.disk,
      process: system.process,
      uplink: {
        connected: uplink.connected,
        queuedRecords: uplink.queuedRecords,
        published: uplink.published,
        droppedRecords: uplink.dropped,
        rejectedRecords: uplink.rejected,
      },
      outbox: this.outboxFigures(),
      egress: this.options.egress(),
      certificates: {
        clientCertNotAfter: this.clientCertNotAfter,
        clientCertDaysLeft: daysUntil(this.clientCertNotAfter),
        ...this.opcuaCertificate(),
      },
      devices: supervisors.map((supervisor) => {
        const status = supervisor.status();
        return {
          deviceId: status.deviceId,
          state: status.state,
          lastFrameAgeMs: status.lastFrameAgeMs,
          counters: status.counters,
        };
      }),
    };
  }

  private opcuaCertificate() {
    const notAfter = this.options.opcuaCertNotAfter;
    if (notAfter === undefined) return {};
    return { opcuaServerCertNotAfter: notAfter, opcuaServerCertDaysLeft: daysUntil(notAfter) };
  }

  private outboxFigures() {
    const stats = this.options.outbox.stats();
    const now = Date.now();
    const published = this.options.uplink.published;
    const seconds = (now - this.lastRate.atMs) / 1000;
    const deliveredPerSecond = seconds > 0 ? (published - this.lastRate.published) / seconds : 0;
    this.lastRate = { atMs: now, published };
    return {
      records: stats.records,
      bytes: stats.bytes,
      fileBytes: stats.fileBytes,
      oldestAgeMs: stats.oldestAgeMs === null ? null : Math.round(stats.oldestAgeMs),
      droppedRecords: stats.droppedRecords,
      deliveredPerSecond: Math.round(deliveredPerSecond * 100) / 100,
    };
  }

  private async report(): Promise<void> {
    const { uplink, topics, supervisors, log } = this.options;
    try {
      uplink.setRetained(topics.health, await this.build());
      // Device state carries counters and frame age too, so refresh it with each report.
      for (const supervisor of supervisors) {
        uplink.setRetained(
          topics.deviceState(supervisor.id),
          deviceStatePayloadOf(supervisor.status()),
        );
      }
    } catch (error) {
      log.warn("health report failed", { error: messageOf(error) });
    }
  }
}
