import test from "ava";
import { encodeFrame } from "../../../src/protocols/intellivue/codec.js";
import { IntellivueFramer } from "../../../src/protocols/intellivue/framer.js";
import { pollRequest } from "../../../src/protocols/intellivue/messages.js";
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

function feed(chunks: Uint8Array[], maxFrameBytes: number, reset = false): Outcome {
  const framer = new IntellivueFramer({ maxFrameBytes });
  const outcome: Outcome = { frames: [], discarded: {}, buffered: 0 };
  const collect = (events: FramerEvent[]) => {
    for (const event of events) {
      if (event.kind === "frame") outcome.frames.push(hex(event.bytes));
      else
        outcome.discarded[event.reason] = (outcome.discarded[event.reason] ?? 0) + event.byteCount;
    }
  };
  for (const chunk of chunks) collect(framer.push(chunk));
  if (reset) collect(framer.reset());
  outcome.buffered = framer.bufferedBytes;
  return outcome;
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
    discarded: { oversize: 8 },
  },
  {
    name: "skips the tail of an oversize frame",
    input: `C0 01 02 03 04 05 06 07 08 C1 ${SHORT}`,
    maxFrameBytes: 6,
    frames: [SHORT],
    discarded: { oversize: 10 },
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
    const whole = feed([input], max, reset);
    for (let split = 1; split < input.length; split++) {
      const parts = [input.subarray(0, split), input.subarray(split)];
      t.deepEqual(feed(parts, max, reset), whole, `split at byte ${split}`);
    }
    const single = [...input].map((byte) => Uint8Array.of(byte));
    t.deepEqual(feed(single, max, reset), whole, "one byte per chunk");
  });
}

test("frames are copies that later input cannot change", (t) => {
  const framer = new IntellivueFramer({ maxFrameBytes: 64 });
  const [first] = framer.push(bytesOf(SHORT));
  framer.push(bytesOf(ESCAPED_FCS));
  t.is(first?.kind === "frame" ? hex(first.bytes) : "", SHORT);
});

/** Random input biased towards the framing bytes, with whole frames mixed in. */
function randomInput(random: () => number, length: number): Buffer {
  const special = [0xc0, 0xc1, 0x7d, 0x5d, 0xe0, 0xe1];
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const choice = random();
    let part: Buffer;
    if (choice < 0.1) part = bytesOf(POLL);
    else if (choice < 0.15) part = bytesOf(ESCAPED_FCS);
    else if (choice < 0.4) part = Buffer.of(special[Math.floor(random() * special.length)] ?? 0);
    else part = Buffer.of(Math.floor(random() * 256));
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts);
}

test("fuzz keeps the byte count and the bound", (t) => {
  const seed = 20_261_204;
  const random = seededRandom(seed);
  for (let run = 0; run < 300; run++) {
    const maxFrameBytes = 6 + Math.floor(random() * 60);
    const framer = new IntellivueFramer({ maxFrameBytes });
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
        t.is(event.bytes[0], 0xc0, `seed ${seed} run ${run}: C0 at the start`);
        t.is(event.bytes.at(-1), 0xc1, `seed ${seed} run ${run}: C1 at the end`);
        t.true(event.bytes.length <= maxFrameBytes, `seed ${seed} run ${run}: frame size`);
        const inner = event.bytes.subarray(1, -1);
        t.false(
          inner.includes(0xc0) || inner.includes(0xc1),
          `seed ${seed} run ${run}: no flag inside`,
        );
        t.not(inner.at(-1), 0x7d, `seed ${seed} run ${run}: no escape before C1`);
      }
      if (pushed !== framed + discarded + framer.bufferedBytes) {
        t.fail(`seed ${seed} run ${run}: bytes in ${pushed} != out ${framed + discarded}`);
        return;
      }
      t.true(framer.bufferedBytes <= maxFrameBytes, `seed ${seed} run ${run}: buffer bound`);
    }
  }
});
