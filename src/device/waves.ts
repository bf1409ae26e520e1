/**
 * Batches a device's wave samples into segments. Monitors send a few samples per frame, and one
 * message per frame would cost the uplink more than the samples are worth. So samples wait
 * until they span the profile's waveSegmentMs of signal, then leave as one segment.
 */
import type { WaveMapping } from "../profiles/common.js";
import type { DeviceClock } from "../protocols/types.js";

export interface WaveSegment {
  deviceCode: string;
  mdcCode: number;
  mdcRefId: string;
  unit: string;
  scale: number;
  offset: number;
  samplePeriodMs: number;
  /** Samples as the device sent them, or null for the device's invalid markers. */
  samples: (number | null)[];
  /**
   * Time from the first sample to the segment's emission, estimated from the sample period.
   * The publisher turns it into a start time on the wall clock.
   */
  firstSampleAgeMs: number;
  /**
   * Time from the arrival of the last samples to the segment's emission: 0 for a segment that
   * filled, more for a partial one sent after the device paused or the agent stopped.
   */
  lastSampleAgeMs: number;
  deviceTime?: string;
}

interface Pending {
  /**
   * Allocated once at the segment's expected length, because growing it sample by sample
   * copied it several times. `count` is the number filled.
   */
  samples: (number | null)[];
  count: number;
  /** Monotonic time of the first sample, estimated when its record arrived. */
  firstSampleAtMs: number;
  /** Monotonic time the latest samples arrived. */
  lastArrivalAtMs: number;
  deviceTime?: string;
  /** The device's clock with the latest samples, when it sends one. */
  clock?: DeviceClock;
}

/** The device's time text and clock that came with a record's samples. */
export interface WaveStamp {
  deviceTime?: string;
  deviceClock?: DeviceClock;
}

export interface WaveBatcherProfile {
  waves: Record<string, WaveMapping>;
  waveSegmentMs: number;
}

export class WaveBatcher {
  private readonly pending = new Map<string, Pending>();
  /**
   * A jump in arrival time larger than this starts a new segment, because arrival jitter would
   * make a tighter bound see gaps that are not there. clockBreaks finds shorter losses from the
   * device's clock. NOTE: for a device that sends no clock, a shorter loss, such as one frame
   * dropped for a bad checksum, joins the samples around it.
   */
  private readonly gapMs: number;

  constructor(private readonly profile: WaveBatcherProfile) {
    this.gapMs = Math.max(2 * profile.waveSegmentMs, 1000);
  }

  mapped(deviceCode: string): boolean {
    return Object.hasOwn(this.profile.waves, deviceCode);
  }

  /** Adds one record's samples; returns the segments that became complete. */
  add(deviceCode: string, samples: readonly number[], nowMs: number, stamp: WaveStamp = {}) {
    const mapping = this.profile.waves[deviceCode];
    if (mapping === undefined || samples.length === 0) return [];
    const done: WaveSegment[] = [];
    const firstSampleAtMs = nowMs - (samples.length - 1) * mapping.samplePeriodMs;
    let pending = this.pending.get(deviceCode);
    if (pending !== undefined) {
      const expectedAtMs = pending.firstSampleAtMs + pending.count * mapping.samplePeriodMs;
      if (
        Math.abs(firstSampleAtMs - expectedAtMs) > this.gapMs ||
        clockBreaks(pending.clock, stamp.deviceClock, samples.length, mapping.samplePeriodMs)
      ) {
        done.push(this.segmentOf(deviceCode, mapping, pending, nowMs));
        pending = undefined;
      }
    }
    if (pending === undefined) {
      const expectedLength =
        Math.ceil(this.profile.waveSegmentMs / mapping.samplePeriodMs) + samples.length;
      pending = {
        samples: new Array<number | null>(expectedLength),
        count: 0,
        firstSampleAtMs,
        lastArrivalAtMs: nowMs,
        ...(stamp.deviceTime === undefined ? {} : { deviceTime: stamp.deviceTime }),
      };
      this.pending.set(deviceCode, pending);
    }
    pending.lastArrivalAtMs = nowMs;
    if (stamp.deviceClock !== undefined) pending.clock = stamp.deviceClock;
    for (const sample of samples) pending.samples[pending.count++] = validSample(sample, mapping);
    if (pending.count * mapping.samplePeriodMs >= this.profile.waveSegmentMs) {
      done.push(this.segmentOf(deviceCode, mapping, pending, nowMs));
    }
    return done;
  }

  /** Emits the partial segments of waves that had no samples for the gap bound. */
  expire(nowMs: number): WaveSegment[] {
    const done: WaveSegment[] = [];
    for (const [deviceCode, pending] of this.pending) {
      const mapping = this.profile.waves[deviceCode];
      if (mapping === undefined || nowMs - pending.lastArrivalAtMs <= this.gapMs) continue;
      done.push(this.segmentOf(deviceCode, mapping, pending, nowMs));
    }
    return done;
  }

  /** Emits every partial segment, for a link that closed or a device that went quiet. */
  flush(nowMs: number): WaveSegment[] {
    const done: WaveSegment[] = [];
    for (const [deviceCode, pending] of this.pending) {
      const mapping = this.profile.waves[deviceCode];
      if (mapping !== undefined) done.push(this.segmentOf(deviceCode, mapping, pending, nowMs));
    }
    this.pending.clear();
    return done;
  }

  private segmentOf(
    deviceCode: string,
    mapping: WaveMapping,
    pending: Pending,
    nowMs: number,
  ): WaveSegment {
    this.pending.delete(deviceCode);
    pending.samples.length = pending.count;
    return {
      deviceCode,
      mdcCode: mapping.mdcCode,
      mdcRefId: mapping.mdcRefId,
      unit: mapping.unit,
      scale: mapping.scale,
      offset: mapping.offset,
      samplePeriodMs: mapping.samplePeriodMs,
      samples: pending.samples,
      firstSampleAgeMs: Math.max(0, Math.round(nowMs - pending.firstSampleAtMs)),
      lastSampleAgeMs: Math.max(0, Math.round(nowMs - pending.lastArrivalAtMs)),
      ...(pending.deviceTime === undefined ? {} : { deviceTime: pending.deviceTime }),
    };
  }
}

/**
 * Returns true when the device's clock moved more or less than the new samples span: a record
 * was lost (a bad frame, samples marked invalid) or the device restarted its clock.
 * The tolerance, half a record and at least two samples, absorbs jitter in the clock readings.
 */
function clockBreaks(
  previous: DeviceClock | undefined,
  current: DeviceClock | undefined,
  count: number,
  samplePeriodMs: number,
): boolean {
  if (previous === undefined || current === undefined) return false;
  // A 32-bit difference read as signed stays right across the counter's wrap.
  const elapsedMs = ((current.ticks - previous.ticks) | 0) / current.ticksPerMs;
  const spanMs = count * samplePeriodMs;
  return Math.abs(elapsedMs - spanMs) > Math.max(spanMs / 2, 2 * samplePeriodMs);
}

function validSample(sample: number, mapping: WaveMapping): number | null {
  const range = mapping.validRange;
  if (!Number.isFinite(sample)) return null;
  if (range !== undefined && (sample < range.min || sample > range.max)) return null;
  return sample;
}
