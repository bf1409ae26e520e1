import test from "ava";
import { encodeFrame } from "../../../src/protocols/astm/codec.js";
import { AstmFramer } from "../../../src/protocols/astm/framer.js";
import {
  bytesOf,
  fuzzFramer,
  hex,
  mixedInput,
  testFramerCases,
  type FramerCase,
} from "../../helpers/framer-cases.js";

const frame = (number: number, text: string, last = true) =>
  hex(encodeFrame(number, Buffer.from(text, "latin1"), last));
const HEADER = frame(1, "H|\\^&\r");
const RESULT_ETB = frame(2, "R|1|^^^pH|7.40", false);
const END = frame(3, "L|1|N\r");
const ENQ = "05";
const EOT = "04";

const cases: FramerCase[] = [
  {
    name: "cuts ENQ, frames and EOT",
    input: `${ENQ} ${HEADER} ${EOT}`,
    frames: [ENQ, HEADER, EOT],
  },
  {
    name: "cuts ETB and ETX frames in one chunk",
    input: `${HEADER} ${RESULT_ETB} ${END}`,
    frames: [HEADER, RESULT_ETB, END],
  },
  {
    name: "discards garbage before ENQ",
    input: `00 3F 7E ${ENQ}`,
    frames: [ENQ],
    discarded: { garbage: 3 },
  },
  {
    name: "discards ACK and NAK outside a frame",
    input: `06 15 ${HEADER}`,
    frames: [HEADER],
    discarded: { garbage: 2 },
  },
  {
    name: "restarts at an STX inside a frame",
    input: `02 31 48 7C ${HEADER}`,
    frames: [HEADER],
    discarded: { garbage: 4 },
  },
  {
    name: "ends an unfinished frame at EOT",
    input: `02 31 48 7C ${EOT}`,
    frames: [EOT],
    discarded: { garbage: 4 },
  },
  {
    name: "passes a bad trailer on for the decoder",
    input: "02 31 41 03 5A 5A 0A 0D",
    frames: ["02 31 41 03 5A 5A 0A 0D"],
  },
  {
    name: "keeps half a frame buffered",
    input: `${ENQ} 02 31 48 7C`,
    frames: [ENQ],
    buffered: 4,
  },
  {
    name: "keeps a frame whose trailer has not all come",
    input: "02 31 41 03 37 35 0D",
    frames: [],
    buffered: 7,
  },
  {
    name: "drops half a frame on reset as truncated",
    input: `${HEADER} 02 31 48`,
    reset: true,
    frames: [HEADER],
    discarded: { truncated: 3 },
  },
  {
    name: "accepts a frame of exactly maxFrameBytes",
    input: frame(1, "A".repeat(9)),
    maxFrameBytes: 16,
    frames: [frame(1, "A".repeat(9))],
  },
  {
    name: "discards an oversize frame and its tail",
    input: `${frame(1, "A".repeat(20))} ${ENQ}`,
    maxFrameBytes: 16,
    frames: [ENQ],
    discarded: { oversize: 17, garbage: 10 },
    oversizeEvents: 1,
  },
  {
    name: "counts a long frame as one oversize event",
    input: `${frame(1, "H|" + "Z".repeat(1000))} ${HEADER}`,
    frames: [HEADER],
    discarded: { oversize: 248, garbage: 761 },
    oversizeEvents: 1,
  },
  {
    name: "counts two oversize frames apart",
    input: `${frame(1, "A".repeat(20))} ${frame(2, "B".repeat(20))} ${END}`,
    maxFrameBytes: 16,
    frames: [END],
    discarded: { oversize: 34, garbage: 20 },
    oversizeEvents: 2,
  },
];

testFramerCases(cases, 247, (maxFrameBytes) => new AstmFramer({ maxFrameBytes }));

test("framer fuzz keeps the byte count and the bound", (t) => {
  const frames = [bytesOf(HEADER), bytesOf(RESULT_ETB), bytesOf(END), bytesOf(ENQ)];
  fuzzFramer(t, {
    seed: 20_261_204,
    runs: 300,
    minFrameBytes: 16,
    createFramer: (maxFrameBytes) => new AstmFramer({ maxFrameBytes }),
    randomInput: (random, length) =>
      mixedInput(random, length, [0x02, 0x03, 0x04, 0x05, 0x17, 0x0d, 0x0a], frames),
    checkFrame: (bytes) => {
      if (bytes.length === 1)
        return bytes[0] === 0x04 || bytes[0] === 0x05 ? undefined : "1-byte frame";
      if (bytes[0] !== 0x02) return "frame does not start with STX";
      const end = bytes[bytes.length - 5];
      return end === 0x03 || end === 0x17 ? undefined : "no ETB or ETX before the trailer";
    },
  });
});
