/**
 * Supervises one device: drives its link and pipeline, owns time (quiet-time watchdog, session
 * ticks) and the device state machine, and hands records to a sink. Bad device input is handled
 * here in one place: counted, warned about at a limited rate, and never fatal.
 */
import type { DeviceConfig } from "../config/schema.js";
import { messageOf } from "../errors.js";
import { RateLimitedWarning, hexPreview, type Logger } from "../log.js";
import { ReconnectingLink, type ReconnectOptions } from "../link/reconnecting.js";
import type { Connector } from "../link/types.js";
import type { LoadedProfile } from "../profiles/load.js";
import type { Outgoing } from "../protocols/types.js";
import { SharedIntervals } from "../shared-intervals.js";
import type { DeviceState } from "../mqtt/payloads.js";
import type { AlarmChange } from "./alarms.js";
import type { DevicePipeline, Identity, LinkCounters, NumericsBatch } from "./pipeline.js";
import type { PeriodMismatch, WaveSegment } from "./waves.js";

export interface DeviceSink {
  observations(batch: NumericsBatch, receivedAtMs: number): void;
  /** Takes the segments that became complete together, at least one. */
  waveSegments(segments: readonly WaveSegment[], emittedAtMs: number): void;
  alarm(change: AlarmChange, source: "device" | "technical", atMs: number): void;
  identity(identity: Identity): void;
  state(status: DeviceStatus): void;
  /**
   * Makes the records handed over so far durable; returns false when they could not be
   * stored. Called before bytes that confirm receipt to the device are written.
   */
  persist(): boolean;
}

export interface DeviceStatus {
  deviceId: string;
  state: DeviceState;
  sinceMs: number;
  reason?: string;
  link: string;
  profile: string;
  lastFrameAgeMs: number | null;
  counters: LinkCounters;
  unmappedCodes: Record<string, number>;
}

export interface Clock {
  /** Wall-clock time in ms, for time stamps only. */
  now(): number;
  /**
   * Monotonic time in ms, for every duration: the wall clock steps when NTP corrects a board
   * without a real-time clock, which would freeze quiet-time checks and session time-outs.
   */
  monotonic(): number;
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

/** A link that stays open but silent this many quiet times is closed and reopened. */
const restartAfterQuietTimes = 3;
const warningIntervalMs = 60_000;

export class DeviceSupervisor {
  private stateValue: DeviceState = "connecting";
  private sinceMs: number;
  private reason: string | undefined;
  private openedAtMs: number | undefined;
  /** Monotonic time the first link opened: the start of silence for a device never heard. */
  private firstOpenedAtMs: number | undefined;
  /** The reason given when the supervisor itself reopened a silent link: no link failure. */
  private silenceRestartReason: string | undefined;
  private stopTicking: (() => void) | undefined;
  private readonly warnings: RateLimitedWarning;
  private readonly quietTimeMs: number;
  private readonly technicalAlarms = new Set<string>();
  private readonly link: ReconnectingLink;
  private readonly warnedUnmapped = new Set<string>();

  constructor(
    private readonly device: DeviceConfig,
    private readonly loaded: LoadedProfile,
    private readonly pipeline: DevicePipeline,
    connector: Connector,
    reconnect: ReconnectOptions,
    private readonly sink: DeviceSink,
    private readonly log: Logger,
    private readonly clock: Clock,
    /** Timers shared with the other devices, so that they tick in one wake-up. */
    private readonly intervals = new SharedIntervals(),
  ) {
    this.sinceMs = clock.now();
    this.quietTimeMs = device.quietTimeMs ?? loaded.profile.quietTimeMs;
    this.warnings = new RateLimitedWarning(log, warningIntervalMs, () => clock.monotonic());
    this.link = new ReconnectingLink(
      connector,
      reconnect,
      this.linkListener,
      log.child("link"),
      intervals,
    );
  }

  get id(): string {
    return this.device.id;
  }

  get state(): DeviceState {
    return this.stateValue;
  }

  private readonly linkListener = {
    onOpen: () => this.guarded("open", () => this.onOpen()),
    onData: (chunk: Buffer) => this.guarded("data", () => this.onData(chunk)),
    onDown: (reason: string) => this.onDown(reason),
    onUnavailable: (reason: string) => this.onUnavailable(reason),
  };

  start(): void {
    this.publishState();
    this.link.start();
    const tickMs = Math.min(this.pipeline.tickMs, 250);
    this.stopTicking = this.intervals.every(tickMs, () =>
      this.guarded("tick", () => this.onTick()),
    );
  }

  stop(): void {
    this.stopTicking?.();
    // Samples waiting for their segment to fill would otherwise end with the process.
    this.publishSegments(this.pipeline.flushWaves(this.clock.monotonic()), this.clock.now());
    this.link.stop();
  }

  status(): DeviceStatus {
    const now = this.clock.monotonic();
    const last = this.pipeline.lastFrameAtMs;
    return {
      deviceId: this.device.id,
      state: this.stateValue,
      sinceMs: this.sinceMs,
      ...(this.reason === undefined ? {} : { reason: this.reason }),
      link: this.link.description,
      profile: `${this.loaded.profile.id}@${this.loaded.profile.version}`,
      lastFrameAgeMs: last === undefined ? null : Math.round(now - last),
      counters: { ...this.pipeline.counters },
      unmappedCodes: Object.fromEntries(this.pipeline.unmappedCodes),
    };
  }

  private onOpen(): void {
    const now = this.clock.monotonic();
    this.openedAtMs = now;
    this.firstOpenedAtMs ??= now;
    this.write(this.pipeline.open(now));
    // Reopening the link of a silent device proves nothing about the device. So it stays stale
    // until a valid frame arrives, and a dead device never shows as connecting.
    if (this.stateValue === "stale") {
      this.setState("stale", `${this.silenceText(now)}; link reopened`);
      return;
    }
    this.setState(this.pipeline.established ? "connecting" : "negotiating", "link open");
  }

  /** Returns how long no valid frame arrived, across reopened links. */
  private silenceText(now: number): string {
    const since = this.pipeline.lastFrameAtMs ?? this.firstOpenedAtMs ?? now;
    const silence =
      this.pipeline.lastFrameAtMs === undefined ? "no valid frame ever" : "no valid frame";
    return `${silence} for ${Math.round(now - since)} ms (quiet time ${this.quietTimeMs} ms)`;
  }

  /**
   * Runs protocol code for one link event. An exception there is a bug in a framer, decoder or
   * session, so it reopens this link and leaves every other device running.
   */
  private guarded(during: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.pipeline.counters.decodeErrors++;
      this.log.error("protocol code failed; the link is reopened", {
        during,
        error: messageOf(error),
        profile: this.loaded.profile.id,
      });
      this.link.restart(`protocol code failed during ${during}: ${messageOf(error)}`);
    }
  }

  private onData(chunk: Buffer): void {
    const now = this.clock.monotonic();
    const receivedAtMs = this.clock.now();
    if (this.log.enabled("debug")) {
      this.log.debug("bytes in", { direction: "in", bytes: hexPreview(chunk) });
    }
    const result = this.pipeline.ingest(chunk, now);
    for (const error of result.errors)
      this.warnings.warn(error.code, "bad frame skipped", { error: error.message });
    this.warnUnmapped(result.unmapped);
    if (result.unexpectedFrames > 0) {
      // Replies that a link held past the end of their session are one case. Their values
      // are of unknown age, and without this line only the counter would show them.
      this.warnings.warn("unexpected-frames", "frames that matched no request were dropped", {
        dropped: result.unexpectedFrames,
        unexpectedFrames: this.pipeline.counters.unexpectedFrames,
      });
    }
    for (const mismatch of result.periodMismatches) this.warnPeriod(mismatch);
    if (result.identity !== undefined) this.sink.identity(result.identity);
    for (const batch of result.batches) this.sink.observations(batch, receivedAtMs);
    this.publishSegments(result.segments, receivedAtMs);
    for (const change of result.alarms) this.sink.alarm(change, "device", receivedAtMs);
    this.write(this.withheldUnlessStored(result.outgoing));
    const alive = result.validFrames > 0 && this.pipeline.established;
    if (alive && this.stateValue !== "connected") {
      this.becomeConnected();
    }
    this.followSession();
  }

  /**
   * Shows a connected device whose session ended on an open link (a monitor that aborted its
   * association) as negotiating, until the session is established and data flows again.
   */
  private followSession(): void {
    if (this.stateValue !== "connected" || this.pipeline.established) return;
    this.setState("negotiating", "the device ended its session; negotiating a new one");
  }

  /**
   * Returns the replies to write. Replies that confirm receipt wait for the records to be on
   * disk, and are left out when the outbox cannot store them: the device then sends its data
   * again, which the records still in memory make safe.
   */
  private withheldUnlessStored(outgoing: Outgoing[]): Outgoing[] {
    if (!outgoing.some((item) => item.confirmsReceipt === true)) return outgoing;
    if (this.sink.persist()) return outgoing;
    this.warnings.warn("persist", "outbox could not store the records; acknowledgement withheld", {
      withheld: outgoing.filter((item) => item.confirmsReceipt === true).length,
    });
    return outgoing.filter((item) => item.confirmsReceipt !== true);
  }

  /**
   * Warns that a wave's samples come at another rate than the profile gives, which puts every
   * sample at the wrong time. The pipeline reports each wave once.
   */
  private warnPeriod(mismatch: PeriodMismatch): void {
    this.log.warn(
      "wave samples come at another period than the profile gives; correct the profile",
      {
        deviceCode: mismatch.deviceCode,
        deviceSamplePeriodMs: mismatch.deviceSamplePeriodMs,
        profileSamplePeriodMs: mismatch.profileSamplePeriodMs,
        setting: `waves.${mismatch.deviceCode}.samplePeriodMs`,
        profile: this.loaded.profile.id,
      },
    );
  }

  /** Warns once per code: the counts stay in device state, so repeats would only add noise. */
  private warnUnmapped(codes: readonly string[]): void {
    const fresh = [...new Set(codes)].filter((code) => !this.warnedUnmapped.has(code));
    if (fresh.length === 0) return;
    for (const code of fresh) this.warnedUnmapped.add(code);
    this.log.warn("device codes have no mapping in the profile; they are counted in device state", {
      deviceCodes: fresh.join(","),
      profile: this.loaded.profile.id,
    });
  }

  /** Called when an open attempt fails, so a port missing from the start is not "connecting". */
  private onUnavailable(reason: string): void {
    if (this.stateValue === "lost") return;
    this.setState("lost", reason);
    this.raise("link-lost", `link unavailable: ${reason}`);
  }

  private publishSegments(segments: readonly WaveSegment[], emittedAtMs: number): void {
    if (segments.length > 0) this.sink.waveSegments(segments, emittedAtMs);
  }

  private onDown(reason: string): void {
    this.publishSegments(this.pipeline.close(this.clock.monotonic()), this.clock.now());
    this.pipeline.counters.reconnects++;
    this.openedAtMs = undefined;
    const restartedForSilence = reason === this.silenceRestartReason;
    this.silenceRestartReason = undefined;
    if (restartedForSilence) return;
    if (this.stateValue === "lost") return;
    this.setState("lost", reason);
    this.raise("link-lost", `link lost: ${reason}`);
  }

  private onTick(): void {
    const now = this.clock.monotonic();
    if (this.link.state !== "open") return;
    this.write(this.pipeline.tick(now));
    this.followSession();
    this.publishSegments(this.pipeline.expireWaves(now), this.clock.now());
    const lastActivity = Math.max(this.pipeline.lastFrameAtMs ?? 0, this.openedAtMs ?? 0);
    const quietMs = Math.round(now - lastActivity);
    // A device that never completes the handshake, or sends only bad frames, is as silent as
    // one that stopped: its data is stale too.
    if (this.stateValue !== "stale" && quietMs > this.quietTimeMs) {
      this.publishSegments(this.pipeline.flushWaves(now), this.clock.now());
      this.setState("stale", this.silenceText(now));
      this.raise("data-stale", "no data from the device");
    }
    if (quietMs > this.quietTimeMs * restartAfterQuietTimes) {
      const reason = `no valid frame for ${quietMs} ms`;
      if (this.stateValue === "stale") this.silenceRestartReason = reason;
      this.link.restart(reason);
    }
  }

  private becomeConnected(): void {
    this.setState("connected", undefined);
    this.clear("data-stale", "data flows again");
    this.clear("link-lost", "link restored and data flows");
  }

  /** Raises a technical alarm from outside the link, such as records dropped by the outbox. */
  raiseTechnical(alarmCode: string, text: string): void {
    this.raise(alarmCode, text);
  }

  clearTechnical(alarmCode: string, text: string): void {
    this.clear(alarmCode, text);
  }

  private raise(alarmCode: string, text: string): void {
    if (this.technicalAlarms.has(alarmCode)) return;
    this.technicalAlarms.add(alarmCode);
    this.sink.alarm({ alarmCode, state: "active", text }, "technical", this.clock.now());
  }

  private clear(alarmCode: string, text: string): void {
    if (!this.technicalAlarms.delete(alarmCode)) return;
    this.sink.alarm({ alarmCode, state: "cleared", text }, "technical", this.clock.now());
  }

  private write(outgoing: readonly Outgoing[]): void {
    for (const item of outgoing) {
      if (!this.link.write(item.bytes)) continue;
      this.pipeline.countWritten([item]);
      if (this.log.enabled("debug")) {
        this.log.debug("bytes out", {
          direction: "out",
          label: item.label,
          bytes: hexPreview(item.bytes),
        });
      }
    }
  }

  private setState(state: DeviceState, reason: string | undefined): void {
    if (state === this.stateValue && reason === this.reason) return;
    const level = state === "lost" || state === "stale" ? "warn" : "info";
    this.log[level]("device state", { state, reason });
    this.stateValue = state;
    this.reason = reason;
    this.sinceMs = this.clock.now();
    this.publishState();
  }

  private publishState(): void {
    this.sink.state(this.status());
  }
}
