import test from "ava";
import { encodeMllp } from "../../../src/protocols/hl7-mllp/codec.js";
import { MllpFramer } from "../../../src/protocols/hl7-mllp/framer.js";
import {
  bytesOf,
  fuzzFramer,
  hex,
  mixedInput,
  testFramerCases,
  type FramerCase,
} from "../../helpers/framer-cases.js";

const message = (text: string) => hex(encodeMllp(text));
const FIRST = message("MSH|^~\\&|A|B|||20240101||ORU^R01|1|P|2.6\rOBX|1|NM|150456^^MDC||98\r");
const SECOND = message("MSH|^~\\&|A|B|||20240101||ORU^R01|2|P|2.6\r");

const cases: FramerCase[] = [
  { name: "cuts one message", input: FIRST, frames: [FIRST] },
  { name: "cuts two messages in one read", input: `${FIRST} ${SECOND}`, frames: [FIRST, SECOND] },
  {
    name: "discards stray bytes before VT",
    input: `0D 0A 3F ${FIRST}`,
    frames: [FIRST],
    discarded: { garbage: 3 },
  },
  {
    name: "discards bytes between messages",
    input: `${FIRST} 20 20 ${SECOND}`,
    frames: [FIRST, SECOND],
    discarded: { garbage: 2 },
  },
  {
    name: "restarts at a VT inside a message",
    input: `0B 4D 53 48 ${SECOND}`,
    frames: [SECOND],
    discarded: { garbage: 4 },
  },
  {
    name: "ends a frame at FS when CR is missing",
    input: `0B 4D 53 48 1C ${SECOND}`,
    frames: ["0B 4D 53 48 1C", SECOND],
  },
  {
    name: "keeps a frame open until the byte after FS",
    input: "0B 4D 53 48 1C",
    frames: [],
    buffered: 5,
  },
  {
    name: "drops half a message on reset as truncated",
    input: `${SECOND} 0B 4D 53`,
    reset: true,
    frames: [SECOND],
    discarded: { truncated: 3 },
  },
  {
    name: "accepts a frame of exactly maxFrameBytes",
    input: message("M".repeat(13)),
    maxFrameBytes: 16,
    frames: [message("M".repeat(13))],
  },
  {
    name: "discards a message one byte too long",
    input: `${message("M".repeat(14))} ${message("MSH")}`,
    maxFrameBytes: 16,
    frames: [message("MSH")],
    // FS finds no room for its CR, so the frame is dropped at FS and the CR is garbage.
    discarded: { oversize: 16, garbage: 1 },
    oversizeEvents: 1,
  },
  {
    name: "skips an oversize message up to the next VT",
    input: `${message("M".repeat(30))} ${message("MSH")}`,
    maxFrameBytes: 16,
    frames: [message("MSH")],
    discarded: { oversize: 17, garbage: 16 },
    oversizeEvents: 1,
  },
  {
    // The pipeline test feeds the full 40,000 bytes; split at every byte, this size stays fast.
    name: "counts a message 5 times too long as one oversize event",
    input: `${message("M".repeat(317))} ${message("MSH")}`,
    maxFrameBytes: 64,
    frames: [message("MSH")],
    discarded: { oversize: 65, garbage: 255 },
    oversizeEvents: 1,
  },
  {
    name: "counts two oversize messages apart",
    input: `${message("M".repeat(30))} ${message("N".repeat(30))} ${message("MSH")}`,
    maxFrameBytes: 16,
    frames: [message("MSH")],
    discarded: { oversize: 34, garbage: 32 },
    oversizeEvents: 2,
  },
];

testFramerCases(cases, 4096, (maxFrameBytes) => new MllpFramer({ maxFrameBytes }));

test("framer fuzz keeps the byte count and the bound", (t) => {
  const frames = [bytesOf(FIRST), bytesOf(SECOND), bytesOf(message("MSH"))];
  fuzzFramer(t, {
    seed: 20_261_205,
    runs: 300,
    minFrameBytes: 16,
    createFramer: (maxFrameBytes) => new MllpFramer({ maxFrameBytes }),
    randomInput: (random, length) => mixedInput(random, length, [0x0b, 0x1c, 0x0d, 0x0a], frames),
    checkFrame: (bytes) => {
      if (bytes[0] !== 0x0b) return "frame does not start with VT";
      const endsWithFs = bytes.at(-1) === 0x1c || (bytes.at(-2) === 0x1c && bytes.at(-1) === 0x0d);
      if (!endsWithFs) return "frame does not end with FS or FS CR";
      return bytes.subarray(1, -2).includes(0x0b) ? "VT inside a frame" : undefined;
    },
  });
});
