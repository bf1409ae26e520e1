/**
 * One device's bytes-to-records path: framer, decoder, session and measurement mapping, with
 * the link counters. Free of I/O and clocks, so the supervisor, the test vectors and replay
 * all run the same code.
 */
import { GatewayError, messageOf } from "../errors.js";
import type { Profile } from "../profiles/schema.js";
import type { HostIdentity } from "../protocols/family.js";
import type { ProfileCodec } from "../protocols/registry.js";
import type {
  DecodeResult,
  Decoder,
  DeviceRecord,
  Framer,
  FramerEvent,
  Outgoing,
  Session,
} from "../protocols/types.js";
import { AlarmTracker, type AlarmChange } from "./alarms.js";
import { MeasurementMapper, type Measurement } from "./measurements.js";
import { WaveBatcher, type PeriodMismatch, type WaveSegment } from "./waves.js";

export interface LinkCounters {
  bytesIn: number;
  bytesOut: number;
  frames: number;
  checksumErrors: number;
  decodeErrors: number;
  discardedBytes: number;
  oversizeFrames: number;
  unmappedValues: number;
  invalidValues: number;
  /** Valid frames that were responses to no request, whose values were not published. */
  unexpectedFrames: number;
  reconnects: number;
}

export interface Identity {
  model?: string;
  serialNumber?: string;
  firmware?: string;
}

export interface NumericsBatch {
  measurements: Measurement[];
  deviceTime?: string;
}

/** The records, errors and replies decoded from one chunk of bytes. */
export interface IngestResult {
  batches: NumericsBatch[];
  /** Wave segments that became complete with these bytes. */
  segments: WaveSegment[];
  /** Waves found with these bytes to be sampled at another period than the profile gives. */
  periodMismatches: PeriodMismatch[];
  alarms: AlarmChange[];
  identity?: Identity;
  errors: GatewayError[];
  unmapped: string[];
  outgoing: Outgoing[];
  /** Frames that decoded without error: only these show that the device is alive. */
  validFrames: number;
  /** Valid frames that matched no request, whose values were dropped. */
  unexpectedFrames: number;
}

/**
 * Distinct unmapped codes kept per device. A device that sends a new key in every line would
 * otherwise grow the map, and the device state that carries it, without end.
 */
export const maxUnmappedCodes = 64;
export const otherUnmappedCode = "(other)";

export function emptyCounters(): LinkCounters {
  return {
    bytesIn: 0,
    bytesOut: 0,
    frames: 0,
    checksumErrors: 0,
    decodeErrors: 0,
    discardedBytes: 0,
    oversizeFrames: 0,
    unmappedValues: 0,
    invalidValues: 0,
    unexpectedFrames: 0,
    reconnects: 0,
  };
}

export class DevicePipeline {
  readonly counters = emptyCounters();
  /** Unmapped device codes seen, with their counts, for device state. */
  readonly unmappedCodes = new Map<string, number>();
  lastFrameAtMs: number | undefined;

  private readonly framer: Framer;
  private readonly decoder: Decoder;
  private readonly session: Session;
  private readonly mapper: MeasurementMapper;
  private readonly alarms = new AlarmTracker();
  private readonly waves: WaveBatcher;

  constructor(codec: ProfileCodec, profile: Profile, host: HostIdentity) {
    this.framer = codec.createFramer();
    this.decoder = codec.createDecoder();
    this.session = codec.createSession(host);
    this.mapper = new MeasurementMapper(profile);
    this.waves = new WaveBatcher(profile);
  }

  /** Bytes the framer contains as the start of a frame not yet complete. */
  get bufferedBytes(): number {
    return this.framer.bufferedBytes;
  }

  get established(): boolean {
    return this.session.established;
  }

  get tickMs(): number {
    return this.session.tickMs;
  }

  open(nowMs: number): Outgoing[] {
    this.countDiscards(this.framer.reset());
    return this.session.onOpen(nowMs);
  }

  /**
   * Drops a half frame when the link closes (it is counted as discarded) and returns the
   * partial wave segments, which must not wait for samples from a later connection.
   */
  close(nowMs: number): WaveSegment[] {
    this.countDiscards(this.framer.reset());
    const segments = this.waves.flush(nowMs);
    // The device may restart, or another take its port, before the link opens again.
    this.waves.forgetClocks();
    return segments;
  }

  /** Returns the partial wave segments, for a device that went quiet or an agent that stops. */
  flushWaves(nowMs: number): WaveSegment[] {
    return this.waves.flush(nowMs);
  }

  /** Returns the partial segments of waves whose samples stopped (WaveBatcher.expire). */
  expireWaves(nowMs: number): readonly WaveSegment[] {
    return this.waves.expire(nowMs);
  }

  tick(nowMs: number): Outgoing[] {
    return this.session.onTick(nowMs);
  }

  countWritten(outgoing: readonly Outgoing[]): void {
    for (const item of outgoing) this.counters.bytesOut += item.bytes.length;
  }

  ingest(chunk: Uint8Array, nowMs: number): IngestResult {
    const result: IngestResult = {
      batches: [],
      segments: [],
      periodMismatches: [],
      alarms: [],
      errors: [],
      unmapped: [],
      outgoing: [],
      validFrames: 0,
      unexpectedFrames: 0,
    };
    this.counters.bytesIn += chunk.length;
    for (const event of this.framer.push(chunk)) {
      if (event.kind === "discard") {
        this.countDiscards([event]);
        this.waves.noteLoss();
        // An oversized frame is answered like any frame the decoder rejects (ASTM NAK).
        if (event.reason === "oversize") {
          result.outgoing.push(...(this.session.onInvalidFrame?.(nowMs, Buffer.alloc(0)) ?? []));
        }
        continue;
      }
      this.counters.frames++;
      this.decodeFrame(event.bytes, nowMs, result);
    }
    return result;
  }

  private decodeFrame(frame: Buffer, nowMs: number, result: IngestResult): void {
    const decoded = this.decode(frame);
    if (!decoded.ok) {
      this.waves.noteLoss();
      if (decoded.error.code === "FRAME_CHECKSUM") {
        this.counters.checksumErrors++;
        result.outgoing.push(...this.session.onCorruptFrame(nowMs, frame));
      } else {
        this.counters.decodeErrors++;
        result.outgoing.push(...(this.session.onInvalidFrame?.(nowMs, frame) ?? []));
      }
      result.errors.push(decoded.error);
      return;
    }
    result.validFrames++;
    this.lastFrameAtMs = nowMs;
    for (const error of decoded.skipped ?? []) {
      this.waves.noteLoss();
      this.counters.decodeErrors++;
      result.errors.push(error);
    }
    // A response to no request (late, or never asked for) carries values of unknown age.
    const unexpected = decoded.records.some(
      (record) => record.kind === "session" && !this.session.expects(record.event),
    );
    if (unexpected) {
      this.counters.unexpectedFrames++;
      result.unexpectedFrames++;
    }
    for (const record of decoded.records) {
      if (unexpected && record.kind !== "session") continue;
      this.applyRecord(record, nowMs, result);
    }
  }

  /** Runs the decoder; a decoder that throws costs one frame, not the agent's other devices. */
  private decode(frame: Buffer): DecodeResult {
    try {
      return this.decoder(frame);
    } catch (error) {
      const message = `decoder failed on a ${frame.length}-byte frame and the frame was skipped: ${messageOf(error)}`;
      return { ok: false, error: new GatewayError("DECODE_INVALID", message, { cause: error }) };
    }
  }

  private applyRecord(record: DeviceRecord, nowMs: number, result: IngestResult): void {
    switch (record.kind) {
      case "numerics": {
        const mapped = this.mapper.map(record.values, record.snapshot);
        this.counters.unmappedValues += mapped.unmapped.length;
        this.counters.invalidValues += mapped.invalid.length;
        for (const code of mapped.unmapped) result.unmapped.push(this.countUnmapped(code));
        if (mapped.measurements.length > 0) {
          result.batches.push({ measurements: mapped.measurements, deviceTime: record.deviceTime });
        }
        return;
      }
      case "alarms":
        result.alarms.push(...this.alarms.apply(record.alarms, record.snapshot));
        return;
      case "wave":
        if (!this.waves.mapped(record.deviceCode)) {
          this.counters.unmappedValues++;
          result.unmapped.push(this.countUnmapped(record.deviceCode));
          return;
        }
        result.segments.push(...this.waves.add(record.deviceCode, record.samples, nowMs, record));
        result.periodMismatches.push(...this.waves.periodMismatches.splice(0));
        return;
      case "identity":
        result.identity = { ...result.identity, ...withoutUndefined(record) };
        return;
      case "session":
        result.outgoing.push(...this.session.onEvent(record.event, nowMs));
        return;
    }
  }

  /** Counts an unmapped code; past maxUnmappedCodes distinct codes, under otherUnmappedCode. */
  private countUnmapped(code: string): string {
    const key =
      this.unmappedCodes.has(code) || this.unmappedCodes.size < maxUnmappedCodes - 1
        ? code
        : otherUnmappedCode;
    this.unmappedCodes.set(key, (this.unmappedCodes.get(key) ?? 0) + 1);
    return key;
  }

  private countDiscards(events: readonly FramerEvent[]): void {
    for (const event of events) {
      if (event.kind !== "discard") continue;
      this.counters.discardedBytes += event.byteCount;
      if (event.reason === "oversize") this.counters.oversizeFrames++;
    }
  }
}

function withoutUndefined(record: {
  model?: string;
  serialNumber?: string;
  firmware?: string;
}): Identity {
  const identity: Identity = {};
  if (record.model !== undefined) identity.model = record.model;
  if (record.serialNumber !== undefined) identity.serialNumber = record.serialNumber;
  if (record.firmware !== undefined) identity.firmware = record.firmware;
  return identity;
}
