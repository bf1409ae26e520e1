/** Turns one device's supervisor output into typed MQTT payloads on that device's topics. */
import { randomUUID } from "node:crypto";
import type { AlarmChange } from "../device/alarms.js";
import type { Identity, NumericsBatch } from "../device/pipeline.js";
import type { WaveSegment } from "../device/waves.js";
import type { DeviceSink, DeviceStatus } from "../device/supervisor.js";
import type { Profile } from "../profiles/schema.js";
import type {
  AlarmPayload,
  DeviceInfoPayload,
  DeviceStatePayload,
  ObservationsPayload,
  WaveSegmentsPayload,
} from "./payloads.js";
import type { Topics } from "./topics.js";
import type { Outbox } from "../outbox/outbox.js";
import type { MqttUplink } from "./uplink.js";

export class DevicePublisher implements DeviceSink {
  private readonly profileRef: string;
  private lastInfo = "";
  private lastIdentityKey: string | undefined;

  constructor(
    private readonly deviceId: string,
    private readonly profile: Profile,
    private readonly outbox: Outbox,
    private readonly topics: Topics,
    private readonly uplink: MqttUplink,
  ) {
    this.profileRef = `${profile.id}@${profile.version}`;
  }

  observations(batch: NumericsBatch, receivedAtMs: number): void {
    const payload: Omit<ObservationsPayload, "replayed"> = {
      ...this.identityFields(),
      receivedAt: new Date(receivedAtMs).toISOString(),
      ...(batch.deviceTime === undefined ? {} : { deviceTime: batch.deviceTime }),
      profile: this.profileRef,
      observations: batch.measurements.map((measurement) => ({
        mdcCode: measurement.mdcCode,
        mdcRefId: measurement.mdcRefId,
        deviceCode: measurement.deviceCode,
        value: measurement.value,
        ...(measurement.absentReason === undefined
          ? {}
          : { absentReason: measurement.absentReason }),
        unit: measurement.unit,
      })),
    };
    this.append(this.topics.observations(this.deviceId), payload);
  }

  /**
   * Publishes the segments that became complete together as one record. A monitor fills the
   * segments of all its waves on the same frame, so it costs one message per window, not one
   * per wave, and each message costs the agent and the broker more than its bytes.
   */
  waveSegments(segments: readonly WaveSegment[], emittedAtMs: number): void {
    const payload: Omit<WaveSegmentsPayload, "replayed"> = {
      ...this.identityFields(),
      profile: this.profileRef,
      segments: segments.map((segment) => ({
        startTime: new Date(emittedAtMs - segment.firstSampleAgeMs).toISOString(),
        receivedAt: new Date(emittedAtMs - segment.lastSampleAgeMs).toISOString(),
        ...(segment.deviceTime === undefined ? {} : { deviceTime: segment.deviceTime }),
        mdcCode: segment.mdcCode,
        mdcRefId: segment.mdcRefId,
        deviceCode: segment.deviceCode,
        unit: segment.unit,
        samplePeriodMs: segment.samplePeriodMs,
        scale: segment.scale,
        offset: segment.offset,
        samples: segment.samples,
      })),
    };
    this.append(this.topics.wave(this.deviceId), payload, madeAtMs(segments, emittedAtMs));
  }

  alarm(change: AlarmChange, source: "device" | "technical", atMs: number): void {
    const payload: Omit<AlarmPayload, "replayed"> = {
      ...this.identityFields(),
      time: new Date(atMs).toISOString(),
      source,
      alarmCode: change.alarmCode,
      state: change.state,
      ...(change.priority === undefined ? {} : { priority: change.priority }),
      text: change.text,
    };
    this.append(this.topics.alarm(this.deviceId), payload);
  }

  identity(identity: Identity): void {
    // Devices repeat their identity in every frame (Masimo) or on every session start, so the
    // common case returns before building a payload.
    const key = `${identity.model}\n${identity.serialNumber}\n${identity.firmware}`;
    if (key === this.lastIdentityKey) return;
    this.lastIdentityKey = key;
    const payload: DeviceInfoPayload = {
      deviceId: this.deviceId,
      manufacturer: this.profile.manufacturer,
      model: identity.model ?? this.profile.model,
      serialNumber: identity.serialNumber ?? null,
      firmware: identity.firmware ?? null,
      profile: { id: this.profile.id, version: this.profile.version, name: this.profile.name },
    };
    const text = JSON.stringify(payload);
    if (text === this.lastInfo) return;
    this.lastInfo = text;
    this.uplink.setRetained(this.topics.deviceInfo(this.deviceId), payload);
  }

  persist(): boolean {
    return this.outbox.flush();
  }

  state(status: DeviceStatus): void {
    this.uplink.setRetained(this.topics.deviceState(this.deviceId), deviceStatePayloadOf(status));
  }

  private identityFields() {
    return {
      messageId: randomUUID(),
      deviceId: this.deviceId,
      seq: this.outbox.takeSeq(this.deviceId),
    };
  }

  /**
   * Appends a record to the outbox. `replayed` is left out of the stored body: the uplink sets
   * it when sending, true for records made while the broker was away, made by an earlier run,
   * or sent over 10 s after `createdMs`.
   */
  private append(
    topic: string,
    payload: Omit<ObservationsPayload | AlarmPayload | WaveSegmentsPayload, "replayed">,
    createdMs = Date.now(),
  ): void {
    this.outbox.append({
      deviceId: this.deviceId,
      seq: payload.seq,
      topic,
      body: JSON.stringify(payload),
      createdMs,
      offline: this.uplink.away,
    });
  }
}

/**
 * Returns when the record's data was made: the time of the newest sample of its stalest
 * segment, at most `emittedAtMs`. Samples a device held, as its clock shows, are that old, so
 * the uplink marks the record replayed once one of its segments is over 10 s old, even when
 * fresh segments came in the same read.
 */
function madeAtMs(segments: readonly WaveSegment[], emittedAtMs: number): number {
  let madeMs = emittedAtMs;
  for (const segment of segments) {
    const lastSampleMs = (segment.samples.length - 1) * segment.samplePeriodMs;
    madeMs = Math.min(madeMs, emittedAtMs - segment.firstSampleAgeMs + lastSampleMs);
  }
  return madeMs;
}

export function deviceStatePayloadOf(status: DeviceStatus): DeviceStatePayload {
  return {
    deviceId: status.deviceId,
    state: status.state,
    since: new Date(status.sinceMs).toISOString(),
    ...(status.reason === undefined ? {} : { reason: status.reason }),
    link: status.link,
    profile: status.profile,
    lastFrameAgeMs: status.lastFrameAgeMs,
    counters: status.counters,
    unmappedCodes: status.unmappedCodes,
  };
}
