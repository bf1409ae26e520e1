import test from "ava";
import { formatLine, frameOf, frameOfLine } from "../../scripts/bench/harness/feed.js";
import { masimoPipeline } from "../helpers/masimo-pipeline.js";

const bpmCode = 149530;
const piCode = 150488;

// A line-rate run writes some 90 frames a second per port, so frame numbers pass 10,000 within
// two minutes. Each must still decode to values the agent publishes as numbers.
test("bench feed frame numbers survive decoding", (t) => {
  const pipeline = masimoPipeline();
  pipeline.open(0);
  const frames = [1, 299, 300, 301, 349, 350, 999, 1000, 12_345, 99_999, 2_999_999];
  for (const frame of frames) {
    const line = formatLine(frame, Date.UTC(2026, 11, 4));
    t.is(frameOfLine(line), frame, `raw line of frame ${frame}`);
    const [batch] = pipeline.ingest(Buffer.from(line), frame).batches;
    const value = (code: number) =>
      batch?.measurements.find((measurement) => measurement.mdcCode === code)?.value;
    const bpm = value(bpmCode);
    const pi = value(piCode);
    t.is(typeof bpm, "number", `BPM of frame ${frame}`);
    t.is(typeof pi, "number", `PI of frame ${frame}`);
    t.is(frameOf(bpm ?? NaN, pi ?? NaN), frame, `frame ${frame} from its observation`);
  }
});
