/**
 * Helpers for framer tests: hex text in and out, a run of chunks through a fresh framer, and
 * the seeded fuzz check of the framer invariants that every family must keep.
 */
import type { ExecutionContext } from "ava";
import type { DiscardReason, Framer, FramerEvent } from "../../src/protocols/types.js";
import { seededRandom } from "../../src/random.js";

/** Parses hex pairs, spaces and line breaks allowed. */
export const bytesOf = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");

/** Formats bytes as upper-case hex pairs separated by spaces. */
export const hex = (bytes: Uint8Array): string =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");

export interface FramerOutcome {
  frames: string[];
  discarded: Partial<Record<DiscardReason, number>>;
  /** Discard events per reason, to check that oversize frames are counted one by one. */
  discardEvents: Partial<Record<DiscardReason, number>>;
  buffered: number;
}

function collect(events: FramerEvent[], outcome: FramerOutcome): void {
  for (const event of events) {
    if (event.kind === "frame") {
      outcome.frames.push(hex(event.bytes));
      continue;
    }
    outcome.discarded[event.reason] = (outcome.discarded[event.reason] ?? 0) + event.byteCount;
    outcome.discardEvents[event.reason] = (outcome.discardEvents[event.reason] ?? 0) + 1;
  }
}

/** Pushes `chunks` through a new framer, then resets it when `reset` is set. */
export function feedFramer(
  createFramer: () => Framer,
  chunks: readonly Uint8Array[],
  reset = false,
): FramerOutcome {
  const framer = createFramer();
  const outcome: FramerOutcome = { frames: [], discarded: {}, discardEvents: {}, buffered: 0 };
  for (const chunk of chunks) collect(framer.push(chunk), outcome);
  if (reset) collect(framer.reset(), outcome);
  outcome.buffered = framer.bufferedBytes;
  return outcome;
}

/**
 * Checks that every split of `input` into two chunks, and one byte per chunk, frames the same
 * as the whole input. Discard events may split at a chunk boundary, so only byte counts count.
 */
export function checkEverySplit(
  t: ExecutionContext,
  createFramer: () => Framer,
  input: Buffer,
  reset = false,
): void {
  const strip = (outcome: FramerOutcome) => ({ ...outcome, discardEvents: {} });
  const whole = strip(feedFramer(createFramer, [input], reset));
  for (let split = 1; split < input.length; split++) {
    const parts = [input.subarray(0, split), input.subarray(split)];
    t.deepEqual(strip(feedFramer(createFramer, parts, reset)), whole, `split at byte ${split}`);
  }
  const single = [...input].map((byte) => Uint8Array.of(byte));
  t.deepEqual(strip(feedFramer(createFramer, single, reset)), whole, "one byte per chunk");
}

/**
 * Returns random bytes of about `length`: 10 % whole `frames`, 20 % `special` bytes (those the
 * framer treats apart) and the rest uniform.
 */
export function randomFramerInput(
  random: () => number,
  length: number,
  special: readonly number[],
  frames: readonly Buffer[],
): Buffer {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const choice = random();
    let part: Buffer;
    if (choice < 0.1) part = pick(frames) ?? Buffer.alloc(0);
    else if (choice < 0.3) part = Buffer.of(pick(special) ?? 0);
    else part = Buffer.of(Math.floor(random() * 256));
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts);
}

export interface FuzzOptions {
  seed: number;
  runs: number;
  createFramer: (random: () => number) => { framer: Framer; maxFrameBytes: number };
  /** Random input of about `length` bytes, biased towards the bytes the framer treats apart. */
  input: (random: () => number, length: number) => Buffer;
  /** Checks one emitted frame; returns a problem, or undefined when the frame is fine. */
  checkFrame?: (frame: Buffer) => string | undefined;
}

/**
 * Pushes seeded random input in random chunks and checks, after every chunk, that no push
 * threw, that bytes pushed equal bytes framed plus discarded plus buffered, and that neither a
 * frame nor the buffer grew past maxFrameBytes.
 */
export function fuzzFramer(t: ExecutionContext, options: FuzzOptions): void {
  const random = seededRandom(options.seed);
  for (let run = 0; run < options.runs; run++) {
    const where = `seed ${options.seed} run ${run}`;
    const { framer, maxFrameBytes } = options.createFramer(random);
    const input = options.input(random, 200 + Math.floor(random() * 2000));
    let pushed = 0;
    let framed = 0;
    let discarded = 0;
    for (let offset = 0; offset < input.length;) {
      const chunk = input.subarray(offset, offset + 1 + Math.floor(random() * 64));
      offset += chunk.length;
      pushed += chunk.length;
      let events: FramerEvent[];
      try {
        events = framer.push(chunk);
      } catch (error) {
        t.fail(`${where}: push threw ${String(error)}`);
        return;
      }
      for (const event of events) {
        if (event.kind === "discard") {
          discarded += event.byteCount;
          continue;
        }
        framed += event.bytes.length;
        if (event.bytes.length > maxFrameBytes) t.fail(`${where}: frame past maxFrameBytes`);
        const problem = options.checkFrame?.(event.bytes);
        if (problem !== undefined) t.fail(`${where}: ${problem}`);
      }
      if (pushed !== framed + discarded + framer.bufferedBytes) {
        t.fail(`${where}: bytes in ${pushed} != framed + discarded + buffered`);
        return;
      }
      if (framer.bufferedBytes > maxFrameBytes) t.fail(`${where}: buffer past maxFrameBytes`);
    }
  }
  t.pass();
}
