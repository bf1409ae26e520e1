/**
 * Shared checks for framer tests: a table case fed whole and split at every byte, and a
 * seeded fuzz run of the framer invariants (never throws, bytes pushed = bytes framed +
 * discarded + buffered, buffer and frames within maxFrameBytes).
 */
import test, { type ExecutionContext } from "ava";
import type { DiscardReason, Framer, FramerEvent } from "../../src/protocols/types.js";
import { seededRandom } from "../../src/random.js";

export const bytesOf = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
export const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");

export interface FramerOutcome {
  frames: string[];
  discarded: Partial<Record<DiscardReason, number>>;
  /** Oversize discard events, because the pipeline counts each one as an oversize frame. */
  oversizeEvents: number;
  buffered: number;
}

function collect(events: FramerEvent[], outcome: FramerOutcome): void {
  for (const event of events) {
    if (event.kind === "frame") {
      outcome.frames.push(hex(event.bytes));
    } else {
      outcome.discarded[event.reason] = (outcome.discarded[event.reason] ?? 0) + event.byteCount;
      if (event.reason === "oversize") outcome.oversizeEvents++;
    }
  }
}

/** Pushes the chunks into `framer` and returns the frames (as hex), discards and buffer. */
export function feed(framer: Framer, chunks: Uint8Array[], reset = false): FramerOutcome {
  const outcome: FramerOutcome = { frames: [], discarded: {}, oversizeEvents: 0, buffered: 0 };
  for (const chunk of chunks) collect(framer.push(chunk), outcome);
  if (reset) collect(framer.reset(), outcome);
  outcome.buffered = framer.bufferedBytes;
  return outcome;
}

/** Checks that every two-way split, and one byte per chunk, gives the same outcome as whole. */
export function checkSplits(
  t: ExecutionContext,
  createFramer: () => Framer,
  input: Buffer,
  reset = false,
): void {
  const whole = feed(createFramer(), [input], reset);
  for (let split = 1; split < input.length; split++) {
    const parts = [input.subarray(0, split), input.subarray(split)];
    t.deepEqual(feed(createFramer(), parts, reset), whole, `split at byte ${split}`);
  }
  const single = [...input].map((byte) => Uint8Array.of(byte));
  t.deepEqual(feed(createFramer(), single, reset), whole, "one byte per chunk");
}

export interface FuzzOptions {
  seed: number;
  runs: number;
  createFramer: (maxFrameBytes: number) => Framer;
  /** Random input of about `length` bytes, biased towards the bytes the framer treats specially. */
  randomInput: (random: () => number, length: number) => Buffer;
  /** Checks one frame; returns a problem or undefined. */
  checkFrame: (frame: Buffer) => string | undefined;
  minFrameBytes: number;
}

/** Runs the seeded fuzz test of the framer invariants. */
export function fuzzFramer(t: ExecutionContext, options: FuzzOptions): void {
  const random = seededRandom(options.seed);
  for (let run = 0; run < options.runs; run++) {
    const where = `seed ${options.seed} run ${run}`;
    const maxFrameBytes = options.minFrameBytes + Math.floor(random() * 64);
    const framer = options.createFramer(maxFrameBytes);
    const input = options.randomInput(random, 200 + Math.floor(random() * 800));
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
        const problem = options.checkFrame(event.bytes);
        if (problem !== undefined) return void t.fail(`${where}: ${problem}`);
        if (event.bytes.length > maxFrameBytes) return void t.fail(`${where}: frame too long`);
      }
      if (pushed !== framed + discarded + framer.bufferedBytes) {
        return void t.fail(`${where}: bytes in ${pushed} != out ${framed + discarded}`);
      }
      if (framer.bufferedBytes > maxFrameBytes) return void t.fail(`${where}: buffer bound`);
    }
    for (const event of framer.reset()) if (event.kind === "discard") discarded += event.byteCount;
    t.is(pushed, framed + discarded, `${where}: bytes after reset`);
    t.is(framer.bufferedBytes, 0, `${where}: empty after reset`);
  }
}

/** Builds random input from special bytes, whole frames and random bytes. */
export function mixedInput(
  random: () => number,
  length: number,
  special: readonly number[],
  frames: readonly Buffer[],
): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const choice = random();
    let part: Buffer;
    if (choice < 0.2) part = frames[Math.floor(random() * frames.length)] ?? Buffer.alloc(0);
    else if (choice < 0.45) part = Buffer.of(special[Math.floor(random() * special.length)] ?? 0);
    else part = Buffer.of(Math.floor(random() * 256));
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts);
}

/** One table case of a framer test: hex input and the frames, discards and buffer it gives. */
export interface FramerCase {
  name: string;
  input: string;
  maxFrameBytes?: number;
  reset?: boolean;
  frames: string[];
  discarded?: Partial<Record<DiscardReason, number>>;
  /** Oversize discard events expected; 0 when unset. */
  oversizeEvents?: number;
  buffered?: number;
}

/** Declares two tests per case: the input whole, and split at every byte. */
export function testFramerCases(
  cases: readonly FramerCase[],
  defaultMaxFrameBytes: number,
  createFramer: (maxFrameBytes: number) => Framer,
): void {
  for (const testCase of cases) {
    const input = bytesOf(testCase.input);
    const create = () => createFramer(testCase.maxFrameBytes ?? defaultMaxFrameBytes);
    test(`framer ${testCase.name}`, (t) => {
      const outcome = feed(create(), [input], testCase.reset);
      t.deepEqual(outcome.frames, testCase.frames);
      t.deepEqual(outcome.discarded, testCase.discarded ?? {});
      t.is(outcome.oversizeEvents, testCase.oversizeEvents ?? 0, "oversize events");
      t.is(outcome.buffered, testCase.buffered ?? 0);
    });
    test(`framer ${testCase.name}, split at every byte`, (t) => {
      checkSplits(t, create, input, testCase.reset);
    });
  }
}
