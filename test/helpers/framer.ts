/**
 * Shared checks for framer tests: the outcome of feeding chunks, the same outcome whatever the
 * chunking, and a seeded fuzz run of the framer invariants (bytes in = bytes framed + bytes
 * discarded + bytes buffered, and a buffer that stays within maxFrameBytes).
 */
import type { ExecutionContext } from "ava";
import type { DiscardReason, Framer } from "../../src/protocols/types.js";
import { seededRandom } from "../../src/random.js";

export const bytesOf = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
export const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(" ");

export interface FramerOutcome {
  frames: string[];
  discarded: Partial<Record<DiscardReason, number>>;
  buffered: number;
}

/** Pushes `chunks` into `framer` (then resets it, when asked) and sums what came out. */
export function feedFramer(framer: Framer, chunks: Uint8Array[], reset = false): FramerOutcome {
  const outcome: FramerOutcome = { frames: [], discarded: {}, buffered: 0 };
  const events = chunks.flatMap((chunk) => framer.push(chunk));
  if (reset) events.push(...framer.reset());
  for (const event of events) {
    if (event.kind === "frame") {
      outcome.frames.push(hex(event.bytes));
    } else {
      outcome.discarded[event.reason] = (outcome.discarded[event.reason] ?? 0) + event.byteCount;
    }
  }
  outcome.buffered = framer.bufferedBytes;
  return outcome;
}

/** Checks that `input` split at every byte, and byte by byte, frames as it does whole. */
export function expectSameAtEverySplit(
  t: ExecutionContext,
  feed: (chunks: Uint8Array[]) => FramerOutcome,
  input: Buffer,
): void {
  const whole = feed([input]);
  for (let split = 1; split < input.length; split++) {
    const parts = [input.subarray(0, split), input.subarray(split)];
    t.deepEqual(feed(parts), whole, `split at byte ${split}`);
  }
  const single = [...input].map((byte) => Uint8Array.of(byte));
  t.deepEqual(feed(single), whole, "one byte per chunk");
}

export interface FuzzSpec {
  seed: number;
  runs: number;
  /** Each run draws maxFrameBytes from [minFrameBytes, minFrameBytes + frameBytesSpan). */
  minFrameBytes: number;
  frameBytesSpan: number;
  createFramer(maxFrameBytes: number): Framer;
  /** Whole frames mixed into the random input. */
  frames: Buffer[];
  /** Bytes the framer treats specially, drawn more often than others. */
  specialBytes: number[];
  /** Returns why a framed frame breaks the family's rules, or undefined. */
  checkFrame(frame: Buffer): string | undefined;
}

function randomInput(random: () => number, spec: FuzzSpec, length: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const choice = random();
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
    let part: Buffer;
    if (choice < 0.15) part = pick(spec.frames) ?? Buffer.alloc(0);
    else if (choice < 0.4) part = Buffer.of(pick(spec.specialBytes) ?? 0);
    else part = Buffer.of(Math.floor(random() * 256));
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts);
}

/** Feeds seeded random input in random chunks and checks the invariants after every chunk. */
export function fuzzFramer(t: ExecutionContext, spec: FuzzSpec): void {
  const random = seededRandom(spec.seed);
  for (let run = 0; run < spec.runs; run++) {
    const where = `seed ${spec.seed} run ${run}`;
    const maxFrameBytes = spec.minFrameBytes + Math.floor(random() * spec.frameBytesSpan);
    const framer = spec.createFramer(maxFrameBytes);
    const input = randomInput(random, spec, 200 + Math.floor(random() * 800));
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
        t.true(event.bytes.length <= maxFrameBytes, `${where}: frame size`);
        const problem = spec.checkFrame(event.bytes);
        if (problem !== undefined) t.fail(`${where}: ${problem}`);
      }
      if (pushed !== framed + discarded + framer.bufferedBytes) {
        t.fail(`${where}: bytes in ${pushed} != out ${framed + discarded}`);
        return;
      }
      t.true(framer.bufferedBytes <= maxFrameBytes, `${where}: buffer bound`);
    }
  }
}
