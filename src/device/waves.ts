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
}

/** The device's time text and clock that came with a record's samples. */
export interface WaveStamp {
  deviceTime?: string;
  deviceClock?: DeviceClock;
}

/** A wave whose device clock gives another sample period than its profile mapping. */
export interface PeriodMismatch {
  deviceCode: string;
  deviceSamplePeriodMs: number;
  profileSamplePeriodMs: number;
}

/** One wave's latest device clock reading, and how its records compare with the profile. */
interface ClockTrack {
  last: DeviceClock;
  /** The latest reading in milliseconds, carried on past the counter's 32-bit wrap. */
  readingMs: number;
  /**
   * Candidates for the minimum offset (arrival time less reading) over the last
   * clockOffsetWindowMs of readings. Each is later and larger than the one before, so the first
   * is the minimum. It belongs to the record with the least delay on the link, so records held
   * on the way do not move it.
   */
  offsets: { readingMs: number; offsetMs: number }[];
  /** The sample period the previous record's clock gave, when off the profile's. */
  offPeriodMs?: number;
  /** Records in a row whose clock gave about the same period, off the profile's. */
  offRecords: number;
  /** True once a mismatch was reported: the clock then no longer ends segments. */
  mismatched: boolean;
  /** True when a frame was lost since the last reading, so its period proves nothing. */
  lossSince: boolean;
}

const noSegments: readonly WaveSegment[] = [];

/** Records in a row with the same wrong sample period that make a mismatch. */
const mismatchRecords = 3;

/**
 * The span of device time whose records give the device clock's offset: longer than a burst of
 * held records, and short enough to follow the clocks' drift (6 ms at 100 ppm).
 */
const clockOffsetWindowMs = 60_000;

/**
 * The maximum number of offsets a clock keeps. At four records a second the window holds 240
 * at most, but a clock that crawls could otherwise keep one for every record.
 */
const maxClockOffsets = 1024;

/**
 * How far a segment's start carried on from the previous segment may be from its estimate by
 * the device's clock before it is estimated afresh: the device's and the gateway's clocks drift.
 */
const maxChainDriftMs = 50;

/** The verdict of the device's clock on a record: no clock, a loss or restart, or neither. */
type ClockVerdict = "none" | "break" | "continuous";

export interface WaveBatcherProfile {
  waves: Record<string, WaveMapping>;
  waveSegmentMs: number;
}

export class WaveBatcher {
  private readonly pending = new Map<string, Pending>();
  private readonly clocks = new Map<string, ClockTrack>();
  /**
   * Waves without a usable clock that had a pending segment when a frame was lost: their next
   * samples start a new segment.
   */
  private readonly cutByLoss = new Set<string>();
  /** Per wave, the time of the sample after the last segment that filled. */
  private readonly nextSampleAtMs = new Map<string, number>();
  /** Mismatches found since the caller last emptied this list, each wave once. */
  readonly periodMismatches: PeriodMismatch[] = [];
  /**
   * A jump in arrival time larger than this starts a new segment, because arrival jitter would
   * make a tighter bound see gaps that are not there. followClock finds shorter losses from the
   * device's clock, and noteLoss from the bad frames of a device without one. NOTE: for a device
   * that sends no clock, a shorter loss that leaves no bad frame joins the samples around it.
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
    const clock = this.followClock(deviceCode, mapping, samples.length, stamp.deviceClock, nowMs);
    const lastSampleAtMs = clock === "none" ? nowMs : this.clockedAtMs(deviceCode, nowMs);
    const firstSampleAtMs = lastSampleAtMs - (samples.length - 1) * mapping.samplePeriodMs;
    const lost = this.cutByLoss.delete(deviceCode);
    let pending = this.pending.get(deviceCode);
    if (pending !== undefined) {
      const expectedAtMs = pending.firstSampleAtMs + pending.count * mapping.samplePeriodMs;
      if (Math.abs(firstSampleAtMs - expectedAtMs) > this.gapMs || clock === "break" || lost) {
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
        firstSampleAtMs: this.startOf(deviceCode, clock, firstSampleAtMs),
        lastArrivalAtMs: nowMs,
        ...(stamp.deviceTime === undefined ? {} : { deviceTime: stamp.deviceTime }),
      };
      this.pending.set(deviceCode, pending);
    }
    pending.lastArrivalAtMs = nowMs;
    for (const sample of samples) pending.samples[pending.count++] = validSample(sample, mapping);
    if (pending.count * mapping.samplePeriodMs >= this.profile.waveSegmentMs) {
      done.push(this.segmentOf(deviceCode, mapping, pending, nowMs));
      const nextAtMs = pending.firstSampleAtMs + pending.count * mapping.samplePeriodMs;
      this.nextSampleAtMs.set(deviceCode, nextAtMs);
    }
    return done;
  }

  /**
   * Returns the first sample time of a new segment. When the device's clock shows that its
   * samples follow the last segment's, that segment's end is taken, so consecutive segments line
   * up exactly where a new minimum offset of the clock would move each start by milliseconds.
   */
  private startOf(deviceCode: string, clock: ClockVerdict, estimatedAtMs: number): number {
    const chainedAtMs = this.nextSampleAtMs.get(deviceCode);
    if (clock !== "continuous" || chainedAtMs === undefined) return estimatedAtMs;
    return Math.abs(chainedAtMs - estimatedAtMs) <= maxChainDriftMs ? chainedAtMs : estimatedAtMs;
  }

  /**
   * Reads the device's clock with a record's samples. Returns "break" when the clock moved more
   * or less than the samples span, by over half a record and at least two samples: a record was
   * lost (a bad frame, samples marked invalid) or the device restarted its clock. Otherwise
   * returns "continuous", or "none" for a first reading or no clock. A clock that gives another
   * sample period than the profile for mismatchRecords records in a row is reported in
   * periodMismatches and from then on counts as no clock.
   */
  private followClock(
    deviceCode: string,
    mapping: WaveMapping,
    count: number,
    clock: DeviceClock | undefined,
    nowMs: number,
  ): ClockVerdict {
    if (clock === undefined) return "none";
    const track = this.clocks.get(deviceCode);
    if (track === undefined) {
      const readingMs = clock.ticks / clock.ticksPerMs;
      this.clocks.set(deviceCode, {
        last: clock,
        readingMs,
        offsets: [{ readingMs, offsetMs: nowMs - readingMs }],
        offRecords: 0,
        mismatched: false,
        lossSince: false,
      });
      return "none";
    }
    // A 32-bit difference read as signed stays right across the counter's wrap.
    const elapsedMs = ((clock.ticks - track.last.ticks) | 0) / clock.ticksPerMs;
    track.last = clock;
    track.readingMs += elapsedMs;
    // A clock that went back restarted, so its old offsets no longer hold.
    if (elapsedMs < 0) track.offsets.length = 0;
    if (!track.mismatched) addOffset(track, nowMs - track.readingMs);
    if (track.lossSince) {
      // Every other frame lost gives a steady period twice the profile's: no mismatch.
      track.lossSince = false;
      track.offRecords = 0;
      delete track.offPeriodMs;
    } else {
      this.comparePeriod(track, deviceCode, mapping.samplePeriodMs, elapsedMs / count);
    }
    if (track.mismatched) return "none";
    const spanMs = count * mapping.samplePeriodMs;
    const toleranceMs = Math.max(spanMs / 2, 2 * mapping.samplePeriodMs);
    return Math.abs(elapsedMs - spanMs) > toleranceMs ? "break" : "continuous";
  }

  /**
   * Returns when the latest record's last sample was taken by the device's clock, on the
   * gateway's clock: its reading plus the minimum offset. A record held on the way arrives late
   * but keeps its time. Never later than its arrival.
   */
  private clockedAtMs(deviceCode: string, nowMs: number): number {
    const track = this.clocks.get(deviceCode);
    const minimum = track?.offsets[0];
    if (track === undefined || minimum === undefined) return nowMs;
    return Math.min(nowMs, track.readingMs + minimum.offsetMs);
  }

  /**
   * Counts records whose period is over 10 % off the profile's and within 5 % of the previous
   * one's. A lost record or a jittery clock gives one odd period, which starts the count again.
   */
  private comparePeriod(
    track: ClockTrack,
    deviceCode: string,
    profilePeriodMs: number,
    periodMs: number,
  ): void {
    const off = Math.abs(periodMs - profilePeriodMs) > profilePeriodMs / 10;
    const previous = track.offPeriodMs;
    const steady = previous !== undefined && Math.abs(periodMs - previous) <= previous / 20;
    if (!off) track.offRecords = 0;
    else if (steady) track.offRecords++;
    else track.offRecords = 1;
    track.offPeriodMs = off ? periodMs : undefined;
    if (track.offRecords < mismatchRecords || track.mismatched) return;
    track.mismatched = true;
    this.periodMismatches.push({
      deviceCode,
      deviceSamplePeriodMs: Math.round(periodMs * 1000) / 1000,
      profileSamplePeriodMs: profilePeriodMs,
    });
  }

  /**
   * Notes a frame lost to a bad checksum or a decode error, which may have carried samples. A
   * wave without a usable clock cannot tell whether it did, so its segment ends at the loss,
   * where the gap may be, rather than join samples from both sides of it.
   */
  noteLoss(): void {
    for (const track of this.clocks.values()) track.lossSince = true;
    for (const deviceCode of this.pending.keys()) {
      if (this.clocks.get(deviceCode)?.mismatched === false) continue;
      this.cutByLoss.add(deviceCode);
    }
  }

  /** Emits the partial segments of waves that had no samples for the gap bound. */
  expire(nowMs: number): readonly WaveSegment[] {
    // Runs on every session tick of every device, so the usual case allocates nothing.
    let done: WaveSegment[] | undefined;
    for (const [deviceCode, pending] of this.pending) {
      const mapping = this.profile.waves[deviceCode];
      if (mapping === undefined || nowMs - pending.lastArrivalAtMs <= this.gapMs) continue;
      (done ??= []).push(this.segmentOf(deviceCode, mapping, pending, nowMs));
    }
    return done ?? noSegments;
  }

  /**
   * Forgets the devices' clocks, for a link that closed: a clock read after it opens again may
   * be a restarted device's, or another device's, and its offset would not hold.
   */
  forgetClocks(): void {
    this.clocks.clear();
    this.nextSampleAtMs.clear();
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
    this.nextSampleAtMs.delete(deviceCode);
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

/** Adds the latest record's offset to the sliding window of a clock's minimum offset. */
function addOffset(track: ClockTrack, offsetMs: number): void {
  const { offsets, readingMs } = track;
  while (offsets.length > 0 && (offsets.at(-1)?.offsetMs ?? 0) >= offsetMs) offsets.pop();
  offsets.push({ readingMs, offsetMs });
  while ((offsets[0]?.readingMs ?? readingMs) < readingMs - clockOffsetWindowMs) offsets.shift();
  if (offsets.length > maxClockOffsets) offsets.shift();
}

function validSample(sample: number, mapping: WaveMapping): number | null {
  const range = mapping.validRange;
  if (!Number.isFinite(sample)) return null;
  if (range !== undefined && (sample < range.min || sample > range.max)) return null;
  return sample;
}
