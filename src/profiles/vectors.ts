/**
 * Runs bytes through the same pipeline the agent uses (framer, decoder, session, mapping):
 * a profile's test vectors, compared with what each vector expects, and `replay` of a capture
 * file, which prints what the bytes decode to and can turn them into a vector.
 */
import { isDeepStrictEqual } from "node:util";
import { DevicePipeline, type IngestResult, type LinkCounters } from "../device/pipeline.js";
import type { WaveSegment } from "../device/waves.js";
import { withoutFirstLineSkip } from "../protocols/ascii-line/schema.js";
import { codecFor } from "../protocols/registry.js";
import { createListenOnlySession } from "../protocols/types.js";
import type { TestVector } from "./common.js";
import type { Profile } from "./schema.js";

export interface VectorOutcome {
  name: string;
  failures: string[];
}

/** Bytes that arrived together, at a time in ms from the start of the input. */
export interface ReplayChunk {
  bytes: Uint8Array;
  atMs: number;
}

export interface ReplayStep {
  atMs: number;
  result: IngestResult;
}

export interface ReplayOutcome {
  steps: ReplayStep[];
  /** The wave segments still partial at the end of the input, closed there. */
  lastSegments: WaveSegment[];
  counters: LinkCounters;
}

/** What a run of bytes decoded to, in the terms of a test vector's `expect`. */
export type ObservedResult = Required<Omit<TestVector["expect"], "identity">> & {
  identity?: NonNullable<TestVector["expect"]["identity"]>;
};

const host = { name: "IOMTGW", revision: "0.0.0" };

export function vectorBytes(vector: TestVector): Buffer {
  if (vector.text !== undefined) return Buffer.from(vector.text, "latin1");
  return Buffer.from((vector.hex ?? "").replace(/\s+/g, ""), "hex");
}

/**
 * Vector input starts at a frame boundary, so line framers do not skip a first partial line
 * here as they do after opening a real port.
 */
function vectorProfile(profile: Profile): Profile {
  return profile.family === "ascii-line" ? withoutFirstLineSkip(profile) : profile;
}

/**
 * A fresh pipeline fed device bytes one chunk at a time, so a replay can print each result
 * and drop it. The bytes are the device's alone, with no requests before them, so every
 * response counts as expected: the session's own rules have their own tests.
 */
export class ReplayRun {
  private readonly pipeline: DevicePipeline;
  private lastMs = 0;

  constructor(profile: Profile) {
    const runProfile = vectorProfile(profile);
    const codec = { ...codecFor(runProfile), createSession: createListenOnlySession };
    this.pipeline = new DevicePipeline(codec, runProfile, host);
    this.pipeline.open(0);
  }

  get counters(): LinkCounters {
    return this.pipeline.counters;
  }

  ingest({ bytes, atMs }: ReplayChunk): ReplayStep {
    this.lastMs = atMs;
    return { atMs, result: this.pipeline.ingest(bytes, atMs) };
  }

  /** Closes the wave segments still partial, at the time of the last chunk. */
  finish(): { lastSegments: WaveSegment[]; counters: LinkCounters; bufferedBytes: number } {
    return {
      lastSegments: this.pipeline.flushWaves(this.lastMs),
      counters: this.pipeline.counters,
      bufferedBytes: this.pipeline.bufferedBytes,
    };
  }
}

/** Runs chunks of device bytes through a fresh pipeline, as `ReplayRun` does. */
export function replayChunks(profile: Profile, chunks: readonly ReplayChunk[]): ReplayOutcome {
  const run = new ReplayRun(profile);
  const steps = chunks.map((chunk) => run.ingest(chunk));
  const { lastSegments, counters } = run.finish();
  return { steps, lastSegments, counters };
}

/** Sums up a replay in the fields a test vector's `expect` has. */
export function observedResult(outcome: ReplayOutcome): ObservedResult {
  const results = outcome.steps.map((step) => step.result);
  const observations = results.flatMap((result) =>
    result.batches.flatMap((batch) =>
      batch.measurements.map((m) => ({
        mdcCode: m.mdcCode,
        value: m.value,
        unit: m.unit,
        ...(m.absentReason === undefined ? {} : { absentReason: m.absentReason }),
      })),
    ),
  );
  // The input's end closes every partial segment, so each wave's samples are compared whole.
  const segments = [...results.flatMap((result) => result.segments), ...outcome.lastSegments];
  const alarms = results.flatMap((result) =>
    result.alarms.map((a) => ({ alarmCode: a.alarmCode, state: a.state })),
  );
  let identity: ObservedResult["identity"];
  for (const result of results) {
    if (result.identity !== undefined) identity = { ...identity, ...result.identity };
  }
  const { counters } = outcome;
  return {
    observations,
    waves: wavesByCode(segments),
    alarms,
    ...(identity === undefined ? {} : { identity }),
    frames: counters.frames,
    checksumErrors: counters.checksumErrors,
    decodeErrors: counters.decodeErrors,
    discardedBytes: counters.discardedBytes,
    unmappedCodes: results.flatMap((result) => result.unmapped),
  };
}

export function runVector(profile: Profile, vector: TestVector): VectorOutcome {
  const outcome = replayChunks(profile, [{ bytes: vectorBytes(vector), atMs: 0 }]);
  const observed = observedResult(outcome);
  const failures: string[] = [];
  const expect = vector.expect;
  const compare = (what: string, actual: unknown, expected: unknown) => {
    if (!isDeepStrictEqual(actual, expected)) {
      failures.push(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
  };
  compare("observations", observed.observations, expect.observations);
  compare("waves", observed.waves, expect.waves);
  compare("alarms", observed.alarms, expect.alarms);
  if (expect.identity !== undefined) compare("identity", observed.identity ?? {}, expect.identity);
  if (expect.frames !== undefined) compare("frames", observed.frames, expect.frames);
  compare("checksumErrors", observed.checksumErrors, expect.checksumErrors);
  compare("decodeErrors", observed.decodeErrors, expect.decodeErrors);
  if (expect.discardedBytes !== undefined) {
    compare("discardedBytes", observed.discardedBytes, expect.discardedBytes);
  }
  if (expect.unmappedCodes !== undefined) {
    compare("unmappedCodes", observed.unmappedCodes, expect.unmappedCodes);
  }
  return { name: vector.name, failures };
}

/** Joins the segments of each wave, in the order the waves first appeared. */
function wavesByCode(segments: readonly WaveSegment[]) {
  const waves = new Map<number, (number | null)[]>();
  for (const segment of segments) {
    const samples = waves.get(segment.mdcCode) ?? [];
    // One push per sample: spreading a long segment into push() overflows the call stack.
    for (const sample of segment.samples) samples.push(sample);
    waves.set(segment.mdcCode, samples);
  }
  return [...waves].map(([mdcCode, samples]) => ({ mdcCode, samples }));
}

export function runVectors(profile: Profile): VectorOutcome[] {
  return profile.testVectors.map((vector) => runVector(profile, vector));
}
