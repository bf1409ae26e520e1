import test from "ava";
import { createAsciiLineFramer } from "../../../src/protocols/ascii-line/framer.js";
import {
  asciiLineProfileSchema,
  lineTerminators,
  type AsciiLineProfile,
} from "../../../src/protocols/ascii-line/schema.js";
import type { DiscardReason, Framer, FramerEvent } from "../../../src/protocols/types.js";
import { seededRandom } from "../../../src/random.js";

type Terminator = AsciiLineProfile["framing"]["terminator"];

function profileWith(
  framing: { terminator?: Terminator; skipFirstLine?: boolean },
  maxFrameBytes = 64,
): AsciiLineProfile {
  return asciiLineProfileSchema.parse({
    id: "test-line",
    version: "1.0.0",
    name: "test",
    manufacturer: "test",
    model: "test",
    firmware: "any",
    family: "ascii-line",
    serial: { baudRate: 9600 },
    quietTimeMs: 5000,
    maxFrameBytes,
    measurements: {},
    testVectors: [{ name: "unused", text: "A=1\r\n", expect: {} }],
    framing: { skipFirstLine: false, ...framing },
    fields: {},
  });
}

/** Frames and discard totals from one input, independent of how the input was chunked. */
interface Outcome {
  frames: string[];
  discarded: Record<DiscardReason, number>;
  oversizeLines: number;
  buffered: number;
}

function collect(framer: Framer, chunks: readonly Buffer[]): Outcome {
  const outcome: Outcome = {
    frames: [],
    discarded: { garbage: 0, oversize: 0, truncated: 0, realtime: 0, aborted: 0 },
    oversizeLines: 0,
    buffered: 0,
  };
  for (const chunk of chunks) addEvents(outcome, framer.push(chunk));
  outcome.buffered = framer.bufferedBytes;
  return outcome;
}

function addEvents(outcome: Outcome, events: readonly FramerEvent[]): void {
  for (const event of events) {
    if (event.kind === "frame") {
      outcome.frames.push(event.bytes.toString("latin1"));
      continue;
    }
    outcome.discarded[event.reason] += event.byteCount;
    if (event.reason === "oversize") outcome.oversizeLines++;
  }
}

/** Returns the input whole, split in two at every byte position, and in one-byte chunks. */
function chunkings(input: Buffer): { label: string; chunks: Buffer[] }[] {
  const result = [{ label: "whole", chunks: [input] }];
  for (let at = 1; at < input.length; at++) {
    result.push({ label: `split at ${at}`, chunks: [input.subarray(0, at), input.subarray(at)] });
  }
  const bytes = [...input].map((byte) => Buffer.from([byte]));
  result.push({ label: "one-byte chunks", chunks: bytes });
  return result;
}

interface Case {
  name: string;
  terminator?: Terminator;
  skipFirstLine?: boolean;
  maxFrameBytes?: number;
  input: string;
  frames: string[];
  garbage?: number;
  oversize?: number;
  oversizeLines?: number;
  buffered?: number;
}

const cases: Case[] = [
  { name: "one CR LF line", input: "A=1\r\n", frames: ["A=1\r\n"] },
  { name: "two lines", input: "A=1\r\nB=2\r\n", frames: ["A=1\r\n", "B=2\r\n"] },
  { name: "half line stays buffered", input: "A=1\r\nB=", frames: ["A=1\r\n"], buffered: 2 },
  {
    name: "first line skipped after open",
    skipFirstLine: true,
    input: "=097% BPM=072\r\nA=1\r\n",
    frames: ["A=1\r\n"],
    garbage: 15,
  },
  {
    name: "skipped first line still unfinished",
    skipFirstLine: true,
    input: "=097% BPM=0",
    frames: [],
    garbage: 11,
  },
  {
    name: "empty lines are garbage",
    input: "\r\n\r\nA=1\r\n\r\n",
    frames: ["A=1\r\n"],
    garbage: 6,
  },
  { name: "lone CR stays in a CR LF line", input: "A=1\rB=2\r\n", frames: ["A=1\rB=2\r\n"] },
  { name: "lone LF stays in a CR LF line", input: "A=1\nB=2\r\n", frames: ["A=1\nB=2\r\n"] },
  { name: "LF before CR is no terminator", input: "A=1\n\rB=2", frames: [], buffered: 8 },
  {
    name: "CR-only lines",
    terminator: "cr",
    input: "A=1\rB=2\r\r",
    frames: ["A=1\r", "B=2\r"],
    garbage: 1,
  },
  {
    name: "LF-only lines",
    terminator: "lf",
    input: "A=1\nB=2\r\n\n",
    frames: ["A=1\n", "B=2\r\n"],
    garbage: 1,
  },
  {
    name: "line of maxFrameBytes with terminator is kept",
    maxFrameBytes: 16,
    input: "A=123456789012\r\nB=2\r\n",
    frames: ["A=123456789012\r\n", "B=2\r\n"],
  },
  {
    name: "one byte too long is oversize",
    maxFrameBytes: 16,
    input: "A=1234567890123\r\nB=2\r\n",
    frames: ["B=2\r\n"],
    oversize: 17,
    oversizeLines: 1,
  },
  {
    name: "oversize at the CR resyncs at the LF",
    maxFrameBytes: 16,
    input: "A=12345678901234\r\nB=2\r\n",
    frames: ["B=2\r\n"],
    oversize: 17,
    garbage: 1,
    oversizeLines: 1,
  },
  {
    name: "long line is one oversize and garbage",
    maxFrameBytes: 16,
    input: `A=${"9".repeat(40)}\r\nB=2\r\n`,
    frames: ["B=2\r\n"],
    oversize: 17,
    garbage: 27,
    oversizeLines: 1,
  },
  {
    name: "two long lines are two oversize lines",
    maxFrameBytes: 16,
    input: `A=${"9".repeat(20)}\r\nB=${"8".repeat(20)}\r\nC=3\r\n`,
    frames: ["C=3\r\n"],
    oversize: 34,
    garbage: 14,
    oversizeLines: 2,
  },
  {
    name: "no terminator ever",
    maxFrameBytes: 16,
    input: "Z".repeat(100),
    frames: [],
    oversize: 17,
    garbage: 83,
    oversizeLines: 1,
  },
  {
    name: "noise bytes become a frame",
    input: "\x00\xff\x13\r\nA=1\r\n",
    frames: ["\x00\xff\x13\r\n", "A=1\r\n"],
  },
];

for (const item of cases) {
  test(`framer: ${item.name}`, (t) => {
    const profile = profileWith(
      { terminator: item.terminator ?? "crlf", skipFirstLine: item.skipFirstLine ?? false },
      item.maxFrameBytes,
    );
    const input = Buffer.from(item.input, "latin1");
    for (const { label, chunks } of chunkings(input)) {
      const outcome = collect(createAsciiLineFramer(profile), chunks);
      t.deepEqual(outcome.frames, item.frames, label);
      t.is(outcome.discarded.garbage, item.garbage ?? 0, `${label}: garbage bytes`);
      t.is(outcome.discarded.oversize, item.oversize ?? 0, `${label}: oversize bytes`);
      t.is(outcome.oversizeLines, item.oversizeLines ?? 0, `${label}: oversize lines`);
      t.is(outcome.buffered, item.buffered ?? 0, `${label}: buffered bytes`);
    }
  });
}

test("framer: merges adjacent discards in one push", (t) => {
  const framer = createAsciiLineFramer(profileWith({ skipFirstLine: true }));
  const events = framer.push(Buffer.from("tail\r\n\r\n\r\nA=1\r\n", "latin1"));
  t.deepEqual(events, [
    { kind: "discard", byteCount: 10, reason: "garbage" },
    { kind: "frame", bytes: Buffer.from("A=1\r\n", "latin1") },
  ]);
});

test("framer: reset drops half a line as truncated", (t) => {
  const framer = createAsciiLineFramer(profileWith({}));
  t.deepEqual(framer.push(Buffer.from("A=1\r\nB=22", "latin1")).length, 1);
  t.deepEqual(framer.reset(), [{ kind: "discard", byteCount: 4, reason: "truncated" }]);
  t.is(framer.bufferedBytes, 0);
  const after = collect(framer, [Buffer.from("C=3\r\n", "latin1")]);
  t.deepEqual(after.frames, ["C=3\r\n"]);
});

test("framer: reset with nothing buffered is silent", (t) => {
  const framer = createAsciiLineFramer(profileWith({}));
  t.deepEqual(framer.reset(), []);
});

test("framer: reset skips the next first line again", (t) => {
  const framer = createAsciiLineFramer(profileWith({ skipFirstLine: true }));
  const first = collect(framer, [Buffer.from("ail\r\nA=1\r\nB=", "latin1")]);
  t.deepEqual(first.frames, ["A=1\r\n"]);
  t.deepEqual(framer.reset(), [{ kind: "discard", byteCount: 2, reason: "truncated" }]);
  const second = collect(framer, [Buffer.from("=2\r\nC=3\r\n", "latin1")]);
  t.deepEqual(second.frames, ["C=3\r\n"]);
  t.is(second.discarded.garbage, 4);
});

test("framer: reset during resync starts a fresh line", (t) => {
  const framer = createAsciiLineFramer(profileWith({}, 16));
  const long = collect(framer, [Buffer.from("Z".repeat(20), "latin1")]);
  t.is(long.oversizeLines, 1);
  t.deepEqual(framer.reset(), []);
  t.deepEqual(collect(framer, [Buffer.from("A=1\r\n", "latin1")]).frames, ["A=1\r\n"]);
});

test("framer: frames are copies, not views of the buffer", (t) => {
  const framer = createAsciiLineFramer(profileWith({}));
  const [first] = framer.push(Buffer.from("A=1\r\n", "latin1"));
  framer.push(Buffer.from("B=2\r\n", "latin1"));
  t.deepEqual(first, { kind: "frame", bytes: Buffer.from("A=1\r\n", "latin1") });
});

function fuzzChunk(random: () => number, terminator: string): Buffer {
  const pick = random();
  const randomBytes = (length: number) =>
    Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
  if (pick < 0.5) {
    const line = `SPO2=0${Math.floor(random() * 100)}% BPM=072${terminator}`;
    const from = Math.floor(random() * 4);
    return Buffer.from(line.slice(from), "latin1");
  }
  if (pick < 0.8) return randomBytes(1 + Math.floor(random() * 40));
  if (pick < 0.9) return Buffer.from(terminator.repeat(1 + Math.floor(random() * 3)), "latin1");
  return Buffer.alloc(50 + Math.floor(random() * 100), 0x41);
}

const fuzzConfigs: { terminator: Terminator; skipFirstLine: boolean; seed: number }[] = [
  { terminator: "crlf", skipFirstLine: true, seed: 7 },
  { terminator: "crlf", skipFirstLine: false, seed: 8 },
  { terminator: "lf", skipFirstLine: false, seed: 9 },
  { terminator: "cr", skipFirstLine: true, seed: 10 },
];

for (const config of fuzzConfigs) {
  const skip = config.skipFirstLine ? "skipping first line" : "from a line boundary";
  test(`framer: fuzz keeps byte accounting, ${config.terminator}, ${skip}`, (t) => {
    const maxFrameBytes = 64;
    const { terminator, skipFirstLine } = config;
    const profile = profileWith({ terminator, skipFirstLine }, maxFrameBytes);
    const terminatorText = lineTerminators[terminator];
    const random = seededRandom(config.seed);
    const framer = createAsciiLineFramer(profile);
    let pushed = 0;
    let accounted = 0;
    let frames = 0;
    for (let i = 0; i < 2000; i++) {
      const chunk = fuzzChunk(random, terminatorText);
      pushed += chunk.length;
      const events =
        random() < 0.02 ? [...framer.push(chunk), ...framer.reset()] : framer.push(chunk);
      for (const event of events) {
        if (event.kind === "discard") {
          accounted += event.byteCount;
          continue;
        }
        frames++;
        accounted += event.bytes.length;
        t.true(event.bytes.length <= maxFrameBytes, `frame of ${event.bytes.length} bytes`);
        t.true(event.bytes.toString("latin1").endsWith(terminatorText), "frame ends a line");
      }
      t.is(pushed, accounted + framer.bufferedBytes, `accounting after chunk ${i}`);
      t.true(framer.bufferedBytes <= maxFrameBytes, `buffered after chunk ${i}`);
    }
    t.true(frames > 100, `only ${frames} frames; the fuzz input lost its valid lines`);
  });
}
