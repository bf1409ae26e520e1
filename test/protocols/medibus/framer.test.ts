import test from "ava";
import { CR, encodeCommand, encodeResponse, SOH } from "../../../src/protocols/medibus/codec.js";
import { MedibusFramer } from "../../../src/protocols/medibus/framer.js";
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
  return feedFramer(new MedibusFramer({ maxFrameBytes }), chunks, reset);
}

const WORKED = "01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D";
const ICC = "1B 51 36 43 0D";
const NOP_RESPONSE = "01 30 33 31 0D";
const DEVICE_ID_REQUEST = "1B 52 36 44 0D";

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
  { name: "cuts the worked example", input: WORKED, frames: [WORKED] },
  {
    name: "cuts two frames in one chunk",
    input: `${ICC} ${NOP_RESPONSE}`,
    frames: [ICC, NOP_RESPONSE],
  },
  {
    name: "drops realtime bytes inside a response",
    input: "01 24 45 42 20 39 D0 38 20 45 31 20 37 81 30 20 37 41 0D",
    frames: [WORKED],
    discarded: { realtime: 2 },
  },
  {
    name: "drops realtime bytes between frames",
    input: `FF ${ICC} C0 C1`,
    frames: [ICC],
    discarded: { realtime: 3 },
  },
  {
    name: "discards garbage before a start byte",
    input: `3F 00 7E ${WORKED}`,
    frames: [WORKED],
    discarded: { garbage: 3 },
  },
  {
    name: "discards a CR outside any message",
    input: `0D ${ICC} 0D`,
    frames: [ICC],
    discarded: { garbage: 2 },
  },
  {
    name: "discards DC1 and DC3 outside messages",
    input: `13 ${ICC} 11`,
    frames: [ICC],
    discarded: { garbage: 2 },
  },
  {
    name: "removes DC1 and DC3 inside a message",
    input: "01 24 45 42 13 20 39 38 20 45 31 20 37 30 20 11 37 41 0D",
    frames: [WORKED],
    discarded: { garbage: 2 },
  },
  {
    name: "stacks a command nested inside a response",
    input: `01 24 45 42 20 39 38 ${DEVICE_ID_REQUEST} 20 45 31 20 37 30 20 37 41 0D`,
    frames: [DEVICE_ID_REQUEST, WORKED],
  },
  {
    name: "stacks a nested command right after SOH",
    input: `01 ${ICC} 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D`,
    frames: [ICC, WORKED],
  },
  {
    name: "restarts at an SOH inside an open response",
    input: `01 24 45 42 ${WORKED}`,
    frames: [WORKED],
    discarded: { garbage: 4 },
  },
  {
    name: "restarts at an SOH inside a nested command",
    input: `01 24 1B 52 ${WORKED}`,
    frames: [WORKED],
    discarded: { garbage: 4 },
  },
  {
    name: "replaces an unfinished command at the next ESC",
    input: `1B 51 36 ${ICC}`,
    frames: [ICC],
    discarded: { garbage: 3 },
  },
  {
    name: "replaces an unfinished nested command",
    input: `01 24 45 42 20 39 38 1B 52 ${DEVICE_ID_REQUEST} 20 45 31 20 37 30 20 37 41 0D`,
    frames: [DEVICE_ID_REQUEST, WORKED],
    discarded: { garbage: 2 },
  },
  {
    name: "keeps half a frame buffered",
    input: "01 24 45 42 20",
    frames: [],
    buffered: 5,
  },
  {
    name: "drops half a frame on reset as truncated",
    input: `${ICC} 01 24 45`,
    reset: true,
    frames: [ICC],
    discarded: { truncated: 3 },
  },
  {
    name: "accepts a frame of exactly maxFrameBytes",
    input: hex(encodeResponse(0x24, "A".repeat(11))),
    maxFrameBytes: 16,
    frames: [hex(encodeResponse(0x24, "A".repeat(11)))],
  },
  {
    name: "discards an oversize frame and resyncs",
    input: `${hex(encodeResponse(0x24, "A".repeat(12)))} ${ICC}`,
    maxFrameBytes: 16,
    frames: [ICC],
    discarded: { oversize: 17 },
  },
  {
    name: "skips the tail of an oversize frame",
    input: `${hex(encodeResponse(0x24, "A".repeat(20)))} ${ICC}`,
    maxFrameBytes: 16,
    frames: [ICC],
    discarded: { oversize: 17, garbage: 8 },
  },
  {
    name: "drops the outer response when a nested command overflows",
    input: `01 24 ${"41 ".repeat(10)} 1B 52 36 44 0D ${"42 ".repeat(4)} ${ICC}`,
    maxFrameBytes: 16,
    frames: ["1B 52 36 44 0D", ICC],
    discarded: { oversize: 12, garbage: 4 },
  },
  {
    name: "drops a full response when a command must nest",
    input: `01 24 ${"41 ".repeat(14)} 1B 52 36 44 0D 42 42 ${ICC}`,
    maxFrameBytes: 16,
    frames: ["1B 52 36 44 0D", ICC],
    discarded: { oversize: 16, garbage: 2 },
  },
  {
    name: "passes a short frame on for the decoder to reject",
    input: "1B 0D",
    frames: ["1B 0D"],
  },
  {
    name: "passes a frame with a bad checksum on",
    input: "1B 51 30 30 0D",
    frames: ["1B 51 30 30 0D"],
  },
  {
    name: "handles a command of 251 argument bytes",
    input: hex(encodeCommand(0x4a, "2".repeat(251))),
    maxFrameBytes: 256,
    frames: [hex(encodeCommand(0x4a, "2".repeat(251)))],
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

test("merges adjacent discards with the same reason", (t) => {
  const framer = new MedibusFramer({ maxFrameBytes: 64 });
  const events = framer.push(bytesOf("3F 3F 3F D0 D1 3F"));
  t.deepEqual(events, [
    { kind: "discard", byteCount: 3, reason: "garbage" },
    { kind: "discard", byteCount: 2, reason: "realtime" },
    { kind: "discard", byteCount: 1, reason: "garbage" },
  ]);
});

test("oversize message is one event over many reads", (t) => {
  const framer = new MedibusFramer({ maxFrameBytes: 16 });
  const reads = [
    Buffer.from([SOH, 0x24]),
    ...Array.from({ length: 6 }, () => Buffer.alloc(10, 0x41)),
  ];
  const events = [...reads, Buffer.from([CR]), bytesOf(ICC)].flatMap((read) => framer.push(read));
  const oversize = events.filter(
    (event) => event.kind === "discard" && event.reason === "oversize",
  );
  t.is(oversize.length, 1);
  t.is(events.filter((event) => event.kind === "frame").length, 1);
});

test("frames are copies that later input cannot change", (t) => {
  const framer = new MedibusFramer({ maxFrameBytes: 64 });
  const [first] = framer.push(bytesOf(ICC));
  framer.push(bytesOf(NOP_RESPONSE));
  t.is(first?.kind === "frame" ? hex(first.bytes) : "", ICC);
});

test("fuzz keeps the byte count and the bound", (t) => {
  fuzzFramer(t, {
    seed: 20_240_101,
    runs: 300,
    minFrameBytes: 16,
    frameBytesSpan: 48,
    createFramer: (maxFrameBytes) => new MedibusFramer({ maxFrameBytes }),
    frames: [bytesOf(WORKED), bytesOf(WORKED), bytesOf(ICC)],
    specialBytes: [0x01, 0x1b, 0x0d, 0x11, 0x13, 0x80, 0xd0, 0xff],
    checkFrame: (frame) => {
      if (frame[0] !== 0x01 && frame[0] !== 0x1b) return "frame must start with SOH or ESC";
      if (frame.at(-1) !== 0x0d) return "frame must end with CR";
      if (frame.some((byte) => byte >= 0x80 || byte === 0x11 || byte === 0x13)) {
        return "realtime or handshake byte in a frame";
      }
      return undefined;
    },
  });
});
