import test from "ava";
import { NoninFramer } from "../../../src/protocols/nonin/framer.js";
import type { NoninFormat } from "../../../src/protocols/nonin/codec.js";
import { expectSameAtEverySplit, feedFramer, fuzzFramer, hex } from "../../helpers/framer.js";
import { packet, packetFrames, record } from "./packets.js";

const p2 = packet(2);
const p7 = packet(7);
const r8 = record(150, 97);

/** Returns a packet whose frame 5 has a broken checksum. */
function corruptPacket(format: 2 | 7): Buffer {
  const frames = packetFrames(format);
  const frame = frames[4] as Buffer;
  frame[4] = (frame[4] ?? 0) ^ 0x01;
  return Buffer.concat(frames);
}

interface Case {
  name: string;
  format: NoninFormat;
  input: Buffer;
  frames: Buffer[];
  garbage?: number;
  truncated?: number;
  buffered?: number;
  reset?: boolean;
}

const cases: Case[] = [
  { name: "format 2 packet", format: 2, input: p2, frames: [p2] },
  { name: "format 2 two packets", format: 2, input: Buffer.concat([p2, p2]), frames: [p2, p2] },
  { name: "format 7 packet", format: 7, input: p7, frames: [p7] },
  { name: "format 8 records", format: 8, input: Buffer.concat([r8, r8]), frames: [r8, r8] },
  {
    name: "format 2 half packet is searched past",
    format: 2,
    input: Buffer.concat([p2.subarray(50), p2]),
    frames: [p2],
    garbage: 75,
  },
  {
    name: "format 2 noise before a packet",
    format: 2,
    input: Buffer.concat([Buffer.from([0x01, 0x81, 0x55, 0x00]), p2]),
    frames: [p2],
    garbage: 4,
  },
  {
    name: "format 2 frame 1 with a bad checksum is not a start",
    format: 2,
    input: Buffer.concat([corruptFirst(2), p2]),
    frames: [p2],
    garbage: 125,
  },
  {
    name: "format 7 corrupt frame inside a packet is passed on",
    format: 7,
    input: Buffer.concat([p7, corruptPacket(7), p7]),
    frames: [p7, corruptPacket(7), p7],
  },
  {
    name: "format 7 early sync drops the half packet",
    format: 7,
    input: Buffer.concat([p7.subarray(0, 50), p7]),
    frames: [p7],
    garbage: 50,
  },
  {
    name: "format 2 lost byte resyncs at the next packet",
    format: 2,
    input: Buffer.concat([p2.subarray(0, 30), p2.subarray(31), p2]),
    frames: [p2],
    garbage: 124,
  },
  {
    name: "format 2 missing sync after a packet restarts the search",
    format: 2,
    input: Buffer.concat([p2, p2.subarray(5, 10), p2]),
    frames: [p2, p2],
    garbage: 5,
  },
  {
    name: "format 8 record without the status mark is noise",
    format: 8,
    input: Buffer.concat([Buffer.from([0x01, 0x16, 0x61, 0x00]), r8]),
    frames: [r8],
    garbage: 4,
  },
  {
    name: "format 8 lost byte resyncs",
    format: 8,
    input: Buffer.concat([r8.subarray(0, 3), r8, r8]),
    frames: [r8, r8],
    garbage: 3,
  },
  {
    name: "format 8 ACK before a record",
    format: 8,
    input: Buffer.concat([Buffer.from([0x06]), r8]),
    frames: [r8],
    garbage: 1,
  },
  {
    name: "format 2 half packet stays buffered",
    format: 2,
    input: Buffer.concat([p2, p2.subarray(0, 52)]),
    frames: [p2],
    buffered: 52,
  },
  {
    name: "reset drops a half packet as truncated",
    format: 7,
    input: p7.subarray(0, 52),
    frames: [],
    truncated: 52,
    reset: true,
  },
];

function corruptFirst(format: 2 | 7): Buffer {
  const frames = packetFrames(format);
  const first = frames[0] as Buffer;
  first[4] = (first[4] ?? 0) ^ 0x01;
  return Buffer.concat(frames);
}

for (const item of cases) {
  const feed = (chunks: Uint8Array[]) =>
    feedFramer(new NoninFramer(item.format), chunks, item.reset);

  test(`framer: ${item.name}`, (t) => {
    const outcome = feed([item.input]);
    t.deepEqual(outcome.frames, item.frames.map(hex));
    t.is(outcome.discarded.garbage ?? 0, item.garbage ?? 0, "garbage bytes");
    t.is(outcome.discarded.truncated ?? 0, item.truncated ?? 0, "truncated bytes");
    t.is(outcome.buffered, item.buffered ?? 0, "buffered bytes");
  });

  test(`framer: ${item.name}, split at every byte`, (t) => {
    expectSameAtEverySplit(t, feed, item.input);
  });
}

test("framer: search restarts after a reset", (t) => {
  const framer = new NoninFramer(2);
  framer.push(p2.subarray(0, 60));
  framer.reset();
  const outcome = feedFramer(framer, [p2.subarray(60), p2]);
  t.deepEqual(outcome.frames, [hex(p2)]);
  t.is(outcome.discarded.garbage, 65);
});

for (const format of [2, 7, 8] as const) {
  test(`framer: fuzz keeps the invariants, format ${format}`, (t) => {
    const whole = format === 8 ? record(72, 97) : packet(format);
    let frames = 0;
    fuzzFramer(t, {
      seed: 4200 + format,
      runs: 200,
      // The buffer holds one packet whatever maxFrameBytes is, so the bound is the packet.
      minFrameBytes: whole.length,
      frameBytesSpan: 1,
      createFramer: () => new NoninFramer(format),
      frames: [whole, whole.subarray(0, Math.ceil(whole.length / 2))],
      specialBytes: [0x01, 0x80, 0x81, 0x06, 0x15],
      checkFrame: (frame) => {
        frames++;
        return frame.length === whole.length ? undefined : `frame of ${frame.length} bytes`;
      },
    });
    t.true(frames > 200, `only ${frames} packets; the fuzz input lost its valid packets`);
  });
}
