import test from "ava";
import { encodeCommand, encodeResponse } from "../../../src/protocols/medibus/codec.js";
import { MedibusFramer } from "../../../src/protocols/medibus/framer.js";
import type { DiscardReason, FramerEvent } from "../../../src/protocols/types.js";
import { seededRandom } from "../../../src/random.js";

const bytesOf = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");

interface Outcome {
  frames: string[];
  discarded: Partial<Record<DiscardReason, number>>;
  buffered: number;
}

function collect(events: FramerEvent[], outcome: Outcome): void {
  for (const event of events) {
    if (event.kind === "frame") {
      outcome.frames.push(hex(event.bytes));
    } else {
      outcome.discarded[event.reason] = (outcome.discarded[event.reason] ?? 0) + event.byteCount;
    }
  }
}

function feed(chunks: Uint8Array[], maxFrameBytes: number, reset = false): Outcome {
  const framer = new MedibusFramer({ maxFrameBytes });
  const outcome: Outcome = { frames: [], discarded: {}, buffered: 0 };
  for (const chunk of chunks) collect(framer.push(chunk), outcome);
  if (reset) collect(framer.reset(), outcome);
  outcome.buffered = framer.bufferedBytes;
  return outcome;
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
    discarded: { oversize: 25 },
  },
  {
    name: "drops the outer response when a nested command overflows",
    input: `01 24 ${"41 ".repeat(10)} 1B 52 36 44 0D ${"42 ".repeat(4)} ${ICC}`,
    maxFrameBytes: 16,
    frames: ["1B 52 36 44 0D", ICC],
    discarded: { oversize: 16 },
  },
  {
    name: "drops a full response when a command must nest",
    input: `01 24 ${"41 ".repeat(14)} 1B 52 36 44 0D 42 42 ${ICC}`,
    maxFrameBytes: 16,
    frames: ["1B 52 36 44 0D", ICC],
    discarded: { oversize: 18 },
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
    const whole = feed([input], max, reset);
    for (let split = 1; split < input.length; split++) {
      const parts = [input.subarray(0, split), input.subarray(split)];
      t.deepEqual(feed(parts, max, reset), whole, `split at byte ${split}`);
    }
    const single = [...input].map((byte) => Uint8Array.of(byte));
    t.deepEqual(feed(single, max, reset), whole, "one byte per chunk");
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

test("frames are copies that later input cannot change", (t) => {
  const framer = new MedibusFramer({ maxFrameBytes: 64 });
  const [first] = framer.push(bytesOf(ICC));
  framer.push(bytesOf(NOP_RESPONSE));
  t.is(first?.kind === "frame" ? hex(first.bytes) : "", ICC);
});

/** Random input biased towards bytes the framer treats specially, with whole frames mixed in. */
function randomInput(random: () => number, length: number): Buffer {
  const special = [0x01, 0x1b, 0x0d, 0x11, 0x13, 0x80, 0xd0, 0xff];
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const choice = random();
    let part: Buffer;
    if (choice < 0.1) part = bytesOf(WORKED);
    else if (choice < 0.15) part = bytesOf(ICC);
    else if (choice < 0.4) part = Buffer.of(special[Math.floor(random() * special.length)] ?? 0);
    else part = Buffer.of(Math.floor(random() * 256));
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts);
}

test("fuzz keeps the byte count and the bound", (t) => {
  const seed = 20_240_101;
  const random = seededRandom(seed);
  for (let run = 0; run < 300; run++) {
    const maxFrameBytes = 16 + Math.floor(random() * 48);
    const framer = new MedibusFramer({ maxFrameBytes });
    const input = randomInput(random, 200 + Math.floor(random() * 800));
    let pushed = 0;
    let framed = 0;
    let discarded = 0;
    for (let offset = 0; offset < input.length;) {
      const chunk = input.subarray(offset, offset + 1 + Math.floor(random() * 40));
      offset += chunk.length;
      pushed += chunk.length;
      for (const event of framer.push(chunk)) {
        if (event.kind === "discard") {
          discarded += event.byteCount;
          continue;
        }
        framed += event.bytes.length;
        const first = event.bytes[0];
        t.true(first === 0x01 || first === 0x1b, `seed ${seed} run ${run}: start byte`);
        t.is(event.bytes.at(-1), 0x0d, `seed ${seed} run ${run}: CR at the end`);
        t.true(event.bytes.length <= maxFrameBytes, `seed ${seed} run ${run}: frame size`);
        t.false(
          event.bytes.some((byte) => byte >= 0x80 || byte === 0x11 || byte === 0x13),
          `seed ${seed} run ${run}: no realtime or handshake byte in a frame`,
        );
      }
      if (pushed !== framed + discarded + framer.bufferedBytes) {
        t.fail(`seed ${seed} run ${run}: bytes in ${pushed} != out ${framed + discarded}`);
        return;
      }
      t.true(framer.bufferedBytes <= maxFrameBytes, `seed ${seed} run ${run}: buffer bound`);
    }
  }
});
