import test from "ava";
import { encodeFrame } from "../../../src/protocols/intellivue/codec.js";
import { IntellivueFramer } from "../../../src/protocols/intellivue/framer.js";
import { pollRequest } from "../../../src/protocols/intellivue/messages.js";
import type { DiscardReason } from "../../../src/protocols/types.js";
import {
  bytesOf,
  expectSameAtEverySplit,
  feedFramer,
  fuzzFramer,
  hex,
  type FramerOutcome,
} from "../../helpers/framer.js";

function feed(chunks: Uint8Array[], maxFrameBytes: number, reset = false): FramerOutcome {
  return feedFramer(new IntellivueFramer({ maxFrameBytes }), chunks, reset);
}

/** The FCS test vectors of mdpnp TestFCSOutputStream: the second has an escaped C1 in its FCS. */
const SHORT = "C0 3A 71 9B 26 C1";
const ESCAPED_FCS = "C0 3A 91 95 7D E1 C1";
const POLL = hex(
  encodeFrame(pollRequest({ invokeId: 1, pollNumber: 1, objectClass: 6, extended: false })),
);

interface Case {
  name: string;
  input: string;
  maxFrameBytes?: number;
  reset?: boolean;
  frames: string[];
  discarded?: Partial<Record<DiscardReason, number>>;
  buffered?: number;
}

const cases: Case[] = [
  { name: "cuts one frame", input: POLL, frames: [POLL] },
  { name: "cuts two frames in one chunk", input: `${SHORT} ${POLL}`, frames: [SHORT, POLL] },
  { name: "keeps an escaped C1 inside the frame", input: ESCAPED_FCS, frames: [ESCAPED_FCS] },
  {
    name: "discards garbage before C0",
    input: `3F 00 7E ${SHORT}`,
    frames: [SHORT],
    discarded: { garbage: 3 },
  },
  {
    name: "discards a C1 outside a frame",
    input: `C1 ${SHORT} C1`,
    frames: [SHORT],
    discarded: { garbage: 2 },
  },
  {
    name: "restarts at a C0 inside a frame",
    input: `C0 11 01 ${SHORT}`,
    frames: [SHORT],
    discarded: { garbage: 3 },
  },
  {
    name: "drops a frame aborted with 7D C1",
    input: `C0 11 01 00 7D C1 ${SHORT}`,
    frames: [SHORT],
    discarded: { aborted: 6 },
  },
  {
    name: "treats 7D 5D then C1 as a frame end",
    input: "C0 3A 7D 5D C1",
    frames: ["C0 3A 7D 5D C1"],
  },
  {
    name: "drops an abort right after C0",
    input: `C0 7D C1 ${SHORT}`,
    frames: [SHORT],
    discarded: { aborted: 3 },
  },
  { name: "keeps half a frame buffered", input: "C0 11 01 00", frames: [], buffered: 4 },
  { name: "keeps a trailing escape buffered", input: "C0 11 7D", frames: [], buffered: 3 },
  {
    name: "drops half a frame on reset as truncated",
    input: `${SHORT} C0 11 01`,
    reset: true,
    frames: [SHORT],
    discarded: { truncated: 3 },
  },
  {
    name: "accepts a frame of exactly maxFrameBytes",
    input: SHORT,
    maxFrameBytes: 6,
    frames: [SHORT],
  },
  {
    name: "discards an oversize frame and resyncs",
    input: `C0 01 02 03 04 05 06 C1 ${SHORT}`,
    maxFrameBytes: 6,
    frames: [SHORT],
    discarded: { oversize: 7, garbage: 1 },
  },
  {
    name: "skips the tail of an oversize frame",
    input: `C0 01 02 03 04 05 06 07 08 C1 ${SHORT}`,
    maxFrameBytes: 6,
    frames: [SHORT],
    discarded: { oversize: 7, garbage: 3 },
  },
  {
    name: "passes a frame with a bad FCS on",
    input: "C0 3A 71 9B 27 C1",
    frames: ["C0 3A 71 9B 27 C1"],
  },
];

for (const testCase of cases) {
  const input = bytesOf(testCase.input);
  const max = testCase.maxFrameBytes ?? 512;
  const reset = testCase.reset ?? false;

  test(testCase.name, (t) => {
    const outcome = feed([input], max, reset);
    t.deepEqual(outcome.frames, testCase.frames);
    t.deepEqual(outcome.discarded, testCase.discarded ?? {});
    t.is(outcome.buffered, testCase.buffered ?? 0);
  });

  test(`${testCase.name}, split at every byte`, (t) => {
    expectSameAtEverySplit(t, (chunks) => feed(chunks, max, reset), input);
  });
}

test("oversize frame is one event over many reads", (t) => {
  const framer = new IntellivueFramer({ maxFrameBytes: 6 });
  const reads = [bytesOf("C0 55 55"), ...Array.from({ length: 5 }, () => bytesOf("55 55 55"))];
  const events = [...reads, bytesOf(`C1 ${SHORT}`)].flatMap((read) => framer.push(read));
  const oversize = events.filter(
    (event) => event.kind === "discard" && event.reason === "oversize",
  );
  t.is(oversize.length, 1);
  t.deepEqual(
    events.filter((event) => event.kind === "frame").map((event) => hex(event.bytes)),
    [SHORT],
  );
});

test("frames are copies that later input cannot change", (t) => {
  const framer = new IntellivueFramer({ maxFrameBytes: 64 });
  const [first] = framer.push(bytesOf(SHORT));
  framer.push(bytesOf(ESCAPED_FCS));
  t.is(first?.kind === "frame" ? hex(first.bytes) : "", SHORT);
});

test("fuzz keeps the byte count and the bound", (t) => {
  fuzzFramer(t, {
    seed: 20_261_204,
    runs: 300,
    minFrameBytes: 6,
    frameBytesSpan: 60,
    createFramer: (maxFrameBytes) => new IntellivueFramer({ maxFrameBytes }),
    frames: [bytesOf(POLL), bytesOf(ESCAPED_FCS)],
    specialBytes: [0xc0, 0xc1, 0x7d, 0x5d, 0xe0, 0xe1],
    checkFrame: (frame) => {
      const inner = frame.subarray(1, -1);
      if (frame[0] !== 0xc0 || frame.at(-1) !== 0xc1) return "frame must be C0 … C1";
      if (inner.includes(0xc0) || inner.includes(0xc1)) return "flag byte inside a frame";
      if (inner.at(-1) === 0x7d) return "escape byte before C1";
      return undefined;
    },
  });
});
