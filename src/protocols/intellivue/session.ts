/**
 * IntelliVue host session: a pure state machine driven by the supervisor's clock (nowMs
 * arguments, no timers). On serial the host starts the dialog:
 *
 * 1. the host sends an association request and waits for the association response;
 * 2. the monitor sends an MDS Create Event Report, which the host answers with an MDS Create
 *    Event Result before the monitor accepts polls;
 * 3. the host sends one extended poll per object class (numerics, waves, alarms); the monitor
 *    streams replies until the poll's period ends, so each poll is re-issued before that;
 * 4. after an abort, a release request, a refusal or a silence of silenceTimeoutMs, the host
 *    waits retryDelayMs and associates again.
 *
 * The guide allows at most 4 frames per 128 ms towards the monitor, so every frame goes
 * through a queue that enforces that window.
 */
import type { Outgoing, Session, SessionEvent } from "../types.js";
import { encodeFrame } from "./codec.js";
import { pollReplyCode, remoteErrorCode, replyObjectClass } from "./decoder.js";
import {
  ABORT,
  associationRequest,
  MDS_CREATE_EVENT,
  mdsCreateResult,
  ObjectClass,
  pollRequest,
  relativeTimeOf,
  RELEASE_RESPONSE,
  Spdu,
  WrappingCounter,
} from "./messages.js";
import type { IntellivueSessionSettings, PollObject } from "./schema.js";

/**
 * Tick period in ms. Time-outs, retries and re-issues run on seconds, so a tick late does not
 * matter to them. The flow limit can hold back the last poll of an association (the request,
 * the MDS Create Event Result and three polls, when the monitor replies within 128 ms) until
 * the next tick or the next frame from the monitor. At 50 ms, the ticks of 16 monitors took
 * about 5 % of the agent's CPU in the ward benchmark, as much as decoding their frames.
 */
export const SESSION_TICK_MS = 250;
/** Flow limit towards the monitor: at most this many frames in any window. */
export const MAX_FRAMES_PER_WINDOW = 4;
export const FLOW_WINDOW_MS = 128;
/** Maximum bandwidth we send, in the association request: no limit. */
const MAX_BANDWIDTH_TX = 0xffffffff;

export const objectClassOf: Record<PollObject, number> = {
  numerics: ObjectClass.numerics,
  waves: ObjectClass.waves,
  alarms: ObjectClass.alerts,
};

type Phase = "closed" | "associating" | "awaiting-mds" | "polling" | "waiting";

interface ActivePoll {
  objectClass: number;
  invokeId: number;
  issuedAtMs: number;
  /** Set when the poll must go out again at this time, earlier than its period ends. */
  dueAtMs?: number;
}

export interface IntellivueSessionStats {
  associationRequests: number;
  associations: number;
  associationTimeouts: number;
  refusals: number;
  aborts: number;
  releases: number;
  silences: number;
  pollsSent: number;
  pollReplies: number;
  pollErrors: number;
  /** Times the 4-frames-per-128-ms flow limit held frames back for a later tick. */
  framesDelayed: number;
}

export class IntellivueSession implements Session {
  readonly tickMs = SESSION_TICK_MS;
  readonly stats: IntellivueSessionStats = {
    associationRequests: 0,
    associations: 0,
    associationTimeouts: 0,
    refusals: 0,
    aborts: 0,
    releases: 0,
    silences: 0,
    pollsSent: 0,
    pollReplies: 0,
    pollErrors: 0,
    framesDelayed: 0,
  };

  private phase: Phase = "closed";
  private phaseSinceMs = 0;
  private lastEventAtMs = 0;
  private readonly polls = new Map<number, ActivePoll>();
  private readonly invokeIds = new WrappingCounter();
  private readonly pollNumbers = new WrappingCounter();
  private readonly queue: Outgoing[] = [];
  private readonly sentAtMs: number[] = [];
  private startMs = 0;

  constructor(private readonly settings: IntellivueSessionSettings) {}

  get established(): boolean {
    return this.phase === "polling";
  }

  onOpen(nowMs: number): Outgoing[] {
    this.queue.length = 0;
    this.polls.clear();
    this.startMs = nowMs;
    this.associate(nowMs);
    return this.flush(nowMs);
  }

  onEvent(event: SessionEvent, nowMs: number): Outgoing[] {
    if (this.phase === "closed") return [];
    this.lastEventAtMs = nowMs;
    switch (event.type) {
      case "response":
        this.acceptResponse(event.command, nowMs);
        break;
      case "command":
        this.acceptCommand(event.command, event.payload, nowMs);
        break;
      case "rejected":
        this.acceptRejection(event.command, nowMs);
        break;
      case "astm":
      case "hl7-message":
        // Events of other families: an IntelliVue decoder never emits them.
        break;
    }
    return this.flush(nowMs);
  }

  /** A frame that failed its FCS gets no reply: the protocol has no negative acknowledgement. */
  onCorruptFrame(): Outgoing[] {
    return [];
  }

  expects(event: SessionEvent): boolean {
    const objectClass = event.type === "response" ? replyObjectClass(event.command) : undefined;
    if (objectClass === undefined) return true;
    return this.phase === "polling" && this.polls.has(objectClass);
  }

  onTick(nowMs: number): Outgoing[] {
    switch (this.phase) {
      case "closed":
        return [];
      case "associating":
        if (nowMs - this.phaseSinceMs >= this.settings.associationTimeoutMs) {
          this.stats.associationTimeouts++;
          this.associate(nowMs);
        }
        break;
      case "awaiting-mds":
        if (nowMs - this.phaseSinceMs >= this.settings.associationTimeoutMs) {
          this.stats.associationTimeouts++;
          this.abort(nowMs);
        }
        break;
      case "waiting":
        if (nowMs - this.phaseSinceMs >= this.settings.retryDelayMs) this.associate(nowMs);
        break;
      case "polling":
        this.tickPolling(nowMs);
        break;
    }
    return this.flush(nowMs);
  }

  private tickPolling(nowMs: number): void {
    if (nowMs - this.lastEventAtMs >= this.settings.silenceTimeoutMs) {
      this.stats.silences++;
      this.abort(nowMs);
      return;
    }
    const reissueAfterMs = this.settings.pollPeriodMs - this.settings.reissueBeforeMs;
    for (const poll of this.polls.values()) {
      const dueAtMs = poll.dueAtMs ?? poll.issuedAtMs + reissueAfterMs;
      if (nowMs >= dueAtMs) this.sendPoll(poll.objectClass, nowMs);
    }
  }

  private acceptResponse(command: number, nowMs: number): void {
    if (command === Spdu.associationAccepted && this.phase === "associating") {
      this.enterPhase("awaiting-mds", nowMs);
    } else if (command === Spdu.releaseResponse) {
      this.enterPhase("waiting", nowMs);
    } else if (replyObjectClass(command) !== undefined) {
      this.acceptPollReply(command, nowMs);
    }
  }

  private acceptPollReply(command: number, nowMs: number): void {
    const poll = this.polls.get(replyObjectClass(command) ?? -1);
    if (poll === undefined || this.phase !== "polling") return;
    this.stats.pollReplies++;
    // The last reply of a poll means the monitor's period ended before our re-issue. The monitor
    // sends nothing more until the next poll, so the poll goes at once, not at the next tick.
    if (command === pollReplyCode(poll.objectClass, true)) this.sendPoll(poll.objectClass, nowMs);
  }

  private acceptCommand(command: number, payload: Buffer, nowMs: number): void {
    switch (command) {
      case MDS_CREATE_EVENT:
        if (this.phase === "awaiting-mds" || this.phase === "polling") {
          this.answerMdsCreate(payload.readUInt16BE(0), nowMs);
        }
        return;
      case Spdu.releaseRequest:
        this.stats.releases++;
        this.send(RELEASE_RESPONSE, "release response");
        this.enterPhase("waiting", nowMs);
        return;
      case Spdu.abort:
        this.stats.aborts++;
        this.enterPhase("waiting", nowMs);
        return;
    }
  }

  private acceptRejection(command: number, nowMs: number): void {
    if (command === Spdu.associationRequest) {
      this.stats.refusals++;
      this.enterPhase("waiting", nowMs);
      return;
    }
    for (const poll of this.polls.values()) {
      if (command !== remoteErrorCode(poll.invokeId)) continue;
      this.stats.pollErrors++;
      poll.dueAtMs = nowMs + this.settings.retryDelayMs;
    }
  }

  private answerMdsCreate(invokeId: number, nowMs: number): void {
    this.send(mdsCreateResult(invokeId, this.relativeTime(nowMs)), "MDS Create Event Result");
    this.stats.associations++;
    this.enterPhase("polling", nowMs);
    this.polls.clear();
    for (const object of this.settings.poll) this.sendPoll(objectClassOf[object], nowMs);
  }

  private sendPoll(objectClass: number, nowMs: number): void {
    const invokeId = this.invokeIds.next();
    const request = pollRequest({
      invokeId,
      pollNumber: this.pollNumbers.next(),
      objectClass,
      extended: true,
      periodMs: this.settings.pollPeriodMs,
    });
    this.polls.set(objectClass, { objectClass, invokeId, issuedAtMs: nowMs });
    this.stats.pollsSent++;
    this.send(request, `extended poll 0x${objectClass.toString(16)}`);
  }

  private associate(nowMs: number): void {
    this.stats.associationRequests++;
    this.polls.clear();
    const request = associationRequest({
      minPollPeriodMs: this.settings.minPollPeriodMs,
      maxMtuRx: this.settings.maxMtuRx,
      maxMtuTx: this.settings.maxMtuTx,
      maxBandwidthTx: MAX_BANDWIDTH_TX,
    });
    this.send(request, "association request");
    this.enterPhase("associating", nowMs);
  }

  /** Aborts the association, so the monitor drops any half-open state, and retries later. */
  private abort(nowMs: number): void {
    this.polls.clear();
    this.send(ABORT, "abort");
    this.enterPhase("waiting", nowMs);
  }

  private enterPhase(phase: Phase, nowMs: number): void {
    if (phase !== "polling") this.polls.clear();
    this.phase = phase;
    this.phaseSinceMs = nowMs;
    this.lastEventAtMs = nowMs;
  }

  private relativeTime(nowMs: number): number {
    return relativeTimeOf(nowMs - this.startMs);
  }

  private send(userData: Buffer, label: string): void {
    this.queue.push({ bytes: encodeFrame(userData), label });
  }

  /** Returns the queued frames the flow limit lets out now; the rest wait for a later tick. */
  private flush(nowMs: number): Outgoing[] {
    while (this.sentAtMs.length > 0 && nowMs - (this.sentAtMs[0] ?? 0) >= FLOW_WINDOW_MS) {
      this.sentAtMs.shift();
    }
    const room = Math.max(0, MAX_FRAMES_PER_WINDOW - this.sentAtMs.length);
    const out = this.queue.splice(0, room);
    for (let index = 0; index < out.length; index++) this.sentAtMs.push(nowMs);
    if (this.queue.length > 0) this.stats.framesDelayed++;
    return out;
  }
}

export function createIntellivueSession(settings: IntellivueSessionSettings): Session {
  return new IntellivueSession(settings);
}
