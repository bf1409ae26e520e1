/**
 * The demo's live view: what a nurses-station dashboard subscribed to the gateway's topics
 * would see, redrawn once a second (or printed line by line when stdout is not a terminal).
 */
import type {
  AlarmPayload,
  DeviceInfoPayload,
  DeviceStatePayload,
  GatewayStatePayload,
  HealthPayload,
  ObservationsPayload,
} from "../../src/mqtt/payloads.js";

interface DeviceView {
  state?: DeviceStatePayload;
  info?: DeviceInfoPayload;
  latest?: ObservationsPayload;
  alarms: Map<string, AlarmPayload>;
  records: number;
}

export class LiveView {
  private gateway: GatewayStatePayload | undefined;
  private health: HealthPayload | undefined;
  private readonly devices = new Map<string, DeviceView>();
  observationMessages = 0;

  constructor(private readonly prefix: string) {}

  /** Applies one received message; returns a one-line summary for plain output. */
  apply(topic: string, payload: unknown): string | undefined {
    const levels = topic.slice(this.prefix.length + 1).split("/");
    if (levels[0] === "state") {
      this.gateway = payload as GatewayStatePayload;
      return `gateway ${this.gateway.state}`;
    }
    if (levels[0] === "health") {
      this.health = payload as HealthPayload;
      return undefined;
    }
    const [, deviceId, kind] = levels;
    if (deviceId === undefined || kind === undefined) return undefined;
    const device = this.device(deviceId);
    switch (kind) {
      case "state":
        device.state = payload as DeviceStatePayload;
        return `${deviceId} ${device.state.state}`;
      case "info":
        device.info = payload as DeviceInfoPayload;
        return `${deviceId} is ${device.info.manufacturer} ${device.info.model}`;
      case "obs":
        device.latest = payload as ObservationsPayload;
        device.records++;
        this.observationMessages++;
        return `${deviceId} #${device.latest.seq} ${describeObservations(device.latest)}`;
      case "alarm": {
        const alarm = payload as AlarmPayload;
        if (alarm.state === "active") device.alarms.set(alarm.alarmCode, alarm);
        else device.alarms.delete(alarm.alarmCode);
        return `${deviceId} alarm ${alarm.alarmCode} ${alarm.state}: ${alarm.text}`;
      }
      default:
        return undefined;
    }
  }

  /** A last line under the devices, such as the latest value read over OPC UA. */
  footer: string | undefined;

  render(nowMs: number): string {
    const lines = [`iomt-gateway demo — gateway ${this.gateway?.state ?? "?"} — Ctrl-C stops`, ""];
    for (const [deviceId, device] of this.devices) {
      const state = device.state?.state ?? "?";
      const model =
        device.info === undefined ? "" : `${device.info.manufacturer} ${device.info.model}`;
      lines.push(`${deviceId}  [${state}]  ${model}  (${device.records} messages)`);
      if (device.latest !== undefined) {
        const ageS = ((nowMs - Date.parse(device.latest.receivedAt)) / 1000).toFixed(1);
        for (const observation of device.latest.observations) {
          const value =
            observation.value === null
              ? `(${observation.absentReason ?? "absent"})`
              : String(observation.value);
          lines.push(
            `    ${observation.mdcRefId.padEnd(32)} ${value.padStart(9)} ${observation.unit.padEnd(8)} ${ageS} s ago`,
          );
        }
      }
      for (const alarm of device.alarms.values()) {
        lines.push(`    ALARM ${alarm.source} ${alarm.alarmCode}: ${alarm.text}`);
      }
      const counters = device.state?.counters;
      if (counters !== undefined) {
        lines.push(
          `    link: ${counters.frames} frames, ${counters.checksumErrors} checksum errors, ` +
            `${counters.discardedBytes} bytes discarded, ${counters.unmappedValues} unmapped values`,
        );
      }
      lines.push("");
    }
    if (this.health !== undefined) {
      const h = this.health;
      lines.push(
        `health: rss ${h.process.rssMb} MB, load ${h.system.load1.toFixed(2)}, queue ${h.uplink.queuedRecords}, published ${h.uplink.published}`,
      );
    }
    if (this.footer !== undefined) lines.push(this.footer);
    return lines.join("\n");
  }

  private device(deviceId: string): DeviceView {
    let device = this.devices.get(deviceId);
    if (device === undefined) {
      device = { alarms: new Map(), records: 0 };
      this.devices.set(deviceId, device);
    }
    return device;
  }
}

function describeObservations(payload: ObservationsPayload): string {
  return payload.observations
    .map(
      (o) =>
        `${o.mdcRefId.replace(/^MDC_/, "")}=${o.value === null ? "-" : o.value}${o.unit === "%" ? "%" : ` ${o.unit}`}`,
    )
    .join(" ");
}
