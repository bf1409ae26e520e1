import test from "ava";
import { encodeFrame } from "../../../src/protocols/datex/codec.js";
import { DatexFramer } from "../../../src/protocols/datex/framer.js";
import { encodeDisplayedRequest } from "../../../src/protocols/datex/requests.js";
import type { DiscardReason } from "../../../src/protocols/types.js";
import {
  bytesOf,
  expectSameAtEverySplit,
  feedFramer,
  fuzzFramer,
  hex,
} from "../../helpers/framer.js";

const request = (intervalS: number) =>
  hex(encodeFrame(encodeDisplayedRequest({ driLevel: 9, intervalS, classBits: 0x0e })));
/**
 * A request at level 9, interval 10 s and classes 0x0E. Its bytes, and those of the two stuffed
 * requests below, were worked out by hand independently of this code.
 */
const WORKED = request(10);
/** Interval 126 puts 0x7E in the body, stuffed as 7D 5E. */
const STUFFED_BODY = request(126);
/** Interval 54 makes the checksum 0x7E, stuffed as 7D 5E before the closing flag. */
const STUFFED_CHECKSUM = request(54);
const SHORT = "7E 01 02 03 7E";

interface Case {
  name: string;
  input: string;
  maxFrameBytes?: number;
  reset?: boolean;
  frames: string[];
  discarded?: Partial<Record<DiscardReason, number>>;
  oversizeEvents?: number;
  buffered?: number;
}

const cases: Case[] = [
  { name: "cuts the worked request", input: WORKED, frames: [WORKED] },
  { name: "cuts two frames in one chunk", input: `${WORKED} ${SHORT}`, frames: [WORKED, SHORT] },
  { name: "keeps a stuffed 0x7E inside", input: STUFFED_BODY, frames: [STUFFED_BODY] },
  { name: "keeps a stuffed checksum", input: STUFFED_CHECKSUM, frames: [STUFFED_CHECKSUM] },
  {
    name: "discards garbage between frames",
    input: `55 00 ${SHORT} AA 7D ${SHORT}`,
    frames: [SHORT, SHORT],
    discarded: { garbage: 4 },
  },
  {
    name: "reopens at a second flag",
    input: `01 02 7E 7E 01 02 03 7E`,
    frames: [SHORT],
    discarded: { garbage: 3 },
  },
  {
    name: "drops runs of flags",
    input: `7E 7E 7E ${SHORT}`,
    frames: [SHORT],
    discarded: { garbage: 3 },
  },
  { name: "keeps half a frame buffered", input: "7E 31 00 00", frames: [], buffered: 4 },
  {
    name: "drops half a frame on reset as truncated",
    input: `${SHORT} 7E 31 00`,
    reset: true,
    frames: [SHORT],
    discarded: { truncated: 3 },
  },
  {
    name: "accepts a frame of exactly maxFrameBytes",
    input: `7E ${"11 ".repeat(14)} 7E`,
    maxFrameBytes: 16,
    frames: [`7E ${"11 ".repeat(14).trim()} 7E`],
  },
  {
    name: "discards an oversize frame and resyncs",
    input: `7E ${"11 ".repeat(15)} 7E ${SHORT}`,
    maxFrameBytes: 16,
    frames: [SHORT],
    // 16 bytes as oversize, then the closing flag reopens and the next flag replaces it.
    discarded: { oversize: 16, garbage: 1 },
    oversizeEvents: 1,
  },
  {
    name: "skips the tail of an oversize frame",
    input: `7E ${"11 ".repeat(30)} 7E ${SHORT}`,
    maxFrameBytes: 16,
    frames: [SHORT],
    discarded: { oversize: 16, garbage: 16 },
    oversizeEvents: 1,
  },
  {
    name: "counts two oversize frames apart",
    input: `7E ${"11 ".repeat(20)} 7E 7E ${"22 ".repeat(20)} 7E`,
    maxFrameBytes: 16,
    frames: [],
    discarded: { oversize: 32, garbage: 11 },
    oversizeEvents: 2,
    buffered: 1,
  },
  {
    name: "passes a frame with a bad checksum on",
    input: "7E 01 02 04 7E",
    frames: ["7E 01 02 04 7E"],
  },
];

/** Counts oversize events, because the pipeline counts each one as an oversize frame. */
function oversizeEvents(framer: DatexFramer, input: Buffer): number {
  return framer.push(input).filter((e) => e.kind === "discard" && e.reason === "oversize").length;
}

for (const testCase of cases) {
  const input = bytesOf(testCase.input);
  const max = testCase.maxFrameBytes ?? 3000;
  const reset = testCase.reset ?? false;
  const feed = (chunks: Uint8Array[]) =>
    feedFramer(new DatexFramer({ maxFrameBytes: max }), chunks, reset);

  test(`framer ${testCase.name}`, (t) => {
    const outcome = feed([input]);
    t.deepEqual(outcome.frames, testCase.frames);
    t.deepEqual(outcome.discarded, testCase.discarded ?? {});
    t.is(outcome.buffered, testCase.buffered ?? 0);
    const events = oversizeEvents(new DatexFramer({ maxFrameBytes: max }), input);
    t.is(events, testCase.oversizeEvents ?? 0);
  });

  test(`framer ${testCase.name}, split at every byte`, (t) => {
    expectSameAtEverySplit(t, feed, input);
  });
}

test("worked request matches by-hand bytes", (t) => {
  t.is(
    WORKED,
    "7E 31 00 00 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF " +
      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
      "01 0A 00 0E 00 00 00 00 00 52 7E",
  );
});

test("stuffed requests match by-hand tails", (t) => {
  t.true(STUFFED_BODY.endsWith("01 7D 5E 00 0E 00 00 00 00 00 C6 7E"), STUFFED_BODY);
  t.true(STUFFED_CHECKSUM.endsWith("01 36 00 0E 00 00 00 00 00 7D 5E 7E"), STUFFED_CHECKSUM);
});

test("framer fuzz keeps the byte count and the bound", (t) => {
  fuzzFramer(t, {
    seed: 20_261_204,
    runs: 300,
    minFrameBytes: 16,
    frameBytesSpan: 80,
    createFramer: (maxFrameBytes) => new DatexFramer({ maxFrameBytes }),
    frames: [bytesOf(WORKED), bytesOf(STUFFED_CHECKSUM), bytesOf(SHORT)],
    specialBytes: [0x7e, 0x7d, 0x5e, 0x5d],
    checkFrame: (frame) => {
      if (frame[0] !== 0x7e || frame.at(-1) !== 0x7e) return "frame without both flags";
      if (frame.length < 3) return "frame without content";
      if (frame.subarray(1, -1).includes(0x7e)) return "flag inside a frame";
      return undefined;
    },
  });
});
