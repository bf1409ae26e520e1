/**
 * A simulated Philips IntelliVue MP-series monitor on its MIB/RS-232 port, speaking the Data
 * Export protocol byte for byte:
 *
 * - it waits for an association request, sends the association response and then its MDS
 *   Create Event Report (again every 5 s until the host sends the MDS Create Event Result);
 * - it answers polls only while associated: an extended poll streams replies until its period
 *   ends (numerics and alarms once a second, waves every 256 ms), as RORLS linked results,
 *   then one last RORS; a new poll of the same object class replaces the running one;
 * - a single poll gets one RORS, and a poll of an object class it lacks gets a ROER;
 * - it answers a release request, drops the association on an abort, and drops it silently
 *   when the host has sent nothing for hostSilenceTimeoutMs.
 *
 * [I] Which replies are linked results and the monitor's silence time-out are inferences.
 */
import { seededRandom } from "../../random.js";
import type { DeviceSimulator, SimulatorOptions } from "../family.js";
import { everyNth, findSessionEvent } from "../simulator-support.js";
import { encodeAbsoluteTime, encodeFrame } from "./codec.js";
import { createIntellivueDecoder } from "./decoder.js";
import { IntellivueFramer } from "./framer.js";
import {
  ABORT,
  Action,
  associationResponse,
  mdsCreateEvent,
  ObjectClass,
  parsePollRequest,
  pollReply,
  relativeTimeOf,
  RELEASE_RESPONSE,
  remoteError,
  Spdu,
  WrappingCounter,
  type ObservationPoll,
  type PollRequest,
} from "./messages.js";
import { InvalidPayload } from "./reader.js";
import type { IntellivueProfile } from "./schema.js";
import { SimulatedSignals } from "./signals.js";

export interface IntellivueSimulatorOptions extends SimulatorOptions {
  /**
   * Samples per second of every simulated wave. Default: each wave's rate from the profile's
   * samplePeriodMs, or 500 (ECG) and 125 (pleth, ABP) for a wave the profile does not map.
   */
  waveRate?: number;
  /** The monitor drops the association after this long without bytes from the host. */
  hostSilenceTimeoutMs?: number;
  /** Every Nth frame is first sent half, then aborted with 7D C1, then sent whole (0 = never). */
  abortFrameEvery?: number;
  /** The monitor aborts the association this long after it began (0 = never). */
  abortAssociationAfterMs?: number;
}

export const SIMULATOR_TICK_MS = 16;
const MDS_CREATE_RETRY_MS = 5000;
const DEFAULT_HOST_SILENCE_TIMEOUT_MS = 60_000;
/** Reply intervals of extended polls, per object class. */
const NUMERICS_INTERVAL_MS = 1000;
const WAVES_INTERVAL_MS = 256;
const ALARMS_INTERVAL_MS = 1000;
/** Bytes sent as line noise: none of them is C0, C1 or 7D. */
const GARBAGE = Buffer.from([0x3f, 0x00, 0x7e]);
/** ROER error value for a poll of an object class the monitor lacks: no such object class. */
const NO_SUCH_OBJECT_CLASS = 0;

interface Stream {
  request: PollRequest;
  endsAtMs: number;
  nextAtMs: number;
  intervalMs: number;
  sequence: number;
}

const intervals = new Map<number, number>([
  [ObjectClass.numerics, NUMERICS_INTERVAL_MS],
  [ObjectClass.waves, WAVES_INTERVAL_MS],
  [ObjectClass.alerts, ALARMS_INTERVAL_MS],
]);

export class IntellivueSimulator implements DeviceSimulator {
  readonly tickMs = SIMULATOR_TICK_MS;
  readonly stats = {
    associationRequests: 0,
    associations: 0,
    mdsCreateEvents: 0,
    pollRequests: 0,
    /** Polls that arrived while not associated. */
    ignoredRequests: 0,
    pollReplies: 0,
    remoteErrors: 0,
    releases: 0,
    hostAborts: 0,
    hostSilences: 0,
    associationsAborted: 0,
    corruptFramesSent: 0,
    garbageBursts: 0,
    abortedFramesSent: 0,
    invalidHostFrames: 0,
  };

  private readonly framer: IntellivueFramer;
  private readonly decode: ReturnType<typeof createIntellivueDecoder>;
  private readonly signals: SimulatedSignals;
  private startMs = 0;
  private lastReceivedAtMs = 0;
  private state: "idle" | "awaiting-result" | "associated" = "idle";
  private stateSinceMs = 0;
  private lastMdsCreateAtMs = 0;
  private readonly invokeIds = new WrappingCounter();
  private readonly streams = new Map<number, Stream>();
  private framesSent = 0;

  constructor(
    profile: IntellivueProfile,
    private readonly options: IntellivueSimulatorOptions,
  ) {
    this.framer = new IntellivueFramer({ maxFrameBytes: profile.maxFrameBytes });
    this.decode = createIntellivueDecoder({ demoData: "publish" });
    this.signals = new SimulatedSignals(seededRandom(options.seed), profile, options.waveRate);
  }

  start(nowMs: number): Buffer[] {
    this.startMs = nowMs;
    this.lastReceivedAtMs = nowMs;
    return [];
  }

  receive(chunk: Buffer, nowMs: number): Buffer[] {
    this.checkHostSilence(nowMs);
    this.lastReceivedAtMs = nowMs;
    const output: Buffer[] = [];
    for (const event of this.framer.push(chunk)) {
      if (event.kind === "frame") output.push(...this.handleFrame(event.bytes, nowMs));
    }
    return output;
  }

  tick(nowMs: number): Buffer[] {
    this.checkHostSilence(nowMs);
    const output: Buffer[] = [];
    const abortAfter = this.options.abortAssociationAfterMs ?? 0;
    if (this.state !== "idle" && abortAfter > 0 && nowMs - this.stateSinceMs >= abortAfter) {
      this.stats.associationsAborted++;
      this.dropAssociation(nowMs);
      return [this.emit(ABORT)];
    }
    if (this.state === "awaiting-result" && nowMs - this.lastMdsCreateAtMs >= MDS_CREATE_RETRY_MS) {
      output.push(this.sendMdsCreate(nowMs));
    }
    for (const [objectClass, stream] of this.streams) {
      if (nowMs >= stream.endsAtMs) {
        this.streams.delete(objectClass);
        output.push(this.reply(stream, nowMs, undefined));
      } else if (nowMs >= stream.nextAtMs) {
        stream.nextAtMs += stream.intervalMs;
        if (stream.nextAtMs <= nowMs) stream.nextAtMs = nowMs + stream.intervalMs;
        const state = stream.sequence === 0 ? 1 : 2;
        output.push(this.reply(stream, nowMs, state));
      }
    }
    return output;
  }

  private checkHostSilence(nowMs: number): void {
    const timeout = this.options.hostSilenceTimeoutMs ?? DEFAULT_HOST_SILENCE_TIMEOUT_MS;
    if (this.state === "idle" || nowMs - this.lastReceivedAtMs <= timeout) return;
    this.stats.hostSilences++;
    this.dropAssociation(nowMs);
  }

  private dropAssociation(nowMs: number): void {
    this.state = "idle";
    this.stateSinceMs = nowMs;
    this.streams.clear();
  }

  private handleFrame(frame: Buffer, nowMs: number): Buffer[] {
    const result = this.decode(frame);
    if (!result.ok) {
      this.stats.invalidHostFrames++;
      return [];
    }
    const event = findSessionEvent(result.records);
    if (event === undefined) return [];
    if (event.type === "command") return this.handleCommand(event.command, event.payload, nowMs);
    if (event.type === "response" && this.state === "awaiting-result") {
      this.stats.associations++;
      this.state = "associated";
      this.stateSinceMs = nowMs;
    }
    return [];
  }

  private handleCommand(command: number, payload: Buffer, nowMs: number): Buffer[] {
    switch (command) {
      case Spdu.associationRequest:
        return this.associate(nowMs);
      case Spdu.releaseRequest:
        this.stats.releases++;
        this.dropAssociation(nowMs);
        return [this.emit(RELEASE_RESPONSE)];
      case Spdu.abort:
        this.stats.hostAborts++;
        this.dropAssociation(nowMs);
        return [];
      case Action.pollMdibData:
      case Action.pollMdibDataExt:
        return this.acceptPoll(payload, nowMs);
      default:
        return [];
    }
  }

  /** Accepts a new association, also over a running one, which a real monitor resets too. */
  private associate(nowMs: number): Buffer[] {
    this.stats.associationRequests++;
    this.streams.clear();
    this.state = "awaiting-result";
    this.stateSinceMs = nowMs;
    const response = associationResponse({
      minPollPeriodMs: 250,
      maxMtuRx: 1000,
      maxMtuTx: 1456,
      maxBandwidthTx: 0xffffffff,
    });
    return [this.emit(response), this.sendMdsCreate(nowMs)];
  }

  private sendMdsCreate(nowMs: number): Buffer {
    this.stats.mdsCreateEvents++;
    this.lastMdsCreateAtMs = nowMs;
    return this.emit(mdsCreateEvent(this.invokeIds.next(), this.relativeTime(nowMs)));
  }

  private acceptPoll(payload: Buffer, nowMs: number): Buffer[] {
    this.stats.pollRequests++;
    if (this.state !== "associated") {
      this.stats.ignoredRequests++;
      return [];
    }
    let request: PollRequest;
    try {
      request = parsePollRequest(payload);
    } catch (error) {
      if (!(error instanceof InvalidPayload)) throw error;
      this.stats.invalidHostFrames++;
      return [];
    }
    const intervalMs = intervals.get(request.objectClass);
    if (intervalMs === undefined) {
      this.stats.remoteErrors++;
      return [this.emit(remoteError(request.invokeId, NO_SUCH_OBJECT_CLASS))];
    }
    const stream = { request, endsAtMs: nowMs, nextAtMs: nowMs, intervalMs, sequence: 0 };
    if (request.objectClass === ObjectClass.waves && !this.streams.has(ObjectClass.waves)) {
      this.signals.startWaves(nowMs - this.startMs);
    }
    if (!request.extended || request.periodMs === undefined) {
      return [this.reply(stream, nowMs, undefined)];
    }
    stream.endsAtMs = nowMs + request.periodMs;
    this.streams.set(request.objectClass, stream);
    return [];
  }

  /** Sends one poll reply: a RORLS with `linkedState`, or a RORS when it is undefined. */
  private reply(stream: Stream, nowMs: number, linkedState: number | undefined): Buffer {
    this.stats.pollReplies++;
    const request = stream.request;
    const observations = this.observations(request.objectClass, nowMs);
    const bytes = pollReply({
      invokeId: request.invokeId,
      extended: request.extended,
      ...(linkedState === undefined ? {} : { linkedState, linkedCount: stream.sequence & 0xff }),
      pollNumber: request.pollNumber,
      sequenceNumber: stream.sequence & 0xffff,
      relativeTime: this.relativeTime(nowMs),
      absoluteTime: encodeAbsoluteTime(new Date(nowMs)),
      objectClass: request.objectClass,
      observations,
    });
    stream.sequence++;
    return this.emit(bytes);
  }

  private observations(objectClass: number, nowMs: number): ObservationPoll[] {
    const elapsedMs = nowMs - this.startMs;
    switch (objectClass) {
      case ObjectClass.numerics:
        return this.signals.numerics(elapsedMs);
      case ObjectClass.waves:
        return this.signals.waves(elapsedMs);
      default:
        return this.signals.alarms(elapsedMs);
    }
  }

  private relativeTime(nowMs: number): number {
    return relativeTimeOf(nowMs - this.startMs);
  }

  /** Frames user data and applies the injected faults. */
  private emit(userData: Buffer): Buffer {
    this.framesSent++;
    const corrupt = everyNth(this.options.corruptEvery, this.framesSent);
    if (corrupt) this.stats.corruptFramesSent++;
    let frame = encodeFrame(userData, corrupt ? 0x0001 : 0);
    if (everyNth(this.options.abortFrameEvery ?? 0, this.framesSent)) {
      this.stats.abortedFramesSent++;
      const half = frame.subarray(0, Math.max(2, Math.floor(frame.length / 2)));
      // A half frame that ends in an escape byte would swallow the abort's 7D.
      const cut = half.at(-1) === 0x7d ? half.subarray(0, -1) : half;
      frame = Buffer.concat([cut, Buffer.from([0x7d, 0xc1]), frame]);
    }
    if (everyNth(this.options.garbageEvery, this.framesSent)) {
      this.stats.garbageBursts++;
      frame = Buffer.concat([GARBAGE, frame]);
    }
    return frame;
  }
}

export function createIntellivueSimulator(
  profile: IntellivueProfile,
  options: IntellivueSimulatorOptions,
): DeviceSimulator {
  return new IntellivueSimulator(profile, options);
}
