/**
 * Runs a profile's test vectors through the same pipeline the agent uses (framer, decoder,
 * session, mapping) and compares the result with what the vector expects.
 */
import { isDeepStrictEqual } from "node:util";
import { DevicePipeline } from "../device/pipeline.js";
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

export function runVector(profile: Profile, vector: TestVector): VectorOutcome {
  const runProfile = vectorProfile(profile);
  // A vector is the device's bytes alone, with no requests before them, so every response
  // must count as expected: the session's own rules have their own tests.
  const codec = { ...codecFor(runProfile), createSession: createListenOnlySession };
  const pipeline = new DevicePipeline(codec, runProfile, host);
  pipeline.open(0);
  const result = pipeline.ingest(vectorBytes(vector), 0);
  const failures: string[] = [];
  const expect = vector.expect;
  const compare = (what: string, actual: unknown, expected: unknown) => {
    if (!isDeepStrictEqual(actual, expected)) {
      failures.push(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
  };

  const observations = result.batches.flatMap((batch) =>
    batch.measurements.map((m) => ({
      mdcCode: m.mdcCode,
      value: m.value,
      unit: m.unit,
      ...(m.absentReason === undefined ? {} : { absentReason: m.absentReason }),
    })),
  );
  compare("observations", observations, expect.observations);
  // The vector's end closes every partial segment, so each wave's samples are compared whole.
  const segments = [...result.segments, ...pipeline.flushWaves(0)];
  compare("waves", wavesByCode(segments), expect.waves);
  compare(
    "alarms",
    result.alarms.map((a) => ({ alarmCode: a.alarmCode, state: a.state })),
    expect.alarms,
  );
  if (expect.identity !== undefined) compare("identity", result.identity ?? {}, expect.identity);
  if (expect.frames !== undefined) compare("frames", pipeline.counters.frames, expect.frames);
  compare("checksumErrors", pipeline.counters.checksumErrors, expect.checksumErrors);
  compare("decodeErrors", pipeline.counters.decodeErrors, expect.decodeErrors);
  if (expect.discardedBytes !== undefined) {
    compare("discardedBytes", pipeline.counters.discardedBytes, expect.discardedBytes);
  }
  if (expect.unmappedCodes !== undefined)
    compare("unmappedCodes", result.unmapped, expect.unmappedCodes);
  return { name: vector.name, failures };
}

/** Joins the segments of each wave, in the order the waves first appeared. */
function wavesByCode(segments: readonly WaveSegment[]) {
  const waves = new Map<number, (number | null)[]>();
  for (const segment of segments) {
    const samples = waves.get(segment.mdcCode) ?? [];
    samples.push(...segment.samples);
    waves.set(segment.mdcCode, samples);
  }
  return [...waves].map(([mdcCode, samples]) => ({ mdcCode, samples }));
}

export function runVectors(profile: Profile): VectorOutcome[] {
  return profile.testVectors.map((vector) => runVector(profile, vector));
}
